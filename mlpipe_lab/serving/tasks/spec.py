"""The deployment settings of a serve node, as the compiler passes them to the tasks (``--spec``).

A plain JSON object (names, sizes, references to Secrets by name; never a credential):

``target`` (seldon-v1 | kserve | seldon-v2), ``name``, ``namespace``, ``model``,
``cpu``, ``memory``, ``cpu_limit``, ``memory_limit``, ``replicas``, ``min_replicas``,
``max_replicas``, ``cpu_target_percent``, ``logger_url``, ``logger_mode``, ``ingress_host``,
``ingress_class``, ``registry_secret``, ``timeout``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .. import manifests as m

TARGETS = ("seldon-v1", "kserve", "seldon-v2")
GRAPH_NODE = "model"  # SeldonDeployment graph node (and container) name


class SpecError(ValueError):
    pass


@dataclass(frozen=True)
class Resource:
    """Where an object lives in the API: for server-side apply and for reading its status."""

    api_version: str
    kind: str
    plural: str
    namespace: str
    name: str

    @property
    def path(self) -> str:
        group, _, version = self.api_version.rpartition("/")
        base = f"/apis/{group}/{version}" if group else f"/api/{version}"
        return f"{base}/namespaces/{self.namespace}/{self.plural}/{self.name}"


PLURALS = {
    "SeldonDeployment": "seldondeployments",
    "Service": "services",
    "Ingress": "ingresses",
    "InferenceService": "inferenceservices",
    "Model": "models",
}


def load(text_or_dict: str | dict[str, Any]) -> dict[str, Any]:
    try:
        spec = json.loads(text_or_dict) if isinstance(text_or_dict, str) else dict(text_or_dict)
    except ValueError as exc:
        raise SpecError(f"--spec is not JSON: {exc}") from None
    if not isinstance(spec, dict) or spec.get("target") not in TARGETS:
        raise SpecError(f"--spec needs a target ({', '.join(TARGETS)})")
    for key in ("name", "namespace"):
        if not isinstance(spec.get(key), str) or not spec[key]:
            raise SpecError(f"--spec needs {key}")
    return spec


def objects(
    spec: dict[str, Any], image: str | None = None, storage_uri: str | None = None
) -> list[dict]:
    """The Kubernetes objects to apply, in order. ``image``: the built image (seldon-v1);
    ``storage_uri``: the model's physical location (kserve, seldon-v2)."""
    target, name, ns = spec["target"], spec["name"], spec["namespace"]
    try:
        if target == "seldon-v1":
            if not image:
                raise SpecError("seldon-v1 needs the built image reference")
            kw: dict[str, Any] = {}
            for key, arg in (
                ("cpu", "cpu_request"),
                ("memory", "memory_request"),
                ("cpu_limit", "cpu_limit"),
                ("memory_limit", "memory_limit"),
                ("logger_url", "logger_url"),
                ("logger_mode", "logger_mode"),
                ("ingress_host", "host"),
                ("ingress_class", "ingress_class"),
                ("registry_secret", "image_pull_secret"),
                ("min_replicas", "min_replicas"),
                ("max_replicas", "max_replicas"),
                ("cpu_target_percent", "cpu_utilization"),
                ("replicas", "replicas"),
            ):
                if spec.get(key) is not None:
                    kw[arg] = spec[key]
            serving = m.ServingSpec(
                name=name,
                image=image,
                namespace=ns,
                model_name=GRAPH_NODE,
                labels={"app.kubernetes.io/managed-by": "mlpipe-lab"},
                **kw,
            )
            return m.deployment_objects(serving)
        if not storage_uri:
            raise SpecError(f"{target} needs the model's storage URI")
        if target == "kserve":
            kw = {k: spec[k] for k in ("min_replicas", "max_replicas") if spec.get(k) is not None}
            if "min_replicas" not in kw and spec.get("replicas") is not None:
                kw["min_replicas"] = spec["replicas"]
            for key, arg in (
                ("cpu", "cpu_request"),
                ("memory", "memory_request"),
                ("memory_limit", "memory_limit"),
            ):
                if spec.get(key) is not None:
                    kw[arg] = spec[key]
            return [
                m.kserve_inference_service(
                    name,
                    storage_uri,
                    namespace=ns,
                    labels={"app.kubernetes.io/managed-by": "mlpipe-lab"},
                    **kw,
                )
            ]
        return [
            m.seldon_v2_model(
                name,
                storage_uri,
                namespace=ns,
                replicas=spec.get("replicas"),
                memory=spec.get("memory"),
            )
        ]
    except m.ManifestError as exc:
        raise SpecError(f"{name}: {exc}") from None


def resource_of(obj: dict) -> Resource:
    meta = obj["metadata"]
    return Resource(
        obj["apiVersion"], obj["kind"], PLURALS[obj["kind"]], meta["namespace"], meta["name"]
    )


def main_resource(spec: dict[str, Any]) -> Resource:
    """The resource whose status says whether the model is served."""
    name, ns = spec["name"], spec["namespace"]
    if spec["target"] == "seldon-v1":
        return Resource(m.SELDON_API, "SeldonDeployment", "seldondeployments", ns, name)
    if spec["target"] == "kserve":
        return Resource(m.KSERVE_API, "InferenceService", "inferenceservices", ns, name)
    return Resource(m.SELDON_V2_API, "Model", "models", ns, name)


def endpoint(spec: dict[str, Any]) -> tuple[str, dict[str, str], str]:
    """``(url, headers, protocol)`` of the in-cluster prediction endpoint; protocol seldon | v2."""
    name, ns, target = spec["name"], spec["namespace"], spec["target"]
    if target == "seldon-v1":  # the Service of manifests.service(): the executor on :8000
        return (
            f"http://{name}-http.{ns}.svc.cluster.local:{m.EXECUTOR_HTTP_PORT}/api/v1.0/predictions",
            {},
            "seldon",
        )
    if target == "kserve":
        return f"http://{name}-predictor.{ns}.svc.cluster.local/v2/models/{name}/infer", {}, "v2"
    return (
        f"http://seldon-mesh.{ns}.svc.cluster.local/v2/models/{name}/infer",
        {"Seldon-Model": name},
        "v2",
    )
