"""Components: Airflow operators and Kubeflow Pipelines components as pipeline nodes.

- ``pyparse``: operators read from Python source with ``ast`` (never imported);
- ``kfp``: KFP v1 component YAML and v2 (IR) component specs;
- ``values``: a component's parameters as JSON Schema, and node values as literals;
- ``elyra``: the component ids and value formats Elyra 2.x-4.x wrote;
- ``sources``: reading one component catalog entry (files, folders, URLs, wheels, installed
  providers, Python packages, Elyra's example catalogs);
- ``index``: all catalogs' components, cached, and the component a node uses;
- ``supernode``: sub-pipelines flattened into one pipeline (a pure transformation).

The catalog entries themselves live in the catalog store (kind ``component-catalogs``).
"""

from __future__ import annotations

from .index import ComponentIndex, Resolution
from .model import AIRFLOW, KFP, Component, ComponentError, Output, Param
from .supernode import Flattened, flatten, has_supernodes
from .values import component_schema

__all__ = [
    "AIRFLOW",
    "KFP",
    "Component",
    "ComponentError",
    "ComponentIndex",
    "Flattened",
    "Output",
    "Param",
    "Resolution",
    "component_schema",
    "flatten",
    "has_supernodes",
]
