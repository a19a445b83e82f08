"""File-system primitives for the catalogs: atomic writes, private directories, advisory locks.

Writers hold an exclusive ``flock`` on a per-kind lock file for the whole read-modify-write, so
every temporary file found while holding it belongs to a writer that died: ``sweep_temp_files``
removes them.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: only threads of one process are serialised
    fcntl = None  # type: ignore[assignment]

TMP_SUFFIX = ".tmp"
PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
PUBLIC_FILE_MODE = 0o644

_fallback_locks: dict[str, threading.RLock] = {}
_fallback_guard = threading.Lock()


@contextlib.contextmanager
def locked(lock_path: Path, exclusive: bool = True) -> Iterator[None]:
    """Hold an advisory lock on ``lock_path`` (created if missing) for the block.

    Each call opens its own descriptor, so the lock excludes other threads of this process as well
    as other processes. A shared lock that cannot be taken because the file cannot be created (e.g.
    a read-only data directory) degrades to no lock: atomic replaces still keep every file whole.
    """
    if fcntl is None:  # pragma: no cover
        with _fallback_guard:
            lock = _fallback_locks.setdefault(str(lock_path), threading.RLock())
        with lock:
            yield
        return
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
    except OSError:
        if exclusive:
            raise
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)  # releases the lock


def ensure_dir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)


def ensure_private_dir(path: Path, root: Path) -> None:
    """Create ``path`` as a 0700 directory and tighten it and its parents below ``root`` (not
    ``root`` itself) to 0700 if they are looser."""
    path.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    current = path
    while current != root and current.parent != current:
        try:
            if current.stat().st_mode & 0o077:
                os.chmod(current, PRIVATE_DIR_MODE)
        except OSError:  # pragma: no cover - not ours to change
            pass
        current = current.parent


def fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(path: Path, data: bytes, mode: int = PUBLIC_FILE_MODE) -> None:
    """Write ``data`` to ``path`` so readers see either the old or the new content, never a mix.

    Temp file in the same directory, fsync, ``os.replace``, fsync of the directory. On any failure
    the temp file is removed and the old file is left untouched.
    """
    directory = path.parent
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=TMP_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as handle:
            if hasattr(os, "fchmod"):
                os.fchmod(handle.fileno(), mode)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(directory)


def dump_json(doc: Any) -> bytes:
    return (json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def atomic_write_json(path: Path, doc: Any, mode: int = PUBLIC_FILE_MODE) -> None:
    atomic_write_bytes(path, dump_json(doc), mode)


def replace_file(source: Path, target: Path) -> None:
    os.replace(source, target)
    fsync_dir(target.parent)


def remove_file(path: Path) -> bool:
    try:
        os.unlink(path)
    except FileNotFoundError:
        return False
    fsync_dir(path.parent)
    return True


def sweep_temp_files(directory: Path) -> None:
    """Remove temp files left by writers that died. Call only while holding the exclusive lock."""
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        return
    for entry in entries:
        if entry.name.startswith(".") and entry.name.endswith(TMP_SUFFIX):
            with contextlib.suppress(OSError):
                os.unlink(entry.path)


def read_json(path: Path) -> Any:
    """Parsed content of ``path``; ``FileNotFoundError`` if missing, ``ValueError`` if not JSON."""
    with open(path, "rb") as handle:
        raw = handle.read()
    return json.loads(raw.decode("utf-8"))
