"""The parts of a runtime configuration that end up in a DAG, read from the plain config dict.

Only names and locations are read: secret values (tokens, passwords, keys) are never looked at,
so they cannot reach a DAG.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..runner.contract import DEFAULT_DELIVERY, DELIVERY_MODES

DEFAULT_ARTIFACTS = "local/artifacts"
RUNNER_REPOSITORY = "ghcr.io/mlpipe-lab/runner"


def default_runner_image() -> str:
    """The runner image of this mlpipe-lab version (its runner speaks this DAG's contract)."""
    try:
        from .._version import __version__
    except ImportError:  # a source tree that was never built
        __version__ = "0.0.0"
    return f"{RUNNER_REPOSITORY}:{__version__}"


LOCAL_WORKER = "local-worker"  # airflow.execution_mode: tasks run on the Airflow worker


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


@dataclass(frozen=True)
class Settings:
    name: str
    type: str  # "airflow" | "local"
    execution_mode: str
    # cluster
    namespace: str | None
    in_cluster: bool | None
    config_file: str | None
    cluster_context: str | None
    service_account: str | None
    image_pull_secret: str | None
    # storage
    store: str | None  # "s3" | "local" | None (no storage configured)
    endpoint: str | None
    bucket: str | None
    region: str | None
    prefix: str | None
    root: str | None
    pod_secret: str | None
    auth_type: str | None
    # serving
    tracking_uri: str | None = None
    # how the runner reaches task pods (runner/contract.py); runtime images may override the mode
    runner_delivery: str = DEFAULT_DELIVERY
    runner_image: str = ""
    # airflow.version: "2", "3" or "auto" (detect); what the DAG may use (approval gates need 3.1+)
    airflow_version: str = "auto"


def read_settings(config: dict[str, Any]) -> Settings:
    config = _dict(config)
    kind = config.get("type") if config.get("type") in ("airflow", "local") else "airflow"
    airflow = _dict(config.get("airflow"))
    kube = _dict(config.get("kubernetes"))
    storage = _dict(config.get("object_storage"))
    local = _dict(config.get("local"))

    if kind == "airflow":
        namespace = _text(kube.get("namespace")) or "default"
        in_cluster = kube.get("in_cluster") if isinstance(kube.get("in_cluster"), bool) else True
    else:  # the embedded runtime: let Airflow's kubernetes connection decide
        namespace = _text(kube.get("namespace"))
        in_cluster = kube.get("in_cluster") if isinstance(kube.get("in_cluster"), bool) else None
    remote_cluster = in_cluster is not True

    if kind == "local":
        store, root = "local", _text(local.get("artifacts_path")) or DEFAULT_ARTIFACTS
    else:
        store, root = ("s3" if _text(storage.get("bucket")) else None), None
    return Settings(
        name=_text(config.get("name")) or "",
        type=kind,
        execution_mode=_text(airflow.get("execution_mode")) or "kubernetes",
        namespace=namespace,
        in_cluster=in_cluster,
        config_file=_text(kube.get("kubeconfig_path")) if remote_cluster else None,
        cluster_context=_text(kube.get("context")) if remote_cluster else None,
        service_account=_text(kube.get("service_account")),
        image_pull_secret=_text(kube.get("image_pull_secret")),
        store=store,
        endpoint=_text(storage.get("endpoint")) if store == "s3" else None,
        bucket=_text(storage.get("bucket")) if store == "s3" else None,
        region=_text(storage.get("region")) if store == "s3" else None,
        prefix=_text(storage.get("prefix")) if store == "s3" else None,
        root=root,
        pod_secret=_text(storage.get("pod_credentials_secret")) if store == "s3" else None,
        auth_type=_text(_dict(storage.get("auth")).get("type")) if store == "s3" else None,
        tracking_uri=_text(_dict(config.get("mlflow")).get("tracking_uri")),
        # the local runtime runs nodes with the server's own Python: the runner is there
        runner_delivery=(
            kube.get("runner_delivery")
            if kind == "airflow" and kube.get("runner_delivery") in DELIVERY_MODES
            else DEFAULT_DELIVERY
            if kind == "airflow"
            else "image"
        ),
        runner_image=_text(kube.get("runner_image")) or default_runner_image(),
        airflow_version=str(airflow.get("version") or "auto") if kind == "airflow" else "auto",
    )
