"""Where a pipeline's files live. The only module of the model that touches the disk.

A pipeline may only use files below its root (the folder of the .pipeline file unless told
otherwise): absolute paths, ``..`` that climbs out and symlinks that point out are refused, so a
pipeline cannot ship a user's ~/.ssh to an object store.
"""

from __future__ import annotations

import glob
import os
import posixpath
from pathlib import Path

OK = "ok"
MISSING = "missing"
ABSOLUTE = "absolute"
OUTSIDE = "outside"
NOT_A_FILE = "not-a-file"


def lexical_status(relpath: str) -> str:
    """Judge a path by its text alone: ABSOLUTE, OUTSIDE (``..`` climbs out) or OK."""
    text = relpath.replace("\\", "/")
    if text.startswith("/") or (len(text) > 1 and text[1] == ":") or text.startswith("~"):
        return ABSOLUTE
    norm = posixpath.normpath(text)
    if norm == ".." or norm.startswith("../"):
        return OUTSIDE
    return OK


class LocalFiles:
    """Files under a root folder on this machine."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root).resolve()
        # Validation and bundling ask about the same files; resolving symlinks costs syscalls.
        self._checked: dict[str, str] = {}

    def _inside(self, path: Path) -> bool:
        try:
            path.resolve().relative_to(self.root)
        except ValueError:
            return False
        return True

    def check(self, relpath: str) -> str:
        status = self._checked.get(relpath)
        if status is None:
            status = self._checked[relpath] = self._check(relpath)
        return status

    def _check(self, relpath: str) -> str:
        status = lexical_status(relpath)
        if status != OK:
            return status
        path = self.root / relpath
        if not path.exists() and not path.is_symlink():
            return MISSING
        if not self._inside(path):
            return OUTSIDE
        if not path.is_file():
            return NOT_A_FILE
        return OK

    def glob(self, pattern: str) -> list[str]:
        """Files (not folders) matching a pattern relative to the root, sorted, inside the root."""
        if lexical_status(pattern) != OK:
            return []
        matches = glob.glob(str(self.root / pattern), recursive=True)
        out = []
        for m in matches:
            p = Path(m)
            if p.is_file() and self._inside(p):
                out.append(p.relative_to(self.root).as_posix())
        return sorted(out)

    def folder_files(self, relfolder: str, recursive: bool) -> list[str]:
        """Files of a folder below the root (for include_subdirectories)."""
        base = self.root / relfolder
        if not self._inside(base) or not base.is_dir():
            return []
        it = base.rglob("*") if recursive else base.glob("*")
        return sorted(
            p.relative_to(self.root).as_posix() for p in it if p.is_file() and self._inside(p)
        )
