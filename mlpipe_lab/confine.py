"""Paths from requests, and the files they name, kept safe: plain-word errors instead of crashes,
only regular files read (never a FIFO or a device that blocks), size limits, and race-free opens
that check what was actually opened.

- :func:`check_path_text`: a path given by a request has no NUL byte, no lone surrogate, no name
  longer than the file system allows (400 naming the field, instead of ``ValueError``/``OSError``).
- :func:`read_regular`: the bytes of a regular file, opened without following a symlink in its last
  component and without blocking (``O_NONBLOCK``), checked with ``fstat`` (regular, not too big)
  and, given ``inside``, that the file opened lies in one of those folders.
- :func:`Folders`: the folders a server may write local paths to (its root, its data folder and
  those an administrator allows), with :meth:`Folders.check`.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from .errors import MLPipeError

NAME_MAX = 255
PATH_MAX = 4096
MiB = 1024 * 1024
DEFAULT_PIPELINE_LIMIT = 32 * MiB

_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


def check_path_text(value: str, field: str, what: str = "The path") -> str:
    """``value`` if the file system can take it as a path; a 400 naming ``field`` if not."""
    if "\x00" in value:
        raise MLPipeError(f"{what} contains a NUL character.", 400, field=field)
    try:
        encoded = value.encode("utf-8")
    except UnicodeEncodeError:
        raise MLPipeError(
            f"{what} contains characters that are not valid Unicode (a lone surrogate).",
            400,
            field=field,
        ) from None
    if len(encoded) > PATH_MAX:
        raise MLPipeError(
            f"{what} is too long ({len(encoded)} bytes; at most {PATH_MAX}).", 400, field=field
        )
    for part in encoded.split(b"/"):
        if len(part) > NAME_MAX:
            raise MLPipeError(
                f"{what} has a name longer than {NAME_MAX} bytes ('{part[:40].decode(errors='replace')}…').",
                400,
                field=field,
            )
    return value


def _opened_path(fd: int) -> str | None:
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:  # pragma: no cover - no /proc (macOS): the caller's stat check stands
        return None


def within(path: str | os.PathLike, folders: Iterable[Path]) -> bool:
    p = Path(path)
    return any(p == f or f in p.parents for f in folders)


def read_regular(
    path: str | os.PathLike,
    *,
    limit: int = DEFAULT_PIPELINE_LIMIT,
    inside: Sequence[Path] = (),
    what: str = "The file",
    field: str = "path",
) -> bytes:
    """The bytes of the regular file at ``path`` (resolve it first: its last component may not be
    a symlink). OSError subclasses for a missing file are left to the caller (FileNotFoundError);
    anything that is not a regular file, too big, or (given ``inside``) that turns out to be
    outside those folders once opened is a 400/403 naming ``field``."""
    try:
        fd = os.open(path, os.O_RDONLY | _O_NOFOLLOW | _O_NONBLOCK | _O_CLOEXEC)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise MLPipeError(f"{what} cannot be opened: {exc.strerror}.", 400, field=field) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise MLPipeError(f"{what} is not a regular file.", 400, field=field)
        if st.st_size > limit:
            raise MLPipeError(
                f"{what} is too big ({st.st_size // 1024} KiB; at most {limit // 1024} KiB).",
                400,
                field=field,
            )
        if inside:
            real = _opened_path(fd)
            if real is not None and not within(real, inside):
                raise MLPipeError(f"{what} is outside the allowed folders.", 403, field=field)
        os.set_blocking(fd, True)
        chunks, total = [], 0
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            total += len(chunk)
            if total > limit:  # it grew while being read
                raise MLPipeError(
                    f"{what} is too big (at most {limit // 1024} KiB).", 400, field=field
                )
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


class Folders:
    """The folders local paths from a request (runtime configuration paths, file-based tracking
    URIs) may point into: the server's root, its data folder, and the administrator's extra ones."""

    def __init__(self, folders: Iterable[str | os.PathLike]):
        self.folders = tuple(dict.fromkeys(Path(os.path.realpath(f)) for f in folders if f))

    def allows(self, path: str | os.PathLike) -> bool:
        return within(os.path.realpath(path), self.folders)

    def check(self, path: str | os.PathLike, field: str, what: str = "This path") -> None:
        check_path_text(str(path), field, what)
        if not self.allows(path):
            raise MLPipeError(
                f"{what} ('{path}') is outside the folders this server may write to: its root "
                "folder, its data folder, or a folder the administrator allows "
                "(c.MLPipeLab.allowed_local_paths).",
                403,
                field=field,
            )


def is_loopback(host: str | None) -> bool:
    import ipaddress

    if not host:
        return False
    if host.lower() == "localhost" or host.lower().endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def plain_http_elsewhere(url: Any) -> bool:
    """``url`` is http:// to a host other than this machine (what it sends crosses the network
    unencrypted)."""
    from urllib.parse import urlsplit

    if not isinstance(url, str) or not url.lower().startswith("http://"):
        return False
    try:
        host = urlsplit(url.strip()).hostname
    except ValueError:
        return False
    return not is_loopback(host)
