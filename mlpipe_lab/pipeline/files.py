"""Where a pipeline's files live. The only module of the model that touches the disk.

A pipeline may only use files below its root (the folder of the .pipeline file unless told
otherwise): absolute paths, ``..`` that climbs out and symlinks that point out are refused, so a
pipeline cannot ship a user's ~/.ssh to an object store.
"""

from __future__ import annotations

import glob
import os
import posixpath
import re
import stat
from pathlib import Path

# Paths that need no normalising: no empty, "." or ".." parts, no backslash, no trailing slash.
_SIMPLE = re.compile(r"(?!\.{1,2}(?:/|\Z))[^/\\]+(?:/(?!\.{1,2}(?:/|\Z))[^/\\]+)*\Z")

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
        self._root = str(self.root)
        # Validation and bundling ask about the same files and patterns; resolving symlinks costs
        # syscalls. The files do not change during one validation or export.
        self._checked: dict[str, str] = {}
        self._globbed: dict[str, list[str]] = {}
        self._dirs_inside: dict[str, bool] = {}

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
        if _SIMPLE.match(relpath):
            fast = self._check_plain(relpath)
            if fast is not None:
                return fast
        path = self.root / relpath
        if not path.exists() and not path.is_symlink():
            return MISSING
        if not self._inside(path):
            return OUTSIDE
        if not path.is_file():
            return NOT_A_FILE
        return OK

    def _check_plain(self, relpath: str) -> str | None:
        """check() for a plain relative path that is not a symlink itself: one lstat, and the real
        path of its folder (cached, as many files share a folder). None: use the general way."""
        full = self._root + "/" + relpath
        try:
            st = os.lstat(full)
        except FileNotFoundError:
            return MISSING
        except OSError:
            return None
        if stat.S_ISLNK(st.st_mode):
            return None
        folder = full.rpartition("/")[0]
        inside = self._dirs_inside.get(folder)
        if inside is None:
            inside = self._dirs_inside[folder] = self._inside(Path(folder))
        if not inside:
            return OUTSIDE
        return OK if stat.S_ISREG(st.st_mode) else NOT_A_FILE

    def glob(self, pattern: str) -> list[str]:
        """Files (not folders) matching a pattern relative to the root, sorted, inside the root."""
        found = self._globbed.get(pattern)
        if found is None:
            found = self._globbed[pattern] = self._glob(pattern)
        return list(found)

    def _glob(self, pattern: str) -> list[str]:
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
