"""Kubernetes objects for a serve node's spec: pure functions returning plain dicts.

Every function takes the node's typed :class:`~mlpipe_lab.serving.spec.ServeSpec` and a
:class:`Release` (what to run: the model version and its image or storage URI):

- ``seldon-v1``: a ``machinelearning.seldon.io/v1`` SeldonDeployment whose predictors run our
  runtime's image (one predictor per model version, named ``v<version>``, so a canary is a second
  predictor with its traffic share and promoting it removes the first without restarting it), a
  Service in front of all its pods and, with a host, an Ingress;
- ``kserve``: a ``serving.kserve.io/v1beta1`` InferenceService whose predictor is our runtime's
  image (Open Inference Protocol V2 on port 8080; ``canaryTrafficPercent`` for a canary);
- ``kserve-mlserver``: an InferenceService whose KServe MLServer runtime loads the model files
  (``modelFormat: mlflow``, ``storageUri``);
- ``seldon-v2``: a Seldon Core 2 ``Model`` for an MLServer ``Server``.

Pods carry the labels ``mlpipe-lab/deployment`` and ``mlpipe-lab/model-version`` so a rollout can
find the new version's pods. Secrets appear only as references by name.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from .spec import LOGGER_MODES, ServeSpec, defaults

SELDON_API = "machinelearning.seldon.io/v1"
KSERVE_API = "serving.kserve.io/v1beta1"
SELDON_V2_API = "mlops.seldon.io/v1alpha1"
EXECUTOR_HTTP_PORT = 8000  # the Seldon executor in each predictor pod
MODEL_HTTP_PORT = 9000  # our runtime in a Seldon pod
KSERVE_HTTP_PORT = 8080  # KServe's port for a custom predictor container
KSERVE_CONTAINER = "kserve-container"
GRAPH_NODE = "model"  # SeldonDeployment graph node (and container) name
METRICS_PATH = "/prometheus"
LABEL_DEPLOYMENT = "mlpipe-lab/deployment"
LABEL_VERSION = "mlpipe-lab/model-version"
ANNOTATION_VERSION = "mlpipe-lab/model-version"
ANNOTATION_MODEL_URI = "mlpipe-lab/model-uri"
ANNOTATION_PREVIOUS = "mlpipe-lab/previous-model-version"  # serves the rest during a canary
MANAGED = {"app.kubernetes.io/managed-by": "mlpipe-lab"}
SVC_ORCH_RESOURCES = {"requests": {"cpu": "100m", "memory": "256Mi"}}
PREDICTOR_ANNOTATIONS = {"seldon.io/rest-timeout": "60000"}

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_QUANTITY = re.compile(
    r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"
)
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_IMAGE_PART = re.compile(r"^[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_REGISTRY = re.compile(r"^[A-Za-z0-9.-]+(:[0-9]+)?$")
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


class ManifestError(ValueError):
    """A value that would make an invalid or unsafe Kubernetes object."""


@dataclass(frozen=True)
class Release:
    """One model version as deployed: its image (our runtime) or its files (MLServer)."""

    version: str | None = None
    image: str | None = None
    storage_uri: str | None = None
    model_uri: str | None = None

    @property
    def predictor(self) -> str:
        """The SeldonDeployment predictor of this version."""
        return f"v{self.version}" if self.version and self.version.isdigit() else "default"


# -- checks ------------------------------------------------------------------------------------


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


def storage_uri(uri: str) -> str:
    """A location KServe's and Seldon's storage initialisers can read (never ``models:/``)."""
    if uri.startswith(("models:/", "runs:/", "mlflow-artifacts:")):
        raise ManifestError(
            f"storageUri must be a physical location (s3://, gs://, pvc://, …), not {uri!r}: "
            "resolve it with MlflowClient().get_model_version_download_uri(name, version)"
        )
    if not uri.startswith(_STORAGE_SCHEMES):
        raise ManifestError(f"unsupported storageUri scheme: {uri!r}")
    return uri


def check(spec: ServeSpec) -> None:
    """What the cluster would refuse in the spec's names, sizes and references."""
    _check(_DNS_SUBDOMAIN, spec.name, "deployment name")
    dns_label(spec.name, "deployment name (it names Services)")
    dns_label(spec.namespace, "namespace")
    # seldon-v1: the operator's per-predictor Service is <name>-v<version> (version: 12 digits)
    if spec.target == "seldon-v1" and len(spec.name) > 63 - len("-v123456789012"):
        raise ManifestError("deployment name too long for the predictors' Service names")
    for what, value in (
        ("cpu request", spec.cpu),
        ("memory request", spec.memory),
        ("cpu limit", spec.cpu_limit),
        ("memory limit", spec.memory_limit),
    ):
        if value is not None:
            quantity(value, what)
    if spec.logger_mode not in LOGGER_MODES:
        raise ManifestError(f"logger mode must be all, request or response: {spec.logger_mode!r}")
    if spec.max_replicas is not None:
        low = spec.min_replicas if spec.min_replicas is not None else 1
        if not 1 <= low <= spec.max_replicas:
            raise ManifestError("need 1 <= min replicas <= max replicas")
        if not 1 <= spec.cpu_target_percent <= 100:
            raise ManifestError("the CPU target is a percentage of the CPU request (1-100)")
    if spec.replicas < 0:
        raise ManifestError("replicas must be >= 0")
    if spec.canary_traffic_percent is not None and not 0 < spec.canary_traffic_percent < 100:
        raise ManifestError("the canary's traffic share is a percentage (1-99)")
    for what, value in (("registry secret", spec.registry_secret),):
        if value:
            _check(_DNS_SUBDOMAIN, value, what)
    if spec.ingress_host:
        _check(_DNS_SUBDOMAIN, spec.ingress_host, "ingress host")
    if spec.ingress_class:
        dns_label(spec.ingress_class, "ingress class")


def _image(release: Release) -> str:
    image = release.image
    if not isinstance(image, str) or not image or any(c.isspace() for c in image):
        raise ManifestError(f"invalid image: {image!r}")
    return image


def _labels_ok(labels: dict[str, str]) -> dict[str, str]:
    for k, v in labels.items():
        if not isinstance(v, str) or len(v) > 63 or not _LABEL_VALUE.match(v):
            raise ManifestError(f"invalid label value for {k!r}: {v!r}")
    return labels


# -- pieces ------------------------------------------------------------------------------------


def _metadata(
    name: str, namespace: str, labels: dict | None = None, annotations: dict | None = None
) -> dict:
    meta: dict[str, Any] = {"name": name, "namespace": namespace}
    if labels:
        meta["labels"] = dict(labels)
    if annotations:
        meta["annotations"] = {str(k): str(v) for k, v in annotations.items()}
    return meta


def _release_annotations(release: Release) -> dict[str, str]:
    out = {}
    if release.version:
        out[ANNOTATION_VERSION] = str(release.version)
    if release.model_uri:
        out[ANNOTATION_MODEL_URI] = release.model_uri
    return out


def pod_labels(spec: ServeSpec, release: Release) -> dict[str, str]:
    """Labels on the pods of a release: how a rollout finds the new version's pods."""
    labels = {LABEL_DEPLOYMENT: spec.name}
    if release.version:
        labels[LABEL_VERSION] = str(release.version)
    return _labels_ok(labels)


def _resources(spec: ServeSpec) -> dict:
    res: dict[str, dict] = {"requests": {"cpu": spec.cpu, "memory": spec.memory}}
    limits = {k: v for k, v in (("cpu", spec.cpu_limit), ("memory", spec.memory_limit)) if v}
    if limits:
        res["limits"] = limits
    return res


def _env(values: dict[str, Any]) -> list[dict]:
    return [{"name": k, "value": str(v)} for k, v in values.items()]


def _probe(path: str, port: int, delay: int, period: int, failures: int) -> dict:
    return {
        "httpGet": {"path": path, "port": port, "scheme": "HTTP"},
        "initialDelaySeconds": delay,
        "periodSeconds": period,
        "failureThreshold": failures,
    }


def _logger_env(spec: ServeSpec) -> dict[str, str]:
    if not spec.logger_url:
        return {}
    return {"SELDON_LOGGER_URL": spec.logger_url, "SELDON_LOGGER_MODE": spec.logger_mode}


# -- seldon-v1 ---------------------------------------------------------------------------------


def _seldon_predictor(spec: ServeSpec, release: Release, traffic: int) -> dict:
    container: dict[str, Any] = {
        "name": GRAPH_NODE,
        "image": _image(release),
        "imagePullPolicy": "IfNotPresent",
        "env": _env({"GUNICORN_WORKERS": spec.workers}),
        "resources": _resources(spec),
        "readinessProbe": _probe("/health/ping", MODEL_HTTP_PORT, 5, 5, 3),
        "livenessProbe": _probe("/health/ping", MODEL_HTTP_PORT, 30, 10, 6),
    }
    pod_spec: dict[str, Any] = {"containers": [container]}
    if spec.registry_secret:
        pod_spec["imagePullSecrets"] = [{"name": spec.registry_secret}]
    component: dict[str, Any] = {
        "metadata": {"labels": pod_labels(spec, release)},
        "spec": pod_spec,
    }
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
                            "averageUtilization": spec.cpu_target_percent,
                        },
                    },
                }
            ],
        }
    graph: dict[str, Any] = {
        "name": GRAPH_NODE,
        "type": "MODEL",
        "endpoint": {"type": "REST"},
        "children": [],
    }
    if spec.logger_url is not None or spec.logger_mode != defaults()["logger_mode"]:
        graph["logger"] = {"mode": spec.logger_mode}
        if spec.logger_url:
            graph["logger"]["url"] = spec.logger_url
    predictor: dict[str, Any] = {
        "name": release.predictor,
        "graph": graph,
        "componentSpecs": [component],
        "traffic": traffic,
        "svcOrchSpec": {"resources": SVC_ORCH_RESOURCES},
        "annotations": dict(PREDICTOR_ANNOTATIONS),
        "labels": {**MANAGED, **pod_labels(spec, release)},
    }
    if spec.max_replicas is None:
        predictor["replicas"] = spec.replicas
    return predictor


def seldon_deployment(
    spec: ServeSpec, release: Release, stable: Release | None = None, share: int | None = None
) -> dict:
    """The SeldonDeployment: ``release`` alone, or next to ``stable`` with ``share`` % of the
    traffic (a canary; ``share`` 0 keeps only ``stable``: a rollback)."""
    check(spec)
    if stable is not None and stable.predictor == release.predictor:
        stable = None  # the same version again: a plain re-deploy
    if stable is None or share == 100:
        predictors = [_seldon_predictor(spec, release, 100)]
    elif share == 0:
        predictors = [_seldon_predictor(spec, stable, 100)]
    else:
        share = share if share is not None else spec.canary_traffic_percent or 100
        predictors = [
            _seldon_predictor(spec, stable, 100 - share),
            _seldon_predictor(spec, release, share),
        ]
    current = stable if share == 0 and stable is not None else release
    annotations = _release_annotations(current)
    if len(predictors) == 2 and stable is not None and stable.version:
        annotations[ANNOTATION_PREVIOUS] = str(stable.version)
    return {
        "apiVersion": SELDON_API,
        "kind": "SeldonDeployment",
        "metadata": _metadata(
            spec.name, spec.namespace, {**MANAGED, LABEL_DEPLOYMENT: spec.name}, annotations
        ),
        "spec": {
            "name": spec.name,
            "protocol": "seldon",
            "transport": "rest",
            "predictors": predictors,
        },
    }


def service(spec: ServeSpec) -> dict:
    """A Service ``<name>-http`` on the executor port of every predictor's pods (so a canary
    predictor gets its share of the requests that come through it, by pod count)."""
    check(spec)
    name = dns_label(f"{spec.name}-http", "service name")
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(
            name, spec.namespace, {**MANAGED, "app.kubernetes.io/name": spec.name}
        ),
        "spec": {
            "type": "ClusterIP",
            "selector": {LABEL_DEPLOYMENT: spec.name},
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


def ingress(spec: ServeSpec) -> dict:
    """A ``networking.k8s.io/v1`` Ingress routing ``spec.ingress_host`` to :func:`service`."""
    check(spec)
    if not spec.ingress_host:
        raise ManifestError("an Ingress needs a host")
    backend = {"service": {"name": f"{spec.name}-http", "port": {"number": EXECUTOR_HTTP_PORT}}}
    body: dict[str, Any] = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": _metadata(
            f"{spec.name}-http", spec.namespace, {**MANAGED, "app.kubernetes.io/name": spec.name}
        ),
        "spec": {
            "rules": [
                {
                    "host": spec.ingress_host,
                    "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": backend}]},
                }
            ],
        },
    }
    if spec.ingress_class:
        body["spec"]["ingressClassName"] = spec.ingress_class
    return body


# -- KServe ------------------------------------------------------------------------------------


def _kserve_predictor_common(spec: ServeSpec) -> dict[str, Any]:
    predictor: dict[str, Any] = {"minReplicas": spec.replicas}
    if spec.max_replicas is not None:
        predictor["minReplicas"] = spec.min_replicas if spec.min_replicas is not None else 1
        predictor["maxReplicas"] = spec.max_replicas
        predictor["scaleMetric"] = "cpu"
        predictor["scaleTarget"] = spec.cpu_target_percent
    if spec.service_account:
        predictor["serviceAccountName"] = spec.service_account
    return predictor


def kserve_inference_service(
    spec: ServeSpec, release: Release, share: int | None = None, stable: Release | None = None
) -> dict:
    """An InferenceService whose predictor runs our runtime's image (V2 and Seldon v1 on 8080).

    ``share``: the new revision's traffic percentage while the previous one (``stable``) keeps
    the rest (KServe ``canaryTrafficPercent``; 0 sends everything back to it: a rollback)."""
    check(spec)
    env = {
        "PREDICTIVE_UNIT_HTTP_SERVICE_PORT": KSERVE_HTTP_PORT,
        "GUNICORN_WORKERS": spec.workers,
        "MLPIPE_MODEL_NAME": spec.name,  # the V2 model name: /v2/models/<name>/infer
        "SELDON_DEPLOYMENT_ID": spec.name,
        **_logger_env(spec),
    }
    container = {
        "name": KSERVE_CONTAINER,
        "image": _image(release),
        "imagePullPolicy": "IfNotPresent",
        "env": _env(env),
        "ports": [{"containerPort": KSERVE_HTTP_PORT, "protocol": "TCP"}],
        "resources": _resources(spec),
        "readinessProbe": _probe("/v2/health/ready", KSERVE_HTTP_PORT, 5, 5, 3),
    }
    predictor = _kserve_predictor_common(spec)
    predictor["containers"] = [container]
    if spec.registry_secret:
        predictor["imagePullSecrets"] = [{"name": spec.registry_secret}]
    predictor["labels"] = pod_labels(spec, release)
    annotations = {
        "serving.kserve.io/enable-prometheus-scraping": "true",
        "prometheus.kserve.io/port": str(KSERVE_HTTP_PORT),
        "prometheus.kserve.io/path": METRICS_PATH,
        **_release_annotations(release),
    }
    if share is not None and share < 100 and stable is not None:
        predictor["canaryTrafficPercent"] = share
        if stable.version:
            annotations[ANNOTATION_PREVIOUS] = str(stable.version)
    return {
        "apiVersion": KSERVE_API,
        "kind": "InferenceService",
        "metadata": _metadata(spec.name, spec.namespace, dict(MANAGED), annotations),
        "spec": {"predictor": predictor},
    }


def kserve_mlserver_inference_service(spec: ServeSpec, release: Release) -> dict:
    """An InferenceService for the MLflow model's files, served by KServe's MLServer runtime."""
    check(spec)
    model: dict[str, Any] = {
        "modelFormat": {"name": "mlflow"},
        "protocolVersion": "v2",
        "storageUri": storage_uri(release.storage_uri or ""),
        "resources": _resources(spec),
    }
    predictor = _kserve_predictor_common(spec)
    predictor["model"] = model
    return {
        "apiVersion": KSERVE_API,
        "kind": "InferenceService",
        "metadata": _metadata(
            spec.name, spec.namespace, dict(MANAGED), _release_annotations(release)
        ),
        "spec": {"predictor": predictor},
    }


# -- Seldon Core 2 -----------------------------------------------------------------------------


def seldon_v2_model(spec: ServeSpec, release: Release) -> dict:
    """A Seldon Core 2 ``Model`` scheduled on an MLServer ``Server`` that can load MLflow models."""
    check(spec)
    body: dict[str, Any] = {
        "storageUri": storage_uri(release.storage_uri or ""),
        "requirements": ["mlflow"],
        "replicas": spec.replicas,
        "memory": spec.memory,
    }
    return {
        "apiVersion": SELDON_V2_API,
        "kind": "Model",
        "metadata": _metadata(
            spec.name, spec.namespace, dict(MANAGED), _release_annotations(release)
        ),
        "spec": body,
    }


# -- all of a target ---------------------------------------------------------------------------


def objects(
    spec: ServeSpec,
    release: Release | None = None,
    *,
    image: str | None = None,
    storage_uri: str | None = None,
    stable: Release | None = None,
    share: int | None = None,
) -> list[dict]:
    """The objects to apply for ``release``, in order. ``stable`` and ``share``: see
    :func:`seldon_deployment` and :func:`kserve_inference_service` (``share`` defaults to the
    spec's canary share when a different stable version runs and the spec asks for a canary)."""
    if release is None:
        release = Release(image=image, storage_uri=storage_uri)
    if share is None and spec.canary and stable is not None and stable.version != release.version:
        share = spec.canary_traffic_percent
    if spec.target == "seldon-v1":
        out = [seldon_deployment(spec, release, stable, share), service(spec)]
        if spec.ingress_host:
            out.append(ingress(spec))
        return out
    if spec.target == "kserve":
        return [kserve_inference_service(spec, release, share, stable)]
    if spec.target == "kserve-mlserver":
        return [kserve_mlserver_inference_service(spec, release)]
    return [seldon_v2_model(spec, release)]


def releases_of(obj: dict | None) -> list[tuple[Release, int]]:
    """The releases a live SeldonDeployment or InferenceService runs, with their traffic share
    (from the object itself: predictors and their labels; KServe's canary share and our
    version annotations)."""
    if not obj:
        return []
    out = []
    if obj.get("kind") == "SeldonDeployment":
        for p in (obj.get("spec") or {}).get("predictors") or []:
            labels = p.get("labels") or {}
            pod = ((p.get("componentSpecs") or [{}])[0].get("spec")) or {}
            image = (pod.get("containers") or [{}])[0].get("image")
            release = Release(version=labels.get(LABEL_VERSION), image=image)
            out.append((release, int(p.get("traffic", 100) or 0)))
        return out
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    predictor = (obj.get("spec") or {}).get("predictor") or {}
    current = Release(
        version=annotations.get(ANNOTATION_VERSION),
        image=(predictor.get("containers") or [{}])[0].get("image"),
        storage_uri=(predictor.get("model") or {}).get("storageUri"),
        model_uri=annotations.get(ANNOTATION_MODEL_URI),
    )
    share = predictor.get("canaryTrafficPercent")
    if isinstance(share, int) and share < 100 and annotations.get(ANNOTATION_PREVIOUS):
        out.append((Release(version=annotations[ANNOTATION_PREVIOUS]), 100 - share))
        out.append((current, share))
    else:
        out.append((current, 100))
    return out


def to_yaml(objs: list[dict]) -> str:
    """Multi-document YAML (JSON documents when PyYAML is not installed; JSON is YAML)."""
    try:
        import yaml
    except ImportError:
        import json

        return "".join("---\n" + json.dumps(o, indent=2) + "\n" for o in objs)
    return "".join("---\n" + yaml.safe_dump(o, sort_keys=False) for o in objs)
