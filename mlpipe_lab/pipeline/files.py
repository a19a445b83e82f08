"""Where a pipeline's files live. The only module of the model that touches the disk.

A pipeline may use any file below its **project root** (the Jupyter server's root in the UI and
REST; for the CLI the git work tree that holds the pipeline, else the current folder, or
``--root``), as Elyra allows any file inside the Jupyter root: real repositories keep notebooks
in a sibling folder (``../notebooks/x.ipynb``). Absolute paths, ``..`` that climbs past the root
and symlinks that point out of it are refused, so a pipeline cannot ship a user's ~/.ssh to an
object store.

Paths are read as Elyra reads them: a node's file relative to the pipeline file (relative to the
Jupyter root in files of format version 1 and older); its dependencies and outputs relative to
the node file's folder, which is what a node's bundle holds and where it runs.
"""

from __future__ import annotations

import fnmatch
import glob
import os
import posixpath
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Paths that need no normalising: no empty, "." or ".." parts, no backslash, no trailing slash.
_SIMPLE = re.compile(r"(?!\.{1,2}(?:/|\Z))[^/\\]+(?:/(?!\.{1,2}(?:/|\Z))[^/\\]+)*\Z")

OK = "ok"
MISSING = "missing"
ABSOLUTE = "absolute"
OUTSIDE = "outside"
NOT_A_FILE = "not-a-file"
_WILDCARDS = re.compile(r"[*?[]")
_SKIPPED_PARTS = ("__pycache__",)


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

    def glob(self, pattern: str, folders: bool = False) -> list[str]:
        """Files matching a pattern relative to the root, sorted, inside the root; with
        ``folders``, the matching folders too (with a trailing ``/``)."""
        key = f"{int(folders)}:{pattern}"
        found = self._globbed.get(key)
        if found is None:
            found = self._globbed[key] = self._glob(pattern, folders)
        return list(found)

    def _glob(self, pattern: str, folders: bool) -> list[str]:
        if lexical_status(pattern) != OK:
            return []
        matches = glob.glob(str(self.root / pattern), recursive=True)
        out = []
        for m in matches:
            p = Path(m)
            if not self._inside(p):
                continue
            if p.is_file():
                out.append(p.relative_to(self.root).as_posix())
            elif folders and p.is_dir():
                out.append(p.relative_to(self.root).as_posix() + "/")
        return sorted(out)

    def folder_files(self, relfolder: str, recursive: bool) -> list[str]:
        """Files of a folder below the root, relative to the root, sorted; hidden files and
        folders and __pycache__ left out (as Elyra leaves hidden folders out of its archives)."""
        key = f"dir:{int(recursive)}:{relfolder}"
        found = self._globbed.get(key)
        if found is None:
            found = self._globbed[key] = self._folder_files(relfolder, recursive)
        return list(found)

    def _folder_files(self, relfolder: str, recursive: bool) -> list[str]:
        base = self.root / relfolder if relfolder else self.root
        if not self._inside(base) or not base.is_dir():
            return []
        out = []
        for folder, dirs, names in os.walk(base, followlinks=True):
            dirs[:] = sorted(d for d in dirs if not _hidden_or_cache(d)) if recursive else []
            for name in names:
                if _hidden_or_cache(name):
                    continue
                p = Path(folder, name)
                if p.is_file() and self._inside(p):
                    out.append(p.relative_to(self.root).as_posix())
        return sorted(out)


def _hidden_or_cache(name: str) -> bool:
    return name.startswith(".") or name in _SKIPPED_PARTS


def find_project_root(path: str | os.PathLike, fallback: str | os.PathLike | None = None) -> Path:
    """The CLI's project root for a pipeline file: the top of the git work tree that holds it,
    else ``fallback`` (the current folder) when the file is below it, else the file's folder."""
    file = Path(path).resolve()
    for folder in file.parents:
        if (folder / ".git").exists():  # a folder, or a file in worktrees and submodules
            return folder
    if fallback is not None:
        base = Path(fallback).resolve()
        if base == file.parent or base in file.parents:
            return base
    return file.parent


@dataclass(frozen=True)
class FileProblem:
    """A file property that cannot be used: ``field`` is the path in the node's properties
    (``component_parameters/dependencies/2``), ``message`` says what is wrong and how to fix it."""

    field: str
    message: str


@dataclass
class NodeFiles:
    """What a node's bundle holds, all relative to the project root except ``bundle``.

    ``folder`` is the node file's folder: the bundle root, where the node runs, and what its
    dependencies and outputs are relative to. ``bundle`` lists the paths inside the bundle
    (relative to ``folder``): the node file first-sorted with its dependencies."""

    file: str = ""
    folder: str = ""
    bundle: list[str] = field(default_factory=list)
    problems: list[FileProblem] = field(default_factory=list)

    @property
    def name(self) -> str:
        """The node file inside its bundle."""
        return posixpath.basename(self.file)


class PipelineFiles:
    """The files of one pipeline: its nodes' files and dependencies, below the project root.

    ``files``: the project root's LocalFiles; ``pipeline_dir``: the .pipeline file's folder
    relative to that root ("" for the root itself). Without ``files`` only the text of paths is
    judged (nothing is read from disk)."""

    def __init__(self, files: LocalFiles | None, pipeline_dir: str = ""):
        self.files = files
        self.pipeline_dir = _norm(pipeline_dir) if pipeline_dir not in ("", ".") else ""
        self._nodes: dict[int, tuple[Any, NodeFiles]] = {}

    @classmethod
    def at(cls, root: str | os.PathLike, pipeline_path: str | os.PathLike) -> PipelineFiles:
        files = LocalFiles(root)
        folder = Path(pipeline_path).resolve().parent
        try:
            rel = folder.relative_to(files.root).as_posix()
        except ValueError:
            raise ValueError(f"{pipeline_path} is not below {root}") from None
        return cls(files, "" if rel == "." else rel)

    @property
    def root(self) -> Path | None:
        return self.files.root if self.files is not None else None

    def node(self, pipeline: Any, node: Any) -> NodeFiles:
        """The node's file, bundle and file problems (computed once per node)."""
        cached = self._nodes.get(id(node))
        if cached is None or cached[0] is not node:
            cached = self._nodes[id(node)] = (node, self._resolve(pipeline, node))
        return cached[1]

    # -- the node file ---------------------------------------------------------------------

    def _resolve(self, pipeline: Any, node: Any) -> NodeFiles:
        out = NodeFiles()
        props = pipeline.node_properties(node)
        filename = node.filename
        if filename:
            out.file = self._node_file(pipeline, filename, out.problems)
        if not out.file:
            return out
        out.folder = posixpath.dirname(out.file)
        bundle = {out.name}
        patterns = props.get("dependencies") or []
        recursive = props.get("include_subdirectories") is True
        if isinstance(patterns, list):
            for i, pattern in enumerate(patterns):
                if isinstance(pattern, str) and pattern.strip():
                    bundle.update(self._dependency(out.folder, pattern, recursive, i, out.problems))
        for i, pattern in enumerate(props.get("outputs") or []):
            if isinstance(pattern, str) and pattern.strip():
                message = _escapes_folder(pattern, "Output")
                if message:
                    out.problems.append(FileProblem(f"component_parameters/outputs/{i}", message))
        out.bundle = sorted(bundle)
        return out

    def _node_file(self, pipeline: Any, filename: str, problems: list[FileProblem]) -> str:
        """The node file relative to the root, or "" (with a problem) when it cannot be used."""
        where = "component_parameters/filename"
        text = filename.replace("\\", "/").strip()
        if lexical_status(text) == ABSOLUTE:
            problems.append(
                FileProblem(
                    where,
                    f"File '{filename}' is an absolute path; give it relative to the pipeline "
                    "file, so that the pipeline works wherever the project is.",
                )
            )
            return ""
        if pipeline.paths_from_root:
            # Format version 1 and older: relative to the Jupyter root the file was made in. That
            # is the project root (Elyra's reading) or, when the project root is higher up,
            # one of the folders between it and the pipeline file (the first that has the file).
            candidates = [""] + _parents(self.pipeline_dir)
        else:
            candidates = [self.pipeline_dir]
        if self.files is None:  # only the text is judged: where the root is, is not known
            return _join(candidates[0], text) or posixpath.normpath(text)
        found = ""
        for base in candidates:
            rel = _join(base, text)
            if rel is not None and self.files.check(rel) != MISSING:
                found = rel
                break
        if not found:
            rel = _join(candidates[0], text)
            if rel is None:
                problems.append(
                    FileProblem(
                        where,
                        f"File '{filename}' is outside the project root; a pipeline can only use "
                        f"files below {self._root_name()}.",
                    )
                )
                return ""
            hint = (
                " (this pipeline is in Elyra's version-1 format, whose paths are relative to the "
                "Jupyter root)"
                if pipeline.paths_from_root
                else ""
            )
            problems.append(FileProblem(where, f"File '{filename}' does not exist{hint}."))
            return ""
        status = self.files.check(found)
        if status == OUTSIDE:
            problems.append(
                FileProblem(
                    where,
                    f"File '{filename}' is a link to a place outside the project root; a pipeline "
                    f"can only use files below {self._root_name()}.",
                )
            )
            return ""
        if status == NOT_A_FILE:
            problems.append(FileProblem(where, f"'{filename}' is a folder, not a file."))
            return ""
        return found

    def _root_name(self) -> str:
        return f"the project root ({self.files.root})" if self.files is not None else "the root"

    # -- dependencies ----------------------------------------------------------------------

    def _dependency(
        self, folder: str, pattern: str, recursive: bool, index: int, problems: list[FileProblem]
    ) -> list[str]:
        """The files (relative to ``folder``) one dependency pattern brings, as Elyra matches
        them: relative to the node file's folder; a folder brings its files; with
        include_subdirectories a pattern's wildcards also match in subfolders (``*.py`` any
        .py below the folder, ``data/*.csv`` any .csv below data/)."""
        where = f"component_parameters/dependencies/{index}"
        text = pattern.replace("\\", "/").strip()
        message = _escapes_folder(text, "Dependency")
        if message:
            problems.append(FileProblem(where, message))
            return []
        norm = posixpath.normpath(text)
        if self.files is None:
            return [] if _WILDCARDS.search(norm) else [norm]
        base = _join(folder, "") or ""
        found: list[str] = []
        if not _WILDCARDS.search(norm):
            rel = _join(folder, norm) or ""
            status = self.files.check(rel)
            if status == OK:
                found = [rel]
            elif status == NOT_A_FILE:
                found = self.files.folder_files(rel, recursive=True)
                if not found:
                    problems.append(
                        FileProblem(where, f"Dependency '{pattern}' is a folder with no files.")
                    )
                    return []
            elif status == OUTSIDE:
                problems.append(
                    FileProblem(
                        where,
                        f"Dependency '{pattern}' is a link to a place outside the project root; "
                        f"a pipeline can only use files below {self._root_name()}.",
                    )
                )
                return []
        elif recursive:
            flat = "/" not in norm
            for rel in self.files.folder_files(folder, recursive=True):
                inner = rel[len(base) + 1 :] if base else rel
                if fnmatch.fnmatchcase(inner, norm) or (
                    flat and fnmatch.fnmatchcase(posixpath.basename(inner), norm)
                ):
                    found.append(rel)
        else:
            found = []
            for rel in self.files.glob(_join(folder, norm) or norm, folders=True):
                # a folder the pattern matches brings its files (Elyra's '*' also matches '/')
                found += self.files.folder_files(rel[:-1], True) if rel.endswith("/") else [rel]
        if not found:
            where_text = f"'{folder}/'" if folder else "the project root"
            problems.append(
                FileProblem(
                    where,
                    f"Dependency '{pattern}' matches no file in the node file's folder "
                    f"({where_text}); dependencies are relative to the node's file.",
                )
            )
            return []
        return [rel[len(base) + 1 :] if base else rel for rel in found]


def _norm(path: str) -> str:
    return posixpath.normpath(path.replace("\\", "/"))


def _join(base: str, rel: str) -> str | None:
    """``base/rel`` normalised, relative to the root; None when it climbs out of the root."""
    joined = posixpath.normpath(posixpath.join(base, rel)) if base else posixpath.normpath(rel)
    if joined == ".." or joined.startswith("../"):
        return None
    return "" if joined == "." else joined


def _parents(folder: str) -> list[str]:
    """The folders from ``folder`` up to (not including) the root, nearest first."""
    out = []
    while folder:
        out.append(folder)
        folder = posixpath.dirname(folder)
    return out


def _escapes_folder(pattern: str, what: str) -> str:
    """Why a dependency or output path cannot be used, by its text ("" when it can)."""
    status = lexical_status(pattern)
    if status == ABSOLUTE:
        return (
            f"{what} '{pattern}' is an absolute path; give it relative to the node file's folder."
        )
    if status == OUTSIDE:
        return (
            f"{what} '{pattern}' is outside the node file's folder. A node runs in a copy of its "
            "file's folder, so only files below that folder can go with it (move the file, or "
            "the node's file, so that it is below)."
        )
    return ""
