"""Step caching in the runner (stdlib only): a task started with ``--cache`` looks up its cache key
in the object store and, on a hit, copies that earlier task's results into this run instead of
running the node; after a real success it records its own results under the key.

The key is the SHA-256 of: the runner contract version, the task's kind, file, output globs and
papermill parameters, its bundle's SHA-256 (the node's file and dependencies), the values of the
environment variables named by ``--cache-env`` (the node's environment variables and pipeline
parameters, as Airflow rendered them), its image (``$MLPIPE_IMAGE``) and its inputs (path and
SHA-256 of each file it received from upstream tasks). The task id and run are not part of it.

The index is ``_mlpipe_cache/<key>.json`` at the store's root (below ``--prefix``):
``{"key", "run_prefix", "task_id", "finished"}``. A hit is used only when that task's manifest is
still there (and, with ``--cache-max-age``, it is young enough); its own outputs, executed notebook
and HTML are copied to this run's keys and a manifest is written as after a run.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import posixpath
import tempfile
from pathlib import Path
from typing import Any

from .contract import CONTRACT_VERSION, IMAGE_ENV
from .errors import StoreError

INDEX = "_mlpipe_cache"
MANIFEST = "manifest.json"
RECIPE = 1


def cache_key(args: Any, bundle_sha256: str, inputs: dict[str, str]) -> str:
    data = {
        "recipe": RECIPE,
        "contract": CONTRACT_VERSION,
        "kind": args.kind,
        "file": args.file,
        "outputs": sorted(args.outputs),
        "params": sorted((k, json.dumps(v, sort_keys=True)) for k, v in args.params.items()),
        "env": sorted((n, os.environ.get(n)) for n in set(getattr(args, "cache_env", []) or [])),
        "image": os.environ.get(IMAGE_ENV),
        "bundle": bundle_sha256,
        "inputs": sorted(inputs.items()),
    }
    if getattr(args, "item_parameter", None) is not None:  # a fan-out item: its own key
        data["item"] = [args.item_parameter, json.dumps(args.item, sort_keys=True)]
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _age(finished: Any) -> float | None:
    if not isinstance(finished, str):
        return None
    try:
        moment = _dt.datetime.fromisoformat(finished.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_dt.timezone.utc)
    return (_dt.datetime.now(_dt.timezone.utc) - moment).total_seconds()


def lookup(store: Any, key: str, max_age: float | None) -> tuple[str, dict[str, Any]] | None:
    """(run prefix, manifest) of the earlier task with this key, or None."""
    try:
        entry = store.get_json(f"{INDEX}/{key}.json")
    except StoreError:
        return None
    if not isinstance(entry, dict):
        return None
    prefix, task = entry.get("run_prefix"), entry.get("task_id")
    if not isinstance(prefix, str) or not isinstance(task, str) or not prefix or not task:
        return None
    try:
        manifest = store.get_json(f"{prefix.strip('/')}/{task}/{MANIFEST}")
    except StoreError:
        return None
    if not isinstance(manifest, dict) or manifest.get("status") != "succeeded":
        return None
    if max_age is not None:
        age = _age(manifest.get("finished"))
        if age is None or age > max_age:
            return None
    return prefix.strip("/"), manifest


def reuse(
    store: Any,
    *,
    source_prefix: str,
    manifest: dict[str, Any],
    run_prefix: str,
    task: str,
    received: dict[str, dict[str, Any]],
) -> tuple[dict[str, dict[str, Any]], dict[str, str | None]]:
    """Copy the earlier task's own outputs, notebook and HTML to this run's keys: (own output
    entries, {"notebook", "html"} keys)."""
    own_paths = set(manifest.get("own_outputs") or [])
    own: dict[str, dict[str, Any]] = {}
    files: dict[str, str | None] = {"notebook": None, "html": None}
    with tempfile.TemporaryDirectory(prefix="mlpipe-cache-") as tmp:
        scratch = Path(tmp) / "object"
        for entry in manifest.get("outputs") or []:
            if not isinstance(entry, dict) or entry.get("path") not in own_paths:
                continue
            obj = f"{task}/outputs/{entry['path']}"
            store.get_file(f"{source_prefix}/{entry['object']}", scratch)
            store.put_file(f"{run_prefix}/{obj}", scratch)
            own[entry["path"]] = {**entry, "object": obj, "producer": task}
        for name, kind in (("notebook", "application/x-ipynb+json"), ("html", "text/html")):
            key = manifest.get(name)
            if isinstance(key, str) and key:
                target = f"{task}/{posixpath.basename(key)}"
                try:
                    store.get_file(f"{source_prefix}/{key}", scratch)
                except StoreError:
                    continue
                store.put_file(f"{run_prefix}/{target}", scratch, kind)
                files[name] = target
    return own, files


def record(store: Any, key: str, run_prefix: str, task: str, finished: str) -> None:
    store.put_json(
        f"{INDEX}/{key}.json",
        {"key": key, "run_prefix": run_prefix, "task_id": task, "finished": finished},
    )
