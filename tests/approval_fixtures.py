"""Pipelines with approval gates (``mlpipe:approval``) for the plan, compiler, local-run and runs
tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline_builder import node, pipeline

from mlpipe_lab.pipeline import dumps


def gate(
    node_id: str,
    *,
    parents: list[str] = (),
    label: str | None = None,
    mlpipe: dict | None = None,
    **params: Any,
) -> dict[str, Any]:
    """An approval gate node: ``message``, ``timeout_seconds``, ``on_timeout`` as given."""
    out = node(node_id, "x.py", parents=list(parents), label=label or node_id, mlpipe=mlpipe)
    out["op"] = "mlpipe:approval"
    out["app_data"]["component_parameters"] = dict(params)
    return out


def gated(name: str = "gated", *, image: str | None = "python:3.11", **gate_params: Any) -> dict:
    """prepare -> approve (gate) -> deploy; a parameter ``model``."""
    params = {"message": "Deploy model {{ params.model }}?", **gate_params}
    return pipeline(
        name,
        [
            node("prep", "prepare.py", label="prepare", image=image, outputs=["model.txt"]),
            gate("gate", parents=["prep"], label="approve", **params),
            node("dep", "deploy.py", parents=["gate"], label="deploy", image=image),
        ],
        mlpipe={"parameters": [{"name": "model", "type": "string", "default": "churn"}]},
    )


FILES = {
    "prepare.py": "open('model.txt', 'w').write('model-v1')\n",
    # the node after the gate receives the outputs of the node before it
    "deploy.py": "print('deploying', open('model.txt').read())\n",
    "side.py": "print('side branch')\n",
}


def write_gated(folder: Path, name: str = "gated", **gate_params) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for rel, text in FILES.items():
        (folder / rel).write_text(text)
    params = {"message": "Deploy model {{ params.model }}?", **gate_params}
    doc = pipeline(
        name,
        [
            node("prep", "prepare.py", label="prepare", outputs=["model.txt"]),
            gate("gate", parents=["prep"], label="approve", **params),
            node("dep", "deploy.py", parents=["gate"], label="deploy"),
            node("side", "side.py", parents=["prep"], label="side"),
        ],
        mlpipe={"parameters": [{"name": "model", "type": "string", "default": "churn"}]},
    )
    path = folder / f"{name}.pipeline"
    path.write_text(dumps(doc))
    return path
