"""A "Serve MLflow model" node against a real MLflow tracking server (sqlite, 127.0.0.1) holding a
registered scikit-learn model on two integer features (versions 1 and 2, alias champion -> 1):

- the package task resolves the alias and a version, downloads the model and uploads the build
  context (Predictor.py loading model.skops through mlflow.pyfunc, Dockerfile, requirements);
- the check task serves that context with our runtime on 127.0.0.1 and gets a Seldon answer to
  ``{"data":{"ndarray":[[2,1]]}}``; /prometheus counts the requests; a logger sink receives the
  request and response CloudEvents joined by request id;
- the smoke step checks a live endpoint;
- the REST API lists the registry's models and versions (with aliases), 404s an unknown model and
  answers 502 when the registry cannot be reached.

Needs the serve-test extra (mlflow, scikit-learn); skipped without it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

pytest.importorskip("mlflow", reason="the serve-test extra (mlflow) is not installed")
pytest.importorskip("sklearn", reason="the serve-test extra (scikit-learn) is not installed")

from serving_helpers import LoggerSink, ServingServer, call, prometheus_value
from test_routes import api  # noqa: F401  (fixture: REST calls checked against openapi.yaml)
from test_serving_mlflow import tracking  # noqa: F401  (module fixture: the MLflow server)

from mlpipe_lab.runner.store import LocalStore
from mlpipe_lab.serving.tasks import cli, smoke
from mlpipe_lab.serving.tasks import package as pkg

SEED = {"data": {"ndarray": [[2, 1]]}}
RUN = "serve_dag/runs/manual__1"


def _package(store_root, tracking_uri, *extra):
    return cli.main(
        [
            "package",
            "--store",
            "local",
            "--root",
            str(store_root),
            "--run-prefix",
            RUN,
            "--task-id",
            "serve_package",
            "--model",
            "mlflowdemo",
            "--target",
            "seldon-v1",
            "--tracking-uri",
            tracking_uri,
            *extra,
        ]
    )


def test_package_by_alias_and_version(tracking, tmp_path, capsys):  # noqa: F811
    root = tmp_path / "store"
    assert (
        _package(
            root,
            tracking,
            "--alias",
            "champion",
            "--image-registry",
            "registry.example.com:5000",
            "--image-repository",
            "models/mlflowdemo",
            "--xcom-file",
            str(tmp_path / "xcom.json"),
        )
        == 0
    )
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["version"] == "1" and result["alias"] == "champion"
    assert result["model_uri"] == "models:/mlflowdemo/1"
    assert (
        result["image"] == "registry.example.com:5000/models/mlflowdemo:1"
    )  # tag = resolved version
    assert result["smoke_request"] == {
        "data": {"ndarray": [[0, 0]]}
    }  # from the logged input example
    assert json.loads((tmp_path / "xcom.json").read_text()) == result
    store = LocalStore(str(root))
    assert store.get_json(pkg.resolved_key(RUN, "serve_package")) == result
    tarball = store.path(pkg.context_key(RUN, "serve_package"))
    with tarfile.open(tarball) as tar:
        names = set(tar.getnames())
        predictor = tar.extractfile("Predictor.py").read().decode()
        dockerfile = tar.extractfile("Dockerfile").read().decode()
        requirements = tar.extractfile("requirements.txt").read().decode().split()
    assert {
        "Dockerfile",
        "Predictor.py",
        "requirements.txt",
        "model/MLmodel",
        "model/model.skops",
    } <= names
    assert not any(n.endswith("model.pkl") for n in names)
    assert "mlflow.pyfunc.load_model" in predictor and "models:/mlflowdemo/1" in dockerfile
    assert any(r.startswith("mlflow==") for r in requirements) and "uvicorn==0.54.0" in requirements
    # the same bytes when packaged again: the context is reproducible
    first = tarball.read_bytes()
    assert (
        _package(
            root,
            tracking,
            "--version",
            "1",
            "--image-repository",
            "models/mlflowdemo",
            "--image-tag",
            "stable",
        )
        == 0
    )
    again = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert again["image"] == "models/mlflowdemo:stable" and again["alias"] is None
    assert tarball.read_bytes() == first


def test_package_failures_name_the_cause(tracking, tmp_path, capsys):  # noqa: F811
    assert _package(tmp_path, tracking, "--alias", "nope", "--image-repository", "m/x") == 1
    assert "cannot resolve models:/mlflowdemo@nope" in capsys.readouterr().err
    code = cli.main(
        [
            "package",
            "--store",
            "local",
            "--root",
            str(tmp_path),
            "--run-prefix",
            RUN,
            "--task-id",
            "p",
            "--model",
            "mlflowdemo",
            "--version",
            "1",
            "--target",
            "kserve-mlserver",
            "--tracking-uri",
            tracking,
        ]
    )
    assert code == 1
    assert (
        "target kserve-mlserver cannot load this model" in capsys.readouterr().err
    )  # mlflow-artifacts:/ URI: MLServer cannot read it, our runtime's image carries the files


def test_check_serves_the_package_on_loopback(tracking, tmp_path, capsys):  # noqa: F811
    root = tmp_path / "store"
    assert _package(root, tracking, "--alias", "champion", "--smoke-request", json.dumps(SEED)) == 0
    capsys.readouterr()
    assert (
        cli.main(
            [
                "check",
                "--store",
                "local",
                "--root",
                str(root),
                "--run-prefix",
                RUN,
                "--package-task",
                "serve_package",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert (
        'models:/mlflowdemo/1 answered: {"data": {"names": [], "ndarray": [1]}, "meta": {}}' in out
    )


def test_package_and_check_from_the_runner_zipapp(tracking, tmp_path):  # noqa: F811
    """local-worker mode: the zipapp beside the DAG runs the steps with the worker's python3 and
    no mlpipe_lab installed (-S, outside the checkout); the check serves the runtime copy in the
    build context, so only the model's requirements and the runtime's come from that python3."""
    from mlpipe_lab.runner import contract, zipapp

    pyz = zipapp.write_zipapp(tmp_path / "runner" / contract.WORKER_ZIPAPP_NAME)
    shared = contract.store_arguments(store="local", root=str(tmp_path / "store"), run_prefix=RUN)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}

    def step(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-S", str(pyz), *shared, "--kind", "serve", *args],
            capture_output=True,
            text=True,
            timeout=300,
            env=env,
            cwd=str(tmp_path),
        )

    package = step(
        "package", "--task-id", "p", "--model", "mlflowdemo", "--alias", "champion",
        "--target", "seldon-v1", "--tracking-uri", tracking,
    )  # fmt: skip
    assert package.returncode == 0, package.stderr
    assert json.loads(package.stdout.strip().splitlines()[-1])["version"] == "1"
    check = step("check", "--package-task", "p")
    assert check.returncode == 0, check.stderr
    assert 'models:/mlflowdemo/1 answered: {"data": {"names": [], "ndarray": [0]}' in check.stdout


def test_check_speaks_the_targets_protocol(tracking, tmp_path, capsys):  # noqa: F811
    """A kserve node's local check sends the seed request as V2 to /v2/models/<model>/infer, as
    the smoke test does in the cluster."""
    root = tmp_path / "store"
    assert _package(root, tracking, "--version", "1", "--target", "kserve") == 0
    capsys.readouterr()
    args = ["check", "--store", "local", "--root", str(root), "--run-prefix", RUN]
    assert cli.main([*args, "--package-task", "serve_package"]) == 0
    out = capsys.readouterr().out
    assert "/v2/models/mlflowdemo/infer" in out
    answer = json.loads(out.split("models:/mlflowdemo/1 answered: ", 1)[1].splitlines()[0])
    assert answer["model_name"] == "mlflowdemo" and answer["model_version"] == "1"
    # the model's logged input example, [[0, 0]], is class 0
    assert answer["outputs"][0]["data"] == [0] and answer["outputs"][0]["shape"] == [1, 1]


def test_packaged_runtime_metrics_logger_and_smoke(tracking, tmp_path):  # noqa: F811
    """The context serves the seed request Seldon-shaped, counts it in /prometheus and logs request and
    response CloudEvents joined by request id; the smoke step accepts it, a wrong shape fails it."""
    root = tmp_path / "store"
    assert _package(root, tracking, "--version", "2") == 0
    ctx = smoke.unpack(
        LocalStore(str(root)).path(pkg.context_key(RUN, "serve_package")), tmp_path / "ctx"
    )

    class ContextServer(ServingServer):
        def command(self):
            return [
                sys.executable,
                "-m",
                "mlpipe_lab.serving.runtime",
                "Predictor",
                "--host",
                "127.0.0.1",
                "--http-port",
                "0",
                "--model-dir",
                str(ctx),
                "--log-level",
                "warning",
                "--graceful-timeout",
                "5",
                *self.args,
            ]

    with (
        LoggerSink() as sink,
        ContextServer(
            "Predictor",
            "--logger-url",
            sink.url,
            cwd=ctx,
            env={"MODEL_DIR": str(ctx / "model")},
            start_timeout=180,
        ) as server,
    ):
        url = server.url + "/api/v1.0/predictions"
        status, headers, body = call(url, "POST", {"meta": {"puid": "req-42"}, **SEED})
        assert status == 200, server.stderr()
        assert json.loads(body)["data"] == {
            "names": [],
            "ndarray": [0],
        }  # version 2 answers the opposite
        answer = smoke.smoke(url, SEED, attempts=1)
        assert answer["data"]["ndarray"] == [0]
        with pytest.raises(smoke.SmokeError, match="HTTP 500"):
            smoke.smoke(url, {"data": {"ndarray": [[2, 1, 5]]}}, attempts=1)
        metrics = call(server.url + "/prometheus")[2].decode()
        assert prometheus_value(metrics, "mlpipe_serving_requests_total", code="200") >= 2
        events = sink.for_request("req-42", 2)
        kinds = sorted(e[0]["ce-type"] for e in events)
        assert kinds == [
            "io.seldon.serving.inference.request",
            "io.seldon.serving.inference.response",
        ]
        assert (
            json.loads(
                dict((e[0]["ce-type"], e[1]) for e in events)["io.seldon.serving.inference.request"]
            )["data"]
            == SEED["data"]
        )


# -- the REST API over the registry --------------------------------------------------------------


async def test_registry_endpoints(tracking, api):  # noqa: F811
    """Responses are also checked against openapi.yaml by the api fixture."""

    def q(path, **params):  # the api fixture splits on & and =; jp_fetch encodes the values
        return path + "?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else path

    code, models = await api("GET", q("mlflow/models", tracking_uri=tracking))
    assert code == 200 and [m["name"] for m in models["models"]] == ["mlflowdemo"]
    assert models["models"][0]["aliases"] == {"champion": "1"}
    assert (await api("GET", q("mlflow/models", tracking_uri=tracking, filter="DEMO")))[1]["models"]
    assert (await api("GET", q("mlflow/models", tracking_uri=tracking, filter="other")))[1][
        "models"
    ] == []
    code, versions = await api("GET", q("mlflow/models/mlflowdemo/versions", tracking_uri=tracking))
    assert code == 200 and [v["version"] for v in versions["versions"]] == ["2", "1"]
    v1 = versions["versions"][1]
    assert v1["aliases"] == ["champion"] and v1["status"] == "READY" and v1["run_id"]
    code, err = await api("GET", q("mlflow/models/nope/versions", tracking_uri=tracking))
    assert code == 404 and "does not exist" in err["error"]["message"]
    code, err = await api("GET", q("mlflow/models", tracking_uri="http://127.0.0.1:9"))
    assert code == 502 and err["error"]["field"] == "tracking_uri"
    assert "cannot be reached" in err["error"]["message"]
    code, err = await api("GET", q("mlflow/models", tracking_uri="http://user:secret@127.0.0.1:9"))
    assert code == 400 and "secret" not in json.dumps(err)
    code, err = await api("GET", "mlflow/models")
    assert code == 400 and err["error"]["field"] == "tracking_uri"


def test_sqlite_registry_without_a_server(tmp_path):
    """What the browser test uses: an sqlite:/// tracking URI, read by the same code."""
    db = tmp_path / "mlflow.db"
    script = (
        "import mlflow; from mlflow import MlflowClient;"
        f"mlflow.set_tracking_uri('sqlite:///{db}');"
        "c = MlflowClient(); c.create_registered_model('sq');"
        "c.create_model_version('sq', source=str(__import__('pathlib').Path('.').resolve()));"
        "c.set_registered_model_alias('sq', 'prod', '1')"
    )
    subprocess.run(
        [sys.executable, "-c", script], check=True, cwd=tmp_path, capture_output=True, timeout=240
    )
    from mlpipe_lab.serving import registry

    listed = registry.model_versions(f"sqlite:///{db}", "sq")
    assert listed["aliases"] == {"prod": "1"} and listed["versions"][0]["aliases"] == ["prod"]
    assert Path(db).is_file()


def test_local_run_of_a_pipeline_with_a_serve_node(tracking, tmp_path):  # noqa: F811
    """``mlpipe run``: train -> serve (package + check on 127.0.0.1) -> report; the report still
    receives train's output through the serve node."""
    import compile_corpus as cc
    import serve_fixtures as sf

    from mlpipe_lab.localrun import run_pipeline

    folder = tmp_path / "p"
    folder.mkdir()
    (folder / "train.py").write_text(
        "import pathlib\npathlib.Path('data.txt').write_text('trained')\n"
    )
    (folder / "report.py").write_text(
        "import pathlib\nassert pathlib.Path('data.txt').read_text() == 'trained'\n"
    )
    image = {"runtime_image": "python:3.11"}
    nodes = [
        cc.node(
            "train",
            "train.py",
            kind="python",
            label="train",
            params={**image, "outputs": ["data.txt"]},
        ),
        sf.serve_node(
            "serve",
            parents=["train"],
            image="python:3.11",
            tracking_uri=tracking,
            model_name="mlflowdemo",
            model_alias="champion",
            image_repository="models/demo",
            registry_secret="push-creds",
            smoke_request=json.dumps(SEED),
        ),
        cc.node(
            "report", "report.py", kind="python", label="report", params=image, parents=["serve"]
        ),
    ]
    (folder / "serve_local.pipeline").write_text(json.dumps(cc.pipeline("serve_local", nodes)))
    result = run_pipeline(folder / "serve_local.pipeline", artifacts_root=tmp_path / "art")
    assert result.ok, result.report()
    assert [n.task_id for n in result.nodes] == [
        "train",
        "Serve_churn_package",
        "Serve_churn_check",
        "report",
    ]
    check_log = Path(result.node("Serve_churn_check").log).read_text()
    assert '"ndarray": [1]' in check_log
