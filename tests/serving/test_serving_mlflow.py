"""Real MLflow (3.x) end to end: a tracking server with a sqlite backend on 127.0.0.1, a registered
scikit-learn model with two versions and an alias, resolved by ``models:/NAME/VERSION`` and
``models:/NAME@ALIAS``, packaged, and served by our runtime through ``mlpipe serve``.

Needs the ``serve-test`` extra (mlflow, scikit-learn); skipped without it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request

import pytest

pytest.importorskip("mlflow", reason="the serve-test extra (mlflow) is not installed")
pytest.importorskip("sklearn", reason="the serve-test extra (scikit-learn) is not installed")
pytest.importorskip("uvicorn")

from serving_helpers import ServingServer, call

LOG_MODELS = textwrap.dedent("""\
    import numpy as np
    import mlflow
    from mlflow import MlflowClient
    from sklearn.linear_model import LogisticRegression

    X = np.array([[0, 0], [1, 0], [0, 1], [2, 1], [3, 3], [2, 2]], dtype="int64")
    y = np.array([0, 0, 0, 1, 1, 1])
    mlflow.set_experiment("serving-test")
    for labels in (y, 1 - y):  # version 2 answers the opposite
        with mlflow.start_run():
            model = LogisticRegression().fit(X, labels)
            mlflow.sklearn.log_model(model, name="model", input_example=X[:1],
                                     registered_model_name="mlflowdemo")
    MlflowClient().set_registered_model_alias("mlflowdemo", "champion", "1")
    print("LOGGED")
    """)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def tracking(tmp_path_factory):
    root = tmp_path_factory.mktemp("mlflow")
    port = _free_port()
    mlflow_bin = os.path.join(os.path.dirname(sys.executable), "mlflow")
    log = open(root / "server.log", "wb")
    proc = subprocess.Popen(
        [
            mlflow_bin,
            "server",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-w",
            "1",
            "--backend-store-uri",
            f"sqlite:///{root / 'mlflow.db'}",
            "--artifacts-destination",
            str(root / "artifacts"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=log,
        start_new_session=True,
        cwd=str(root),
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(url + "/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(
                    "mlflow server did not start:\n" + (root / "server.log").read_text()[-3000:]
                )
            time.sleep(0.5)
        env = {**os.environ, "MLFLOW_TRACKING_URI": url}
        out = subprocess.run(
            [sys.executable, "-c", LOG_MODELS],
            env=env,
            cwd=str(root),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert "LOGGED" in out.stdout, out.stderr[-3000:]
        yield url
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        log.close()


def test_resolve_version_and_alias(tracking):
    from mlpipe_lab.serving import registry

    by_alias = registry.resolve("models:/mlflowdemo@champion", tracking)
    assert (by_alias.name, by_alias.version, by_alias.alias) == ("mlflowdemo", "1", "champion")
    assert by_alias.download_uri
    assert registry.resolve("models:/mlflowdemo/2", tracking).version == "2"
    for bad in ("models:/mlflowdemo/99", "models:/nope@champion", "models:/mlflowdemo@nope"):
        with pytest.raises(registry.RegistryError):
            registry.resolve(bad, tracking)
    with pytest.raises(registry.RegistryError):
        registry.parse_models_uri("models:/a/b/c")


def test_context_from_registry(tracking, tmp_path, capsys):
    from mlpipe_lab.serving.cli import serve_main

    code = serve_main(
        [
            "models:/mlflowdemo/1",
            "--tracking-uri",
            tracking,
            "--context",
            str(tmp_path / "ctx"),
            "--json",
            "--runtime",
            "seldon-core",
        ]
    )
    assert code == 0
    info = json.loads(capsys.readouterr().out)
    assert info["version"] == "1"
    model = tmp_path / "ctx" / "model"
    assert (model / "MLmodel").is_file()
    assert "seldon-core==1.19.0" in info["requirements"]
    assert "numpy" in info["requirements"] and "pandas" in info["requirements"]  # pins dropped
    assert any(r.startswith("mlflow==") for r in info["requirements"])
    predictor = (tmp_path / "ctx" / "Predictor.py").read_text()
    assert "mlflow.pyfunc.load_model" in predictor and "joblib" not in predictor


def test_manifests_from_registry(tracking, capsys):
    yaml = pytest.importorskip("yaml")
    from mlpipe_lab.serving.cli import serve_main

    code = serve_main(
        [
            "models:/mlflowdemo@champion",
            "--tracking-uri",
            tracking,
            "--manifests",
            "--image",
            "registry.example.com/mlflowdemo:1",
            "--ingress-host",
            "models.example.com",
            "--image-pull-secret",
            "regcred",
        ]
    )
    assert code == 0
    docs = list(yaml.safe_load_all(capsys.readouterr().out))
    assert [d["kind"] for d in docs] == ["SeldonDeployment", "Service", "Ingress"]
    assert docs[0]["metadata"]["annotations"]["mlpipe-lab/model-version"] == "1"
    assert docs[0]["spec"]["predictors"][0]["name"] == "v1"
    assert (
        serve_main(
            ["models:/mlflowdemo/99", "--tracking-uri", tracking, "--manifests", "--image", "x:1"]
        )
        == 1
    )


def test_serve_alias_with_our_runtime(tracking):
    class CliServer(ServingServer):
        def command(self):
            return [
                sys.executable,
                "-m",
                "mlpipe_lab.serving.cli",
                self.predictor,
                "--tracking-uri",
                tracking,
                "--host",
                "127.0.0.1",
                "--http-port",
                "0",
            ]

    with CliServer("models:/mlflowdemo@champion", start_timeout=180) as server:
        status, _, body = call(
            server.url + "/api/v1.0/predictions", "POST", {"data": {"ndarray": [[2, 1]]}}
        )
        assert (status, body) == (200, b'{"data":{"names":[],"ndarray":[1]},"meta":{}}\n'), (
            server.stderr()
        )
        status, _, body = call(
            server.url + "/api/v1.0/predictions", "POST", {"data": {"ndarray": [[2, 1, 5]]}}
        )
        err = json.loads(body)["status"]
        assert status == 500 and err["reason"] == "MICROSERVICE_INTERNAL_ERROR"
        assert "Shape of input (1, 3) does not match expected shape (-1, 2)" in err["info"]
        meta = json.loads(call(server.url + "/metadata")[2])
        assert meta["name"] == "mlflowdemo" and meta["versions"] == ["1"]
        assert meta["platform"] == "mlflow-sklearn"
        assert meta["inputs"] == [{"datatype": "INT64", "name": "input", "shape": [-1, 2]}]
