"""Pipelines with "Serve MLflow model" nodes, shared by the serve tests (compile, Airflow, API)."""

from __future__ import annotations

import copy
from typing import Any

import compile_corpus as cc

SERVE_OP = "mlpipe:serve-mlflow-model"
RUNNER_IMAGE = "registry.example.com/ml/runtime:1.4"  # in compile_corpus.IMAGES
TRACKING_URI = "http://mlflow.mlflow.svc:5000"

TARGET_PROPS: dict[str, dict[str, Any]] = {
    "seldon-v1": {
        "target": "seldon-v1",
        "model_alias": "champion",
        "image_registry": "registry.example.com:5000",
        "image_repository": "models/churn",
        "registry_secret": "push-creds",
        "cpu": 1,
        "memory": "1Gi",
        "min_replicas": 1,
        "max_replicas": 4,
        "cpu_target_percent": 60,
        "logger_url": "http://logger.monitoring.svc/events",
        "logger_mode": "all",
        "ingress_host": "churn.models.example.com",
        "ingress_class": "nginx",
        "namespace": "models",
        "service_account": "model-deployer",
        "kubernetes_secrets": [
            {"env_var": "MLFLOW_TRACKING_TOKEN", "name": "mlflow-token", "key": "token"}
        ],
    },
    "kserve": {
        "target": "kserve",
        "model_version": "3",
        "image_repository": "models/churn",
        "registry_secret": "push-creds",
        "replicas": 2,
        "memory": 2,
        "namespace": "models",
        "service_account": "model-deployer",
    },
    "kserve-mlserver": {
        "target": "kserve-mlserver",
        "model_version": "3",
        "replicas": 2,
        "memory": 2,
        "namespace": "models",
        "service_account": "model-deployer",
    },
    "seldon-v2": {"target": "seldon-v2", "model_alias": "champion", "replicas": 1, "memory": "1Gi"},
}


def serve_node(
    node_id: str,
    *,
    label: str = "Serve churn",
    parents: list[str] = (),
    image: str | None = RUNNER_IMAGE,
    **props: Any,
) -> dict[str, Any]:
    component = {"model_name": "churn", "tracking_uri": TRACKING_URI, **props}
    if image:
        component["runtime_image"] = image
    port: dict[str, Any] = {"id": "inPort"}
    if parents:
        port["links"] = [
            {"id": f"link-{p}-{node_id}", "node_id_ref": p, "port_id_ref": "outPort"}
            for p in parents
        ]
    return {
        "id": node_id,
        "type": "execution_node",
        "op": SERVE_OP,
        "app_data": {
            "label": label,
            "component_parameters": component,
            "ui_data": {"label": label, "x_pos": 300, "y_pos": 0},
        },
        "inputs": [port],
        "outputs": [{"id": "outPort"}],
    }


def serve_pipeline(
    target: str = "seldon-v1", name: str | None = None, **extra: Any
) -> dict[str, Any]:
    """train.py -> Serve churn -> report.py, for one target."""
    props = {**copy.deepcopy(TARGET_PROPS[target]), **extra}
    nodes = [
        cc.node(
            "train",
            "train.py",
            kind="python",
            label="train",
            params={"runtime_image": RUNNER_IMAGE},
        ),
        serve_node("serve", parents=["train"], **props),
        cc.node(
            "report",
            "report.py",
            kind="python",
            label="report",
            params={"runtime_image": RUNNER_IMAGE},
            parents=["serve"],
        ),
    ]
    return cc.pipeline(name or f"serve_{target.replace('-', '_')}", nodes)
