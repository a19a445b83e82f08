"""MLflow model URIs: ``models:/NAME/VERSION``, ``models:/NAME@ALIAS``, ``runs:/…`` or a folder.

The tracking server comes from ``tracking_uri`` or ``MLFLOW_TRACKING_URI``. With an ``http(s)``
tracking URI, resolving and downloading use MLflow's REST API with the standard library only
(:mod:`.mlflow_rest`: the serve tasks run so from the runner zipapp, in images without mlflow);
other tracking URIs (``sqlite:``, a folder, ``databricks``) and artifact stores the REST client
does not read go through ``mlflow`` (imported lazily). Model files are never unpickled here
(loading is the Predictor's job, through ``mlflow.pyfunc.load_model``).
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


def _tracking(tracking_uri: str | None) -> str | None:
    import os

    return tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or None


def _no_mlflow(uri: str, tracking_uri: str | None) -> RegistryError:
    return RegistryError(
        f"{uri}: the tracking URI {tracking_uri or '(none: MLFLOW_TRACKING_URI is unset)'} is "
        "not an http(s) MLflow server, and the mlflow package is not installed here"
    )


def resolve(uri: str, tracking_uri: str | None = None) -> ResolvedModel:
    if not uri.startswith("models:/"):
        return ResolvedModel(uri, None, None, None, None)
    name, version, alias = parse_models_uri(uri)
    tracking_uri = _tracking(tracking_uri)
    from . import mlflow_rest

    if mlflow_rest.is_rest(tracking_uri):
        rest = mlflow_rest.Client(tracking_uri)  # type: ignore[arg-type]
        try:
            if alias is not None:
                version = rest.version_by_alias(name, alias)
            else:
                rest.check_version(name, version)  # type: ignore[arg-type]
            download_uri = rest.download_uri(name, version)  # type: ignore[arg-type]
        except mlflow_rest.RestError as exc:
            raise RegistryError(f"{uri}: {exc.message}") from None
        return ResolvedModel(uri, name, version, alias, download_uri)
    try:
        from mlflow import MlflowClient
    except ImportError:
        raise _no_mlflow(uri, tracking_uri) from None
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
    tracking_uri = _tracking(tracking_uri)
    from . import mlflow_rest

    if mlflow_rest.is_rest(tracking_uri) and uri.startswith("models:/"):
        name, version, alias = parse_models_uri(uri)
        rest = mlflow_rest.Client(tracking_uri)  # type: ignore[arg-type]
        try:
            if version is None:
                version = rest.version_by_alias(name, alias)  # type: ignore[arg-type]
            location = rest.download_uri(name, version)
            path = rest.download(location, Path(dst) / "model")
        except mlflow_rest.UnsupportedLocation as exc:
            unsupported: str | None = exc.message  # the mlflow client may read it
        except mlflow_rest.RestError as exc:
            raise RegistryError(f"{uri}: {exc.message}") from None
        else:
            return _model_dir(uri, path)
    else:
        unsupported = None
    try:
        import mlflow
        from mlflow.exceptions import MlflowException
    except ImportError:
        if unsupported:
            raise RegistryError(unsupported) from None
        raise _no_mlflow(uri, tracking_uri) from None

    if tracking_uri:
        mlflow.set_tracking_uri(tracking_uri)
    Path(dst).mkdir(parents=True, exist_ok=True)
    try:
        path = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(dst)))
    except MlflowException as exc:
        raise RegistryError(f"{uri}: {exc.message}") from None
    return _model_dir(uri, path)


def _model_dir(uri: str, path: Path) -> Path:
    if not (path / "MLmodel").is_file():
        found = [p.parent for p in path.rglob("MLmodel")]
        if len(found) != 1:
            raise RegistryError(f"{uri}: downloaded, but no single MLmodel in {path}")
        path = found[0]
    return path


# -- browsing the registry (the editor's model and version lists) ----------------------------


class RegistryUnavailable(RegistryError):
    """The tracking server cannot be reached (or answered with a server error)."""


class ModelNotFound(RegistryError):
    pass


def _client(tracking_uri: str):
    import os

    # A list in the editor must fail fast: MLflow's default is 7 retries with backoff (minutes).
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)


def _fail(tracking_uri: str, exc: Exception, name: str | None = None) -> RegistryError:
    from mlflow.exceptions import MlflowException

    if isinstance(exc, MlflowException) and exc.error_code == "RESOURCE_DOES_NOT_EXIST":
        return ModelNotFound(f"Registered model '{name}' does not exist in {tracking_uri}.")
    from ..networds import network_reason

    message = exc.message if isinstance(exc, MlflowException) else str(exc)
    # MLflow's messages quote the whole URL, its retries and urllib3's exception: the cause says
    # enough.
    return RegistryUnavailable(
        f"The MLflow registry at {tracking_uri} cannot be reached or failed: "
        f"{network_reason(message)}. Check the tracking URI and that the server is running."
    )


def search_models(tracking_uri: str, name_filter: str = "", max_results: int = 200) -> list[dict]:
    """Registered models (name, description, aliases, latest versions), names containing the filter."""
    client = _client(tracking_uri)
    flt = ""
    if name_filter:
        safe = name_filter.replace("'", "")
        flt = f"name ILIKE '%{safe}%'"
    try:
        models = client.search_registered_models(filter_string=flt or None, max_results=max_results)
    except Exception as exc:
        raise _fail(tracking_uri, exc) from None
    out = []
    for rm in models:
        out.append(
            {
                "name": rm.name,
                "description": rm.description or "",
                "aliases": {str(k): str(v) for k, v in (rm.aliases or {}).items()},
                "latest_versions": sorted(
                    {str(v.version) for v in rm.latest_versions or []}, key=int
                ),
            }
        )
    return sorted(out, key=lambda m: m["name"].lower())


def model_versions(tracking_uri: str, name: str) -> dict:
    """A registered model's versions, newest first, each with status, stage, run id and aliases."""
    client = _client(tracking_uri)
    try:
        rm = client.get_registered_model(name)
        versions = client.search_model_versions(
            filter_string=f"name = '{name.replace(chr(39), '')}'"
        )
    except Exception as exc:
        raise _fail(tracking_uri, exc, name) from None
    aliases = {str(k): str(v) for k, v in (rm.aliases or {}).items()}
    by_version: dict[str, list[str]] = {}
    for alias, version in aliases.items():
        by_version.setdefault(version, []).append(alias)
    out = [
        {
            "version": str(v.version),
            "status": v.status,
            "stage": v.current_stage,
            "run_id": v.run_id,
            "aliases": sorted(by_version.get(str(v.version), [])),
            "created": v.creation_timestamp,
            "description": v.description or "",
        }
        for v in versions
    ]
    out.sort(key=lambda v: int(v["version"]), reverse=True)
    return {"name": rm.name, "aliases": aliases, "versions": out}
