"""Node bundles: a node's file and dependencies as a deterministic tar.gz named by its content.

Same files, same bytes: entries sorted, mtime 0, uid/gid 0, no user names, modes normalised to
0644/0755, gzip header without name or time. Files come through LocalFiles, which refuses
anything outside the pipeline's folder (absolute paths, '..', symlinks pointing out).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import posixpath
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Iterable

from ..pipeline.files import OK, LocalFiles
from ..pipeline.model import Node, Pipeline
from .plan import Plan, normalise_file

SUFFIX = ".tar.gz"
_SKIPPED_PARTS = ("__pycache__",)


@dataclass(frozen=True)
class BundleRef:
    node_id: str
    key: str  # object key relative to the storage prefix: <dag_id>/bundles/<task_id>-<sha12>.tar.gz
    sha256: str
    files: tuple[str, ...] = field(default_factory=tuple)  # paths inside, relative to the pipeline folder
    path: str = ""  # the local file
    size: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"node_id": self.node_id, "key": self.key, "sha256": self.sha256, "files": list(self.files),
                "path": self.path, "size": self.size}


def bundle_key(dag_id: str, task_id: str, sha256: str) -> str:
    return f"{dag_id}/bundles/{task_id}-{sha256[:12]}{SUFFIX}"


def _hidden_or_cache(relpath: str) -> bool:
    return any(part.startswith(".") or part in _SKIPPED_PARTS for part in relpath.split("/"))


def bundle_files(pipeline: Pipeline, node: Node, files: LocalFiles, exclude: Iterable[str] = ()) -> list[str]:
    """The files of a node's bundle, relative to the pipeline folder, sorted: the node file, the
    dependency globs, and with include_subdirectories everything below the node file's folder
    (hidden files and __pycache__ left out). ``exclude``: paths or folders never bundled (our outputs)."""
    props = pipeline.node_properties(node)
    blocked = [e.rstrip("/") for e in exclude if e]

    def allowed(rel: str) -> bool:
        return not any(rel == b or rel.startswith(b + "/") for b in blocked)

    out: set[str] = set()
    main = normalise_file(node.filename)
    if main and files.check(main) == OK:
        out.add(main)
    for pattern in props.get("dependencies") or []:
        if isinstance(pattern, str) and pattern:
            out.update(files.glob(pattern))
    if props.get("include_subdirectories") is True:
        folder = posixpath.dirname(main)
        out.update(f for f in files.folder_files(folder, recursive=True)
                   if not _hidden_or_cache(f[len(folder) + 1:] if folder else f))
    return sorted(f for f in out if allowed(f))


class _Hashing(io.RawIOBase):
    """A write-only stream that hashes what passes through to ``out``."""

    def __init__(self, out: IO[bytes]):
        self.out = out
        self.hash = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        data = bytes(data)
        self.hash.update(data)
        self.size += len(data)
        self.out.write(data)
        return len(data)


def write_bundle(root: Path, relpaths: Iterable[str], out: IO[bytes]) -> tuple[str, int]:
    """Write the deterministic tar.gz of ``relpaths`` (below ``root``) to ``out``; (sha256, size)."""
    sink = _Hashing(out)
    with gzip.GzipFile(filename="", mode="wb", fileobj=sink, mtime=0, compresslevel=6) as gz:
        with tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for rel in sorted(relpaths):
                path = root / rel
                st = path.stat()
                info = tarfile.TarInfo(rel)
                info.size = st.st_size
                info.mtime = 0
                info.mode = 0o755 if st.st_mode & 0o100 else 0o644
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                with open(path, "rb") as fh:
                    tar.addfile(info, fh)
    return sink.hash.hexdigest(), sink.size


def bundle_bytes(root: Path, relpaths: Iterable[str]) -> bytes:
    buf = io.BytesIO()
    write_bundle(Path(root), relpaths, buf)
    return buf.getvalue()


IN_MEMORY_LIMIT = 16 * 1024 * 1024  # bundles whose files add up to less are built in memory


class BundleSet:
    """Bundles built before anything is written: in memory when small, else in a temporary file
    next to their final place. ``commit`` puts them in place (skipping bundles already there: the
    name is the content hash) and removes bundles of earlier exports; ``discard`` throws them away.
    So a failed compile leaves nothing behind."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.refs: dict[str, BundleRef] = {}
        self._pending: list[tuple[bytes | Path, Path]] = []

    def add(self, node_id: str, dag_id: str, task_id: str, root: Path, relpaths: list[str]) -> BundleRef:
        if sum((root / r).stat().st_size for r in relpaths) < IN_MEMORY_LIMIT:
            buf = io.BytesIO()
            sha, size = write_bundle(root, relpaths, buf)
            content: bytes | Path = buf.getvalue()
        else:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".tmp-", suffix=SUFFIX)
            try:
                with os.fdopen(fd, "wb") as fh:
                    sha, size = write_bundle(root, relpaths, fh)
            except BaseException:
                os.unlink(tmp)
                raise
            content = Path(tmp)
        key = bundle_key(dag_id, task_id, sha)
        final = self.folder / posixpath.basename(key)
        self._pending.append((content, final))
        ref = BundleRef(node_id=node_id, key=key, sha256=sha, files=tuple(relpaths), path=str(final), size=size)
        self.refs[node_id] = ref
        return ref

    def commit(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        keep = set()
        for content, final in self._pending:
            keep.add(final.name)
            size = len(content) if isinstance(content, bytes) else content.stat().st_size
            if final.exists() and final.stat().st_size == size:  # content-addressed: already there
                if isinstance(content, Path):
                    content.unlink()
                continue
            if isinstance(content, bytes):
                _write_new(final, content)
            else:
                os.replace(content, final)
        self._pending = []
        for old in self.folder.glob("*" + SUFFIX):
            if old.name not in keep and not old.name.startswith("."):
                old.unlink()

    def discard(self) -> None:
        for content, _ in self._pending:
            if isinstance(content, Path):
                content.unlink(missing_ok=True)
        self._pending = []


def _write_new(final: Path, data: bytes) -> None:
    tmp = final.with_name(f".tmp-{os.getpid()}-{final.name}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def build_bundles(pipeline: Pipeline, plan: Plan, files: LocalFiles, folder: Path,
                  exclude: Iterable[str] = ()) -> BundleSet:
    """Build every task's bundle into ``folder`` (uncommitted; see BundleSet)."""
    exclude = list(exclude)
    bundles = BundleSet(Path(folder))
    try:
        for task in plan.tasks:
            if task.kind == "serve":  # serve tasks ship no files: they fetch the model themselves
                continue
            rel = bundle_files(pipeline, task.node, files, exclude)
            bundles.add(task.node_id, plan.dag_id, task.task_id, files.root, rel)
    except BaseException:
        bundles.discard()
        raise
    return bundles
