"""The package task: resolve the registered model, download it, write and upload its build context."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from .. import manifests, registry
from ..package import build_context, read_model
from ..spec import STORAGE_TARGETS

CONTEXT_FILE = "context.tar.gz"
RESOLVED_FILE = "resolved.json"


class PackageTaskError(RuntimeError):
    pass


def context_key(run_prefix: str, task_id: str) -> str:
    return f"{run_prefix.strip('/')}/{task_id}/{CONTEXT_FILE}"


def resolved_key(run_prefix: str, task_id: str) -> str:
    return f"{run_prefix.strip('/')}/{task_id}/{RESOLVED_FILE}"


def model_uri(name: str, version: str | None, alias: str | None) -> str:
    if bool(version) == bool(alias):
        raise PackageTaskError("give exactly one of a model version and a model alias")
    return f"models:/{name}/{version}" if version else f"models:/{name}@{alias}"


def write_tarball(folder: Path, dest: Path) -> None:
    """A reproducible tar.gz of ``folder`` (sorted names, no times or owners): what Kaniko's
    ``--context s3://…`` expects."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(folder.rglob("*")):
            rel = path.relative_to(folder).as_posix()
            info = tar.gettarinfo(str(path), arcname=rel)
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
            info.mode = 0o755 if path.is_dir() else 0o644
            if path.is_file():
                with path.open("rb") as fh:
                    tar.addfile(info, fh)
            elif path.is_dir():
                tar.addfile(info)
    with dest.open("wb") as out, gzip.GzipFile(fileobj=out, mode="wb", mtime=0, filename="") as gz:
        gz.write(raw.getvalue())


def seed_request(model_dir: Path) -> dict | None:
    """A Seldon v1 request built from the model's logged input example, or None."""
    for name in ("serving_input_example.json", "input_example.json"):
        path = model_dir / name
        if not path.is_file():
            continue
        try:
            example = json.loads(path.read_text())
        except ValueError:
            continue
        if not isinstance(example, dict):
            continue
        split = example.get("dataframe_split")
        if isinstance(split, dict) and isinstance(split.get("data"), list):
            body = {"ndarray": split["data"]}
            if isinstance(split.get("columns"), list):
                body["names"] = split["columns"]
            return {"data": body}
        for key in ("inputs", "instances", "data"):
            if isinstance(example.get(key), list):
                body = {"ndarray": example[key]}
                if isinstance(example.get("columns"), list):
                    body["names"] = example["columns"]
                return {"data": body}
    return None


def run_package(
    *,
    store: Any,
    run_prefix: str,
    task_id: str,
    name: str,
    version: str | None,
    alias: str | None,
    target: str,
    tracking_uri: str | None,
    runtime: str | None = None,
    image_registry: str | None = None,
    image_repository: str | None = None,
    image_tag: str | None = None,
    smoke_request: str | None = None,
    log=print,
) -> dict:
    """Resolve, download, package, upload; the result (also stored as resolved.json)."""
    uri = model_uri(name, version, alias)
    try:
        resolved = registry.resolve(uri, tracking_uri)
    except registry.RegistryError as exc:
        raise PackageTaskError(f"cannot resolve {uri}: {exc}") from None
    pinned = f"models:/{name}/{resolved.version}"
    log(f"{uri} is version {resolved.version} ({resolved.download_uri})")
    result: dict[str, Any] = {
        "model": name,
        "version": resolved.version,
        "alias": alias,
        "model_uri": pinned,
        "storage_uri": resolved.download_uri,
        "target": target,
    }
    if target in STORAGE_TARGETS:
        try:  # MLServer reads the files itself: it needs a physical location
            manifests.storage_uri(resolved.download_uri or "")
        except manifests.ManifestError as exc:
            raise PackageTaskError(
                f"{pinned}: target {target} cannot load this model: {exc}"
            ) from None
    elif image_repository:  # the image the build task pushes (no repository: local check only)
        try:
            result["image"] = manifests.image_reference(
                image_repository, image_tag or str(resolved.version), image_registry or None
            )
        except manifests.ManifestError as exc:
            raise PackageTaskError(str(exc)) from None
    with tempfile.TemporaryDirectory(prefix="mlpipe-serve-") as tmp:
        try:
            model_dir = registry.download(pinned, Path(tmp) / "download", tracking_uri)
        except registry.RegistryError as exc:
            raise PackageTaskError(f"cannot download {pinned}: {exc}") from None
        request = None
        if smoke_request:
            try:
                request = json.loads(smoke_request)
            except ValueError as exc:
                raise PackageTaskError(f"the smoke-test request is not JSON: {exc}") from None
        request = request or seed_request(model_dir)
        if request is None:
            raise PackageTaskError(
                f"{pinned} has no input example: set the node's smoke-test request"
            )
        result["smoke_request"] = request
        # Every target: the local check serves this context too.
        ctx = build_context(
            model_dir,
            Path(tmp) / "context",
            runtime=runtime,
            model_uri=pinned,
            model_name=name,
            model_version=str(resolved.version),
        )
        for note in ctx.notes:
            log(f"note: {note}")
        read_model(ctx.path / "model")  # the copy is loadable by pyfunc's rules
        tarball = Path(tmp) / CONTEXT_FILE
        write_tarball(ctx.path, tarball)
        key = context_key(run_prefix, task_id)
        store.put_file(key, tarball, "application/gzip")
        result["context_key"] = key
        log(f"build context uploaded to {store.describe()} {key}")
    store.put_json(resolved_key(run_prefix, task_id), result)
    return result
