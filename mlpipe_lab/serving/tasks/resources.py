"""Where a serve node's objects live in the Kubernetes API, and where its model answers."""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass

from .. import manifests as m
from ..spec import ServeSpec

PLURALS = {
    "SeldonDeployment": "seldondeployments",
    "Service": "services",
    "Ingress": "ingresses",
    "InferenceService": "inferenceservices",
    "Model": "models",
}


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


def resource_of(obj: dict) -> Resource:
    meta = obj["metadata"]
    return Resource(
        obj["apiVersion"], obj["kind"], PLURALS[obj["kind"]], meta["namespace"], meta["name"]
    )


def main_resource(spec: ServeSpec) -> Resource:
    """The resource whose status says whether the model is served."""
    name, ns = spec.name, spec.namespace
    if spec.target == "seldon-v1":
        return Resource(m.SELDON_API, "SeldonDeployment", "seldondeployments", ns, name)
    if spec.target in ("kserve", "kserve-mlserver"):
        return Resource(m.KSERVE_API, "InferenceService", "inferenceservices", ns, name)
    return Resource(m.SELDON_V2_API, "Model", "models", ns, name)


def v2_infer_path(model: str) -> str:
    return f"/v2/models/{urllib.parse.quote(model, safe='')}/infer"


def endpoint(spec: ServeSpec) -> tuple[str, dict[str, str], str]:
    """``(url, headers, protocol)`` of the in-cluster prediction endpoint; protocol seldon | v2."""
    name, ns = spec.name, spec.namespace
    if spec.target == "seldon-v1":  # manifests.service(): the executors on :8000
        url = f"http://{name}-http.{ns}.svc.cluster.local:{m.EXECUTOR_HTTP_PORT}"
        return url + "/api/v1.0/predictions", {}, "seldon"
    if spec.target in ("kserve", "kserve-mlserver"):
        # our runtime takes the deployment name as its V2 model name, as KServe's MLServer does
        return f"http://{name}-predictor.{ns}.svc.cluster.local{v2_infer_path(name)}", {}, "v2"
    return (
        f"http://seldon-mesh.{ns}.svc.cluster.local{v2_infer_path(name)}",
        {"Seldon-Model": name},
        "v2",
    )


def pod_endpoint(spec: ServeSpec, pod_ip: str) -> tuple[str, str, str]:
    """``(prediction url, metrics url, protocol)`` of our runtime in one pod of the spec's
    target (a rollout talks to the new version's pods directly)."""
    host = f"[{pod_ip}]" if ":" in pod_ip else pod_ip
    if spec.target == "seldon-v1":
        base = f"http://{host}:{m.MODEL_HTTP_PORT}"
        return base + "/api/v1.0/predictions", base + m.METRICS_PATH, "seldon"
    base = f"http://{host}:{m.KSERVE_HTTP_PORT}"
    return base + v2_infer_path(spec.name), base + m.METRICS_PATH, "v2"
