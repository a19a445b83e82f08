"""The catalogs of runtime images, runtime configurations and component catalogs, as the REST API
and the CLI use them.

Catalog errors are :class:`~mlpipe_lab.errors.MLPipeError`\\s already (with the field of every
problem): they pass through unchanged.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import MLPipeError

IMAGES, CONFIGS, COMPONENTS = "runtime-images", "runtime-configs", "component-catalogs"
KINDS = (IMAGES, CONFIGS, COMPONENTS)
KIND_ALIASES = {
    "runtime-images": IMAGES,
    "images": IMAGES,
    "image": IMAGES,
    "runtime-image": IMAGES,
    "runtime-configs": CONFIGS,
    "configs": CONFIGS,
    "config": CONFIGS,
    "runtime-config": CONFIGS,
    "runtimes": CONFIGS,
    "component-catalogs": COMPONENTS,
    "component-catalog": COMPONENTS,
}


def catalog_kind(kind: str) -> str:
    try:
        return KIND_ALIASES[kind]
    except (KeyError, TypeError):
        raise MLPipeError(
            f"Unknown catalog '{kind}'; use runtime-images, runtime-configs or component-catalogs.",
            404,
        ) from None


class Catalogs:
    def __init__(
        self,
        data_dir: str | os.PathLike | None = None,
        elyra_data_dir: str | os.PathLike | None = None,
    ):
        self.data_dir = Path(data_dir) if data_dir else None
        # checks a runtime configuration before it is stored or used (the server's ConfigGuard)
        self.guard: Callable[[Any], None] | None = None
        self.elyra_data_dir = Path(elyra_data_dir) if elyra_data_dir else None
        self._stores: dict[str, Any] = {}

    def store(self, kind: str):
        """The catalog of ``kind`` (any alias); opened once."""
        kind = catalog_kind(kind)
        if kind not in self._stores:
            from ..catalog import open_catalog

            self._stores[kind] = open_catalog(
                kind, data_dir=self.data_dir, elyra_data_dir=self.elyra_data_dir
            )
        return self._stores[kind]

    @property
    def folder(self) -> Path:
        """The catalogs' data folder (runs, publish caches live below it)."""
        return Path(self.store(CONFIGS).data_dir)

    # -- entries -----------------------------------------------------------------------------

    def list(self, kind: str) -> list[dict[str, Any]]:
        return self.store(kind).list()

    def get(self, kind: str, name: str) -> dict[str, Any]:
        return self.store(kind).get(name)

    def create(self, kind: str, entry: dict[str, Any]) -> dict[str, Any]:
        self._guard(kind, entry)
        return self.store(kind).create(entry)

    def update(self, kind: str, name: str, entry: dict[str, Any]) -> dict[str, Any]:
        self._guard(kind, entry)
        return self.store(kind).update(name, entry)

    def _guard(self, kind: str, entry: Any) -> None:
        if self.guard is not None and catalog_kind(kind) == CONFIGS:
            self.guard(entry)

    def delete(self, kind: str, name: str) -> None:
        self.store(kind).delete(name)

    def import_elyra(
        self, kind: str, names: list[str] | None = None, overwrite: bool = False
    ) -> list[dict[str, Any]]:
        return self.store(kind).import_elyra(names=names, overwrite=overwrite)

    # -- what pipelines use --------------------------------------------------------------------

    def images(self) -> list[dict[str, Any]]:
        """Every runtime image entry (the compiler reads pull policies and secrets from them)."""
        return self.list(IMAGES)

    def runtime_config(self, name: Any, *, with_secrets: bool = False) -> dict[str, Any]:
        """A runtime configuration; local paths made absolute (relative ones are in the data dir)."""
        if not isinstance(name, str) or not name:
            raise MLPipeError("Choose a runtime configuration.", 400, field="runtime_config")
        from ..catalog import NotFound

        configs = self.store(CONFIGS)
        try:
            config = configs.get_with_secrets(name) if with_secrets else configs.get(name)
        except NotFound as exc:  # asked for by a request's runtime_config
            exc.field = "runtime_config"
            raise
        if self.guard is not None:  # an entry stored before the rules, or by hand
            self.guard(config)
        if config.get("type") == "local":
            from ..catalog import resolve_local_paths

            paths = resolve_local_paths(config, configs.data_dir)
            config = {
                **config,
                "local": {
                    **config.get("local", {}),
                    "dag_repo_path": str(paths.dag_repo_path),
                    "artifacts_path": str(paths.artifacts_path),
                    "branch": paths.branch,
                    "subfolder": paths.subfolder,
                },
            }
        return config
