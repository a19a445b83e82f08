"""Step caching for local runs: a task whose inputs are unchanged reuses an earlier run's results.

A task's **cache key** is the SHA-256 of (see :func:`cache_key`): the runner contract version,
its kind and file, its bundle's SHA-256 (the node's file and dependencies, byte for byte), its
own runner arguments with the run id left out (task id, output globs, parameter values it
receives), its plain environment (node environment variables, parameters), its image, and its
**inputs**: the path and SHA-256 of every upstream output it receives (from the upstream tasks'
manifests in this run, so a change anywhere upstream reaches every descendant's key).

The index lives in the local store: ``<artifacts>/_mlpipe_cache/<key>.json`` names the run and
task that last produced that key (``run_prefix``, ``task_id``, ``finished``). Reusing an entry
copies (hard-links where possible) the task's own outputs, executed notebook and HTML into this
run's task folder and writes a manifest as the runner would have, so downstream tasks read it
the same way. An entry whose files are gone is a miss. Nothing else is ever deleted.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import re
import shutil
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..runner.contract import CONTRACT_VERSION

CACHE_DIR = "_mlpipe_cache"
MANIFEST = "manifest.json"
# a task id, or "<task id>/<index>" for an item of a fan-out (its own cache entry)
_TASK = re.compile(r"^(?!\.\.?(/|$))[^/]+(/[0-9]+)?$")
NOTE_PREFIX = "[mlpipe-runner] "
KEY_VERSION = 1  # of the key's recipe below; bump when it changes


def cache_key(material: Mapping[str, Any], inputs: Mapping[str, str]) -> str:
    """The key of a task: ``material`` (what :func:`task_material` gives) and its inputs
    (path -> SHA-256 of the file it receives)."""
    data = {
        "recipe": KEY_VERSION,
        "contract": CONTRACT_VERSION,
        **material,
        "inputs": sorted(inputs.items()),
    }
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def task_material(
    *,
    kind: str,
    file: str,
    bundle_sha256: str | None,
    args: list[str],
    env: Mapping[str, str],
    image: str | None,
) -> dict[str, Any]:
    """What, besides its inputs, decides a task's results (``args`` and ``env`` with the run id
    left out: resolved with a fixed one)."""
    return {
        "kind": kind,
        "file": file,
        "bundle": bundle_sha256,
        "args": list(args),
        "env": sorted(env.items()),
        "image": image,
    }


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def received_inputs(run_dir: Path, upstream: list[str]) -> dict[str, dict[str, Any]] | None:
    """What the runner would receive from ``upstream`` (their manifests' outputs, the first
    producer of a path winning, as the runner does), or None when an upstream task left no
    manifest (its outputs are unknown: no key)."""
    available: dict[str, dict[str, Any]] = {}
    for up in upstream:
        manifest = read_json(run_dir / up / MANIFEST)
        entries = manifest.get("outputs") if isinstance(manifest, dict) else None
        if not isinstance(entries, list):
            return None
        for entry in entries:
            if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
                return None
            available.setdefault(entry["path"], entry)
    return available


def _parse_time(text: Any) -> _dt.datetime | None:
    if not isinstance(text, str):
        return None
    try:
        moment = _dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=_dt.timezone.utc)


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(json.dumps(data, indent=1, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _link(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


class Hit:
    """An earlier finished task with the same key (or, for partial runs, the same task)."""

    def __init__(self, root: Path, run_prefix: str, task_id: str, manifest: dict[str, Any]):
        self.root = root
        self.run_prefix = run_prefix
        self.task_id = task_id
        self.manifest = manifest

    @property
    def run_id(self) -> str:
        return self.run_prefix.rsplit("/", 1)[-1]

    @property
    def folder(self) -> Path:
        return self.root / self.run_prefix / self.task_id

    @property
    def finished(self) -> str:
        return str(self.manifest.get("finished") or "")


def finished_task(root: Path, run_prefix: str, task_id: str) -> Hit | None:
    """The task's results in an earlier run, when it succeeded there and its files are there."""
    manifest = read_json(root / run_prefix / task_id / MANIFEST)
    if not isinstance(manifest, dict) or manifest.get("status") not in (None, "succeeded"):
        return None
    entries = manifest.get("outputs")
    own = manifest.get("own_outputs")
    if not isinstance(entries, list) or not isinstance(own, list):
        return None
    for entry in entries:
        if isinstance(entry, dict) and entry.get("path") in own:
            obj = entry.get("object")
            if not isinstance(obj, str) or not (root / run_prefix / obj).is_file():
                return None
    return Hit(root, run_prefix, task_id, manifest)


class CacheIndex:
    """The cache index of one local store (``<root>/_mlpipe_cache``)."""

    def __init__(self, root: Path, now: Callable[[], _dt.datetime] | None = None):
        self.root = root
        self.folder = root / CACHE_DIR
        self._now = now or (lambda: _dt.datetime.now(_dt.timezone.utc))

    def lookup(self, key: str, max_age: int | None = None) -> Hit | None:
        entry = read_json(self.folder / f"{key}.json")
        if not isinstance(entry, dict):
            return None
        prefix, task = entry.get("run_prefix"), entry.get("task_id")
        if not isinstance(prefix, str) or not isinstance(task, str):
            return None
        if ".." in prefix.split("/") or not _TASK.match(task):
            return None
        hit = finished_task(self.root, prefix, task)
        if hit is None:
            return None
        if max_age is not None:
            finished = _parse_time(hit.manifest.get("finished") or entry.get("finished"))
            if finished is None or (self._now() - finished).total_seconds() > max_age:
                return None
        return hit

    def record(self, key: str, run_prefix: str, task_id: str, finished: str | None) -> None:
        _write_json(
            self.folder / f"{key}.json",
            {"key": key, "run_prefix": run_prefix, "task_id": task_id, "finished": finished},
        )


def reuse(
    hit: Hit,
    *,
    run_dir: Path,
    task_id: str,
    received: Mapping[str, dict[str, Any]],
    note: str,
    log_path: Path,
) -> dict[str, Any]:
    """Copy ``hit``'s results into ``run_dir/task_id`` as if the task had run: its own outputs,
    executed notebook and HTML, a log that says where they come from (followed by the earlier
    log), and a manifest listing ``received`` plus its own outputs. Returns the manifest."""
    source = hit.root / hit.run_prefix
    target = run_dir / task_id
    target.mkdir(parents=True, exist_ok=True)
    own_paths = [p for p in hit.manifest.get("own_outputs") or [] if isinstance(p, str)]
    own: dict[str, dict[str, Any]] = {}
    for entry in hit.manifest.get("outputs") or []:
        if not isinstance(entry, dict) or entry.get("path") not in own_paths:
            continue
        rel = entry["path"]
        obj = f"{task_id}/outputs/{rel}"
        _link(source / entry["object"], run_dir / obj)
        own[rel] = {**entry, "object": obj, "producer": task_id}
    files: dict[str, str | None] = {"notebook": None, "html": None}
    for name in ("notebook", "html"):
        key = hit.manifest.get(name)
        if isinstance(key, str) and (source / key).is_file():
            files[name] = f"{task_id}/{Path(key).name}"
            _link(source / key, run_dir / files[name])
    earlier = b""
    key = hit.manifest.get("log")
    if isinstance(key, str):
        try:
            earlier = (source / key).read_bytes()
        except OSError:
            earlier = b""
    text = (NOTE_PREFIX + note + "\n").encode("utf-8")
    if earlier:
        text += (NOTE_PREFIX + f"the log of {hit.task_id} in run {hit.run_id}:\n").encode()
        text += earlier
    log_key = f"{task_id}/{task_id.split('/')[0]}.log"  # an item: <task>/<index>/<task>.log
    (run_dir / log_key).write_bytes(text)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_path.write_bytes(text)
    manifest = {
        "contract": hit.manifest.get("contract", CONTRACT_VERSION),
        "task_id": task_id,
        "status": "succeeded",
        "started": hit.manifest.get("started"),
        "finished": hit.manifest.get("finished"),
        "outputs": [v for _, v in sorted({**received, **own}.items())],
        "own_outputs": sorted(own),
        "log": log_key,
        **files,
        "reused": {"run_prefix": hit.run_prefix, "task_id": hit.task_id},
    }
    if "result" in hit.manifest:  # what the task returned (runner --result)
        manifest["result"] = hit.manifest["result"]
    _write_json(target / MANIFEST, manifest)
    return manifest
