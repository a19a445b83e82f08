"""Build small .pipeline documents for tests, in Elyra's v8 format."""

from __future__ import annotations

import copy
from typing import Any

from mlpipe_lab.pipeline import new_document

OPS = {".ipynb": "execute-notebook-node", ".py": "execute-python-node", ".r": "execute-r-node"}


def node(
    node_id: str,
    filename: str,
    *,
    parents: list[str] = (),
    label: str | None = None,
    image: str = "python:3.11",
    mlpipe: dict | None = None,
    **params: Any,
) -> dict[str, Any]:
    ext = "." + filename.rsplit(".", 1)[-1].lower()
    component = {"filename": filename, "runtime_image": image, **params}
    if image is None:
        del component["runtime_image"]
    app_data: dict[str, Any] = {
        "component_parameters": component,
        "label": "" if label is None else label,
        "ui_data": {"label": label or filename.rsplit("/", 1)[-1], "x_pos": 0, "y_pos": 0},
    }
    if mlpipe is not None:
        app_data["mlpipe"] = mlpipe
    port: dict[str, Any] = {"id": "inPort"}
    if parents:
        port["links"] = [
            {"id": f"link-{p}-{node_id}", "node_id_ref": p, "port_id_ref": "outPort"}
            for p in parents
        ]
    return {
        "id": node_id,
        "type": "execution_node",
        "op": OPS.get(ext, "execute-python-node"),
        "app_data": app_data,
        "inputs": [port],
        "outputs": [{"id": "outPort"}],
    }


def pipeline(
    name: str, nodes: list[dict], *, defaults: dict | None = None, mlpipe: dict | None = None
) -> dict[str, Any]:
    doc = new_document(name)
    primary = doc["pipelines"][0]
    primary["nodes"] = copy.deepcopy(nodes)
    if defaults:
        primary["app_data"]["properties"]["pipeline_defaults"] = defaults
    if mlpipe is not None:
        primary["app_data"]["mlpipe"] = mlpipe
    return doc


def branch(
    node_id: str, parents: list[str] = (), label: str | None = None, **params: Any
) -> dict[str, Any]:
    """A branch node (``mlpipe:branch``, no file): ``value_from``, ``rules``, ``otherwise`` as
    given."""
    out = node(node_id, "x.py", parents=list(parents), label=node_id if label is None else label)
    out["op"] = "mlpipe:branch"
    out["app_data"]["component_parameters"] = dict(params)
    return out
