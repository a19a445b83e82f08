"""A local-worker pipeline run by a real Airflow 3.3 (`airflow dags test`): published to a bare git
repo (DAG, and the runner zipapp beside it) and to an S3 server (moto on 127.0.0.1, bundles), read
by Airflow from a clone of the repo at the pushed commit, run with a run conf. One node fails on
its first try and succeeds on retry. The worker's interpreter for the tasks has ipykernel and
nothing of ours (no mlpipe_lab, boto3 or nbclient): the runner comes with the DAG."""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from pathlib import Path

import pytest

pytest.importorskip("boto3")
pytest.importorskip("moto")

import boto3
from fixture_paths import load_airflow_harness
from kernel_venv import kernel_python
from pipeline_builder import node, pipeline
from test_runner import notebook

from mlpipe_lab.compiler.export import export
from mlpipe_lab.pipeline import dumps
from mlpipe_lab.publish import publish
from mlpipe_lab.runner.contract import WORKER_ZIPAPP
from mlpipe_lab.runner.zipapp import archive_bytes

harness = load_airflow_harness()

try:
    from gitserver import git
    from s3server import S3Server
except ImportError:  # pragma: no cover
    from tests.gitserver import git
    from tests.s3server import S3Server

pytestmark = pytest.mark.airflow

KEY_ID, SECRET = "AKIAE2ETEST", f"e2e-secret-{uuid.uuid4().hex}"
DAG_ID = "e2e_local_worker"
RUN_TIMEOUT = 420.0


def write_project(folder: Path, flaky_dir: Path) -> Path:
    (folder / "prepare.py").write_text(
        "import os\nos.makedirs('data', exist_ok=True)\n"
        "open('data/raw.csv', 'w').write('x\\n1\\n2\\n3\\n')\nprint('prepared, scale env =', os.environ['scale'])\n"
    )
    (folder / "train.ipynb").write_text(
        notebook(
            ("parameters", "scale = 1.0"),
            "import json\nrows = [float(v) for v in open('data/raw.csv').read().split()[1:]]\n"
            "json.dump({'weights': [r * scale for r in rows], 'type': type(scale).__name__},"
            " open('data/model.json', 'w'))\nprint('trained with scale', scale)",
        )
    )
    (folder / "flaky_report.py").write_text(
        "import json, os, sys\nmarker = os.path.join(os.environ['FLAKY_DIR'], 'tried-once')\n"
        "if not os.path.exists(marker):\n    open(marker, 'w').write('1')\n"
        "    sys.exit('first attempt fails on purpose')\n"
        "model = json.load(open('data/model.json'))\n"
        "open('report.txt', 'w').write(json.dumps({'model': model, 'env_scale': os.environ['scale']}))\n"
    )
    doc = pipeline(
        "e2e local worker",
        [
            node(
                "prepare",
                "prepare.py",
                outputs=["data/raw.csv"],
                pipeline_parameters=["scale"],
            ),
            node(
                "train",
                "train.ipynb",
                parents=["prepare"],
                outputs=["data/model.json"],
                pipeline_parameters=["scale"],
            ),
            node(
                "report",
                "flaky_report.py",
                label="report",
                parents=["train"],
                outputs=["report.txt"],
                pipeline_parameters=["scale"],
                env_vars=[{"env_var": "FLAKY_DIR", "value": str(flaky_dir)}],
                mlpipe={"retries": 1, "retry_delay_seconds": 0},
            ),
        ],
        mlpipe={
            "dag_id": DAG_ID,
            "parameters": [{"name": "scale", "type": "number", "default": 1.0}],
        },
    )
    path = folder / "e2e.pipeline"
    path.write_text(dumps(doc))
    return path


@pytest.fixture(scope="module")
def s3():
    server = S3Server(max_seconds=600)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_dags_test_runs_published_local_worker_dag(s3, tmp_path):
    venv = harness.require_airflow("3.3")
    bucket = f"e2e-{uuid.uuid4().hex[:10]}"
    s3c = boto3.session.Session().client(
        "s3",
        endpoint_url=s3.endpoint,
        region_name="us-east-1",
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=SECRET,
    )
    s3c.create_bucket(Bucket=bucket)
    bare = tmp_path / "dags.git"
    git("init", "-q", "--bare", "-b", "main", str(bare))
    config = {
        "name": "e2e",
        "type": "airflow",
        "dag_repo": {"url": str(bare), "branch": "main", "subfolder": "dags"},
        "object_storage": {
            "endpoint": s3.endpoint,
            "bucket": bucket,
            "region": "us-east-1",
            "prefix": "mlpipe",
            "auth": {"type": "credentials", "access_key_id": KEY_ID, "secret_access_key": SECRET},
        },
        "airflow": {"execution_mode": "local-worker"},
    }
    (tmp_path / "project").mkdir()
    (tmp_path / "flaky").mkdir()
    path = write_project(tmp_path / "project", tmp_path / "flaky")
    exported = export(path, config=config, images=[], output=tmp_path / "out" / f"{DAG_ID}.py")
    text = exported.dag_path.read_text()
    assert "BashOperator(" in text and SECRET not in text
    # export writes the runner beside the DAG, as the worker will find it
    assert exported.worker_files == {WORKER_ZIPAPP: archive_bytes()}
    assert (tmp_path / "out" / WORKER_ZIPAPP).read_bytes() == archive_bytes()
    result = publish(
        dag_id=DAG_ID,
        dag_text=text,
        source_path=path.name,
        bundles=[ref.to_json() for ref in exported.bundles.values()],
        config=config,
        cache_dir=tmp_path / "git-cache",
        generator="test",
        files=exported.worker_files,
    )
    sha = git("rev-parse", "main", cwd=bare).strip()
    assert result.commit == sha and result.changed
    bundle_keys = {
        o["Key"]
        for o in s3c.list_objects_v2(Bucket=bucket, Prefix=f"mlpipe/{DAG_ID}/bundles/")["Contents"]
    }
    assert {f"mlpipe/{ref.key}" for ref in exported.bundles.values()} == bundle_keys

    # Airflow reads the DAG from a clone of the repo at the pushed commit
    clone = tmp_path / "clone"
    git("clone", "-q", str(bare), str(clone))
    git("checkout", "-q", sha, cwd=clone)
    assert (clone / "dags" / f"{DAG_ID}.py").read_text() == text
    assert (clone / "dags" / WORKER_ZIPAPP).read_bytes() == archive_bytes()
    ignore = (clone / "dags" / ".airflowignore").read_text().splitlines()
    assert "mlpipe_runner/" in ignore
    worker_python = kernel_python()
    no_ours = subprocess.run(
        [str(worker_python), "-c", "import mlpipe_lab"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert "No module named 'mlpipe_lab'" in no_ours.stderr

    home = tmp_path / "airflow-home"
    env = {
        "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": str(tmp_path),
        "TMPDIR": str(tmp_path),
        "LANG": "C.UTF-8",
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(clone / "dags"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
        # the worker's environment, passed on to the tasks (append_env=True)
        "MLPIPE_RUNNER_PYTHON": str(worker_python),  # ipykernel only: nothing of ours
        "AWS_ACCESS_KEY_ID": KEY_ID,
        "AWS_SECRET_ACCESS_KEY": SECRET,
        "MLPIPE_RUNNER_HTML": "0",
    }
    airflow = str(venv / "bin" / "airflow")
    t0 = time.monotonic()
    subprocess.run(
        [airflow, "db", "migrate"], env=env, check=True, capture_output=True, timeout=300
    )
    t1 = time.monotonic()
    proc = subprocess.run(
        [airflow, "dags", "test", DAG_ID, "-c", json.dumps({"scale": 3.0})],
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
    )
    t2 = time.monotonic()
    print(f"db migrate {t1 - t0:.1f} s, dags test {t2 - t1:.1f} s")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]

    states = ti_states(venv, env)
    assert states["prepare"][0] == "success" and states["train"][0] == "success", (
        states,
        out[-4000:],
    )
    assert states["report"] == ("success", 2), (states, out[-4000:])
    assert states["_state"].endswith("success"), states
    run_id = states["_run_id"]

    run = f"mlpipe/{DAG_ID}/runs/{run_id}"
    keys = {o["Key"] for o in s3c.list_objects_v2(Bucket=bucket, Prefix=run)["Contents"]}
    assert {
        f"{run}/prepare/outputs/data/raw.csv",
        f"{run}/train/outputs/data/model.json",
        f"{run}/train/train.ipynb",
        f"{run}/report/outputs/report.txt",
        f"{run}/report/manifest.json",
    } <= keys, sorted(keys)
    report = json.loads(
        s3c.get_object(Bucket=bucket, Key=f"{run}/report/outputs/report.txt")["Body"].read()
    )
    assert report == {"model": {"weights": [3.0, 6.0, 9.0], "type": "float"}, "env_scale": "3.0"}
    executed = s3c.get_object(Bucket=bucket, Key=f"{run}/train/train.ipynb")["Body"].read().decode()
    assert "trained with scale 3.0" in executed


TI_QUERY = """
import json, sys
from airflow.utils.session import create_session
from airflow.models.taskinstance import TaskInstance
from airflow.models.dagrun import DagRun
with create_session() as s:
    runs = s.query(DagRun).filter(DagRun.dag_id == sys.argv[1]).all()
    assert len(runs) == 1, runs
    out = {"_run_id": runs[0].run_id, "_state": str(runs[0].state)}
    for ti in s.query(TaskInstance).filter(TaskInstance.dag_id == sys.argv[1]):
        out[ti.task_id] = [str(ti.state.value if hasattr(ti.state, "value") else ti.state), ti.try_number]
print(json.dumps(out))
"""


def ti_states(venv: Path, env: dict) -> dict:
    proc = subprocess.run(
        [str(venv / "bin" / "python"), "-c", TI_QUERY, DAG_ID],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = json.loads(proc.stdout.strip().splitlines()[-1])
    return {k: (tuple(v) if isinstance(v, list) else v) for k, v in data.items()}
