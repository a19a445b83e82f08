"""Kubernetes objects for serving a model image: pure functions returning plain dicts.

- :func:`seldon_deployment`: ``machinelearning.seldon.io/v1`` SeldonDeployment with one MODEL node
  whose container is named like the graph node, CPU/memory requests (an HPA needs the CPU request),
  ``hpaSpec`` with an autoscaling/v2 CPU utilisation target, ``graph.logger``, ``svcOrchSpec``,
  annotations, labels and an ``imagePullSecrets`` reference;
- :func:`service` and :func:`ingress`: a stable Service in front of the predictor's pods and a
  ``networking.k8s.io/v1`` Ingress with host and ``ingressClassName``;
- :func:`kserve_inference_service`: ``serving.kserve.io/v1beta1`` InferenceService (MLflow format,
  protocol v2, ``storageUri``);
- :func:`seldon_v2_model`: ``mlops.seldon.io/v1alpha1`` Model for Seldon Core 2.

Secrets appear only as references by name (``imagePullSecrets``, ``secretKeyRef``, TLS
``secretName``); no function takes a credential value.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

SELDON_API = "machinelearning.seldon.io/v1"
KSERVE_API = "serving.kserve.io/v1beta1"
SELDON_V2_API = "mlops.seldon.io/v1alpha1"
EXECUTOR_HTTP_PORT = 8000  # what the operator's per-predictor Service exposes
MODEL_HTTP_PORT = 9000
LOGGER_MODES = ("all", "request", "response")

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_QUANTITY = re.compile(
    r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"
)
_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_IMAGE_PART = re.compile(r"^[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_REGISTRY = re.compile(r"^[A-Za-z0-9.-]+(:[0-9]+)?$")


class ManifestError(ValueError):
    """A value that would make an invalid or unsafe Kubernetes object."""


def _check(pattern: re.Pattern, value: Any, what: str, max_len: int = 253) -> str:
    if not isinstance(value, str) or not pattern.match(value) or len(value) > max_len:
        raise ManifestError(f"invalid {what}: {value!r}")
    return value


def dns_label(value: str, what: str = "name") -> str:
    return _check(_DNS_LABEL, value, what, 63)


def quantity(value: Any, what: str) -> str:
    text = str(value)
    if not _QUANTITY.match(text):
        raise ManifestError(f"invalid {what} quantity: {value!r}")
    return text


def cpu_cores(value: str) -> float:
    """CPU quantity in cores: ``"500m"`` → 0.5, ``"2"`` → 2.0."""
    text = quantity(value, "cpu")
    if text.endswith("m"):
        return float(text[:-1]) / 1000.0
    return float(text)


def workers_for_cpu(cpu_request: str) -> int:
    """Worker processes for a CPU request: one per started core, at least one."""
    return max(1, math.ceil(cpu_cores(cpu_request) - 1e-9))


def image_reference(repository: str, tag: str = "latest", registry: str | None = None) -> str:
    """``registry/repository:tag`` (or ``@sha256:…`` for a digest), each part checked."""
    _check(_IMAGE_PART, repository, "image repository")
    ref = repository
    if registry:
        _check(_REGISTRY, registry, "image registry")
        ref = f"{registry}/{repository}"
    if tag.startswith("sha256:"):
        if not re.match(r"^sha256:[a-f0-9]{64}$", tag):
            raise ManifestError(f"invalid image digest: {tag!r}")
        return f"{ref}@{tag}"
    return f"{ref}:{_check(_TAG, tag, 'image tag', 128)}"


def _labels(labels: dict[str, str]) -> dict[str, str]:
    for k, v in labels.items():
        name = k.rpartition("/")[2]
        if not name or len(name) > 63 or not _LABEL_VALUE.match(name):
            raise ManifestError(f"invalid label key: {k!r}")
        if not isinstance(v, str) or len(v) > 63 or not _LABEL_VALUE.match(v):
            raise ManifestError(f"invalid label value for {k!r}: {v!r}")
    return dict(labels)


def _annotations(annotations: dict[str, Any]) -> dict[str, str]:
    return {str(k): str(v) for k, v in annotations.items()}


def _env(plain: dict[str, Any], secret_refs: dict[str, tuple[str, str]]) -> list[dict]:
    out: list[dict] = []
    for name, value in plain.items():
        _check(_ENV_NAME, name, "environment variable name")
        out.append({"name": name, "value": str(value)})
    for name, ref in secret_refs.items():
        _check(_ENV_NAME, name, "environment variable name")
        secret, key = ref
        out.append(
            {
                "name": name,
                "valueFrom": {
                    "secretKeyRef": {
                        "name": _check(_DNS_SUBDOMAIN, secret, "secret name"),
                        "key": str(key),
                    }
                },
            }
        )
    return out


@dataclass
class ServingSpec:
    """Everything a SeldonDeployment + Service + Ingress for one model image needs."""

    name: str
    image: str
    namespace: str | None = None
    model_name: str = "classifier"  # graph node name == container name
    predictor_name: str = "default"
    cpu_request: str = "500m"
    memory_request: str = "512Mi"
    cpu_limit: str | None = None
    memory_limit: str | None = "1Gi"
    replicas: int = 1
    min_replicas: int | None = None  # with max_replicas: an HPA
    max_replicas: int | None = None
    cpu_utilization: int = 70
    workers: int | None = None  # default: derived from cpu_request
    logger_url: str | None = None
    logger_mode: str = "all"
    parameters: list[dict] = field(default_factory=list)
    env: dict[str, Any] = field(default_factory=dict)
    secret_env: dict[str, tuple[str, str]] = field(default_factory=dict)  # VAR -> (secret, key)
    image_pull_secret: str | None = None
    service_account: str | None = None
    annotations: dict[str, Any] = field(default_factory=dict)  # SeldonDeployment spec.annotations
    predictor_annotations: dict[str, Any] = field(
        default_factory=lambda: {"seldon.io/rest-timeout": "60000"}
    )
    labels: dict[str, str] = field(default_factory=dict)
    svc_orch_cpu: str = "100m"
    svc_orch_memory: str = "256Mi"
    svc_orch_env: dict[str, Any] = field(default_factory=dict)
    traffic: int = 100
    host: str | None = None
    ingress_class: str | None = "nginx"
    ingress_path: str = "/"
    tls_secret: str | None = None
    ingress_annotations: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> None:
        _check(_DNS_SUBDOMAIN, self.name, "SeldonDeployment name")
        dns_label(self.name, "name (it names Services)")
        if self.namespace is not None:
            dns_label(self.namespace, "namespace")
        dns_label(self.model_name, "model (graph node) name")
        dns_label(self.predictor_name, "predictor name")
        if len(f"{self.name}-{self.predictor_name}") > 63:
            raise ManifestError("name + predictor name must fit in 63 characters (Service name)")
        if (
            not isinstance(self.image, str)
            or not self.image
            or any(c.isspace() for c in self.image)
        ):
            raise ManifestError(f"invalid image: {self.image!r}")
        for what, value in (
            ("cpu request", self.cpu_request),
            ("memory request", self.memory_request),
            ("cpu limit", self.cpu_limit),
            ("memory limit", self.memory_limit),
            ("svcOrch cpu", self.svc_orch_cpu),
            ("svcOrch memory", self.svc_orch_memory),
        ):
            if value is not None:
                quantity(value, what)
        if self.logger_mode not in LOGGER_MODES:
            raise ManifestError(
                f"logger mode must be one of {', '.join(LOGGER_MODES)}: {self.logger_mode!r}"
            )
        if self.max_replicas is not None:
            low = self.min_replicas if self.min_replicas is not None else 1
            if not (1 <= low <= self.max_replicas):
                raise ManifestError("need 1 <= min_replicas <= max_replicas")
            if not 1 <= self.cpu_utilization <= 100:
                raise ManifestError("cpu_utilization is a percentage of the CPU request (1-100)")
        if self.replicas < 0 or not 0 <= self.traffic <= 100:
            raise ManifestError("replicas must be >= 0 and traffic 0-100")
        if self.workers is not None and self.workers < 1:
            raise ManifestError("workers must be >= 1")
        for secret in (self.image_pull_secret, self.tls_secret):
            if secret is not None:
                _check(_DNS_SUBDOMAIN, secret, "secret name")
        if self.host is not None:
            _check(_DNS_SUBDOMAIN, self.host, "ingress host")
        if not self.ingress_path.startswith("/"):
            raise ManifestError("ingress path must start with /")
        _labels(self.labels)

    @property
    def predictor_service(self) -> str:
        """The Service the Seldon operator creates for the predictor (executor on :8000)."""
        return f"{self.name}-{self.predictor_name}"


def _metadata(
    name: str, namespace: str | None, labels: dict | None = None, annotations: dict | None = None
) -> dict:
    meta: dict[str, Any] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    if labels:
        meta["labels"] = dict(labels)
    if annotations:
        meta["annotations"] = _annotations(annotations)
    return meta


def _parameters(params: list[dict]) -> list[dict]:
    out = []
    for p in params:
        if not {"name", "value", "type"} <= set(p):
            raise ManifestError(f"graph parameter needs name, value and type: {p!r}")
        kind = str(p["type"]).upper()
        if kind not in ("INT", "FLOAT", "DOUBLE", "STRING", "BOOL"):
            raise ManifestError(
                f"graph parameter type must be INT, FLOAT, DOUBLE, STRING or BOOL: {p!r}"
            )
        value = p["value"]
        if isinstance(value, bool):
            value = "true" if value else "false"
        out.append({"name": str(p["name"]), "type": kind, "value": str(value)})
    return out


def _resources(
    cpu: str | None,
    memory: str | None,
    cpu_limit: str | None = None,
    memory_limit: str | None = None,
) -> dict:
    res: dict[str, dict] = {}
    requests = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v is not None}
    limits = {k: v for k, v in (("cpu", cpu_limit), ("memory", memory_limit)) if v is not None}
    if requests:
        res["requests"] = requests
    if limits:
        res["limits"] = limits
    return res


def seldon_deployment(spec: ServingSpec) -> dict:
    """The SeldonDeployment (``machinelearning.seldon.io/v1``) for ``spec``."""
    spec.validate()
    workers = spec.workers or workers_for_cpu(spec.cpu_request)
    env = {"GUNICORN_WORKERS": str(workers), **spec.env}
    probe = {"httpGet": {"path": "/health/ping", "port": MODEL_HTTP_PORT, "scheme": "HTTP"}}
    container: dict[str, Any] = {
        "name": spec.model_name,
        "image": spec.image,
        "imagePullPolicy": "IfNotPresent",
        "env": _env(env, spec.secret_env),
        "resources": _resources(
            spec.cpu_request, spec.memory_request, spec.cpu_limit, spec.memory_limit
        ),
        "readinessProbe": {
            **probe,
            "initialDelaySeconds": 5,
            "periodSeconds": 5,
            "failureThreshold": 3,
        },
        "livenessProbe": {
            **probe,
            "initialDelaySeconds": 30,
            "periodSeconds": 10,
            "failureThreshold": 6,
        },
    }
    pod_spec: dict[str, Any] = {"containers": [container]}
    if spec.image_pull_secret:
        pod_spec["imagePullSecrets"] = [image_pull_secret_reference(spec.image_pull_secret)]
    if spec.service_account:
        pod_spec["serviceAccountName"] = dns_label(spec.service_account, "service account")
    component: dict[str, Any] = {"spec": pod_spec}
    if spec.max_replicas is not None:
        component["hpaSpec"] = {
            "minReplicas": spec.min_replicas if spec.min_replicas is not None else 1,
            "maxReplicas": spec.max_replicas,
            "metricsv2": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {
                            "type": "Utilization",
                            "averageUtilization": spec.cpu_utilization,
                        },
                    },
                }
            ],
        }
    graph: dict[str, Any] = {
        "name": spec.model_name,
        "type": "MODEL",
        "endpoint": {"type": "REST"},
        "children": [],
    }
    if spec.parameters:
        graph["parameters"] = _parameters(spec.parameters)
    if spec.logger_url is not None or spec.logger_mode != "all":
        graph["logger"] = {"mode": spec.logger_mode}
        if spec.logger_url:
            graph["logger"]["url"] = spec.logger_url
    predictor: dict[str, Any] = {
        "name": spec.predictor_name,
        "graph": graph,
        "componentSpecs": [component],
        "traffic": spec.traffic,
        "svcOrchSpec": {
            "resources": _resources(spec.svc_orch_cpu, spec.svc_orch_memory),
        },
    }
    if spec.max_replicas is None:
        predictor["replicas"] = spec.replicas
    if spec.svc_orch_env:
        predictor["svcOrchSpec"]["env"] = _env(spec.svc_orch_env, {})
    if spec.predictor_annotations:
        predictor["annotations"] = _annotations(spec.predictor_annotations)
    if spec.labels:
        predictor["labels"] = _labels(spec.labels)
    body: dict[str, Any] = {
        "apiVersion": SELDON_API,
        "kind": "SeldonDeployment",
        "metadata": _metadata(spec.name, spec.namespace, spec.labels or None),
        "spec": {
            "name": spec.name,
            "protocol": "seldon",
            "transport": "rest",
            "predictors": [predictor],
        },
    }
    if spec.annotations:
        body["spec"]["annotations"] = _annotations(spec.annotations)
    return body


def image_pull_secret_reference(secret_name: str) -> dict:
    """A PodSpec ``imagePullSecrets`` item: the Secret's name only, never its content."""
    return {"name": _check(_DNS_SUBDOMAIN, secret_name, "image pull secret name")}


def service(spec: ServingSpec) -> dict:
    """A Service ``<name>-http`` on the predictor's executor port (8000).

    It selects the pods by the ``seldon-app`` label the operator gives them
    (``<name>-<predictor>``), so the Ingress has a name that does not depend on the operator's.
    """
    spec.validate()
    name = dns_label(f"{spec.name}-http", "service name")
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(
            name,
            spec.namespace,
            {
                "app.kubernetes.io/name": spec.name,
                "app.kubernetes.io/managed-by": "mlpipe-lab",
                **spec.labels,
            },
        ),
        "spec": {
            "type": "ClusterIP",
            "selector": {"seldon-app": spec.predictor_service},
            "ports": [
                {
                    "name": "http",
                    "port": EXECUTOR_HTTP_PORT,
                    "protocol": "TCP",
                    "targetPort": EXECUTOR_HTTP_PORT,
                }
            ],
        },
    }


def ingress(spec: ServingSpec) -> dict:
    """A ``networking.k8s.io/v1`` Ingress routing ``spec.host`` to :func:`service`."""
    spec.validate()
    if not spec.host:
        raise ManifestError("an Ingress needs a host")
    backend = {"service": {"name": f"{spec.name}-http", "port": {"number": EXECUTOR_HTTP_PORT}}}
    body: dict[str, Any] = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": _metadata(
            f"{spec.name}-http",
            spec.namespace,
            {
                "app.kubernetes.io/name": spec.name,
                "app.kubernetes.io/managed-by": "mlpipe-lab",
                **spec.labels,
            },
            spec.ingress_annotations or None,
        ),
        "spec": {
            "rules": [
                {
                    "host": spec.host,
                    "http": {
                        "paths": [
                            {"path": spec.ingress_path, "pathType": "Prefix", "backend": backend}
                        ]
                    },
                }
            ],
        },
    }
    if spec.ingress_class:
        body["spec"]["ingressClassName"] = dns_label(spec.ingress_class, "ingress class")
    if spec.tls_secret:
        body["spec"]["tls"] = [{"hosts": [spec.host], "secretName": spec.tls_secret}]
    return body


def deployment_objects(spec: ServingSpec) -> list[dict]:
    """SeldonDeployment, Service and (when a host is set) Ingress, in apply order."""
    objs = [seldon_deployment(spec), service(spec)]
    if spec.host:
        objs.append(ingress(spec))
    return objs


_STORAGE_SCHEMES = (
    "s3://",
    "gs://",
    "https://",
    "http://",
    "pvc://",
    "azure://",
    "oci://",
    "hdfs://",
    "webhdfs://",
)


def _storage_uri(uri: str) -> str:
    if uri.startswith(("models:/", "runs:/", "mlflow-artifacts:")):
        raise ManifestError(
            f"storageUri must be a physical location (s3://, gs://, pvc://, …), not {uri!r}: "
            "resolve it with MlflowClient().get_model_version_download_uri(name, version)"
        )
    if not uri.startswith(_STORAGE_SCHEMES):
        raise ManifestError(f"unsupported storageUri scheme: {uri!r}")
    return uri


def kserve_inference_service(
    name: str,
    storage_uri: str,
    *,
    namespace: str | None = None,
    service_account: str | None = None,
    cpu_request: str = "500m",
    memory_request: str = "512Mi",
    memory_limit: str | None = "1Gi",
    min_replicas: int = 1,
    max_replicas: int | None = None,
    runtime: str | None = None,
    annotations: dict | None = None,
    labels: dict | None = None,
) -> dict:
    """A KServe InferenceService for an MLflow model (served by the ``kserve-mlserver`` runtime)."""
    dns_label(name)
    if namespace:
        dns_label(namespace, "namespace")
    model: dict[str, Any] = {
        "modelFormat": {"name": "mlflow"},
        "protocolVersion": "v2",
        "storageUri": _storage_uri(storage_uri),
        "resources": _resources(
            quantity(cpu_request, "cpu"),
            quantity(memory_request, "memory"),
            None,
            memory_limit and quantity(memory_limit, "memory"),
        ),
    }
    if runtime:
        model["runtime"] = dns_label(runtime, "runtime")
    predictor: dict[str, Any] = {"minReplicas": min_replicas, "model": model}
    if max_replicas is not None:
        if max_replicas < min_replicas:
            raise ManifestError("max_replicas < min_replicas")
        predictor["maxReplicas"] = max_replicas
    if service_account:  # holds the storage credentials as a reference
        predictor["serviceAccountName"] = dns_label(service_account, "service account")
    return {
        "apiVersion": KSERVE_API,
        "kind": "InferenceService",
        "metadata": _metadata(name, namespace, labels and _labels(labels), annotations),
        "spec": {"predictor": predictor},
    }


def seldon_v2_model(
    name: str,
    storage_uri: str,
    *,
    namespace: str | None = None,
    replicas: int | None = None,
    memory: str | None = None,
    server: str | None = None,
    requirements: list[str] | None = None,
) -> dict:
    """A Seldon Core 2 ``Model`` scheduled on an MLServer ``Server`` that can load MLflow models."""
    dns_label(name)
    if namespace:
        dns_label(namespace, "namespace")
    spec: dict[str, Any] = {
        "storageUri": _storage_uri(storage_uri),
        "requirements": list(requirements or ["mlflow"]),
    }
    if replicas is not None:
        spec["replicas"] = int(replicas)
    if memory is not None:
        spec["memory"] = quantity(memory, "memory")
    if server is not None:
        spec["server"] = dns_label(server, "server")
    return {
        "apiVersion": SELDON_V2_API,
        "kind": "Model",
        "metadata": _metadata(name, namespace),
        "spec": spec,
    }


def to_yaml(objects: list[dict]) -> str:
    """Multi-document YAML (JSON documents when PyYAML is not installed; JSON is YAML)."""
    try:
        import yaml
    except ImportError:
        import json

        return "".join("---\n" + json.dumps(o, indent=2) + "\n" for o in objects)
    return "".join("---\n" + yaml.safe_dump(o, sort_keys=False) for o in objects)
