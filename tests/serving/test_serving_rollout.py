"""Canary rollouts: the decision from real metric scrapes of real runtime processes, and the
rollout task end to end against a Kubernetes API stand-in.

Two versions of real MLflow models are served by our runtime on 127.0.0.1, each in its own
process, as the canary's pods would be: version 1 (a scikit-learn LogisticRegression) is the
stable one; the canaries are a retrained version 2 (healthy), a pyfunc that fails on a share of
the requests (errors) and a pyfunc that takes 60 ms per call (slow). A load generator plays the
canary's share of production traffic while ``watch_canary`` scrapes ``/prometheus`` and
smoke-tests; the verdict and its numbers are checked against what the client itself measured.

What this proves: the decision logic (error rate from the runtime's request counters, p99 from its
latency histogram, smoke tests, minimum traffic) on real scrapes; that the rollout task applies
the promotion or the rollback and that both validate against the CRDs. What it does not prove:
that a cluster routes the canary's share to the new pods (Seldon's traffic split needs Istio or
Ambassador; KServe's canary needs its serverless mode) or that the task pod may reach the pods
(network policies); no cluster runs here.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import crds
import pytest

pytest.importorskip("uvicorn")
pytest.importorskip("prometheus_client")

from serving_helpers import ServingServer, call, start_all

from mlpipe_lab.serving import manifests as m
from mlpipe_lab.serving.rollout import Policy, Totals, judge, parse_metrics
from mlpipe_lab.serving.spec import ServeSpec
from mlpipe_lab.serving.tasks import canary

REQUEST = {"data": {"ndarray": [[2, 1]]}}

SAVE_MODELS = textwrap.dedent("""\
    import sys, time
    import numpy as np
    import mlflow.pyfunc, mlflow.sklearn
    from sklearn.linear_model import LogisticRegression

    X = np.array([[0, 0], [1, 0], [0, 1], [2, 1], [3, 3], [2, 2]], dtype="int64")
    y = np.array([0, 0, 0, 1, 1, 1])
    root = sys.argv[1]
    mlflow.sklearn.save_model(LogisticRegression().fit(X, y), root + "/v1", input_example=X[:1])
    mlflow.sklearn.save_model(LogisticRegression(C=0.5).fit(X, y), root + "/v2-good",
                              input_example=X[:1])

    class Flaky(mlflow.pyfunc.PythonModel):
        # version 2 with a bug: every third call fails
        def __init__(self):
            self.calls = 0
        def predict(self, context, model_input, params=None):
            self.calls += 1
            if self.calls % 3 == 0:
                raise RuntimeError("feature store lookup failed")
            return np.ones(len(model_input), dtype="int64")

    class Slow(mlflow.pyfunc.PythonModel):
        # version 2 that got slow: 60 ms per call
        def predict(self, context, model_input, params=None):
            time.sleep(0.06)
            return np.ones(len(model_input), dtype="int64")

    # explicit requirements: inferring them loads each model in a subprocess (slow)
    reqs = ["mlflow", "numpy"]
    mlflow.pyfunc.save_model(root + "/v2-errors", python_model=Flaky(), input_example=X[:1],
                             pip_requirements=reqs)
    mlflow.pyfunc.save_model(root + "/v2-slow", python_model=Slow(), input_example=X[:1],
                             pip_requirements=reqs)
    print("SAVED")
    """)
VERSIONS = ("v1", "v2-good", "v2-errors", "v2-slow")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """Each model version served by our runtime (one worker), as a canary's pod would run it."""
    pytest.importorskip("mlflow", reason="the serve-test extra (mlflow) is not installed")
    pytest.importorskip("sklearn", reason="the serve-test extra (scikit-learn) is not installed")
    from mlpipe_lab.serving.package import build_context

    root = tmp_path_factory.mktemp("rollout")
    out = subprocess.run(
        [sys.executable, "-c", SAVE_MODELS, str(root)], capture_output=True, text=True, timeout=300
    )
    assert "SAVED" in out.stdout, out.stderr[-3000:]
    servers = {}
    try:
        for name in VERSIONS:
            ctx = build_context(
                root / name, root / f"ctx-{name}", model_name="churn", model_version=name[1]
            )
            server = ServingServer(
                "Predictor", env={"MODEL_DIR": str(ctx.path / "model")}, cwd=ctx.path
            )
            base = server.command

            def command(base=base, folder=ctx.path):
                cmd = base()
                cmd[cmd.index("--model-dir") + 1] = str(folder)
                return cmd

            server.command = command
            servers[name] = server
        start_all(list(servers.values()))
        yield servers
    finally:
        for server in servers.values():
            server.stop()


class Traffic:
    """The canary's share of production traffic: ``rate`` requests/s from a thread, each timed."""

    def __init__(self, url: str, rate: float = 40.0):
        self.url, self.rate = url, rate
        self.statuses: list[int] = []
        self.latencies: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            t0 = time.perf_counter()
            status = call(self.url + "/api/v1.0/predictions", "POST", REQUEST, timeout=10)[0]
            self.latencies.append(time.perf_counter() - t0)
            self.statuses.append(status)
            self._stop.wait(max(0.0, 1 / self.rate - (time.perf_counter() - t0)))

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=15)


def _pods(server):
    return lambda: {
        "pod-0": (
            server.url + "/api/v1.0/predictions",
            server.url + "/prometheus",
            "seldon",
        )
    }


SPEC = ServeSpec(
    model_name="churn",
    name="churn",
    namespace="models",
    canary_traffic_percent=10,
    canary_watch_seconds=6,
    canary_max_error_percent=5,
    canary_max_p99_ms=500,  # the healthy canaries stay far below it, even on a loaded host
    canary_min_requests=20,
)
POLICY = Policy.of(SPEC, interval_seconds=1)


def _watch(server, lines):
    return canary.watch_canary(SPEC, _pods(server), REQUEST, POLICY, log=lines.append)


def test_a_healthy_canary_is_promoted_with_its_numbers(served):
    lines: list[str] = []
    with Traffic(served["v2-good"].url) as traffic:
        verdict = _watch(served["v2-good"], lines)
    assert verdict.promote, verdict.summary()
    assert verdict.reasons == () and verdict.server_errors == 0
    assert set(traffic.statuses) == {200}
    # the scrapes counted what was sent while watching: the load and the smoke tests
    assert verdict.requests >= POLICY.min_requests
    assert verdict.requests <= len(traffic.statuses) + verdict.smoke_tests
    assert verdict.smoke_tests >= 5 and verdict.smoke_failures == 0
    assert verdict.p99_ms is not None and verdict.p99_ms <= SPEC.canary_max_p99_ms
    assert verdict.seconds >= SPEC.canary_watch_seconds
    assert lines[-1].startswith("canary after")


def test_a_canary_that_errors_is_rolled_back_on_its_error_rate(served):
    """The metric path alone (no smoke tests): the runtime's counters decide."""
    from mlpipe_lab.serving.rollout import watch

    server = served["v2-errors"]
    scrape = lambda: {"pod-0": call(server.url + "/prometheus")[2].decode()}  # noqa: E731
    lines: list[str] = []
    t0 = time.monotonic()
    with Traffic(server.url) as traffic:
        verdict = watch(POLICY, scrape, None, log=lines.append)
    assert not verdict.promote and verdict.smoke_tests == 0
    (reason,) = verdict.reasons
    assert reason.startswith("error rate") and "> 5 %" in reason
    # the runtime's own counters saw what the client saw: every third call fails
    assert set(traffic.statuses) == {200, 500}
    assert verdict.requests >= POLICY.min_requests and 20 < verdict.error_percent < 50
    client = 100 * traffic.statuses.count(500) / len(traffic.statuses)
    assert abs(verdict.error_percent - client) < 15
    # decided as soon as the minimum traffic was there, not after the whole watch
    assert time.monotonic() - t0 < SPEC.canary_watch_seconds
    assert "roll back: error rate" in verdict.summary()


def test_a_failing_smoke_test_rolls_back_and_quotes_the_model(served):
    lines: list[str] = []
    verdict = _watch(served["v2-errors"], lines)  # no other traffic: every third smoke fails
    assert not verdict.promote and verdict.smoke_failures == 1
    assert verdict.reasons[0].startswith("smoke test failed: HTTP 500")
    assert "feature store lookup failed" in verdict.reasons[0]
    assert verdict.smoke_tests <= 3  # one of any three calls fails


def test_a_slow_canary_is_rolled_back_on_its_p99(served):
    lines: list[str] = []
    policy = Policy(watch_seconds=6, interval_seconds=1, max_p99_ms=55, min_requests=20)
    with Traffic(served["v2-slow"].url, rate=10) as traffic:
        verdict = canary.watch_canary(
            SPEC, _pods(served["v2-slow"]), REQUEST, policy, log=lines.append
        )
    assert not verdict.promote and verdict.server_errors == 0
    (reason,) = verdict.reasons
    assert reason.startswith("p99 latency") and "> 55 ms" in reason
    assert min(traffic.latencies) >= 0.06  # every call sleeps 60 ms
    # the histogram's p99: interpolated in the 50-75 ms bucket or above
    assert verdict.p99_ms >= 60


def test_too_little_traffic_is_not_enough_evidence(served):
    quiet = Policy(watch_seconds=2, interval_seconds=1, min_requests=1000)
    verdict = canary.watch_canary(
        SPEC, _pods(served["v2-good"]), REQUEST, quiet, log=lambda _: None
    )
    assert not verdict.promote
    assert verdict.reasons[0].startswith("too little traffic to judge")


def test_parse_metrics_of_a_real_scrape(served):
    server = served["v1"]
    before = parse_metrics(call(server.url + "/prometheus")[2].decode())
    for _ in range(5):
        assert call(server.url + "/api/v1.0/predictions", "POST", REQUEST)[0] == 200
    bad = {"data": {"ndarray": [[2, 1, 5]]}}  # the model refuses: 500 in Seldon's protocol
    assert call(server.url + "/api/v1.0/predictions", "POST", bad)[0] == 500
    v2 = {"inputs": [{"name": "input-0", "shape": [1, 2], "datatype": "INT64", "data": [2, 1]}]}
    assert call(server.url + "/v2/models/churn/infer", "POST", v2)[0] == 200
    call(server.url + "/health/ping")  # not a prediction: not counted
    window = parse_metrics(call(server.url + "/prometheus")[2].decode()) - before
    assert (window.requests, window.server_errors, window.client_errors) == (7, 1, 0)
    assert window.buckets[float("inf")] == 7
    assert window.error_percent == pytest.approx(100 / 7)


def test_judge_and_quantiles():
    window = Totals(requests=100, server_errors=2, buckets={0.01: 90, 0.05: 99, float("inf"): 100})
    assert window.quantile_ms(0.5) == pytest.approx(10 * 50 / 90)
    assert window.quantile_ms(0.99) == pytest.approx(50.0)
    assert window.quantile_ms(0.995) == pytest.approx(50.0)  # beyond the last finite bucket
    verdict = judge(window, Policy(max_error_percent=1, max_p99_ms=100, min_requests=10))
    assert verdict.decision == "rollback" and verdict.reasons == (
        "error rate 2.00 % > 1 % (2 of 100 requests)",
    )
    assert judge(window, Policy(max_error_percent=5, max_p99_ms=100, min_requests=10)).promote
    assert judge(window, Policy(max_error_percent=5, max_p99_ms=20, min_requests=10)).reasons == (
        "p99 latency 50.0 ms > 20 ms",
    )
    # while watching, nothing is decided until the evidence is clear
    assert judge(window, Policy(max_error_percent=5), final=False) is None
    assert judge(Totals(), Policy(min_requests=0)).promote  # no threshold on traffic
    restarted = Totals(requests=3, buckets={float("inf"): 3}) - window
    assert restarted.requests == 3  # a pod that restarted counts from zero


# -- the rollout task against a Kubernetes API stand-in ------------------------------------------


class FakeApi:
    """What the rollout task asks the API server, answered from memory (GET the resource,
    list pods, server-side apply); every applied object is kept for the assertions."""

    def __init__(self, live: dict):
        self.objects = {live["kind"]: live}
        self.applied: list[dict] = []


@pytest.fixture
def fake_kube(monkeypatch):
    from mlpipe_lab.serving.tasks import kube

    state: dict = {}

    def get(api, res):
        obj = api.objects.get(res.kind)
        if obj is None:
            return None
        ready = {"state": "Available"} if res.kind == "SeldonDeployment" else {}
        ready["conditions"] = [{"type": "Ready", "status": "True"}]
        return {**obj, "status": ready}

    def apply(api, obj):
        api.applied.append(obj)
        api.objects[obj["kind"]] = obj
        return obj

    monkeypatch.setattr(kube, "get", get)
    monkeypatch.setattr(kube, "apply", apply)
    return state


V1 = m.Release(version="1", image="registry.example.com/churn:1")
V2 = m.Release(version="2", image="registry.example.com/churn:2")


@pytest.mark.parametrize("target", ["seldon-v1", "kserve"])
@pytest.mark.parametrize("canary_version, promoted", [("v2-good", True), ("v2-errors", False)])
def test_rollout_promotes_or_rolls_back(served, fake_kube, target, canary_version, promoted):
    from mlpipe_lab.serving.tasks import kube

    spec = SPEC.replace(target=target)
    api = FakeApi(m.objects(spec, V1)[0])
    # deploy: the new version next to the running one, with the canary's share
    kube.deploy(api, spec, V2, log=lambda _: None)
    split = api.applied[0]
    assert crds.errors(crds.for_kind(split["kind"]), split) == []
    if target == "seldon-v1":
        assert [p["traffic"] for p in split["spec"]["predictors"]] == [90, 10]
    else:
        assert split["spec"]["predictor"]["canaryTrafficPercent"] == 10
    api.applied.clear()
    lines: list[str] = []
    with Traffic(served[canary_version].url):
        verdict = canary.rollout(
            api,
            spec,
            V2,
            REQUEST,
            ready_timeout=30,
            pods=_pods(served[canary_version]),
            policy=POLICY,
            log=lines.append,
        )
    assert verdict.promote is promoted
    outcome = api.applied[0]
    assert crds.errors(crds.for_kind(outcome["kind"]), outcome) == []
    if target == "seldon-v1":
        (predictor,) = outcome["spec"]["predictors"]
        assert predictor["name"] == ("v2" if promoted else "v1") and predictor["traffic"] == 100
    else:
        share = outcome["spec"]["predictor"].get("canaryTrafficPercent")
        assert share == (None if promoted else 0)
    assert any(("promoting" if promoted else "rolling back to version 1") in x for x in lines)


def test_rollout_cli_fails_with_the_numbers(served, fake_kube, monkeypatch, capsys):
    """``python -m mlpipe_lab.serving.tasks rollout`` exits 1 and says why, after rolling back."""
    from mlpipe_lab.serving.tasks import cli

    spec = SPEC.replace(target="seldon-v1", canary_watch_seconds=4)
    api = FakeApi(m.objects(spec, V1, stable=None)[0])
    from mlpipe_lab.serving.tasks import kube

    kube.deploy(api, spec, V2, log=lambda _: None)
    monkeypatch.setattr(cli, "_api", lambda args: api)
    real = canary.rollout
    monkeypatch.setattr(
        canary,
        "rollout",
        lambda *a, **kw: real(*a, pods=_pods(served["v2-errors"]), **kw),
    )
    code = cli.main(
        [
            "rollout",
            "--spec",
            spec.to_text(),
            "--image",
            V2.image,
            "--version",
            "2",
            "--request",
            json.dumps(REQUEST),
            "--timeout",
            "5",
        ]
    )
    err = capsys.readouterr().err
    assert code == 1
    assert "rollout failed: roll back: smoke test failed" in err or "error rate" in err
    assert "server errors" in err
    assert [p["name"] for p in api.objects["SeldonDeployment"]["spec"]["predictors"]] == ["v1"]


def test_a_first_deploy_has_nothing_to_compare_and_takes_all_traffic(fake_kube):
    from mlpipe_lab.serving.tasks import kube

    api = FakeApi({"kind": "Nothing"})
    lines: list[str] = []
    kube.deploy(api, SPEC.replace(target="seldon-v1"), V2, log=lines.append)
    sdep = api.applied[0]
    assert [(p["name"], p["traffic"]) for p in sdep["spec"]["predictors"]] == [("v2", 100)]
    assert "no other version runs" in lines[0]


def test_watching_is_bounded_by_the_policy(served):
    policy = Policy(watch_seconds=2, interval_seconds=1, min_requests=0)
    t0 = time.monotonic()
    verdict = canary.watch_canary(SPEC, _pods(served["v1"]), REQUEST, policy, log=lambda _: None)
    assert verdict.promote and 2 <= time.monotonic() - t0 < 8
    assert verdict.smoke_tests in (3, 4)


def test_pods_of_the_new_version_are_found_by_label():
    assert Path(canary.__file__).name == "canary.py"
    selector = []

    class Api:
        pass

    from mlpipe_lab.serving.tasks import kube

    real = kube.list_pods
    try:
        kube.list_pods = lambda api, ns, sel: (
            selector.append((ns, sel))
            or [
                {"name": "a", "ip": "10.0.0.7", "ready": True},
                {"name": "b", "ip": "10.0.0.8", "ready": False},
            ]
        )
        found = canary.cluster_pods(Api(), SPEC.replace(target="kserve"), V2)()
    finally:
        kube.list_pods = real
    assert selector == [("models", "mlpipe-lab/deployment=churn,mlpipe-lab/model-version=2")]
    assert found == {
        "a": (
            "http://10.0.0.7:8080/v2/models/churn/infer",
            "http://10.0.0.7:8080/prometheus",
            "v2",
        )
    }
