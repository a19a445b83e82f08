"""The runner against an S3-compatible server (moto on 127.0.0.1), started with exactly the command
lines a compiled DAG gives its pods: cmds and arguments read from the DAG text (ast), templates
rendered as Airflow renders them, credentials in the environment as a Kubernetes Secret puts them."""

from __future__ import annotations

import json
import os
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

from mlpipe_lab.compiler import compile_pipeline
from mlpipe_lab.compiler.export import export
from mlpipe_lab.pipeline import Pipeline, dumps

try:
    from s3server import S3Server
except ImportError:  # pragma: no cover
    from tests.s3server import S3Server

KEY_ID, SECRET = "AKIARUNNERTEST", f"runner-secret-{uuid.uuid4().hex}"
RUN_ID = "manual__2024-06-01T12:00:00+00:00"  # an Airflow run id: ':' and '+' end up in keys
PYTHON_BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def s3():
    server = S3Server(max_seconds=300)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def client(endpoint: str):
    return boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=SECRET,
    )


def write_pipeline(folder: Path) -> Path:
    (folder / "load.py").write_text(
        "import os\nos.makedirs('data', exist_ok=True)\n"
        "open('data/raw.csv', 'w').write('x\\n1\\n2\\n3\\n')\nprint('loaded')\n"
    )
    (folder / "features.ipynb").write_text(
        notebook(
            ("parameters", "scale = 1.0\nlabel = 'none'"),
            "import json\nrows = [float(v) for v in open('data/raw.csv').read().split()[1:]]\n"
            "json.dump({'scaled': [r * scale for r in rows], 'label': label, 'type': type(scale).__name__},"
            " open('data/features.json', 'w'))\nprint('features', label)",
        )
    )
    (folder / "report.py").write_text(
        "import json, os\nraw = open('data/raw.csv').read().split()\n"
        "features = json.load(open('data/features.json'))\n"
        "open('report.txt', 'w').write(json.dumps({'rows': len(raw) - 1, 'features': features,"
        " 'env_scale': os.environ['scale'], 'env_label': os.environ['label']}))\n"
    )
    (folder / "broken.py").write_text("print('about to fail')\nraise SystemExit('no data today')\n")
    doc = pipeline(
        "s3flow",
        [
            node("load", "load.py", outputs=["data/raw.csv"]),
            node(
                "features",
                "features.ipynb",
                parents=["load"],
                outputs=["data/features.json"],
                pipeline_parameters=["scale", "label"],
            ),
            node(
                "report",
                "report.py",
                parents=["features"],
                outputs=["report.txt"],
                pipeline_parameters=["scale", "label"],
            ),
            node("broken", "broken.py", parents=["load"]),
        ],
        mlpipe={
            "parameters": [
                {"name": "scale", "type": "number", "default": 1.0},
                {"name": "label", "type": "string", "default": "x"},
            ]
        },
        defaults={"cos_object_prefix": "exp1"},
    )
    path = folder / "s3flow.pipeline"
    path.write_text(dumps(doc))
    return path


def test_runner_runs_the_compiled_dag_commands_against_s3(s3, tmp_path):
    bucket = f"runs-{uuid.uuid4().hex[:10]}"
    s3c = client(s3.endpoint)
    s3c.create_bucket(Bucket=bucket)
    config = {
        "name": "cluster",
        "type": "airflow",
        "object_storage": {
            "endpoint": s3.endpoint,
            "bucket": bucket,
            "region": "us-east-1",
            "prefix": "team",
            "pod_credentials_secret": "store-creds",
        },
        # the runner installed in the image (this test's Python); tests/pods runs the default,
        # the runner copied in by an init container
        "kubernetes": {"runner_delivery": "image"},
    }
    (tmp_path / "project").mkdir()
    path = write_pipeline(tmp_path / "project")
    exported = export(path, config=config, images=[], output=tmp_path / "out" / "s3flow.py")
    pipe = Pipeline(json.loads(path.read_text()), path.name)
    compiled = compile_pipeline(
        pipe, images=[], config=config, source_path=path.name, bundles=exported.bundles
    )
    assert compiled.text == exported.dag_path.read_text()
    for ref in exported.bundles.values():  # what publish does: bundles under the store prefix
        s3c.upload_file(ref.path, bucket, f"team/exp1/{ref.key}")

    dag = cc.read_dag(compiled.text)  # the tests' own reader of generated DAGs
    tasks = dag["tasks"]
    assert dag["order"] == ["load", "features", "report", "broken"]
    assert [s.args[1] for s in tasks["load"]["secrets"]] == [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
    ]
    env = jinja2.sandbox.SandboxedEnvironment(undefined=jinja2.StrictUndefined, cache_size=0)
    params = {"scale": 2.5, "label": 'a "quoted" <label>'}
    pod_env = {
        "PATH": f"{PYTHON_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOME": str(tmp_path),
        "AWS_ACCESS_KEY_ID": KEY_ID,
        "AWS_SECRET_ACCESS_KEY": SECRET,
        "MLPIPE_RUNNER_HTML": "0",
        "TMPDIR": str(tmp_path),
    }
    results = {}
    for task_id, task in tasks.items():
        command = [
            env.from_string(a).render(params=params, run_id=RUN_ID)
            for a in task["cmds"] + task["arguments"]
        ]
        task_env = {
            k: env.from_string(v).render(params=params, run_id=RUN_ID)
            for k, v in (task.get("env_vars") or {}).items()
        }
        assert command[:3] == ["python3", "-m", "mlpipe_lab.runner"]
        assert task_env["AWS_ENDPOINT_URL"] == s3.endpoint
        assert "AWS_SECRET_ACCESS_KEY" not in task_env and SECRET not in compiled.text
        results[task_id] = subprocess.run(
            command,
            env={**pod_env, **task_env},
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
        )
    for task_id in ("load", "features", "report"):
        assert results[task_id].returncode == 0, (
            task_id,
            results[task_id].stdout,
            results[task_id].stderr,
        )

    run = f"team/exp1/s3flow/runs/{RUN_ID}"
    keys = {o["Key"] for o in s3c.list_objects_v2(Bucket=bucket, Prefix=run)["Contents"]}
    assert {
        f"{run}/load/outputs/data/raw.csv",
        f"{run}/features/outputs/data/features.json",
        f"{run}/report/outputs/report.txt",
        f"{run}/features/features.ipynb",
        f"{run}/load/load.log",
        f"{run}/report/manifest.json",
    } <= keys

    def get(key: str) -> str:
        return s3c.get_object(Bucket=bucket, Key=key)["Body"].read().decode()

    report = json.loads(get(f"{run}/report/outputs/report.txt"))
    assert report == {
        "rows": 3,
        "features": {"scaled": [2.5, 5.0, 7.5], "label": 'a "quoted" <label>', "type": "float"},
        "env_scale": "2.5",
        "env_label": 'a "quoted" <label>',
    }
    manifest = json.loads(get(f"{run}/report/manifest.json"))
    assert {o["path"]: o["producer"] for o in manifest["outputs"]} == {
        "data/raw.csv": "load",
        "data/features.json": "features",
        "report.txt": "report",
    }

    broken = results["broken"]
    assert broken.returncode == 1
    assert broken.stderr.strip().splitlines()[-1] == (
        "mlpipe-runner: node 'broken' failed: broken.py exited with status 1 (no data today)"
    )
    log = get(f"{run}/broken/broken.log")
    assert "about to fail" in log and "node 'broken' failed" in log
    assert f"{run}/broken/manifest.json" not in keys


def test_s3_errors_are_one_clear_line(s3, tmp_path):
    base = [
        sys.executable,
        "-m",
        "mlpipe_lab.runner",
        "--store",
        "s3",
        "--endpoint",
        s3.endpoint,
        "--run-prefix",
        "d/runs/r",
        "--kind",
        "python",
        "--file",
        "a.py",
        "--task-id",
        "t",
    ]
    env = {**os.environ, "AWS_ACCESS_KEY_ID": KEY_ID, "AWS_SECRET_ACCESS_KEY": SECRET}
    proc = subprocess.run(
        base + ["--bucket", "no-such-bucket-here", "--bundle", "d/bundles/t.tar.gz"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("mlpipe-runner: node 't' failed: cannot fetch its bundle: ")
    assert "no-such-bucket-here" in last and SECRET not in proc.stderr + proc.stdout
