"""The MLflow model registry, as the Serve MLflow model node's form lists it."""

from __future__ import annotations

from typing import Any

from ..errors import MLPipeError
from .catalogs import Catalogs


class Registry:
    def __init__(self, catalogs: Catalogs):
        self.catalogs = catalogs

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
        try:
            return func(*args)
        except registry.ModelNotFound as exc:
            raise MLPipeError(str(exc), 404, field="model_name") from None
        except registry.RegistryUnavailable as exc:
            raise MLPipeError(str(exc), 502, field="tracking_uri") from None

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
