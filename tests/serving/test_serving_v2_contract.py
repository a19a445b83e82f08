"""Contract test of our runtime's Open Inference Protocol (V2) side against a real peer: MLServer
1.7 with its MLflow runtime (Apache-2.0; its own cached Python 3.11 venv from
``scripts/mlserver-venv.sh``), serving the same MLflow model files. Every case in ``CASES`` goes to
both servers; the answers must have the same status, Content-Type and JSON, after the
normalisations below. ``DELIBERATE`` lists where we answer differently on purpose, and why.

Two MLflow models, saved by this venv's MLflow 3 (MLServer's venv loads the same files):

- ``mlflowdemo``: scikit-learn LogisticRegression with a tensor signature (int64, ``[-1, 2]``):
  one unnamed input, content type ``np``;
- ``colmodel``: a scikit-learn pipeline over a DataFrame (``color``: string, ``size``: long): a
  column signature, content type ``pd``, a BYTES input.

MLServer serves both from one model repository; our runtime serves each through the Predictor that
``mlpipe_lab.serving.package.build_context`` generates (one server per model, as in a pod).
MLServer binds 127.0.0.1 when told to, so no network namespace is needed here.

Normalisations (each a legitimate difference, nothing else is normalised):

- a response ``id`` the server generated (no ``id`` in the request) is a random UUID on both;
- model metadata ``versions`` and ``platform``: MLServer answers ``[]`` and ``""`` for an MLflow
  model; we answer the registered version and ``mlflow-<flavor>`` (checked separately below);
- for a body that is not JSON both answer 422 ``json_invalid`` at the same character position;
  ``ctx.error`` is the JSON parser's own wording (orjson's there, Python's here).
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

pytest.importorskip("numpy")
pytest.importorskip("uvicorn")

from fixture_paths import REPO, TESTS
from serving_helpers import ServingServer

HERE = TESTS

pytestmark = pytest.mark.seldon  # the peer-server tier (MLPIPE_REQUIRE_SELDON=1 in CI)


def _unavailable(reason: str):
    if os.environ.get("MLPIPE_REQUIRE_SELDON", "") not in ("", "0", "false", "no"):
        pytest.fail(f"{reason} (MLPIPE_REQUIRE_SELDON=1)")
    pytest.skip(reason)


SAVE_MODELS = textwrap.dedent("""\
    import sys
    import numpy as np
    import pandas as pd
    import mlflow.sklearn
    from sklearn.compose import make_column_transformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    X = np.array([[0, 0], [1, 0], [0, 1], [2, 1], [3, 3], [2, 2]], dtype="int64")
    y = np.array([0, 0, 0, 1, 1, 1])
    mlflow.sklearn.save_model(LogisticRegression().fit(X, y), sys.argv[1], input_example=X[:1])
    df = pd.DataFrame({"color": ["red", "blue", "red", "green", "blue", "green"],
                       "size": [1, 2, 3, 4, 5, 6]})
    pipe = make_pipeline(
        make_column_transformer((OneHotEncoder(handle_unknown="ignore"), ["color"]),
                                remainder="passthrough"),
        LogisticRegression(),
    ).fit(df, np.array([0, 1, 0, 1, 1, 0]))
    mlflow.sklearn.save_model(pipe, sys.argv[2], input_example=df[:2])
    print("SAVED")
    """)
MODELS = ("mlflowdemo", "colmodel")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def mlserver_venv() -> Path:
    try:
        out = subprocess.run(
            [str(REPO / "scripts" / "mlserver-venv.sh")],
            capture_output=True,
            text=True,
            timeout=1200,
        )
    except subprocess.TimeoutExpired:
        _unavailable("scripts/mlserver-venv.sh did not finish within 20 minutes")
    if out.returncode != 0:
        _unavailable(f"scripts/mlserver-venv.sh failed:\n{out.stderr[-3000:]}")
    return Path(out.stdout.strip().splitlines()[-1])


class MLServer:
    """``mlserver start`` on a model repository, on 127.0.0.1, stopped by PID."""

    def __init__(self, venv: Path, repo: Path):
        self.venv, self.repo = venv, repo
        self.port = _free_port()
        (repo / "settings.json").write_text(
            json.dumps(
                {
                    "host": "127.0.0.1",
                    "http_port": self.port,
                    "grpc_port": _free_port(),
                    "metrics_port": _free_port(),
                    "parallel_workers": 0,
                }
            )
        )
        self.log = repo / "mlserver.log"
        self.proc: subprocess.Popen | None = None

    def __enter__(self):
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                [str(self.venv / "bin" / "mlserver"), "start", str(self.repo)],
                cwd=self.repo,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and self.proc.poll() is None:
            if all(_send(self.port, "GET", f"/v2/models/{m}/ready")[0] == 200 for m in MODELS):
                return self
            time.sleep(0.5)
        self.__exit__()
        raise RuntimeError(f"MLServer did not start:\n{self.log.read_text()[-3000:]}")

    def __exit__(self, *exc):
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)


def _send(port: int, method: str, path: str, body: bytes | None = None) -> tuple:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.getheader("content-type"), resp.read().decode("utf-8", "replace")
    except OSError as exc:
        return 0, None, str(exc)
    finally:
        conn.close()


@pytest.fixture(scope="module")
def exchanges(mlserver_venv, tmp_path_factory) -> dict:
    """Every case sent to both servers: ``{case id: {"mlserver": answer, "ours": answer}}``."""
    pytest.importorskip("mlflow", reason="the serve-test extra (mlflow) is not installed")
    pytest.importorskip("sklearn", reason="the serve-test extra (scikit-learn) is not installed")
    from mlpipe_lab.serving.package import build_context

    root = tmp_path_factory.mktemp("v2-contract")
    saved = subprocess.run(
        [sys.executable, "-c", SAVE_MODELS, str(root / "mlflowdemo"), str(root / "colmodel")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert "SAVED" in saved.stdout, saved.stderr[-3000:]
    repo = root / "repository"
    servers: dict[str, ServingServer] = {}
    for name in MODELS:
        shutil.copytree(root / name, repo / name / "model")
        (repo / name / "model-settings.json").write_text(
            json.dumps(
                {
                    "name": name,
                    "implementation": "mlserver_mlflow.MLflowRuntime",
                    "parameters": {"uri": "./model", "version": "1"},
                }
            )
        )
        ctx = build_context(root / name, root / f"ctx-{name}", model_name=name, model_version="1")
        servers[name] = ServingServer(
            "Predictor",
            env={"MODEL_DIR": str(ctx.path / "model")},
            cwd=ctx.path,
            start_timeout=180,
        )
        servers[name].command = _in(servers[name], ctx.path)
    result: dict = {}
    try:
        for s in servers.values():  # our runtimes load their models while MLServer starts
            s.spawn()
        with MLServer(mlserver_venv, repo) as peer:
            for s in servers.values():
                s.wait_ready()
            for cid, model, method, path, body in CASES:
                raw = (
                    None if body is None else (body if isinstance(body, str) else json.dumps(body))
                )
                data = None if raw is None else raw.encode()
                result[cid] = {
                    "mlserver": _send(peer.port, method, path, data),
                    "ours": _send(servers[model].port, method, path, data),
                }
    finally:
        for s in servers.values():
            s.stop()
    return result


def _in(server: ServingServer, folder: Path):
    """The server's command with the Predictor imported from ``folder``."""
    base = server.command

    def command():
        cmd = base()
        cmd[cmd.index("--model-dir") + 1] = str(folder)
        return cmd

    return command


D = "/v2/models/mlflowdemo"
C = "/v2/models/colmodel"


def _t(shape, data, datatype="INT64", name="input-0", **extra):
    return {"name": name, "shape": shape, "datatype": datatype, "data": data, **extra}


ROW = {"inputs": [_t([1, 2], [2, 1])]}
COLS = {"inputs": [_t([2], ["red", "blue"], "BYTES", "color"), _t([2], [1, 2], name="size")]}
# (id, model, method, path, body)
CASES = [
    # health and metadata
    ("live", "mlflowdemo", "GET", "/v2/health/live", None),
    ("ready", "mlflowdemo", "GET", "/v2/health/ready", None),
    ("model-ready", "mlflowdemo", "GET", D + "/ready", None),
    ("model-ready-version", "mlflowdemo", "GET", D + "/versions/1/ready", None),
    ("metadata", "mlflowdemo", "GET", D, None),
    ("metadata-version", "mlflowdemo", "GET", D + "/versions/1", None),
    ("metadata-columns", "colmodel", "GET", C, None),
    # valid inferences
    ("infer", "mlflowdemo", "POST", D + "/infer", ROW),
    ("infer-version", "mlflowdemo", "POST", D + "/versions/1/infer", ROW),
    ("infer-id", "mlflowdemo", "POST", D + "/infer", {"id": "req-42", **ROW}),
    ("infer-2-rows", "mlflowdemo", "POST", D + "/infer", {"inputs": [_t([2, 2], [2, 1, 0, 0])]}),
    (
        "infer-nested",
        "mlflowdemo",
        "POST",
        D + "/infer",
        {"inputs": [_t([2, 2], [[2, 1], [0, 0]])]},
    ),
    (
        "infer-outputs",
        "mlflowdemo",
        "POST",
        D + "/infer",
        {**ROW, "outputs": [{"name": "output-1"}]},
    ),
    ("infer-params", "mlflowdemo", "POST", D + "/infer", {**ROW, "parameters": {"x": 1}}),
    ("columns", "colmodel", "POST", C + "/infer", COLS),
    (
        "columns-2d",
        "colmodel",
        "POST",
        C + "/infer",
        {
            "inputs": [
                _t([2, 1], ["red", "blue"], "BYTES", "color"),
                _t([2, 1], [1, 2], name="size"),
            ]
        },
    ),
    ("columns-reordered", "colmodel", "POST", C + "/infer", {"inputs": COLS["inputs"][::-1]}),
    (
        "columns-base64",
        "colmodel",
        "POST",
        C + "/infer",
        {
            "inputs": [
                _t([1], ["Ymx1ZQ=="], "BYTES", "color", parameters={"content_type": "base64"}),
                _t([1], [2], name="size"),
            ]
        },
    ),
    (
        "columns-int32",
        "colmodel",
        "POST",
        C + "/infer",
        {"inputs": [_t([1], ["red"], "BYTES", "color"), _t([1], [1], "INT32", "size")]},
    ),
    # malformed requests
    ("bad-json", "mlflowdemo", "POST", D + "/infer", '{"inputs": ['),
    ("bad-empty-body", "mlflowdemo", "POST", D + "/infer", ""),
    ("bad-list-body", "mlflowdemo", "POST", D + "/infer", [1, 2]),
    ("bad-no-inputs", "mlflowdemo", "POST", D + "/infer", {}),
    ("bad-inputs-not-list", "mlflowdemo", "POST", D + "/infer", {"inputs": "x"}),
    ("bad-input-not-object", "mlflowdemo", "POST", D + "/infer", {"inputs": [1]}),
    (
        "bad-no-datatype",
        "mlflowdemo",
        "POST",
        D + "/infer",
        {"inputs": [{"name": "input-0", "shape": [1, 2], "data": [2, 1]}]},
    ),
    ("bad-no-fields", "mlflowdemo", "POST", D + "/infer", {"inputs": [{}]}),
    ("bad-datatype", "mlflowdemo", "POST", D + "/infer", {"inputs": [_t([1, 2], [2, 1], "NOPE")]}),
    ("bad-shape-text", "mlflowdemo", "POST", D + "/infer", {"inputs": [_t("1,2", [2, 1])]}),
    ("bad-shape-item", "mlflowdemo", "POST", D + "/infer", {"inputs": [_t([1, "x"], [2, 1])]}),
    ("bad-shape-float", "mlflowdemo", "POST", D + "/infer", {"inputs": [_t([1, 1.5], [2, 1])]}),
    ("bad-name", "mlflowdemo", "POST", D + "/infer", {"inputs": [_t([1, 2], [2, 1], name=7)]}),
    ("bad-id", "mlflowdemo", "POST", D + "/infer", {"id": 7, **ROW}),
    ("bad-parameters", "mlflowdemo", "POST", D + "/infer", {**ROW, "parameters": "np"}),
    ("bad-outputs", "mlflowdemo", "POST", D + "/infer", {**ROW, "outputs": [{}]}),
    ("bad-method", "mlflowdemo", "GET", D + "/infer", None),
    ("bad-route", "mlflowdemo", "GET", "/v2/nope", None),
    # unknown models and versions
    ("unknown-model", "mlflowdemo", "GET", "/v2/models/nope", None),
    ("unknown-model-ready", "mlflowdemo", "GET", "/v2/models/nope/ready", None),
    ("unknown-model-infer", "mlflowdemo", "POST", "/v2/models/nope/infer", ROW),
    ("unknown-version", "mlflowdemo", "GET", D + "/versions/2", None),
    ("unknown-version-infer", "mlflowdemo", "POST", D + "/versions/2/infer", ROW),
    # requests the model refuses
    ("wrong-shape", "mlflowdemo", "POST", D + "/infer", {"inputs": [_t([1, 3], [2, 1, 5])]}),
    (
        "wrong-dtype",
        "mlflowdemo",
        "POST",
        D + "/infer",
        {"inputs": [_t([1, 2], [2.0, 1.0], "FP64")]},
    ),
    (
        "wrong-bytes",
        "mlflowdemo",
        "POST",
        D + "/infer",
        {"inputs": [_t([1, 2], ["a", "b"], "BYTES")]},
    ),
    ("wrong-size", "mlflowdemo", "POST", D + "/infer", {"inputs": [_t([3, 3], [2, 1])]}),
    ("wrong-missing-column", "colmodel", "POST", C + "/infer", {"inputs": COLS["inputs"][:1]}),
    (
        "wrong-column-type",
        "colmodel",
        "POST",
        C + "/infer",
        {"inputs": [_t([1], ["red"], "BYTES", "color"), _t([1], [1.5], "FP64", "size")]},
    ),
]

# Where we answer differently on purpose: {case: MLServer's status}. MLServer 1.7 lets the model's
# exception escape: 500 with a Python traceback as text/plain (its default debug mode; a bare
# "Internal Server Error" without it), for what is the request's fault. We answer 400 with the
# Open Inference Protocol's {"error": message}, the model's own message (MLflow's schema
# enforcement names the column, dtype or shape), so a client gets a reason and a canary's
# server-error rate is not raised by clients' bad requests.
DELIBERATE = {
    "wrong-shape": 500,
    "wrong-dtype": 500,
    "wrong-bytes": 500,
    "wrong-size": 500,
    "wrong-missing-column": 500,
    "wrong-column-type": 500,
}
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def _comparable(answer: tuple):
    status, ctype, text = answer
    body: object = text
    if ctype and ctype.split(";")[0].strip() == "application/json":
        body = json.loads(text)
        if isinstance(body, dict):
            if isinstance(body.get("id"), str) and _UUID.match(body["id"]):
                body["id"] = "<generated>"
            if "platform" in body and "versions" in body:
                body["platform"], body["versions"] = "<platform>", "<versions>"
            for item in body.get("detail") or []:
                if isinstance(item, dict) and item.get("type") == "json_invalid":
                    item["ctx"]["error"] = "<parser's words>"
    return status, ctype, body


@pytest.mark.parametrize(
    "case",
    [c for c in CASES if c[0] not in DELIBERATE],
    ids=[c[0] for c in CASES if c[0] not in DELIBERATE],
)
def test_same_answer_as_mlserver(exchanges, case):
    got = exchanges[case[0]]
    peer, ours = got["mlserver"], got["ours"]
    assert peer[0] != 0, f"MLServer did not answer: {peer}"
    assert _comparable(ours) == _comparable(peer), f"\nMLServer: {peer}\nours:     {ours}"


@pytest.mark.parametrize("cid", sorted(DELIBERATE))
def test_deliberate_differences(exchanges, cid):
    peer, ours = exchanges[cid]["mlserver"], exchanges[cid]["ours"]
    assert peer[0] == DELIBERATE[cid] and not (peer[1] or "").startswith("application/json")
    assert ours[0] == 400 and ours[1] == "application/json", ours
    message = json.loads(ours[2])["error"]
    assert message and "Traceback" not in message
    # the model's own reason, which MLServer's traceback ends with too
    assert message.split("Error: ")[-1].split(".")[0] in peer[2] or "reshape" in message


def test_the_real_models_answered(exchanges):
    """Not only equal: both served the real models (the class of [2, 1] is 1)."""
    for side in ("mlserver", "ours"):
        status, _, text = exchanges["infer"][side]
        assert status == 200, text
        assert json.loads(text)["outputs"][0]["data"] == [1]
        status, _, text = exchanges["columns"][side]
        assert status == 200 and json.loads(text)["outputs"][0]["shape"] == [2, 1], text


def test_our_metadata_names_version_and_flavor(exchanges):
    doc = json.loads(exchanges["metadata"]["ours"][2])
    assert doc["versions"] == ["1"] and doc["platform"] == "mlflow-sklearn"
    assert json.loads(exchanges["metadata"]["mlserver"][2])["versions"] == []


def test_the_peer_really_is_mlserver_1_7(mlserver_venv):
    info = dict(line.split("=", 1) for line in (mlserver_venv / ".complete").read_text().split())
    assert info["mlserver"].startswith("1.7.") and info["mlserver_mlflow"].startswith("1.7.")
