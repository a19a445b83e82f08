"""The serve node's task code without MLflow: server-side apply through the tasks' own
standard-library Kubernetes client (kube.Api), the wait logic over recorded status sequences, and the smoke-test request/answer checks.

No Kubernetes API server can run here: the client talks to a recording HTTP server on 127.0.0.1
that answers like one (a stand-in, which only shows the requests are well-formed and idempotent
in shape; it does not show that a real API server or operator accepts them).
"""

from __future__ import annotations

import http.server
import json
import threading

import pytest

from mlpipe_lab.serving.spec import ServeSpec
from mlpipe_lab.serving.tasks import cli, kube, resources, smoke

# A --spec as DAGs compiled before the typed spec carry it (no model_name): still understood.
SPEC = {
    "target": "seldon-v1",
    "name": "churn",
    "namespace": "models",
    "cpu": "1",
    "memory": "1Gi",
    "max_replicas": 3,
    "ingress_host": "churn.example.com",
    "registry_secret": "push-creds",
}
IMAGE = "registry.example.com:5000/models/churn:3"


class RecordingApiServer:
    """Answers PATCH (apply) with the body it got plus metadata, GET from what was applied."""

    def __init__(self, statuses=None):
        self.requests: list[dict] = []
        self.objects: dict[str, dict] = {}
        self.statuses = list(statuses or [])  # status dicts served to successive GETs
        rec = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _send(self, code, body):
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_PATCH(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                path, _, query = self.path.partition("?")
                rec.requests.append(
                    {
                        "method": "PATCH",
                        "path": path,
                        "query": query,
                        "content_type": self.headers.get("Content-Type"),
                        "authorization": self.headers.get("Authorization"),
                        "body": raw,
                    }
                )
                obj = json.loads(raw)
                old = rec.objects.get(path)
                generation = (old or {}).get("metadata", {}).get("generation", 0)
                changed = old is None or {k: v for k, v in old.items() if k != "metadata"} != {
                    k: v for k, v in obj.items() if k != "metadata"
                }
                obj["metadata"]["generation"] = generation + 1 if changed else generation
                rec.objects[path] = obj
                self._send(200 if old else 201, obj)

            def do_GET(self):
                rec.requests.append({"method": "GET", "path": self.path})
                obj = rec.objects.get(self.path)
                if obj is None:
                    self._send(
                        404,
                        {
                            "kind": "Status",
                            "status": "Failure",
                            "reason": "NotFound",
                            "message": "not found",
                            "code": 404,
                        },
                    )
                    return
                if rec.statuses:
                    obj = {**obj, "status": rec.statuses.pop(0)}
                self._send(200, obj)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def _kubeconfig(tmp_path, url, token="test-token"):
    import yaml

    path = tmp_path / "kubeconfig"
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "t",
                "clusters": [{"name": "t", "cluster": {"server": url}}],
                "users": [{"name": "t", "user": {"token": token}}],
                "contexts": [{"name": "t", "context": {"cluster": "t", "user": "t"}}],
            }
        )
    )
    return str(path)


def test_deploy_is_a_server_side_apply_and_idempotent(tmp_path, capsys):
    with RecordingApiServer() as api:
        config = _kubeconfig(tmp_path, api.url)
        args = ["deploy", "--spec", json.dumps(SPEC), "--image", IMAGE, "--kubeconfig", config]
        assert cli.main(args) == 0
        first = [r for r in api.requests if r["method"] == "PATCH"]
        assert [r["path"] for r in first] == [
            "/apis/machinelearning.seldon.io/v1/namespaces/models/seldondeployments/churn",
            "/api/v1/namespaces/models/services/churn-http",
            "/apis/networking.k8s.io/v1/namespaces/models/ingresses/churn-http",
        ]
        for r in first:
            assert r["content_type"] == "application/apply-patch+yaml"
            assert sorted(r["query"].split("&")) == ["fieldManager=mlpipe-lab", "force=true"]
            assert r["authorization"] == "Bearer test-token"
        sdep = json.loads(first[0]["body"])
        assert sdep["kind"] == "SeldonDeployment"
        container = sdep["spec"]["predictors"][0]["componentSpecs"][0]["spec"]["containers"][0]
        assert container["image"] == IMAGE
        assert "applied SeldonDeployment models/churn (generation 1)" in capsys.readouterr().out
        # a re-deploy sends the same objects: nothing changes (generation stays)
        assert cli.main(args) == 0
        again = [r for r in api.requests if r["method"] == "PATCH"][3:]
        assert [r["body"] for r in again] == [r["body"] for r in first]
        assert "(generation 1)" in capsys.readouterr().out
        # a new image is a new generation of the same object
        assert cli.main(args[:4] + ["registry.example.com:5000/models/churn:4"] + args[5:]) == 0
        assert "applied SeldonDeployment models/churn (generation 2)" in capsys.readouterr().out


def test_deploy_errors_are_reported_not_raised(tmp_path, capsys):
    config = _kubeconfig(tmp_path, "http://127.0.0.1:9")  # nothing listens there
    assert (
        cli.main(
            [
                "deploy",
                "--spec",
                json.dumps({**SPEC, "target": "kserve-mlserver"}),
                "--storage-uri",
                "models:/churn/1",
                "--kubeconfig",
                config,
            ]
        )
        == 1
    )
    assert "physical location" in capsys.readouterr().err
    assert cli.main(["deploy", "--spec", "{}", "--kubeconfig", config]) == 1
    assert "needs a target" in capsys.readouterr().err


def test_deploy_dry_run_prints_the_objects(capsys):
    assert (
        cli.main(
            [
                "deploy",
                "--spec",
                json.dumps({**SPEC, "target": "seldon-v2"}),
                "--storage-uri",
                "s3://models/churn/3",
                "--dry-run",
            ]
        )
        == 0
    )
    (model,) = json.loads(capsys.readouterr().out)
    assert model["kind"] == "Model" and model["spec"]["storageUri"] == "s3://models/churn/3"


# -- wait ------------------------------------------------------------------------------------------

SELDON_PROGRESS = [
    None,  # not created yet (404)
    {
        "state": "Creating",
        "conditions": [
            {"type": "DeploymentsReady", "status": "False", "reason": "Deployment not ready"}
        ],
    },
    {"state": "Available", "conditions": [{"type": "Ready", "status": "True"}]},
]


class Clock:
    def __init__(self):
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def _fetcher(statuses, kind="SeldonDeployment", generation=1):
    seq = list(statuses)

    def fetch():
        status = seq.pop(0) if len(seq) > 1 else seq[0]
        if status is None:
            return None
        return {"kind": kind, "metadata": {"generation": generation}, "status": status}

    return fetch


def test_wait_until_available():
    clock, lines = Clock(), []
    obj = kube.wait_ready(
        _fetcher(SELDON_PROGRESS),
        "SeldonDeployment",
        "models/churn",
        60,
        interval=5,
        clock=clock,
        sleep=clock.sleep,
        log=lines.append,
    )
    assert obj["status"]["state"] == "Available"
    assert clock.sleeps == [5, 5]
    assert lines[0] == "SeldonDeployment models/churn: the resource does not exist"
    assert "state=Creating; DeploymentsReady=False (Deployment not ready)" in lines[1]


def test_wait_timeout_quotes_the_conditions():
    stuck = [
        {
            "state": "Creating",
            "conditions": [
                {
                    "type": "DeploymentsReady",
                    "status": "False",
                    "reason": "ImagePullBackOff",
                    "message": "Back-off pulling image registry.example.com:5000/models/churn:3",
                }
            ],
        }
    ]
    clock = Clock()
    with pytest.raises(kube.KubeError) as info:
        kube.wait_ready(
            _fetcher(stuck),
            "SeldonDeployment",
            "models/churn",
            30,
            interval=10,
            clock=clock,
            sleep=clock.sleep,
            log=lambda _: None,
        )
    text = str(info.value)
    assert "was not available after 30 s" in text
    assert "DeploymentsReady=False (ImagePullBackOff: Back-off pulling image" in text
    assert clock.now == 30


def test_wait_fails_fast_on_failure_states():
    clock = Clock()
    failed = [{"state": "Failed", "description": "Cannot find container model"}]
    with pytest.raises(
        kube.KubeError, match=r"failed: state=Failed \(Cannot find container model\)"
    ):
        kube.wait_ready(
            _fetcher(failed),
            "SeldonDeployment",
            "m/x",
            600,
            clock=clock,
            sleep=clock.sleep,
            log=lambda _: None,
        )
    assert clock.sleeps == []
    model_failed = [
        {
            "conditions": [
                {
                    "type": "ModelReady",
                    "status": "False",
                    "reason": "ModelFailed",
                    "message": "rclone copy failed",
                }
            ]
        }
    ]
    with pytest.raises(
        kube.KubeError, match="ModelReady=False \\(ModelFailed: rclone copy failed\\)"
    ):
        kube.wait_ready(
            _fetcher(model_failed, "Model"),
            "Model",
            "m/x",
            600,
            clock=clock,
            sleep=clock.sleep,
            log=lambda _: None,
        )


def test_ready_needs_the_current_generation():
    old = {"observedGeneration": 1, "conditions": [{"type": "Ready", "status": "True"}]}
    new = {"observedGeneration": 2, "conditions": [{"type": "Ready", "status": "True"}]}
    obj = {"metadata": {"generation": 2}, "status": old}
    assert kube.readiness("InferenceService", obj) == "pending"
    assert kube.readiness("InferenceService", {**obj, "status": new}) == "ready"
    assert (
        kube.readiness(
            "Model",
            {"metadata": {}, "status": {"conditions": [{"type": "Ready", "status": "False"}]}},
        )
        == "pending"
    )


def test_wait_cli_reads_the_resource_through_the_client(tmp_path, capsys):
    with RecordingApiServer(statuses=SELDON_PROGRESS[1:]) as api:
        config = _kubeconfig(tmp_path, api.url)
        assert (
            cli.main(
                ["deploy", "--spec", json.dumps(SPEC), "--image", IMAGE, "--kubeconfig", config]
            )
            == 0
        )
        assert (
            cli.main(
                [
                    "wait",
                    "--spec",
                    json.dumps(SPEC),
                    "--timeout",
                    "20",
                    "--interval",
                    "0.05",
                    "--kubeconfig",
                    config,
                ]
            )
            == 0
        )
        out = capsys.readouterr().out
        assert "SeldonDeployment models/churn is available" in out
        gets = [r["path"] for r in api.requests if r["method"] == "GET"]
        assert set(gets) == {
            "/apis/machinelearning.seldon.io/v1/namespaces/models/seldondeployments/churn"
        }
        assert len(gets) == 2


# -- smoke -----------------------------------------------------------------------------------------


def test_v2_request_and_answer_checks():
    assert smoke.v2_request({"data": {"ndarray": [[2, 1]]}}) == {
        "inputs": [{"name": "input-0", "shape": [1, 2], "datatype": "INT64", "data": [2, 1]}]
    }
    assert smoke.v2_request({"data": {"ndarray": [[0.5, 1]]}})["inputs"][0]["datatype"] == "FP64"
    with pytest.raises(smoke.SmokeError):
        smoke.v2_request({"data": {"ndarray": [["a", "b"]]}})
    ok = b'{"data":{"names":[],"ndarray":[1]},"meta":{}}'
    assert smoke.check_answer("seldon", 200, ok)["data"]["ndarray"] == [1]
    for status, body, text in (
        (500, b'{"status":{"code":-1}}', "HTTP 500"),
        (200, b"pong", "not JSON"),
        (200, b'{"meta":{}}', "not a Seldon prediction"),
    ):
        with pytest.raises(smoke.SmokeError, match=text):
            smoke.check_answer("seldon", status, body)
    with pytest.raises(smoke.SmokeError, match="no outputs"):
        smoke.check_answer("v2", 200, b'{"model_name":"m","outputs":[]}')


def test_smoke_retries_then_reports(monkeypatch):
    calls = []

    def refused(url, body, headers, timeout):
        calls.append(url)
        raise ConnectionRefusedError("connection refused")

    monkeypatch.setattr(smoke, "post", refused)
    with pytest.raises(smoke.SmokeError, match="no answer after 3 attempts: .*connection refused"):
        smoke.smoke(
            "http://churn-http.models.svc.cluster.local:8000/api/v1.0/predictions",
            {"data": {"ndarray": [[2, 1]]}},
            attempts=3,
            sleep=lambda s: None,
        )
    assert len(calls) == 3


def test_endpoints_per_target():
    for target, url in (
        ("seldon-v1", "http://churn-http.models.svc.cluster.local:8000/api/v1.0/predictions"),
        ("kserve", "http://churn-predictor.models.svc.cluster.local/v2/models/churn/infer"),
        (
            "kserve-mlserver",
            "http://churn-predictor.models.svc.cluster.local/v2/models/churn/infer",
        ),
        ("seldon-v2", "http://seldon-mesh.models.svc.cluster.local/v2/models/churn/infer"),
    ):
        assert resources.endpoint(ServeSpec.from_json({**SPEC, "target": target}))[0] == url


# -- the API server's address and credentials -------------------------------------------------


def test_in_cluster_credentials_are_the_pods_service_account(tmp_path):
    """What the kubelet gives a pod: KUBERNETES_SERVICE_HOST/PORT and the mounted token, which
    is read on every call (projected tokens rotate)."""
    with pytest.raises(kube.KubeError, match="not in a Kubernetes pod"):
        kube.in_cluster_api(env={}, folder=str(tmp_path))
    env = {"KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "443"}
    with pytest.raises(kube.KubeError, match="no service-account token at"):
        kube.in_cluster_api(env=env, folder=str(tmp_path))
    (tmp_path / "token").write_text("first\n")
    api = kube.in_cluster_api(env=env, folder=str(tmp_path))
    assert api.server.geturl() == "https://[fd00::1]:443"
    assert api._authorization() == "Bearer first"
    (tmp_path / "token").write_text("rotated")
    assert api._authorization() == "Bearer rotated"


def test_an_unreachable_api_server_is_one_line(tmp_path, capsys):
    config = _kubeconfig(tmp_path, "http://127.0.0.1:9")
    assert cli.main(["wait", "--spec", json.dumps(SPEC), "--kubeconfig", config]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("wait failed: GET /apis/machinelearning.seldon.io/v1/namespaces/models/")
    assert "cannot reach the API server http://127.0.0.1:9" in err and "\n" not in err


def test_spec_severities_are_the_pipelines():
    """spec.py names the severities itself (the runner zipapp has no pipeline package)."""
    from mlpipe_lab.pipeline import problems as pipeline_problems
    from mlpipe_lab.serving import spec

    assert (spec.ERROR, spec.WARNING) == (pipeline_problems.ERROR, pipeline_problems.WARNING)
