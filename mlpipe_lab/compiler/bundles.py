"""Node bundles: a node's file and dependencies as a deterministic tar.gz named by its content.

A bundle holds what Elyra's dependency archive holds: the node's file and its dependencies, with
paths relative to the node file's folder (the bundle root; the node runs there, and its outputs
are relative to it). Which files that is, is decided by PipelineFiles (pipeline/files.py), the
same code validation asks, and which refuses anything outside the project root.

Same files, same bytes: entries sorted, mtime 0, uid/gid 0, no user names, modes normalised to
0644/0755, gzip header without name or time.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import posixpath
import signal
import stat
import struct
import tarfile
import tempfile
import threading
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from ..errors import MLPipeError
from ..pipeline.files import LocalFiles, PipelineFiles
from ..pipeline.model import Node, Pipeline
from ..plan.layout import Layout

SUFFIX = ".tar.gz"


@dataclass(frozen=True)
class BundleRef:
    node_id: str
    key: (
        str  # relative to the storage prefix: <dag_id>/bundles/<task_id>-<sha12 of the .tar>.tar.gz
    )
    sha256: str  # of the .tar.gz file
    files: tuple[str, ...] = field(default_factory=tuple)  # paths inside (node-folder relative)
    path: str = ""  # the local file
    size: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "node_id": self.node_id,
            "key": self.key,
            "sha256": self.sha256,
            "files": list(self.files),
            "path": self.path,
            "size": self.size,
        }


def bundle_key(dag_id: str, task_id: str, sha256: str) -> str:
    return f"{dag_id}/bundles/{task_id}-{sha256[:12]}{SUFFIX}"


def bundle_files(
    pipeline: Pipeline,
    node: Node,
    files: PipelineFiles | LocalFiles,
    exclude: Iterable[str] = (),
) -> list[str]:
    """The files of a node's bundle relative to the node file's folder, sorted: the node file and
    what its dependencies match. ``exclude``: paths or folders (relative to the project root)
    never bundled (our own outputs). A file that cannot be used is left out here; validation
    reports it (export refuses)."""
    if isinstance(files, LocalFiles):
        files = PipelineFiles(files)
    found = files.node(pipeline, node)
    blocked = [e.rstrip("/") for e in exclude if e]
    prefix = found.folder + "/" if found.folder else ""

    def allowed(rel: str) -> bool:
        full = prefix + rel
        return not any(full == b or full.startswith(b + "/") for b in blocked)

    return [f for f in found.bundle if allowed(f)] if found.file else []


def bundle_root(pipeline: Pipeline, node: Node, files: PipelineFiles) -> Path:
    """The folder a node's bundle is made from (the node file's folder)."""
    assert files.root is not None
    folder = files.node(pipeline, node).folder
    return files.root / folder if folder else files.root


def _ustar_header(name: str, size: int, mode: int) -> bytes | None:
    """The 512-byte header tarfile writes (PAX format) for a plain regular file, or None when the
    name needs a PAX extended header (non-ASCII, > 100 bytes) or the size does not fit."""
    if not name.isascii() or len(name) > 100 or size >= 8**11:
        return None
    raw = name.encode("ascii")
    header = bytearray(512)
    header[0 : len(raw)] = raw
    header[100:108] = b"%07o\0" % mode
    header[108:124] = b"0000000\x00" * 2  # uid, gid
    header[124:136] = b"%011o\0" % size
    header[136:148] = b"00000000000\x00"  # mtime
    header[148:156] = b"        "  # checksum, counted as spaces
    header[156:157] = tarfile.REGTYPE
    header[257:265] = tarfile.POSIX_MAGIC
    header[148:155] = b"%06o\0" % sum(header)
    return bytes(header)


def _header(name: str, size: int, mode: int) -> bytes:
    fast = _ustar_header(name, size, mode)
    if fast is not None:
        return fast
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = size, 0, mode
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info.tobuf(tarfile.PAX_FORMAT, tarfile.ENCODING, "surrogateescape")


# gzip member header as GzipFile(filename="", mtime=0, compresslevel=6) writes it: no name, no time,
# no extra flags, OS "unknown".
_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
_CHUNK = 1024 * 1024


class FileEscapes(MLPipeError):
    """A file to bundle turned out, once opened, not to be a regular file inside the project
    root (a symlink swapped meanwhile, a FIFO, a device): nothing of it is bundled."""

    def __init__(self, rel: str, why: str):
        super().__init__(
            f"'{rel}' {why}, so it is not bundled; nothing was written.",
            403,
            field="dependencies",
        )


_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)


def _open_member(path: str, rel: str, inside: str | None) -> IO[bytes]:
    """Open a file to bundle without blocking and check what was opened: a regular file, and
    (given ``inside``, the project root) one below it. Checking the opened descriptor, not the
    path, leaves no window for a symlink swapped between a check and the open."""
    fd = os.open(path, _OPEN_FLAGS)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise FileEscapes(rel, "is not a regular file")
        if inside is not None:
            try:
                real = os.readlink(f"/proc/self/fd/{fd}")
            except OSError:  # pragma: no cover - no /proc: compare with the path's own stat
                real = os.path.realpath(path)
            if not (real == inside or real.startswith(inside.rstrip(os.sep) + os.sep)):
                raise FileEscapes(rel, "lies outside the project folder")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _tar_pieces(root: Path, relpaths: Iterable[str], inside: str | None = None) -> Iterator[bytes]:
    """The uncompressed archive in pieces: per file its header, content and padding to a block,
    then the end-of-archive marker (not padded further to whole 10 KiB records as tar -b20 does:
    readers do not need it, and deflating those zeros was a fifth of the work for small bundles).
    ``inside``: the project root every file must turn out to be in once opened."""
    base = os.fspath(root)
    for rel in sorted(relpaths):
        with _open_member(os.path.join(base, rel), rel, inside) as fh:
            st = os.fstat(fh.fileno())
            size = st.st_size
            yield _header(rel, size, 0o755 if st.st_mode & 0o100 else 0o644)
            left = size
            while left:
                data = fh.read(min(left, _CHUNK))
                if not data:
                    raise OSError(f"{rel} changed while it was bundled")
                yield data
                left -= len(data)
        rest = size % tarfile.BLOCKSIZE
        if rest:
            yield bytes(tarfile.BLOCKSIZE - rest)
    yield bytes(2 * tarfile.BLOCKSIZE)


def write_bundle(
    root: Path,
    relpaths: Iterable[str],
    out: IO[bytes],
    raw_digest: Any = None,
    inside: str | None = None,
) -> tuple[str, int]:
    """Write the deterministic tar.gz of ``relpaths`` (below ``root``) to ``out``; (sha256, size).
    ``raw_digest``: a hashlib object that also gets the uncompressed archive.

    The bytes are exactly those of ``tarfile`` (PAX format, up to its end-of-archive marker) inside
    ``gzip.GzipFile(mtime=0)``; the archive is assembled here directly because building 5,000
    small bundles through those classes costs more than compressing them."""
    return _gzip(_tar_pieces(root, relpaths, inside), out, raw_digest)


def _gzip(pieces: Iterable[bytes], out: IO[bytes], raw_digest: Any = None) -> tuple[str, int]:
    """Gzip (level 6, mtime 0) the concatenation of ``pieces`` into ``out``; (sha256, size) of
    what was written. The output does not depend on how the input is cut into pieces."""
    digest = hashlib.sha256()
    written = 0
    deflate = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS, zlib.DEF_MEM_LEVEL, 0)
    crc = 0
    length = 0

    def emit(data: bytes) -> None:
        nonlocal written
        if data:
            digest.update(data)
            out.write(data)
            written += len(data)

    emit(_GZIP_HEADER)
    for data in pieces:
        if raw_digest is not None:
            raw_digest.update(data)
        crc = zlib.crc32(data, crc)
        length += len(data)
        emit(deflate.compress(data))
    emit(deflate.flush())
    emit(struct.pack("<II", crc, length & 0xFFFFFFFF))
    return digest.hexdigest(), written


def tar_bytes(root: Path, relpaths: Iterable[str], inside: str | None = None) -> bytes:
    """The uncompressed archive of a bundle (what its key's hash is taken of)."""
    return b"".join(_tar_pieces(root, relpaths, inside))


def bundle_bytes(root: Path, relpaths: Iterable[str]) -> bytes:
    buf = io.BytesIO()
    write_bundle(Path(root), relpaths, buf)
    return buf.getvalue()


IN_MEMORY_LIMIT = 16 * 1024 * 1024  # bundles whose files add up to less are built in memory
BACKGROUND_MIN_BUNDLES = 500  # fewer are written faster than a fork costs


@dataclass
class _Entry:
    node_id: str
    key: str
    files: tuple[str, ...]
    final: Path
    raw: bytes | None = None  # the uncompressed archive, until it is compressed
    content: bytes | Path | None = None  # the .tar.gz: in memory, or a file (large, or staged)
    sha256: str = ""  # of the .tar.gz
    size: int = 0

    def compress(self) -> None:
        if self.raw is not None:
            buf = io.BytesIO()
            self.sha256, self.size = _gzip((self.raw,), buf)  # the bytes write_bundle would stream
            self.content = buf.getvalue()
            self.raw = None


class BundleSet:
    """Bundles built before anything is written: in memory when small, else in a temporary file
    next to their final place. A bundle's key (and file name) holds the hash of its uncompressed
    archive, known before it is compressed; ``keys`` is all compile needs. ``commit`` puts them in
    place (skipping bundles already there: the name is the content hash) and removes bundles of
    earlier exports; ``discard`` throws them away. So a failed compile leaves nothing behind."""

    def __init__(self, folder: Path, inside: Path | None = None):
        self.folder = folder
        # every bundled file must turn out to be below this folder once opened
        self.inside = os.path.realpath(inside) if inside is not None else None
        self._entries: dict[str, _Entry] = {}
        self._writer: tuple[int, int, Path] | None = None  # (pid, report pipe, staging folder)
        self._made_folder = False  # for the temporary files of large bundles

    @property
    def keys(self) -> dict[str, dict[str, str]]:
        """node id -> {"key": object key}, for compile."""
        return {nid: {"key": e.key} for nid, e in self._entries.items()}

    @property
    def refs(self) -> dict[str, BundleRef]:
        """node id -> BundleRef (compressing in this process what is not compressed yet)."""
        out = {}
        for nid, e in self._entries.items():
            e.compress()
            out[nid] = BundleRef(
                node_id=nid,
                key=e.key,
                sha256=e.sha256,
                files=e.files,
                path=str(e.final),
                size=e.size,
            )
        return out

    def add(self, node_id: str, dag_id: str, task_id: str, root: Path, relpaths: list[str]) -> str:
        """Build a node's bundle (compressed later, unless it is large); its key."""
        base = os.fspath(root)
        if sum(os.stat(os.path.join(base, r)).st_size for r in relpaths) < IN_MEMORY_LIMIT:
            raw = tar_bytes(root, relpaths, self.inside)
            key = bundle_key(dag_id, task_id, hashlib.sha256(raw).hexdigest())
            entry = _Entry(
                node_id, key, tuple(relpaths), self.folder / posixpath.basename(key), raw=raw
            )
        else:
            if not self.folder.exists():
                self.folder.mkdir(parents=True)
                self._made_folder = True
            fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".tmp-", suffix=SUFFIX)
            raw_digest = hashlib.sha256()
            try:
                with os.fdopen(fd, "wb") as fh:
                    sha, size = write_bundle(root, relpaths, fh, raw_digest, self.inside)
            except BaseException:
                os.unlink(tmp)
                raise
            key = bundle_key(dag_id, task_id, raw_digest.hexdigest())
            entry = _Entry(
                node_id,
                key,
                tuple(relpaths),
                self.folder / posixpath.basename(key),
                content=Path(tmp),
                sha256=sha,
                size=size,
            )
        self._entries[node_id] = entry
        return key

    def stage_in_background(self) -> bool:
        """Start compressing a first export's bundles and writing them into their staging folder
        in a forked child while this process goes on validating and compiling; ``commit`` waits
        for it. Only for many bundles (creating a file costs 15-500 µs here, depending on the file
        system's state) and only in a single-threaded process such as the CLI, where fork is
        safe. True if started."""
        entries = list(self._entries.values())
        if (
            self._writer is not None
            or len(entries) < BACKGROUND_MIN_BUNDLES
            or not hasattr(os, "fork")
            or threading.active_count() != 1
            or not self._stageable()
        ):
            return False
        staging = self._new_staging()
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: write, report on the pipe, never return into the caller
            code = 0
            try:
                os.close(read_end)
                self._write_staged(staging)
                report = b"ok\n" + json.dumps([[e.sha256, e.size] for e in entries]).encode()
            except BaseException as exc:
                report, code = b"error\n" + str(exc).encode("utf-8", "replace")[:4000], 1
            try:
                with os.fdopen(write_end, "wb") as fh:
                    fh.write(report)
            finally:
                os._exit(code)
        os.close(write_end)
        self._writer = (pid, read_end, staging)
        return True

    def _join_writer(self) -> Path:
        """Wait for the background writer; its staging folder, complete. Raises OSError (and
        leaves nothing) when it failed."""
        assert self._writer is not None
        pid, pipe, staging = self._writer
        self._writer = None
        with os.fdopen(pipe, "rb") as fh:
            report = fh.read()
        _, status = os.waitpid(pid, 0)
        status_line, _, body = report.partition(b"\n")
        if os.waitstatus_to_exitcode(status) != 0 or status_line != b"ok":
            _remove_tree(staging)
            error = (
                body.decode("utf-8", "replace") if status_line == b"error" else "the writer stopped"
            )
            raise OSError(f"writing the bundles into {self.folder} failed: {error}")
        for entry, (sha, size) in zip(self._entries.values(), json.loads(body), strict=True):
            entry.raw, entry.sha256, entry.size = None, sha, size
        self._point_at(staging)
        return staging

    def _kill_writer(self) -> None:
        if self._writer is None:
            return
        pid, pipe, staging = self._writer
        self._writer = None
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os.waitpid(pid, 0)
        os.close(pipe)
        _remove_tree(staging)

    def commit(self) -> None:
        staging = self._join_writer() if self._writer is not None else self._stage_new_folder()
        if staging is not None:
            try:
                os.rename(staging, self.folder)
                self._settled()
                return
            except OSError:
                if not self.folder.exists():
                    _remove_tree(staging)
                    raise
                # Another export made the folder meanwhile: put ours in one by one below.
        self.folder.mkdir(parents=True, exist_ok=True)
        keep = set()
        for entry in self._entries.values():
            entry.compress()
            content, final = entry.content, entry.final
            keep.add(final.name)
            try:
                there = os.stat(final).st_size == entry.size  # content-addressed: already there
            except OSError:
                there = False
            if there:
                if isinstance(content, Path):
                    content.unlink()
            elif isinstance(content, bytes):
                _write_new(final, content)
            else:
                assert content is not None
                os.replace(content, final)
        self._settled()
        if staging is not None:
            os.rmdir(staging)
        for old in self.folder.glob("*" + SUFFIX):
            if old.name not in keep and not old.name.startswith("."):
                old.unlink()

    def _settled(self) -> None:
        """After the commit every bundle is its final file (keep sizes and hashes for refs)."""
        for entry in self._entries.values():
            entry.content = entry.final

    def _stage_new_folder(self) -> Path | None:
        """First export into this folder: every bundle goes into a hidden staging folder that is
        then renamed into place, so the folder appears complete at once and each bundle costs one
        file creation (not a temporary file and a rename). None when the folder already exists."""
        if not self._stageable():
            return None
        staging = self._new_staging()
        try:
            self._write_staged(staging)
        except BaseException:
            _remove_tree(staging)
            raise
        self._point_at(staging)
        return staging

    def _stageable(self) -> bool:
        """A first export into this folder, every bundle in memory (none streamed to a file)."""
        return not self.folder.exists() and not any(
            isinstance(e.content, Path) for e in self._entries.values()
        )

    def _point_at(self, staging: Path) -> None:
        """The bundles were written into ``staging``: that is where they are until the rename."""
        for entry in self._entries.values():
            entry.content = Path(os.path.join(staging, entry.final.name))

    def _new_staging(self) -> Path:
        parent = self.folder.parent
        parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=parent, prefix=f".{self.folder.name}.tmp-"))
        try:
            os.chmod(staging, 0o755)  # mkdtemp makes it private
        except BaseException:
            os.rmdir(staging)
            raise
        return staging

    def _write_staged(self, staging: Path) -> None:
        base = os.fspath(staging)
        for entry in self._entries.values():
            entry.compress()
            fd = os.open(
                base + os.sep + entry.final.name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644
            )
            with os.fdopen(fd, "wb") as fh:
                fh.write(entry.content)  # type: ignore[arg-type]

    def discard(self) -> None:
        self._kill_writer()
        for entry in self._entries.values():
            if isinstance(entry.content, Path) and entry.content != entry.final:
                entry.content.unlink(missing_ok=True)
        self._entries = {}
        if self._made_folder:
            self._made_folder = False
            try:
                self.folder.rmdir()
            except OSError:  # someone else's files arrived meanwhile
                pass


def _remove_tree(folder: Path | str) -> None:
    for name in os.listdir(folder):
        os.unlink(os.path.join(folder, name))
    os.rmdir(folder)


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


def build_bundles(
    pipeline: Pipeline,
    tasks: Layout,
    files: PipelineFiles | LocalFiles,
    folder: Path,
    exclude: Iterable[str] = (),
) -> BundleSet:
    """Build every task's bundle into ``folder`` (uncommitted; see BundleSet)."""
    if isinstance(files, LocalFiles):
        files = PipelineFiles(files)
    exclude = list(exclude)
    bundles = BundleSet(Path(folder), files.root)
    try:
        for slot in tasks.slots:
            if slot.kind in ("serve", "component", "branch"):  # no files: serve tasks fetch the
                # model themselves, operators and KFP components run what their image holds, a
                # branch runs nothing
                continue
            rel = bundle_files(pipeline, slot.node, files, exclude)
            root = bundle_root(pipeline, slot.node, files)
            bundles.add(slot.node_id, tasks.dag_id, slot.task_id, root, rel)
    except BaseException:
        bundles.discard()
        raise
    return bundles
