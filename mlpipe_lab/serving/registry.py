"""MLflow model URIs: ``models:/NAME/VERSION``, ``models:/NAME@ALIAS``, ``runs:/…`` or a folder.

Needs ``mlflow`` (imported lazily); the tracking server comes from ``MLFLOW_TRACKING_URI`` or
``tracking_uri``. Downloads go through ``mlflow.artifacts.download_artifacts``; model files are
never unpickled here (loading is the Predictor's job, through ``mlflow.pyfunc.load_model``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

_MODELS_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:/(?P<version>[0-9]+)|@(?P<alias>[^/@]+))/?$")


class RegistryError(ValueError):
    """A model URI that cannot be resolved."""


@dataclass
class ResolvedModel:
    uri: str  # as given
    name: str | None
    version: str | None
    alias: str | None
    download_uri: str | None  # physical location (what modelUri/storageUri need)


def parse_models_uri(uri: str) -> tuple[str, str | None, str | None]:
    """``(name, version, alias)`` of a ``models:/`` URI; exactly one of version/alias is set."""
    m = _MODELS_URI.match(uri)
    if not m:
        raise RegistryError(
            f"not a registered-model URI: {uri!r} (expected models:/NAME/VERSION or models:/NAME@ALIAS)"
        )
    return m["name"], m["version"], m["alias"]


def resolve(uri: str, tracking_uri: str | None = None) -> ResolvedModel:
    if not uri.startswith("models:/"):
        return ResolvedModel(uri, None, None, None, None)
    name, version, alias = parse_models_uri(uri)
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient(tracking_uri=tracking_uri)
    try:
        if alias is not None:
            version = str(client.get_model_version_by_alias(name, alias).version)
        else:
            client.get_model_version(name, version)
        download_uri = client.get_model_version_download_uri(name, version)
    except MlflowException as exc:
        raise RegistryError(f"{uri}: {exc.message}") from None
    return ResolvedModel(uri, name, version, alias, download_uri)


def download(uri: str, dst: str | Path, tracking_uri: str | None = None) -> Path:
    """The model directory for ``uri`` (downloaded into ``dst``; a local folder is returned as is)."""
    local = Path(uri)
    if "://" not in uri and not uri.startswith(("models:/", "runs:/")):
        if not (local / "MLmodel").is_file():
            raise RegistryError(f"{uri} is not an MLflow model directory (no MLmodel)")
        return local
    import mlflow
    from mlflow.exceptions import MlflowException

    if tracking_uri:
        mlflow.set_tracking_uri(tracking_uri)
    Path(dst).mkdir(parents=True, exist_ok=True)
    try:
        path = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(dst)))
    except MlflowException as exc:
        raise RegistryError(f"{uri}: {exc.message}") from None
    if not (path / "MLmodel").is_file():
        found = [p.parent for p in path.rglob("MLmodel")]
        if len(found) != 1:
            raise RegistryError(f"{uri}: downloaded, but no single MLmodel in {path}")
        path = found[0]
    return path
