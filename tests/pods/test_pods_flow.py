"""Control flow over a node's result in emulated pods (issue #15). The DAG is compiled for pods,
its pods built by the provider's ``build_pod_request_obj`` (Airflow 3.3): a script node in a
python3-only image writes ``mlpipe-result.json``, the runner puts it in /airflow/xcom/return.json
and the emulated XCom sidecar hands it back as the provider would (emulator.py). That value then
drives the DAG's own branch callable and fan-out items callable (run in Airflow's venv with a
``ti`` whose ``xcom_pull`` answers with it), and the pods those choose run; a result that is not
JSON fails its pod in one line."""

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
from conftest import BARE_IMAGE, PY_IMAGE, RUNNER_IMAGE
from emulator import XCOM_MOUNT_PATH, XCOM_SIDECAR, PodEmulator
from pipeline_builder import branch as branch_node
from pipeline_builder import node, pipeline
from s3server import S3Server

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "airflow"))
import harness

from mlpipe_lab.compiler.export import export
from mlpipe_lab.pipeline import dumps

pytestmark = pytest.mark.pods

DAG_ID = "pods_flow"
SECRET_NAME = "store-creds"
RUN_ID = "manual__flow"
HOSTILE = "{{ 7*7 }} $(echo pwned) '\""
RESULT = {"metrics": {"accuracy": 0.93}, "shards": ["a", HOSTILE, {"k": 1}]}

# In Airflow's venv: the pods of the plain tasks; with the XComs given ({task: value}), also what
# the branch callables return and the pods of each mapped task's instances (unmapped per item
# from its __items task's callable, as test_pods_fanout.py does for a parameter).
PODS = """
import json, sys
sys.path.insert(0, sys.argv[2])
import inspect_dags
bag = inspect_dags._make_dagbag(sys.argv[1])
assert not bag.import_errors, bag.import_errors
dag = bag.dags[sys.argv[3]]
params, error = inspect_dags._render_params(dag, {})
assert error is None, error
xcoms = json.loads(sys.argv[5])
ti = inspect_dags._XcomStandIn(xcoms)
context = {"params": params, "run_id": sys.argv[4], "dag": dag, "conf": None, "dag_run": None,
           "ti": ti, "task_instance": ti}
out = {"pods": {}, "branches": {}, "types": {}}
for task in dag.tasks:
    out["types"][task.task_id] = type(task).__name__
    if task.task_id.endswith("__items"):
        continue
    if type(task).__name__ == "BranchPythonOperator":
        if all(t in xcoms for t in task.upstream_task_ids):
            out["branches"][task.task_id] = task.python_callable(**context)
        continue
    if type(task).__name__ == "MappedOperator":
        items = dag.get_task(task.task_id + "__items")
        if not all(t in xcoms for t in items.upstream_task_ids):
            continue
        args = items.python_callable(**context)
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
    out["pods"][task.task_id] = pods
print(json.dumps(out))
"""


def write_project(project: Path) -> Path:
    project.mkdir()
    (project / "score.py").write_text(
        "import json\nopen('model.txt', 'w').write('m1')\n"
        f"json.dump({RESULT!r}, open('mlpipe-result.json', 'w'))\nprint('scored')\n"
    )
    for name in ("deploy", "retrain"):
        (project / f"{name}.py").write_text(
            f"model = open('model.txt').read()\nopen('{name}.txt', 'w').write(model)\n"
            f"print('{name} ran with', model)\n"
        )
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
    (project / "bad.py").write_text("open('mlpipe-result.json', 'w').write('{accuracy: high}')\n")
    (project / "never.py").write_text("print('never runs')\n")
    result = {"from": "result", "node": "score"}
    doc = pipeline(
        "pods flow",
        [
            node("score", "score.py", label="score", image=PY_IMAGE, outputs=["model.txt"]),
            branch_node(
                "gate",
                ["score"],
                "gate",
                value_from={**result, "key": "metrics.accuracy"},
                rules=[{"op": ">=", "value": 0.9, "run": ["deploy"]}],
                otherwise=["retrain"],
            ),
            node(
                "deploy",
                "deploy.py",
                parents=["gate"],
                label="deploy",
                image=PY_IMAGE,
                outputs=["deploy.txt"],
            ),
            node(
                "retrain",
                "retrain.py",
                parents=["gate"],
                label="retrain",
                image=PY_IMAGE,
                outputs=["retrain.txt"],
            ),
            node(
                "work",
                "work.py",
                parents=["score"],
                label="work",
                image=PY_IMAGE,
                outputs=["out/r.json"],
                mlpipe={"for_each": {"value_from": {**result, "key": "shards"}}},
            ),
            node(
                "join",
                "join.py",
                parents=["work"],
                label="join",
                image=PY_IMAGE,
                outputs=["all.json"],
            ),
            node("bad", "bad.py", label="bad", image=PY_IMAGE),
            branch_node(
                "badgate",
                ["bad"],
                "badgate",
                value_from={"from": "result", "node": "bad"},
                rules=[{"op": "is true", "run": ["never"]}],
                otherwise=[],
            ),
            node("never", "never.py", parents=["badgate"], label="never", image=PY_IMAGE),
        ],
        mlpipe={"dag_id": DAG_ID},
    )
    path = project / f"{DAG_ID}.pipeline"
    path.write_text(dumps(doc))
    return path


def build_pods(dags: Path, tmp_path: Path, xcoms: dict) -> dict:
    venv = harness.require_airflow("3.3")
    proc = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            PODS,
            str(dags),
            str(Path(__file__).resolve().parent.parent / "airflow"),
            DAG_ID,
            RUN_ID,
            json.dumps(xcoms),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**harness._child_env(), "AIRFLOW_HOME": str(tmp_path / "home")},
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def check_xcom_sidecar(pod: dict) -> str:
    """What do_xcom_push made of the pod: the xcom emptyDir, mounted at /airflow/xcom in the main
    container and in the sidecar; returns the sidecar's image."""
    spec = pod["spec"]
    assert {"name": "xcom", "emptyDir": {}} in spec["volumes"]
    main, sidecar = spec["containers"]
    assert {"name": "xcom", "mountPath": XCOM_MOUNT_PATH} in main["volumeMounts"]
    assert sidecar["name"] == XCOM_SIDECAR
    assert sidecar["volumeMounts"] == [{"name": "xcom", "mountPath": XCOM_MOUNT_PATH}]
    # the runner writes the result where the sidecar reads it
    assert f"{XCOM_MOUNT_PATH}/return.json" in main["command"] + main.get("args", [])
    return sidecar["image"]


def test_result_drives_branch_and_fan_out_in_pods(images, tmp_path):
    server = S3Server(max_seconds=900)
    server.start()
    try:
        key_id, secret = "AKIAFLOW", f"flow-{uuid.uuid4().hex}"
        s3 = boto3.client(
            "s3",
            endpoint_url=server.endpoint,
            region_name="us-east-1",
            aws_access_key_id=key_id,
            aws_secret_access_key=secret,
        )
        bucket = f"flow-{uuid.uuid4().hex[:8]}"
        s3.create_bucket(Bucket=bucket)
        path = write_project(tmp_path / "project")
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
        source = (dags / f"{DAG_ID}.py").read_text()
        assert "def mlpipe_branch(" in source and "def mlpipe_items(" in source

        first = build_pods(dags, tmp_path, {})
        assert first["types"]["gate"] == "BranchPythonOperator"
        assert first["types"]["work"] == "MappedOperator"
        (score_pod,) = first["pods"]["score"]
        (bad_pod,) = first["pods"]["bad"]
        sidecar_image = check_xcom_sidecar(score_pod)
        assert check_xcom_sidecar(bad_pod) == sidecar_image
        # a task whose result nobody reads has no sidecar
        assert len(first["pods"]["deploy"][0]["spec"]["containers"]) == 1
        emulator = PodEmulator(
            # debian-slim stands in for the sidecar's alpine: both have /bin/sh and cat
            {**images, sidecar_image: images[BARE_IMAGE]},
            tmp_path,
            secrets={SECRET_NAME: {"AWS_ACCESS_KEY_ID": key_id, "AWS_SECRET_ACCESS_KEY": secret}},
            timeout=300,
        )

        # 1. the result, through the XCom sidecar, is the JSON the script wrote
        scored = emulator.run(score_pod)
        assert scored.phase == "Succeeded", scored.describe()
        assert scored.container(XCOM_SIDECAR).exit_code == 0
        assert scored.xcom == RESULT and not scored.xcom_error, scored.xcom_text

        # 4. a result that is not JSON fails its pod in one line; the sidecar finds nothing
        bad = emulator.run(bad_pod)
        assert bad.phase == "Failed", bad.describe()
        last = bad.main.log.strip().splitlines()[-1]
        assert last.startswith(
            "mlpipe-runner: node 'bad' failed: its mlpipe-result.json is not JSON ("
        ), bad.describe()
        assert "Traceback" not in bad.main.log
        assert bad.xcom is None and not bad.xcom_error

        # 2. and 3. what the DAG's own callables make of that XCom
        second = build_pods(dags, tmp_path, {"score": scored.xcom})
        assert second["branches"] == {"gate": ["deploy"]}
        low = {**RESULT, "metrics": {"accuracy": 0.5}}
        assert build_pods(dags, tmp_path, {"score": low})["branches"] == {"gate": ["retrain"]}
        chosen = set(second["branches"]["gate"])
        for task in ("deploy", "retrain"):
            if task in chosen:
                result = emulator.run(second["pods"][task][0])
                assert result.phase == "Succeeded", result.describe()
                assert f"{task} ran with m1" in result.main.log
        run = f"mlpipe/{DAG_ID}/runs/{RUN_ID}"
        body = s3.get_object(Bucket=bucket, Key=f"{run}/deploy/outputs/deploy.txt")["Body"]
        assert body.read() == b"m1"
        listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"{run}/retrain/")
        assert listed.get("KeyCount") == 0

        work = second["pods"]["work"]
        assert len(work) == len(RESULT["shards"])
        for index, pod in enumerate(work):
            result = emulator.run(pod)
            assert result.phase == "Succeeded", result.describe()
            assert f"item {index} of {len(work)}" in result.main.log
        (join_pod,) = second["pods"]["join"]
        result = emulator.run(join_pod)
        assert result.phase == "Succeeded", result.describe()
        rows = json.loads(
            s3.get_object(Bucket=bucket, Key=f"{run}/join/outputs/all.json")["Body"].read()
        )
        assert rows == [{"item": item, "index": str(i)} for i, item in enumerate(RESULT["shards"])]
    finally:
        server.stop()
