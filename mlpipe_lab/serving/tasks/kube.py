"""Kubernetes calls of the deploy and wait tasks, through the official ``kubernetes`` client.

Deploy is a server-side apply (``PATCH`` with ``application/apply-patch+yaml``, ``fieldManager=
mlpipe-lab``, ``force=true``) of each object: creating and re-deploying are the same call, and
fields other managers own (the operator's, an HPA's replicas) are left alone unless we set them.
Wait reads the main resource until its status says it is available, or fails after the timeout
with the resource's own conditions in the message.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from .resources import Resource, main_resource, resource_of

FIELD_MANAGER = "mlpipe-lab"
APPLY_CONTENT_TYPE = "application/apply-patch+yaml"


class KubeError(RuntimeError):
    pass


def api_client(in_cluster: bool = True, kubeconfig: str | None = None, context: str | None = None):
    """An ApiClient for the pod's service account (in-cluster) or a kubeconfig."""
    from kubernetes import client, config

    if in_cluster:
        config.load_incluster_config()
        return client.ApiClient()
    cfg = client.Configuration()
    config.load_kube_config(config_file=kubeconfig, context=context, client_configuration=cfg)
    return client.ApiClient(cfg)


def _call(
    api,
    method: str,
    path: str,
    body: Any = None,
    query: list | None = None,
    content_type: str | None = None,
) -> Any:
    from kubernetes.client.rest import ApiException

    headers = {"Accept": "application/json"}
    if content_type:
        headers["Content-Type"] = content_type
    try:
        return api.call_api(
            path,
            method,
            query_params=query or [],
            header_params=headers,
            body=body,
            auth_settings=["BearerToken"],
            _return_http_data_only=True,
            _preload_content=True,
            **_response_kind(api),
        )
    except ApiException as exc:
        raise KubeError(_api_message(method, path, exc)) from None


def _response_kind(api) -> dict[str, Any]:
    """Ask for plain JSON back. kubernetes 36 takes a map of status to type where earlier
    clients took one type."""
    import inspect

    if "response_types_map" in inspect.signature(api.call_api).parameters:
        return {"response_types_map": {200: "object", 201: "object"}}
    return {"response_type": "object"}


def _api_message(method: str, path: str, exc: Any) -> str:
    detail = ""
    try:
        status = json.loads(exc.body or "{}")
        detail = status.get("message") or ""
    except (TypeError, ValueError):
        detail = str(exc.body or "")[:500]
    return f"{method} {path}: HTTP {exc.status} {exc.reason or ''}: {detail}".strip()


def apply(api, obj: dict) -> dict:
    """Server-side apply of one object; returns what the API server answered."""
    res = resource_of(obj)
    # The client sends the dict as JSON (which is YAML) for this content type.
    return _call(
        api,
        "PATCH",
        res.path,
        body=obj,
        query=[("fieldManager", FIELD_MANAGER), ("force", "true")],
        content_type=APPLY_CONTENT_TYPE,
    )


def apply_all(api, objects: list[dict], log: Callable[[str], None] = print) -> None:
    for obj in objects:
        answer = apply(api, obj)
        generation = (answer or {}).get("metadata", {}).get("generation")
        log(
            f"applied {obj['kind']} {obj['metadata']['namespace']}/{obj['metadata']['name']}"
            + (f" (generation {generation})" if generation else "")
        )


def deploy(api, spec, release, log: Callable[[str], None] = print) -> list[dict]:
    """Apply a release. With a canary share in the spec and another version running, the new
    version gets that share next to it (the rollout step then promotes or rolls back)."""
    from .. import manifests

    stable = None
    if spec.canary:
        live = get(api, main_resource(spec))
        others = [
            (r, share)
            for r, share in manifests.releases_of(live)
            if share > 0 and r.version != release.version
        ]
        if others:
            stable = max(others, key=lambda pair: pair[1])[0]
            log(
                f"canary: version {release.version} gets {spec.canary_traffic_percent} % of the "
                f"traffic next to version {stable.version}"
            )
        else:
            log(f"canary: no other version runs, so version {release.version} takes all traffic")
    objects = manifests.objects(spec, release, stable=stable)
    apply_all(api, objects, log)
    return objects


def list_pods(api, namespace: str, selector: str) -> list[dict]:
    """``[{"name", "ip", "ready"}]`` of the pods matching a label selector."""
    path = f"/api/v1/namespaces/{namespace}/pods"
    answer = _call(api, "GET", path, query=[("labelSelector", selector)]) or {}
    out = []
    for pod in answer.get("items") or []:
        status = pod.get("status") or {}
        ready = any(
            c.get("type") == "Ready" and c.get("status") == "True"
            for c in status.get("conditions") or []
        )
        out.append({"name": pod["metadata"]["name"], "ip": status.get("podIP"), "ready": ready})
    return out


def get(api, res: Resource) -> dict | None:
    """The object, or None while it does not exist (404)."""
    from kubernetes.client.rest import ApiException

    try:
        return api.call_api(
            res.path,
            "GET",
            header_params={"Accept": "application/json"},
            auth_settings=["BearerToken"],
            _return_http_data_only=True,
            _preload_content=True,
            **_response_kind(api),
        )
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise KubeError(_api_message("GET", res.path, exc)) from None


# -- readiness -------------------------------------------------------------------------------


def conditions_text(obj: dict | None) -> str:
    """``Ready=False (reason: message); ...`` plus a SeldonDeployment's state and description."""
    if obj is None:
        return "the resource does not exist"
    status = obj.get("status") or {}
    parts = []
    if status.get("state"):
        parts.append(
            f"state={status['state']}"
            + (f" ({status['description']})" if status.get("description") else "")
        )
    for c in status.get("conditions") or []:
        if not isinstance(c, dict):
            continue
        text = f"{c.get('type')}={c.get('status')}"
        why = ": ".join(str(c[k]) for k in ("reason", "message") if c.get(k))
        parts.append(text + (f" ({why})" if why else ""))
    return "; ".join(parts) or "no status yet"


def readiness(kind: str, obj: dict | None) -> str:
    """``ready``, ``failed`` or ``pending`` for the main resource of a target."""
    if obj is None:
        return "pending"
    status = obj.get("status") or {}
    conditions = {c.get("type"): c for c in status.get("conditions") or [] if isinstance(c, dict)}
    if kind == "SeldonDeployment":
        # The operator's state is the summary; conditions carry the details.
        if status.get("state") == "Available":
            return "ready"
        if status.get("state") == "Failed":
            return "failed"
        return "pending"
    generation = (obj.get("metadata") or {}).get("generation")
    observed = status.get("observedGeneration")
    ready = conditions.get("Ready") or {}
    if ready.get("status") == "True" and (
        observed is None or generation is None or observed >= generation
    ):
        return "ready"
    if kind == "Model" and (conditions.get("ModelReady") or {}).get("reason") == "ModelFailed":
        return "failed"
    if (
        kind == "InferenceService"
        and (status.get("modelStatus") or {}).get("transitionStatus") == "BlockedByFailedLoad"
    ):
        return "failed"
    return "pending"


def wait_ready(
    fetch: Callable[[], dict | None],
    kind: str,
    name: str,
    timeout: float,
    interval: float = 5.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    log: Callable[[str], None] = print,
) -> dict:
    """Poll ``fetch`` until the resource is ready; KubeError quoting the conditions otherwise."""
    deadline = clock() + timeout
    last_text = None
    while True:
        obj = fetch()
        state = readiness(kind, obj)
        text = conditions_text(obj)
        if text != last_text:
            log(f"{kind} {name}: {text}")
            last_text = text
        if state == "ready":
            return obj
        if state == "failed":
            raise KubeError(f"{kind} {name} failed: {text}")
        if clock() >= deadline:
            raise KubeError(f"{kind} {name} was not available after {timeout:g} s: {text}")
        sleep(min(interval, max(0.0, deadline - clock())))
