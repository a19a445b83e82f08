"""A fan-out in emulated pods: the DAG's mapped KubernetesPodOperator, unmapped per item as
Airflow does it and built by the provider (``build_pod_request_obj``, Airflow 3.3), runs as one
pod per item (runner from the init container, the node in a python3-only image); each item's
outputs reach the downstream pod under ``<task>/<index>/`` through the object store (moto)."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

pytest.importorskip("boto3")
pytest.importorskip("moto")

import boto3
from conftest import PY_IMAGE, RUNNER_IMAGE
from emulator import PodEmulator
from pipeline_builder import node, pipeline
from s3server import S3Server

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "airflow"))
import harness

from mlpipe_lab.compiler.export import export
from mlpipe_lab.pipeline import dumps

pytestmark = pytest.mark.pods

DAG_ID = "pods_fanout"
SECRET_NAME = "store-creds"
HOSTILE = "{{ 7*7 }} $(echo pwned) '\""
ITEMS = ["a", HOSTILE, {"k": 1}]
RUN_ID = "manual__fan"

PODS = """
import json, sys
sys.path.insert(0, sys.argv[2])
import inspect_dags
bag = inspect_dags._make_dagbag(sys.argv[1])
assert not bag.import_errors, bag.import_errors
dag = bag.dags[sys.argv[3]]
params, error = inspect_dags._render_params(dag, json.loads(sys.argv[4]))
assert error is None, error
ti = inspect_dags._XcomStandIn({})
context = {"params": params, "run_id": sys.argv[5], "dag": dag, "conf": None, "dag_run": None,
           "ti": ti, "task_instance": ti}
for task in dag.tasks:  # the items tasks' XComs first: the join's arguments read their length
    if task.task_id.endswith("__items"):
        ti.values[task.task_id] = task.python_callable(params=params, ti=ti)
out = {}
for task in dag.tasks:
    if task.task_id.endswith("__items"):
        continue
    if type(task).__name__ == "MappedOperator":
        args = ti.values[task.task_id + "__items"]
        ops = [task.unmap({"arguments": a}) for a in args]
    else:
        ops = [task]
    pods = []
    for op in ops:
        rendered, _, error = inspect_dags._render_task(op, context)
        assert error is None, error
        pod, error = inspect_dags._build_pod(rendered)
        assert error is None, error
        pods.append(pod)
    out[task.task_id] = pods
print(json.dumps(out))
"""


def test_fan_out_runs_one_pod_per_item(images, tmp_path):
    server = S3Server(max_seconds=600)
    server.start()
    try:
        key_id, secret = "AKIAPODS", f"pods-{uuid.uuid4().hex}"
        s3 = boto3.client(
            "s3",
            endpoint_url=server.endpoint,
            region_name="us-east-1",
            aws_access_key_id=key_id,
            aws_secret_access_key=secret,
        )
        bucket = f"fan-{uuid.uuid4().hex[:8]}"
        s3.create_bucket(Bucket=bucket)
        project = tmp_path / "project"
        project.mkdir()
        (project / "work.py").write_text(
            "import json, os\nitem = json.loads(os.environ['MLPIPE_ITEM'])\n"
            "os.makedirs('out', exist_ok=True)\n"
            "json.dump({'item': item, 'index': os.environ['MLPIPE_ITEM_INDEX']},"
            " open('out/r.json', 'w'))\n"
        )
        (project / "join.py").write_text(
            "import json, os\nrows = [json.load(open(f'work/{i}/out/r.json'))"
            " for i in sorted(os.listdir('work'), key=int)]\n"
            "open('all.json', 'w').write(json.dumps(rows))\n"
        )
        doc = pipeline(
            DAG_ID,
            [
                node(
                    "w",
                    "work.py",
                    label="work",
                    image=PY_IMAGE,
                    outputs=["out/r.json"],
                    mlpipe={
                        "for_each": {
                            "value_from": {"from": "parameter", "parameter": "shards"},
                            "max_parallel": 2,
                        }
                    },
                ),
                node(
                    "j",
                    "join.py",
                    parents=["w"],
                    label="join",
                    image=PY_IMAGE,
                    outputs=["all.json"],
                ),
            ],
            mlpipe={"parameters": [{"name": "shards", "type": "list", "default": ["x"]}]},
        )
        path = project / f"{DAG_ID}.pipeline"
        path.write_text(dumps(doc))
        config = {
            "name": "pods",
            "type": "airflow",
            "object_storage": {
                "endpoint": server.endpoint,
                "bucket": bucket,
                "region": "us-east-1",
                "prefix": "mlpipe",
                "pod_credentials_secret": SECRET_NAME,
            },
            "kubernetes": {"namespace": "ml", "runner_image": RUNNER_IMAGE},
        }
        dags = tmp_path / "dags"
        exported = export(path, config=config, images=[], output=dags / f"{DAG_ID}.py")
        for ref in exported.bundles.values():
            s3.upload_file(str(ref.path), bucket, f"mlpipe/{ref.key}")
        venv = harness.require_airflow("3.3")
        proc = subprocess.run(
            [
                str(venv / "bin" / "python"),
                "-c",
                PODS,
                str(dags),
                str(Path(__file__).resolve().parent.parent / "airflow"),
                DAG_ID,
                json.dumps({"shards": ITEMS}),
                RUN_ID,
            ],
            capture_output=True,
            text=True,
            timeout=300,
            env={**harness._child_env(), "AIRFLOW_HOME": str(tmp_path / "home")},
        )
        assert proc.returncode == 0, proc.stderr[-4000:]
        pods = json.loads(proc.stdout.strip().splitlines()[-1])
        assert len(pods["work"]) == 3 and len(pods["join"]) == 1
        (join,) = [c for c in pods["join"][0]["spec"]["containers"] if c["name"] == "base"]
        argv = join["command"] + join["args"]
        assert argv[argv.index("--upstream-items") + 1] == "work=3"  # the items task's XCom
        emulator = PodEmulator(
            images,
            tmp_path,
            secrets={SECRET_NAME: {"AWS_ACCESS_KEY_ID": key_id, "AWS_SECRET_ACCESS_KEY": secret}},
            timeout=300,
        )
        for index, pod in enumerate(pods["work"]):
            result = emulator.run(pod)
            assert result.phase == "Succeeded", result.describe()
            assert f"item {index} of 3" in result.main.log
        result = emulator.run(pods["join"][0])
        assert result.phase == "Succeeded", result.describe()
        run = f"mlpipe/{DAG_ID}/runs/{RUN_ID}"
        rows = json.loads(
            s3.get_object(Bucket=bucket, Key=f"{run}/join/outputs/all.json")["Body"].read()
        )
        assert rows == [{"item": item, "index": str(i)} for i, item in enumerate(ITEMS)]
    finally:
        server.stop()
