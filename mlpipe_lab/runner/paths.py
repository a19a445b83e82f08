"""Paths that stay inside the working folder: bundle members, inputs from manifests, output globs.

Everything a bundle or a manifest names is relative. Absolute paths, ``..``, drive letters,
backslashes, devices and links that lead out of the folder are refused, both by their text and
(for links already on disk) by where they really lead.
"""

from __future__ import annotations

import glob
import hashlib
import os
import posixpath
import shutil
import stat
import tarfile
from pathlib import Path

from .errors import UnsafePath

_COPY_CHUNK = 1 << 20


def clean_relpath(text: str, what: str = "path") -> str:
    """``text`` as a normalised relative POSIX path, or UnsafePath."""
    if not isinstance(text, str) or not text or "\x00" in text:
        raise UnsafePath(f"{what} {text!r} is empty or invalid")
    if (
        "\\" in text
        or text.startswith("/")
        or text.startswith("~")
        or (len(text) > 1 and text[1] == ":")
    ):
        raise UnsafePath(f"{what} {text!r} is absolute")
    parts = text.split("/")
    if ".." in parts:
        raise UnsafePath(f"{what} {text!r} climbs out with '..'")
    norm = posixpath.normpath(text)
    if norm in (".", "") or norm.startswith("../"):
        raise UnsafePath(f"{what} {text!r} does not name a file inside the folder")
    return norm


def inside(root: Path, path: Path) -> bool:
    """Whether ``path`` (following links that exist) is ``root`` or below it."""
    real_root = os.path.realpath(root)
    real = os.path.realpath(path)
    return real == real_root or real.startswith(real_root.rstrip(os.sep) + os.sep)


def target_path(root: Path, relpath: str, what: str = "path") -> Path:
    """Where a file at ``relpath`` goes under ``root``; refuses any path whose folder leads out
    (through a link) and an existing link at the path itself."""
    rel = clean_relpath(relpath, what)
    dest = root / rel
    if not inside(root, dest.parent):
        raise UnsafePath(f"{what} {relpath!r} leads out of the folder through a link")
    if dest.is_symlink():
        raise UnsafePath(f"{what} {relpath!r} is a link")
    return dest


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_COPY_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


# -- bundles ------------------------------------------------------------------------------------


def _check_member(member: tarfile.TarInfo, seen_files: set[str]) -> str:
    name = member.name[2:] if member.name.startswith("./") else member.name
    name = name.rstrip("/") if member.isdir() else name
    rel = clean_relpath(name, "bundle member")
    if member.issym():
        link = member.linkname
        if not link or link.startswith("/") or "\\" in link or (len(link) > 1 and link[1] == ":"):
            raise UnsafePath(
                f"bundle member {member.name!r} is a link to an absolute path {link!r}"
            )
        resolved = posixpath.normpath(posixpath.join(posixpath.dirname(rel), link))
        if resolved == ".." or resolved.startswith("../"):
            raise UnsafePath(
                f"bundle member {member.name!r} is a link leading out of the bundle ({link!r})"
            )
    elif member.islnk():
        target = clean_relpath(member.linkname, f"hard link target of {member.name!r}")
        if target not in seen_files:
            raise UnsafePath(
                f"bundle member {member.name!r} is a hard link to {member.linkname!r}, "
                "which is not a file earlier in the bundle"
            )
    elif not (member.isfile() or member.isdir()):
        raise UnsafePath(f"bundle member {member.name!r} is not a regular file or folder")
    return rel


def unpack_bundle(archive: Path, root: Path) -> list[str]:
    """Unpack a tar.gz bundle into the (empty) folder ``root``; return the files unpacked.

    Every member is checked before anything is written, and again against the links already on
    disk while writing. Modes keep only the owner's executable bit; owners and times are ignored.
    """
    root.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(archive, mode="r:*") as tar:
            members = tar.getmembers()
            seen: set[str] = set()
            checked: list[tuple[tarfile.TarInfo, str]] = []
            for member in members:
                rel = _check_member(member, seen)
                if member.isfile():
                    seen.add(rel)
                checked.append((member, rel))
            files: list[str] = []
            for member, rel in checked:
                if member.isdir():
                    dest = root / rel
                    if not inside(root, dest.parent) or dest.is_symlink():
                        raise UnsafePath(f"bundle member {member.name!r} leads out of the bundle")
                    dest.mkdir(parents=True, exist_ok=True)
                    continue
                dest = target_path(root, rel, "bundle member")
                dest.parent.mkdir(parents=True, exist_ok=True)
                if not inside(root, dest.parent):
                    raise UnsafePath(f"bundle member {member.name!r} leads out of the bundle")
                if member.issym():
                    # realpath resolves links already unpacked before applying '..'
                    real = os.path.realpath(
                        os.path.join(os.path.realpath(dest.parent), member.linkname)
                    )
                    if not inside(root, Path(real)):
                        raise UnsafePath(
                            f"bundle member {member.name!r} is a link leading out of "
                            f"the bundle ({member.linkname!r})"
                        )
                    if dest.exists() or dest.is_symlink():
                        dest.unlink()
                    os.symlink(member.linkname, dest)
                    files.append(rel)
                    continue
                if member.islnk():
                    source = target_path(root, clean_relpath(member.linkname), "bundle member")
                    _replace_with_copy(source, dest)
                else:
                    extracted = tar.extractfile(member)
                    if extracted is None:
                        raise UnsafePath(f"bundle member {member.name!r} cannot be read")
                    _write_stream(extracted, dest)
                os.chmod(dest, 0o755 if member.mode & stat.S_IXUSR else 0o644)
                files.append(rel)
            return files
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise UnsafePath(f"the bundle is not a readable tar.gz archive: {exc}") from None


def _write_stream(stream, dest: Path) -> None:
    if dest.exists() and not dest.is_file():
        raise UnsafePath(f"bundle member {str(dest)!r} would replace a folder")
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(dest, flags, 0o644)
    with os.fdopen(fd, "wb") as fh:
        shutil.copyfileobj(stream, fh, _COPY_CHUNK)


def _replace_with_copy(source: Path, dest: Path) -> None:
    with open(source, "rb") as fh:
        _write_stream(fh, dest)


# -- outputs ------------------------------------------------------------------------------------


def match_outputs(root: Path, patterns: list[str]) -> tuple[dict[str, Path], list[str]]:
    """Files below ``root`` matched by each output glob (a matched folder counts with all its
    files). Returns ({relpath: path}, [patterns that matched nothing]). Files reached through a
    link that leads out of ``root`` are left out."""
    found: dict[str, Path] = {}
    missing: list[str] = []
    for pattern in patterns:
        pat = clean_relpath(pattern, "output")
        hits = 0
        for match in sorted(glob.glob(glob.escape(str(root)) + "/" + pat, recursive=True)):
            path = Path(match)
            candidates = (
                [path]
                if path.is_file()
                else sorted(p for p in path.rglob("*") if p.is_file())
                if path.is_dir()
                else []
            )
            for file in candidates:
                if not inside(root, file):
                    continue
                found.setdefault(file.relative_to(root).as_posix(), file)
                hits += 1
        if not hits:
            missing.append(pattern)
    return found, missing
