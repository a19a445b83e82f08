"""The rollout step: wait for the canary, watch it, then promote it or roll back.

The deploy step gave the new version its share of the traffic next to the running version (a
second SeldonDeployment predictor, or KServe's ``canaryTrafficPercent``). This step waits until the
resource is available, then for the spec's watch time scrapes ``/prometheus`` of the new
version's pods and sends them the smoke-test request; :mod:`mlpipe_lab.serving.rollout` decides.
Promote: the new version alone (Seldon: the old predictor goes; KServe: no canary share). Roll
back: the old version alone (Seldon) or ``canaryTrafficPercent: 0`` (KServe), and the task fails
with the numbers that decided.

The pods are reached at their IPs (the task pod needs the network path and the right to list
pods in the namespace); how they are found is a parameter, so the same code runs against runtime
processes on 127.0.0.1 in the tests.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Callable
from typing import Any

from .. import manifests
from ..rollout import Policy, Verdict, watch
from ..spec import ServeSpec
from . import kube
from .resources import main_resource, pod_endpoint
from .smoke import smoke

# (prediction url, metrics url, protocol) of each ready pod of the new version
PodEndpoints = Callable[[], dict[str, tuple[str, str, str]]]


def cluster_pods(api: Any, spec: ServeSpec, release: manifests.Release) -> PodEndpoints:
    selector = f"{manifests.LABEL_DEPLOYMENT}={spec.name}"
    if release.version:
        selector += f",{manifests.LABEL_VERSION}={release.version}"

    def endpoints() -> dict[str, tuple[str, str, str]]:
        return {
            p["name"]: pod_endpoint(spec, p["ip"])
            for p in kube.list_pods(api, spec.namespace, selector)
            if p["ready"] and p["ip"]
        }

    return endpoints


def scrape(url: str, timeout: float = 5.0) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.read().decode("utf-8", "replace")
    except OSError:
        return None  # a pod going away mid-watch: the others still count


def watch_canary(
    spec: ServeSpec,
    pods: PodEndpoints,
    request: dict,
    policy: Policy | None = None,
    log: Callable[[str], None] = print,
    **timing: Any,
) -> Verdict:
    """Watch the new version's pods for the spec's time (or ``policy``) and judge them."""
    policy = policy or Policy.of(spec)
    turn = [0]

    def scrape_all() -> dict[str, str]:
        texts = {name: scrape(ep[1]) for name, ep in pods().items()}
        return {name: text for name, text in texts.items() if text is not None}

    def smoke_one() -> None:
        endpoints = sorted(pods().values())
        if not endpoints:
            raise RuntimeError("no ready pod of the new version")
        url, _metrics, protocol = endpoints[turn[0] % len(endpoints)]
        turn[0] += 1
        smoke(url, request, protocol, attempts=1, timeout=10.0)

    return watch(policy, scrape_all, smoke_one, log=log, **timing)


def rollout(
    api: Any,
    spec: ServeSpec,
    release: manifests.Release,
    request: dict,
    *,
    ready_timeout: float,
    pods: PodEndpoints | None = None,
    policy: Policy | None = None,
    log: Callable[[str], None] = print,
    **timing: Any,
) -> Verdict:
    """Wait, watch, then promote or roll back (see the module). Returns the verdict; the objects
    of the outcome are applied either way."""
    res = main_resource(spec)
    live = kube.get(api, res)
    others = [
        (r, share)
        for r, share in manifests.releases_of(live)
        if r.version != release.version and share > 0
    ]
    stable = max(others, key=lambda pair: pair[1])[0] if others else None
    try:
        kube.wait_ready(
            lambda: kube.get(api, res), res.kind, f"{res.namespace}/{res.name}", ready_timeout
        )
    except kube.KubeError as exc:
        verdict = Verdict("rollback", (f"not available: {exc}",), 0, 0, 0.0, None)
    else:
        if stable is None:
            log(f"no other version runs next to version {release.version}: no canary to watch")
        verdict = watch_canary(
            spec, pods or cluster_pods(api, spec, release), request, policy, log, **timing
        )
    if verdict.promote:
        log(f"promoting version {release.version}: {verdict.summary()}")
        kube.apply_all(api, manifests.objects(spec, release), log)
    elif stable is not None:
        log(f"rolling back to version {stable.version}: {verdict.summary()}")
        kube.apply_all(api, manifests.objects(spec, release, stable=stable, share=0), log)
    else:
        log(
            f"version {release.version} failed and no earlier version runs: nothing to roll back to"
        )
    return verdict
