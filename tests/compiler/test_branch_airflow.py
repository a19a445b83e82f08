"""Branch nodes run for real: a local-worker pipeline exported (DAG, runner zipapp beside it,
bundles in an S3 server: moto on 127.0.0.1) and run by ``airflow dags test`` in Airflow 3.3 and
2.10. A script returns a result (mlpipe-result.json -> the runner's last output line -> the
BashOperator's XCom); one branch tests a key of it, another a pipeline parameter. The chosen path
succeeds, the other is skipped, the join after the first branch runs."""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path

import pytest

pytest.importorskip("boto3")
pytest.importorskip("moto")

from fixture_paths import load_airflow_harness
from pipeline_builder import branch as branch_node
from pipeline_builder import node, pipeline
from worker_export import export_to_bucket

from mlpipe_lab.pipeline import dumps
from mlpipe_lab.runner.contract import WORKER_ZIPAPP

harness = load_airflow_harness()

try:
    from s3server import S3Server
except ImportError:  # pragma: no cover
    from tests.s3server import S3Server

pytestmark = pytest.mark.airflow

KEY_ID, SECRET = "AKIABRANCH", f"branch-secret-{uuid.uuid4().hex}"
DAG_ID = "branch_for_real"


def write_project(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "train.py").write_text(
        "import json\nopen('model.txt', 'w').write('m')\n"
        "json.dump({'metrics': {'accuracy': 0.93}}, open('mlpipe-result.json', 'w'))\n"
        "print('trained')\n"
    )
    for name in ("deploy", "retrain", "extra"):
        (folder / f"{name}.py").write_text(f"print('{name} ran')\n")
    (folder / "report.py").write_text(
        "import os\nassert os.path.exists('model.txt')\nprint('report ran')\n"
    )
    doc = pipeline(
        "branch for real",
        [
            node("train", "train.py", label="Train", outputs=["model.txt"]),
            branch_node(
                "gate",
                ["train"],
                "Good enough?",
                value_from={"from": "result", "node": "train", "key": "metrics.accuracy"},
                rules=[{"op": ">=", "value": 0.9, "run": ["deploy"]}],
                otherwise=["retrain"],
            ),
            node("deploy", "deploy.py", parents=["gate"], label="Deploy"),
            node("retrain", "retrain.py", parents=["gate"], label="Retrain"),
            node("report", "report.py", parents=["deploy", "retrain"], label="Report"),
            branch_node(
                "mode",
                ["train"],
                "Full run?",
                value_from={"from": "parameter", "parameter": "mode"},
                rules=[{"op": "in", "value": ["full", "complete"], "run": ["extra"]}],
                otherwise=[],
            ),
            node("extra", "extra.py", parents=["mode"], label="Extra"),
        ],
        mlpipe={
            "dag_id": DAG_ID,
            "parameters": [{"name": "mode", "type": "string", "default": "quick"}],
        },
    )
    path = folder / "branch.pipeline"
    path.write_text(dumps(doc))
    return path


@pytest.fixture(scope="module")
def s3():
    server = S3Server(max_seconds=900)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize("version", ["3.3", "2.10"])
def test_branch_runs_in_airflow_dags_test(version, s3, tmp_path):
    venv = harness.require_airflow(version)
    path = write_project(tmp_path / "project")
    dags = tmp_path / "dags"
    exported, s3c, bucket = export_to_bucket(
        s3, path, dags, DAG_ID, key_id=KEY_ID, secret=SECRET, auth=True
    )
    text = exported.dag_path.read_text()
    assert "BranchPythonOperator(" in text and SECRET not in text
    assert (dags / WORKER_ZIPAPP).is_file()

    run = harness.dags_test(
        venv,
        dags,
        DAG_ID,
        tmp_path,
        env={
            "MLPIPE_RUNNER_PYTHON": sys.executable,
            "AWS_ACCESS_KEY_ID": KEY_ID,
            "AWS_SECRET_ACCESS_KEY": SECRET,
        },
    )
    states, out = run.states, run.out
    assert states == {
        "Train": "success",
        "Good_enough": "success",
        "Deploy": "success",  # accuracy 0.93 >= 0.9
        "Retrain": "skipped",
        "Report": "success",  # the join after the branch
        "Full_run": "success",
        "Extra": "skipped",  # mode 'quick' is not in the list; otherwise: nothing
    }, out[-6000:]
    xcoms = run.xcoms
    # the runner's last output line is the result, as JSON text
    assert json.loads(xcoms["Train"]) == {"metrics": {"accuracy": 0.93}}
    assert "branch Good_enough: value 0.93, rule 1: ['Deploy']" in out, out[-6000:]
    run = next(
        o["Key"]
        for o in s3c.list_objects_v2(Bucket=bucket, Prefix=f"mlpipe/{DAG_ID}/runs/")["Contents"]
        if o["Key"].endswith("/Report/manifest.json")
    )
    manifest = json.loads(s3c.get_object(Bucket=bucket, Key=run)["Body"].read())
    assert [o["path"] for o in manifest["outputs"]] == ["model.txt"]  # through the branch


def test_pods_dag_with_a_branch_imports_in_airflow_3_and_2(tmp_path):
    """Kubernetes mode: the DAG imports and serializes in both versions; the result's pod writes
    /airflow/xcom/return.json, which KubernetesPodOperator's XCom sidecar reads (do_xcom_push)."""
    import compile_corpus as cc

    from mlpipe_lab.compiler.compile import render_plan
    from mlpipe_lab.pipeline import Pipeline, document
    from mlpipe_lab.plan import plan

    path = write_project(tmp_path / "project")
    doc = document.parse(path.read_text(), pipeline=path.name)
    defaults = doc["pipelines"][0]["app_data"]["properties"].setdefault("pipeline_defaults", {})
    defaults["runtime_image"] = "python:3.11"
    result = plan(Pipeline(doc, path.name), cc.CONFIG, cc.IMAGES, bundles={})
    assert result.ok, [p.describe() for p in result.errors]
    dags = tmp_path / "dags"
    dags.mkdir()
    text = render_plan(result, source_path="branch.pipeline", source_sha256="0" * 64)
    (dags / f"{DAG_ID}.py").write_text(text)
    for version, info in harness.inspect_both(dags, render={"mode": "full"}).items():
        assert not info["import_errors"], (version, info["import_errors"])
        dag = info["dags"][DAG_ID]
        assert dag["serialization_error"] is None, (version, dag["serialization_error"])
        tasks = dag["tasks"]
        assert tasks["Good_enough"]["operator"] == "BranchPythonOperator"
        assert tasks["Good_enough"]["downstream"] == ["Deploy", "Retrain"]
        assert tasks["Report"]["trigger_rule"] == "none_failed_min_one_success"
        assert tasks["Deploy"]["trigger_rule"] == "all_success"
        train = tasks["Train"]
        args = train["arguments"]
        assert args[args.index("--xcom-file") + 1] == "/airflow/xcom/return.json"
        containers = [c["name"] for c in train["pod"]["spec"]["containers"]]
        assert "airflow-xcom-sidecar" in containers, (version, containers)
        base = train["pod"]["spec"]["containers"][0]
        assert "/airflow/xcom" in [m["mountPath"] for m in base.get("volumeMounts") or []]
        deploy = tasks["Deploy"]["pod"]["spec"]["containers"]
        assert [c["name"] for c in deploy] == ["base"]  # no result: no sidecar
