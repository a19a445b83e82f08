"""Redeploy on a registry change, against a real MLflow server: the ``registry`` step resolves
``models:/NAME@ALIAS`` and skips the run (exit 99) while the alias points to the version the node
last deployed; moving the alias ("promote to @champion") makes the next run deploy the new
version, which the last step records. Run here as the local runtime runs a serve node (registry,
package, check: the package served on 127.0.0.1 for one request), with a local object store.

The generated DAGs (Kubernetes and local-worker) import in real Airflow in test_serve_airflow.py.
"""

from __future__ import annotations

import json

import compile_corpus as cc
import pytest
import serve_fixtures as sf
from test_serving_mlflow import tracking  # noqa: F401  (a real MLflow server, module-scoped)

from mlpipe_lab.compiler import compile_pipeline
from mlpipe_lab.pipeline import Pipeline
from mlpipe_lab.serving.tasks import cli

pytest.importorskip("mlflow", reason="the serve-test extra (mlflow) is not installed")

RUN = "serve_dag/runs/manual__1"
KEY = "serve_dag/serving/Serve_churn/deployed.json"


def _store(root):
    return ["--store", "local", "--root", str(root), "--run-prefix", RUN]


def _registry(root, tracking_uri, alias="champion"):
    return cli.main(
        [
            "registry",
            *_store(root),
            "--state-key",
            KEY,
            "--model",
            "mlflowdemo",
            "--alias",
            alias,
            "--tracking-uri",
            tracking_uri,
        ]
    )


def _deploy_locally(root, tracking_uri):
    """package + check, as the local runtime's tasks of the node; check records the version."""
    code = cli.main(
        [
            "package",
            *_store(root),
            "--task-id",
            "Serve_churn_package",
            "--model",
            "mlflowdemo",
            "--alias",
            "champion",
            "--target",
            "seldon-v1",
            "--tracking-uri",
            tracking_uri,
        ]
    )
    assert code == 0
    return cli.main(
        [
            "check",
            *_store(root),
            "--package-task",
            "Serve_churn_package",
            "--state-key",
            KEY,
        ]
    )


def test_promoting_to_champion_deploys_on_the_next_run(tracking, tmp_path, capsys):  # noqa: F811
    from mlflow import MlflowClient

    root = tmp_path / "store"
    client = MlflowClient(tracking_uri=tracking)
    client.set_registered_model_alias("mlflowdemo", "champion", "1")
    # first run: nothing deployed by this node yet
    assert _registry(root, tracking) == 0
    assert "nothing deployed by this node yet: deploying" in capsys.readouterr().out
    assert _deploy_locally(root, tracking) == 0
    out = capsys.readouterr().out
    assert "recorded mlflowdemo version 1 as deployed" in out
    assert "models:/mlflowdemo/1 answered" in out
    recorded = json.loads((root / KEY).read_text())
    assert (recorded["model"], recorded["version"], recorded["target"]) == (
        "mlflowdemo",
        "1",
        "local",
    )
    # the next scheduled run: the alias has not moved, the run is skipped
    assert _registry(root, tracking) == cli.SKIP_EXIT_CODE == 99
    assert "is version 1, deployed on" in capsys.readouterr().out
    # "promote to @champion": the next run deploys version 2, which answers the opposite
    client.set_registered_model_alias("mlflowdemo", "champion", "2")
    assert _registry(root, tracking) == 0
    assert "moved from version 1 to 2: deploying" in capsys.readouterr().out
    assert _deploy_locally(root, tracking) == 0
    out = capsys.readouterr().out
    assert "models:/mlflowdemo/2 answered" in out
    assert json.loads((root / KEY).read_text())["version"] == "2"
    assert _registry(root, tracking) == 99
    # rolling the alias back is a move too
    client.set_registered_model_alias("mlflowdemo", "champion", "1")
    assert _registry(root, tracking) == 0


def test_a_failed_deployment_records_nothing(tracking, tmp_path, capsys):  # noqa: F811
    root = tmp_path / "store"
    code = cli.main(["check", *_store(root), "--package-task", "never_ran", "--state-key", KEY])
    assert code == 1 and "left no resolved.json" in capsys.readouterr().err
    assert not (root / KEY).exists()
    assert _registry(root, tracking) == 0  # so the next run tries again


def test_an_unknown_alias_fails_the_run_with_the_reason(tracking, tmp_path, capsys):  # noqa: F811
    assert _registry(tmp_path, tracking, alias="nope") == 1
    assert "cannot resolve models:/mlflowdemo@nope" in capsys.readouterr().err


def test_the_compiled_dag_wires_the_registry_step():
    doc = sf.serve_pipeline("seldon-v1", name="serve_dag", deploy_on_alias_change=True)
    tasks = cc.read_dag(
        compile_pipeline(
            Pipeline(doc, "s.pipeline"), images=cc.IMAGES, config=cc.CONFIG, source_path="s"
        ).text
    )["tasks"]
    registry = tasks["Serve_churn_registry"]
    assert registry["skip_on_exit_code"] == 99
    args = registry["arguments"]
    assert args[args.index("--state-key") + 1] == KEY
    smoke = tasks["Serve_churn_smoke"]["arguments"]
    # the store options: in the runner's command (RUNNER), as for every runner task
    assert smoke[smoke.index("--state-key") + 1] == KEY
    assert "--store" in tasks["Serve_churn_smoke"]["cmds"]
    # without the option nothing changes
    plain = cc.read_dag(
        compile_pipeline(
            Pipeline(sf.serve_pipeline("seldon-v1"), "s.pipeline"),
            images=cc.IMAGES,
            config=cc.CONFIG,
            source_path="s",
        ).text
    )["tasks"]
    assert "Serve_churn_registry" not in plain
    assert "--state-key" not in plain["Serve_churn_smoke"]["arguments"]


def test_the_option_needs_an_alias():
    from mlpipe_lab.serving.spec import problems

    found = problems({"model_name": "m", "model_version": "3", "deploy_on_alias_change": True})
    assert ("deploy_on_alias_change", "error") in {(f, s) for _c, _m, f, s in found}
