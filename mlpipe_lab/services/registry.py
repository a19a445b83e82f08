"""The MLflow model registry, as the Serve MLflow model node's form lists it."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from ..confine import Folders, check_path_text
from ..errors import MLPipeError
from .catalogs import Catalogs

FILE_SCHEMES = ("file", "sqlite")


def local_path_of(uri: str) -> str | None:
    """The local path a file-based MLflow tracking URI (``file:``, ``sqlite:``) stores into, or
    None for a server URI. ``sqlite:///rel.db`` is relative to the server's working folder,
    ``sqlite:////abs.db`` and ``file:///abs`` are absolute."""
    scheme, _, rest = uri.partition(":")
    scheme = scheme.lower()
    if scheme not in FILE_SCHEMES:
        return None
    if scheme == "sqlite":
        path = rest[3:] if rest.startswith("///") else rest.lstrip("/")
        path = path.split("?", 1)[0]
        if path in ("", ":memory:"):
            return None
        return os.path.abspath(path)
    path = rest[2:] if rest.startswith("//") else rest
    if path.startswith("localhost/"):
        path = path[len("localhost") :]
    return os.path.abspath(unquote(path.split("?", 1)[0]))


class Registry:
    def __init__(self, catalogs: Catalogs, folders: Callable[[], Folders | None] = lambda: None):
        self.catalogs = catalogs
        # where a file-based tracking URI may keep its files (None: anywhere, as for the CLI)
        self.folders = folders

    def tracking_uri(self, tracking_uri: str | None, runtime_config: str | None) -> str:
        """The tracking URI asked for, else the named runtime configuration's mlflow.tracking_uri."""
        uri = (tracking_uri or "").strip()
        if not uri and runtime_config:
            config = self.catalogs.runtime_config(runtime_config)
            uri = str((config.get("mlflow") or {}).get("tracking_uri") or "")
        if not uri:
            raise MLPipeError(
                "Give an MLflow tracking URI (or a runtime configuration that has one).",
                400,
                field="tracking_uri",
            )
        if "\n" in uri or len(uri) > 2048 or "://" not in uri:
            raise MLPipeError(
                f"'{uri[:100]}' is not a tracking URI (e.g. http://mlflow:5000).",
                400,
                field="tracking_uri",
            )
        check_path_text(uri, "tracking_uri", "The tracking URI")
        local = local_path_of(uri)
        folders = self.folders()
        if local is not None and folders is not None:
            folders.check(local, "tracking_uri", "The tracking URI's file")
        if "@" in uri.split("://", 1)[1].split("/", 1)[0]:
            raise MLPipeError(
                "The tracking URI must not contain credentials; the MLflow client reads "
                "them from MLFLOW_TRACKING_USERNAME/PASSWORD or TOKEN.",
                400,
                field="tracking_uri",
            )
        return uri

    def _call(self, func, *args: Any) -> Any:
        """The registry's errors in the service's words (the registry module is the serving
        side's, and raises its own)."""
        from ..serving import registry

        try:
            import mlflow  # noqa: F401
        except ImportError:
            raise MLPipeError(
                "MLflow is not installed in the Jupyter server's environment "
                "(pip install mlflow), so the model registry cannot be listed.",
                501,
            ) from None
        from mlflow.exceptions import MlflowException

        try:
            return func(*args)
        except registry.ModelNotFound as exc:
            raise MLPipeError(str(exc), 404, field="model_name") from None
        except registry.RegistryUnavailable as exc:
            raise MLPipeError(str(exc), 502, field="tracking_uri") from None
        except MlflowException as exc:  # the client refused the URI itself (e.g. its scheme)
            raise MLPipeError(
                f"MLflow cannot use this tracking URI: {exc.message}", 400, field="tracking_uri"
            ) from None

    def models(
        self, tracking_uri: str | None, name_filter: str = "", runtime_config: str | None = None
    ) -> dict[str, Any]:
        from ..serving import registry

        uri = self.tracking_uri(tracking_uri, runtime_config)
        return {
            "tracking_uri": uri,
            "models": self._call(registry.search_models, uri, name_filter or ""),
        }

    def versions(
        self, name: str, tracking_uri: str | None, runtime_config: str | None = None
    ) -> dict[str, Any]:
        from ..serving import registry

        if not name:
            raise MLPipeError("Give a registered model name.", 400, field="model_name")
        uri = self.tracking_uri(tracking_uri, runtime_config)
        return {"tracking_uri": uri, **self._call(registry.model_versions, uri, name)}
