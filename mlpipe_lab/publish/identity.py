"""Which pipeline a DAG in the DAG repository belongs to, so that a publish never replaces the DAG
of another pipeline that happens to have the same DAG id.

A DAG id comes from the pipeline's name, and names repeat: Elyra keeps the name when a file is
copied, and every new pipeline starts as "untitled". So the DAG repository records, in each
publish commit, which pipeline file the DAG came from (``Pipeline-Source`` and ``Pipeline-Id``
trailers; the subject already names the source path), and a publish from another file is refused.

What identifies "the same pipeline" is its file:

- in a git work tree with an ``origin`` remote, the remote (without credentials) and the file's
  path in the work tree. So a pipeline kept in a project repository stays the same pipeline for
  every clone of it (a colleague's, a CI job's), whichever folder the clone is in;
- otherwise this workspace (a random id kept in the mlpipe-lab data folder: two users with the same
  home folder layout are two workspaces) and the file's real path.

Moving or renaming the file makes it another file: its next publish is refused with a message
that says how to take the DAG over (``--replace``, or ``replace`` in the REST call) or to give it
its own DAG id. Copies are always other files; that is the case this exists for.
"""

from __future__ import annotations

import configparser
import hashlib
import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path

WORKSPACE_FILE = "workspace-id"
_TRAILER = re.compile(r"^(Pipeline-Source|Pipeline-Id): ?(.*)$", re.MULTILINE)
_SUBJECT = re.compile(r"^pipelines: publish (\S+) \((.*)\) hash=")


@dataclass(frozen=True)
class PipelineIdentity:
    source: str  # the pipeline file as people know it (relative to the project root)
    id: str  # 16 hex digits; equal for the same file (see the module docstring)

    def trailers(self) -> str:
        lines = [f"Pipeline-Source: {self.source}"]
        if self.id:
            lines.append(f"Pipeline-Id: {self.id}")
        return "\n".join(lines)


@dataclass(frozen=True)
class Owner:
    """Who published the DAG file that is in the repository now."""

    source: str | None  # the pipeline path its publish commit names (None: not published by us)
    id: str | None  # its Pipeline-Id (None: published before ids were recorded)
    commit: str  # the commit that last published (or, if none did, last changed) the file
    subject: str = ""

    def same_pipeline(self, identity: PipelineIdentity) -> bool:
        if self.source is None:
            return False
        if self.id is not None and identity.id:
            return self.id == identity.id
        return self.source == identity.source  # an older publish: only the path was recorded


def workspace_id(data_dir: str | os.PathLike[str]) -> str:
    """This workspace's random id, made on first use (kept in the data folder)."""
    path = Path(data_dir) / WORKSPACE_FILE
    try:
        value = path.read_text(encoding="ascii").strip()
        if re.fullmatch(r"[0-9a-f]{32}", value):
            return value
    except (OSError, UnicodeDecodeError):
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    value = uuid.uuid4().hex
    tmp = path.with_name(f".{WORKSPACE_FILE}.{os.getpid()}.tmp")
    tmp.write_text(value + "\n", encoding="ascii")
    try:
        os.link(tmp, path)  # first writer wins, so racing processes agree
    except FileExistsError:
        tmp.unlink()
        return workspace_id(data_dir)
    tmp.unlink()
    return value


def identify(
    pipeline_path: str | os.PathLike[str], source: str, data_dir: str | os.PathLike[str]
) -> PipelineIdentity:
    """The identity of the pipeline file at ``pipeline_path`` (``source``: its display path)."""
    real = Path(os.path.realpath(pipeline_path))
    work_tree = _work_tree(real)
    origin = _origin_url(work_tree) if work_tree is not None else None
    if work_tree is not None and origin:
        key = f"git\0{origin}\0{real.relative_to(work_tree).as_posix()}"
    else:
        key = f"local\0{workspace_id(data_dir)}\0{real.as_posix()}"
    return PipelineIdentity(source=source, id=hashlib.sha256(key.encode()).hexdigest()[:16])


def parse_publish_message(message: str) -> tuple[str | None, str | None, str | None]:
    """(dag_id, source, id) of a publish commit message; Nones for other commits."""
    subject = message.split("\n", 1)[0]
    match = _SUBJECT.match(subject)
    if not match:
        return None, None, None
    trailers = dict(_TRAILER.findall(message))
    source = trailers.get("Pipeline-Source") or match.group(2)
    return match.group(1), source, trailers.get("Pipeline-Id") or None


def _work_tree(path: Path) -> Path | None:
    for folder in path.parents:
        if (folder / ".git").exists():
            return folder
    return None


def _origin_url(work_tree: Path) -> str | None:
    """The ``origin`` remote of a work tree, without user name or password; None if it has none."""
    git = work_tree / ".git"
    if git.is_file():  # a worktree or submodule: "gitdir: <path>"
        text = git.read_text(encoding="utf-8", errors="replace").strip()
        if not text.startswith("gitdir:"):
            return None
        git = (work_tree / text[len("gitdir:") :].strip()).resolve()
        common = git / "commondir"
        if common.is_file():
            git = (git / common.read_text(encoding="utf-8").strip()).resolve()
    config = configparser.ConfigParser(strict=False, interpolation=None)
    try:
        config.read(git / "config", encoding="utf-8")
    except (configparser.Error, OSError):
        return None
    url = config.get('remote "origin"', "url", fallback="").strip()
    return _normal_remote(url) if url else None


def _normal_remote(url: str) -> str:
    """One spelling per repository: ``host/path`` (https, ssh and scp-like URLs of the same
    repository agree; user names and passwords are dropped)."""
    match = re.match(r"^[a-z][a-z0-9+.-]*://(?:[^/@]*@)?([^/:]+)(?::\d+)?/(.*)$", url, re.I)
    if match is None:
        match = re.match(r"^(?:[^@/]+@)?([^:/]+):(.*)$", url)  # scp-like: git@host:org/repo
    if match is None:
        return url  # a local path
    path = match.group(2).strip("/")
    path = path[: -len(".git")] if path.endswith(".git") else path
    return f"{match.group(1).lower()}/{path}"
