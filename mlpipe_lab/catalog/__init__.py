"""Catalogs of runtime images and runtime configurations (plain classes, no server imports).

    from mlpipe_lab.catalog import RuntimeConfigs, MASK
    configs = RuntimeConfigs()   # $MLPIPE_LAB_DATA_DIR or <jupyter data dir>/mlpipe-lab
    configs.list()                        # masked; each entry has "source" and "read_only"
    configs.get_with_secrets("prod")      # for the publisher only

Secrets are the schema's ``writeOnly`` fields; they are stored apart from the catalog files.
"""

from __future__ import annotations

from ._schema import secret_fields
from .errors import CatalogError, Conflict, NotFound, ReadOnly
from .names import NAME_PATTERN, check_name, is_valid_name
from .store import (
    DATA_DIR_ENV,
    KINDS,
    LOCAL_BUILTIN,
    MASK,
    Catalog,
    ComponentCatalogs,
    LocalPaths,
    RuntimeConfigs,
    RuntimeImages,
    default_data_dir,
    default_elyra_data_dir,
    open_catalog,
    resolve_local_paths,
)

__all__ = [
    "DATA_DIR_ENV",
    "KINDS",
    "LOCAL_BUILTIN",
    "MASK",
    "NAME_PATTERN",
    "Catalog",
    "ComponentCatalogs",
    "CatalogError",
    "Conflict",
    "LocalPaths",
    "NotFound",
    "ReadOnly",
    "RuntimeConfigs",
    "RuntimeImages",
    "check_name",
    "default_data_dir",
    "default_elyra_data_dir",
    "is_valid_name",
    "open_catalog",
    "resolve_local_paths",
    "secret_fields",
]
