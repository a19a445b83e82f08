"""Plain services behind the REST handlers and the CLI: one code path for both.

:class:`Services` builds them once for a workspace (the Jupyter server's root folder, or the CLI's
pipeline folder) and a catalog folder:

- ``catalogs``: runtime images and runtime configurations (:mod:`.catalogs`);
- ``components``: the components of the component catalogs (:mod:`.components`);
- ``pipelines``: validate, describe and export, from the plan (:mod:`.pipelines`);
- ``publishing``: submit and retire (:mod:`.publishing`);
- ``runs``: local and Airflow runs (``mlpipe_lab.runs.RunsService``);
- ``registry``: the MLflow model registry (:mod:`.registry`);
- ``schemas``: the JSON Schemas for forms and the CLI (:func:`schema`).

Every error they raise is an :class:`~mlpipe_lab.errors.MLPipeError`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from ..confine import DEFAULT_PIPELINE_LIMIT, Folders
from ..errors import MLPipeError
from .catalogs import CONFIGS, IMAGES, Catalogs, catalog_kind
from .components import Components
from .pipelines import DEFAULT_RUNTIME, Pipelines
from .publishing import Publishing
from .registry import Registry
from .workspace import Workspace

__all__ = [
    "CONFIGS",
    "DEFAULT_RUNTIME",
    "IMAGES",
    "Catalogs",
    "Components",
    "Pipelines",
    "Publishing",
    "Registry",
    "Services",
    "Workspace",
    "catalog_kind",
    "schema",
    "schema_index",
]


class Services:
    def __init__(
        self,
        root_dir: str | os.PathLike,
        data_dir: str | os.PathLike | None = None,
        elyra_data_dir: str | os.PathLike | None = None,
        confine_outputs: bool = True,
        local_run_parallelism: int = 2,
        max_pipeline_bytes: int = DEFAULT_PIPELINE_LIMIT,
        allowed_local_paths: Sequence[str | os.PathLike] | None = None,
        allow_plain_http: bool = False,
    ):
        self.workspace = Workspace(
            root_dir, confine_outputs=confine_outputs, max_pipeline_bytes=max_pipeline_bytes
        )
        # what runtime configurations from the browser may point at (the CLI's user may say more)
        # None: unconfined (the CLI, scripts); the server extension always gives a list
        self.allowed_local_paths = (
            None if allowed_local_paths is None else tuple(allowed_local_paths)
        )
        self.allow_plain_http = allow_plain_http
        self._folders: Folders | None = None
        self.catalogs = Catalogs(data_dir, elyra_data_dir)
        self.components = Components(self.workspace, self.catalogs)
        self.pipelines = Pipelines(self.workspace, self.catalogs, self.components)
        self.publishing = Publishing(self.workspace, self.catalogs, self.pipelines)
        self.registry = Registry(self.catalogs, self.local_folders)
        # runtime configurations: credentials over plain http:// only when they say so (CLI
        # and server); local paths only in bounds (server: local_folders is None for the CLI)
        from .guard import ConfigGuard

        self.catalogs.guard = ConfigGuard(
            self.local_folders,
            lambda: self.catalogs.folder,
            allow_plain_http,
            warn=None if confine_outputs else _warn_on_stderr,
        )
        self.local_run_parallelism = local_run_parallelism
        self._runs: Any = None

    def local_folders(self) -> Folders | None:
        """Where local paths of runtime configurations and file-based tracking URIs may point
        for the server: its root, the data folder and the administrator's folders (None for the
        CLI and scripts, whose user may point anywhere)."""
        if not self.workspace.confine_outputs or self.allowed_local_paths is None:
            return None
        if self._folders is None:
            self._folders = Folders(
                [self.workspace.root, self.catalogs.folder, *self.allowed_local_paths]
            )
        return self._folders

    @property
    def root(self):
        return self.workspace.root

    @property
    def runs(self):
        """The runs service (made on first use: CLI commands that do not run pay nothing)."""
        if self._runs is None:
            from ..runs import RunsService

            self._runs = RunsService(self)
        return self._runs


def _warn_on_stderr(message: str) -> None:
    import sys

    print(message, file=sys.stderr)


def schema_index() -> dict[str, Any]:
    """The schema names, and the node types with their palette metadata."""
    from ..schemas import load_schema, schema_names

    return {"schemas": schema_names(), "node_types": load_schema("node-properties")["x-node-types"]}


def schema(name: str, op: str | None = None) -> dict[str, Any]:
    """One JSON Schema with every ``$ref`` inlined; with ``op``, node-properties' schema of that
    node type. The same lookup for REST and CLI: unknown names are 404s."""
    from ..schemas import UnknownSchema, dereference, load_schema

    try:
        if op:
            if name != "node-properties":
                raise MLPipeError(
                    f"Schema '{name}' has no node types; 'op' applies to node-properties.",
                    400,
                    field="op",
                )
            if op not in load_schema(name)["x-node-types"]:
                raise MLPipeError(f"Unknown node type '{op}'.", 404, field="op")
            return dereference(name, f"/$defs/{op}")
        return dereference(name)
    except UnknownSchema:
        raise MLPipeError(f"Unknown schema '{name}'.", 404) from None
