"""Step caching on Airflow: the runner with --cache, started with exactly the command lines a
compiled DAG gives its pods (read from the DAG text, rendered as Airflow renders them), against an
S3-compatible server (moto on 127.0.0.1). A second run with nothing changed reuses every task's
results from the object store; a changed parameter re-runs the tasks that receive it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

pytest.importorskip("boto3")
pytest.importorskip("moto")

import boto3
import compile_corpus as cc
import jinja2.sandbox
from pipeline_builder import node, pipeline
from test_runner import notebook
from test_runner_s3 import KEY_ID, SECRET, s3  # noqa: F401  (the module's S3 server fixture)

from mlpipe_lab.compiler.export import export
from mlpipe_lab.pipeline import dumps
from mlpipe_lab.plan import plan as make_plan

PYTHON_BIN = Path(sys.executable).parent


def write_pipeline(folder: Path, **mlpipe) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "load.py").write_text(
        "import os\nos.makedirs('data', exist_ok=True)\n"
        "open('data/raw.csv', 'w').write('x\\n1\\n2\\n3\\n')\nprint('LOAD RAN')\n"
    )
    (folder / "scale.ipynb").write_text(
        notebook(
            ("parameters", "scale = 1.0"),
            "rows = [float(v) for v in open('data/raw.csv').read().split()[1:]]\n"
            "open('scaled.txt', 'w').write(repr([r * scale for r in rows]))\nprint('SCALE RAN')",
        )
    )
    (folder / "report.py").write_text(
        "import os\nopen('report.txt', 'w').write(open('scaled.txt').read() + ' ' + "
        "os.environ['GREETING'])\nprint('REPORT RAN')\n"
    )
    doc = pipeline(
        "cachedflow",
        [
            node("load", "load.py", outputs=["data/raw.csv"]),
            node(
                "scale",
                "scale.ipynb",
                parents=["load"],
                outputs=["scaled.txt"],
                pipeline_parameters=["scale"],
            ),
            node(
                "report",
                "report.py",
                parents=["scale"],
                outputs=["report.txt"],
                env_vars=[{"env_var": "GREETING", "value": "hello"}],
            ),
        ],
        mlpipe={"parameters": [{"name": "scale", "type": "number", "default": 1.0}], **mlpipe},
    )
    path = folder / "cachedflow.pipeline"
    path.write_text(dumps(doc))
    return path


def config_for(endpoint: str, bucket: str) -> dict:
    return {
        "name": "cluster",
        "type": "airflow",
        "object_storage": {
            "endpoint": endpoint,
            "bucket": bucket,
            "region": "us-east-1",
            "prefix": "team",
            "pod_credentials_secret": "store-creds",
        },
        "kubernetes": {"runner_delivery": "image"},
    }


def test_the_dag_asks_for_caching_only_where_the_pipeline_says():
    from mlpipe_lab.pipeline import Pipeline

    config = config_for("http://127.0.0.1:9", "b")
    for mlpipe, node_cache, expected in (
        ({}, None, set()),  # Airflow: off unless asked for
        ({"cache": True}, None, {"load", "scale", "report"}),
        ({"cache": True, "cache_max_age_seconds": 600}, {"side_effects": True}, {"load", "scale"}),
        ({}, {"cache": True}, {"report"}),
    ):
        doc = json.loads(dumps(pipeline("p", [], mlpipe=mlpipe)))
        nodes = [
            node("load", "load.py"),
            node("scale", "scale.ipynb", parents=["load"]),
            node(
                "report",
                "report.py",
                parents=["scale"],
                mlpipe=node_cache,
                env_vars=[{"env_var": "GREETING", "value": "hi"}],
            ),
        ]
        doc["pipelines"][0]["nodes"] = nodes
        plan = make_plan(Pipeline(doc, "p.pipeline"), config)
        cached = {t.task_id for t in plan.tasks if "--cache" in t.command.args}
        assert cached == expected, (mlpipe, node_cache)
        if "report" in cached:  # its environment variables are part of its key
            args = plan.task("report").command.args
            names = [args[i + 1] for i, a in enumerate(args) if a == "--cache-env"]
            assert "GREETING" in names
        if "cache_max_age_seconds" in mlpipe:
            args = plan.task("load").command.args
            assert args[args.index("--cache-max-age") + 1] == "600"


def test_pods_reuse_results_from_the_object_store(s3, tmp_path):  # noqa: F811
    bucket = f"cache-{uuid.uuid4().hex[:10]}"
    s3c = boto3.session.Session().client(
        "s3",
        endpoint_url=s3.endpoint,
        region_name="us-east-1",
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=SECRET,
    )
    s3c.create_bucket(Bucket=bucket)
    config = config_for(s3.endpoint, bucket)
    path = write_pipeline(tmp_path / "project", cache=True)
    exported = export(path, config=config, images=[], output=tmp_path / "out" / "cachedflow.py")
    for ref in exported.bundles.values():
        s3c.upload_file(ref.path, bucket, f"team/{ref.key}")
    dag = cc.read_dag(exported.dag_path.read_text())
    jinja = jinja2.sandbox.SandboxedEnvironment(undefined=jinja2.StrictUndefined, cache_size=0)
    pod_env = {
        "PATH": f"{PYTHON_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOME": str(tmp_path),
        "AWS_ACCESS_KEY_ID": KEY_ID,
        "AWS_SECRET_ACCESS_KEY": SECRET,
        "MLPIPE_RUNNER_HTML": "0",
        "TMPDIR": str(tmp_path),
    }

    def get(key: str) -> str:
        return s3c.get_object(Bucket=bucket, Key=key)["Body"].read().decode()

    def run_dag(run_id: str, params: dict) -> dict[str, str]:
        """Each task's log, after running the DAG's commands in order."""
        logs = {}
        for task_id, task in dag["tasks"].items():
            command = [
                jinja.from_string(a).render(params=params, run_id=run_id)
                for a in task["cmds"] + task["arguments"]
            ]
            env = {
                k: jinja.from_string(v).render(params=params, run_id=run_id)
                for k, v in (task.get("env_vars") or {}).items()
            }
            assert "--cache" in command
            proc = subprocess.run(
                command,
                env={**pod_env, **env},
                cwd=tmp_path,
                capture_output=True,
                text=True,
                timeout=300,
            )
            assert proc.returncode == 0, (task_id, proc.stdout, proc.stderr)
            logs[task_id] = get(f"team/cachedflow/runs/{run_id}/{task_id}/{task_id}.log")
        return logs

    first = run_dag("manual__1", {"scale": 2.0})
    assert all(f"{t.upper()} RAN" in first[t] for t in ("load", "scale", "report"))
    assert "cache: no earlier results for key" in first["load"]

    second = run_dag("manual__2", {"scale": 2.0})
    for task_id in ("load", "scale", "report"):
        assert f"{task_id.upper()} RAN" not in second[task_id]
        assert "cached: nothing changed since team/cachedflow/runs/manual__1" not in second[task_id]
        assert "cached: nothing changed since cachedflow/runs/manual__1" in second[task_id]
    run = "team/cachedflow/runs/manual__2"
    assert get(f"{run}/report/outputs/report.txt") == "[2.0, 4.0, 6.0] hello"
    assert get(f"{run}/scale/scale.ipynb") == get(
        "team/cachedflow/runs/manual__1/scale/scale.ipynb"
    )
    manifest = json.loads(get(f"{run}/report/manifest.json"))
    assert {o["path"]: o["object"] for o in manifest["outputs"]} == {
        "data/raw.csv": "load/outputs/data/raw.csv",
        "scaled.txt": "scale/outputs/scaled.txt",
        "report.txt": "report/outputs/report.txt",
    }

    # another scale: the notebook that receives it runs, and so does report (its input changed)
    third = run_dag("manual__3", {"scale": 3.0})
    assert "LOAD RAN" not in third["load"] and "cached" in third["load"]
    assert "SCALE RAN" in third["scale"] and "REPORT RAN" in third["report"]
    assert get("team/cachedflow/runs/manual__3/report/outputs/report.txt") == (
        "[3.0, 6.0, 9.0] hello"
    )
    index = s3c.list_objects_v2(Bucket=bucket, Prefix="team/_mlpipe_cache/")["Contents"]
    assert len(index) == 5  # load; scale and report at scale 2 and at scale 3


@pytest.mark.airflow
def test_a_cached_dag_imports_and_renders_in_real_airflow(tmp_path):
    from fixture_paths import load_airflow_harness

    harness = load_airflow_harness()
    config = config_for("http://127.0.0.1:9", "bucket")
    path = write_pipeline(tmp_path / "project", cache=True, cache_max_age_seconds=3600)
    dags = tmp_path / "dags"
    export(path, config=config, images=[], output=dags / "cachedflow.py")
    shutil.rmtree(dags / "cachedflow.bundles", ignore_errors=True)
    for version, report in harness.inspect_both(dags, render={"scale": 2.5}).items():
        assert report["import_errors"] == {}, version
        tasks = report["dags"]["cachedflow"]["tasks"]
        for task_id in ("load", "scale", "report"):
            args = tasks[task_id]["rendered_pod"]["spec"]["containers"][0]["args"]
            assert args[args.index("--cache") :][:3] == ["--cache", "--cache-max-age", "3600"]
        args = tasks["report"]["rendered_pod"]["spec"]["containers"][0]["args"]
        assert "GREETING" in [args[i + 1] for i, a in enumerate(args) if a == "--cache-env"]
