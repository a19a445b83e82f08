"""Fan-out on real Airflow 3.3 and 2.10 (docs/control-flow.md): dynamic task mapping over the
``<task>__items`` PythonOperator.

- Local-worker mode runs for real (``airflow dags test``): the list comes from the run conf (a
  parameter of type list) with a hostile item, three mapped instances of the node run the runner
  zipapp beside the DAG against an S3 server (moto), each item's outputs land under
  ``<task>/<index>/`` and the downstream node reads all of them; the DAG's mapped task carries
  ``max_active_tis_per_dagrun``.
- Pods: the provider's KubernetesPodOperator, unmapped per item as Airflow does it, renders and
  builds (``build_pod_request_obj``) a pod per item whose arguments are that item's.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys

import compile_corpus as cc
import pytest
from fixture_paths import TESTS, load_airflow_harness
from pipeline_builder import node, pipeline
from worker_export import export_to_bucket

from mlpipe_lab.compiler.compile import compile_pipeline
from mlpipe_lab.pipeline import Pipeline, dumps

harness = load_airflow_harness()
pytestmark = pytest.mark.airflow

DAG_ID = "fanout_for_real"
HOSTILE = "{{ 7*7 }} $(echo pwned) '\"; {% raw %} ${HOME}"
ITEMS = ["a", HOSTILE, {"k": [1, 2]}]
PARAMS = {"parameters": [{"name": "shards", "type": "list", "default": ["x"]}]}
FOR_EACH = {
    "for_each": {
        "value_from": {"from": "parameter", "parameter": "shards"},
        "max_parallel": 2,
        "item_parameter": "shard",
    }
}
PREP = (
    "import json, os\nos.makedirs('data', exist_ok=True)\nopen('data/base.txt', 'w').write('base')\n"
    "json.dump({'files': ['r1', '{{ ds }} $(id)']}, open('mlpipe-result.json', 'w'))\n"
)
WORK = (
    "import json, os\n"
    "item = json.loads(os.environ['MLPIPE_ITEM'])\n"
    "os.makedirs('out', exist_ok=True)\n"
    "json.dump({'item': item, 'index': int(os.environ['MLPIPE_ITEM_INDEX']),"
    " 'shard': os.environ['shard'], 'base': open('data/base.txt').read()},"
    " open('out/result.json', 'w'))\n"
)
JOIN = (
    "import json, os\n"
    "rows = [json.load(open(f'work/{i}/out/result.json'))"
    " for i in sorted(os.listdir('work'), key=int)]\n"
    "open('summary.json', 'w').write(json.dumps(rows))\n"
)


def _nodes(result_source: bool = False) -> list[dict]:
    nodes = [
        node("p", "prep.py", label="prep", outputs=["data/base.txt"]),
        node(
            "w",
            "work.py",
            parents=["p"],
            label="work",
            outputs=["out/result.json"],
            mlpipe=FOR_EACH,
        ),
        node("j", "join.py", parents=["w"], label="join", outputs=["summary.json"]),
    ]
    if result_source:  # a second fan-out over a key of prep's result (mlpipe-result.json)
        by_result = {
            "for_each": {
                **FOR_EACH["for_each"],
                "value_from": {"from": "result", "node": "p", "key": "files"},
            }
        }
        nodes.append(
            node(
                "r",
                "work.py",
                parents=["p"],
                label="by_result",
                outputs=["out/result.json"],
                mlpipe=by_result,
            )
        )
    return nodes


# -- local-worker: airflow dags test -----------------------------------------------------------

TI_QUERY = """
import json, sys
from airflow.utils.session import create_session
from airflow.models.taskinstance import TaskInstance
with create_session() as s:
    out = [[ti.task_id, ti.map_index, str(ti.state.value if hasattr(ti.state, "value") else ti.state)]
           for ti in s.query(TaskInstance).filter(TaskInstance.dag_id == sys.argv[1])]
    from airflow.models.dagrun import DagRun
    runs = s.query(DagRun).filter(DagRun.dag_id == sys.argv[1]).all()
print(json.dumps({"tis": sorted(out), "run_id": runs[0].run_id}))
"""

DAG_QUERY = """
import json, sys
sys.path.insert(0, sys.argv[2])
import inspect_dags
bag = inspect_dags._make_dagbag(sys.argv[1])
dag = bag.dags[sys.argv[3]]
work = dag.get_task("work")
print(json.dumps({
    "errors": {k: str(v)[-2000:] for k, v in bag.import_errors.items()},
    "type": type(work).__name__,
    "limit": work.max_active_tis_per_dagrun,
    "serialization_error": inspect_dags._serialization_error(dag),
}))
"""


@pytest.fixture(scope="module")
def s3():
    pytest.importorskip("moto")
    try:
        from s3server import S3Server
    except ImportError:  # pragma: no cover
        from tests.s3server import S3Server
    server = S3Server(max_seconds=900)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize("version", ["3.3", "2.10"])
def test_local_worker_fan_out_runs_in_airflow_dags_test(version, s3, tmp_path):
    pytest.importorskip("boto3")
    venv = harness.require_airflow(version)
    project = tmp_path / "project"
    project.mkdir()
    for name, text in {"prep.py": PREP, "work.py": WORK, "join.py": JOIN}.items():
        (project / name).write_text(text)
    path = project / f"{DAG_ID}.pipeline"
    path.write_text(dumps(pipeline(DAG_ID, _nodes(result_source=True), mlpipe=PARAMS)))
    dags = tmp_path / "dags"
    exported, s3c, bucket = export_to_bucket(
        s3, path, dags, DAG_ID, key_id="AKIAFAN", secret="fan-secret"
    )
    text = exported.dag_path.read_text()
    assert "MlpipeItemBashOperator.partial(" in text and "max_active_tis_per_dagrun=2" in text
    assert ".expand(item_args=work__items.output)" in text
    (dags / ".airflowignore").write_text("mlpipe_runner/\n")

    info = json.loads(
        subprocess.run(
            [
                str(venv / "bin" / "python"),
                "-c",
                DAG_QUERY,
                str(dags),
                str(TESTS / "airflow"),
                DAG_ID,
            ],
            capture_output=True,
            text=True,
            timeout=300,
            env={**harness._child_env(), "AIRFLOW_HOME": str(tmp_path / "h0")},
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    assert info["errors"] == {} and info["serialization_error"] is None, info
    assert info["type"] == "MappedOperator" and info["limit"] == 2, info

    tested = harness.dags_test(
        venv,
        dags,
        DAG_ID,
        tmp_path,
        env={
            "MLPIPE_RUNNER_PYTHON": sys.executable,
            "AWS_ACCESS_KEY_ID": "AKIAFAN",
            "AWS_SECRET_ACCESS_KEY": "fan-secret",
        },
        conf={"shards": ITEMS},
    )
    out, env = tested.out, tested.env
    # the join's command as BashOperator ran it: the count the items task's XCom rendered
    assert re.search(r"--upstream-items \\?'work=3\\?'", out), out[-6000:]
    query = subprocess.run(
        [str(venv / "bin" / "python"), "-c", TI_QUERY, DAG_ID],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert query.returncode == 0, query.stderr[-3000:]
    data = json.loads(query.stdout.strip().splitlines()[-1])
    assert data["tis"] == [
        ["by_result", 0, "success"],
        ["by_result", 1, "success"],
        ["by_result__items", -1, "success"],
        ["join", -1, "success"],
        ["prep", -1, "success"],
        ["work", 0, "success"],
        ["work", 1, "success"],
        ["work", 2, "success"],
        ["work__items", -1, "success"],
    ], out[-6000:]
    run = f"mlpipe/{DAG_ID}/runs/{data['run_id']}"

    def get(key: str) -> bytes:
        return s3c.get_object(Bucket=bucket, Key=f"{run}/{key}")["Body"].read()

    for i, item in enumerate(ITEMS):
        row = json.loads(get(f"work/{i}/outputs/out/result.json"))
        assert row["item"] == item and row["index"] == i and row["base"] == "base"
        assert json.loads(get(f"work/{i}/manifest.json"))["item"] == {"index": i, "count": 3}
    summary = json.loads(get("join/outputs/summary.json"))
    assert [r["item"] for r in summary] == ITEMS  # the hostile item stayed data end to end
    assert summary[1]["shard"] == HOSTILE
    # the list from prep's result (its BashOperator's last output line, parsed)
    got = [json.loads(get(f"by_result/{i}/outputs/out/result.json"))["item"] for i in (0, 1)]
    assert got == ["r1", "{{ ds }} $(id)"]


# -- pods: the provider renders and builds a pod per item --------------------------------------

POD_SCRIPT = """
import json, sys
sys.path.insert(0, sys.argv[2])
import inspect_dags
bag = inspect_dags._make_dagbag(sys.argv[1])
dag = bag.dags[sys.argv[3]]
conf = json.loads(sys.argv[4])
params, error = inspect_dags._render_params(dag, conf)
assert error is None, error
items_task = dag.get_task("work__items")
stand_in = inspect_dags._XcomStandIn({})
args = items_task.python_callable(params=params, ti=stand_in)
work = dag.get_task("work")
pods = []
for index, item_args in enumerate(args):
    op = work.unmap({"arguments": item_args})
    context = {"params": params, "run_id": "manual__fan", "dag": dag, "conf": None,
               "dag_run": None, "ti": stand_in, "task_instance": stand_in}
    rendered, fields, error = inspect_dags._render_task(op, context)
    assert error is None, error
    pod, error = inspect_dags._build_pod(rendered)
    assert error is None, error
    pods.append(pod)
print(json.dumps({"errors": {k: str(v)[-2000:] for k, v in bag.import_errors.items()},
                  "type": type(work).__name__, "limit": work.max_active_tis_per_dagrun,
                  "serialization_error": inspect_dags._serialization_error(dag),
                  "args": args, "pods": pods}))
"""


@pytest.mark.parametrize("version", ["3.3", "2.10"])
def test_mapped_pod_task_builds_a_pod_per_item(version, tmp_path):
    venv = harness.require_airflow(version)
    doc = pipeline(DAG_ID, _nodes(), mlpipe=PARAMS)
    compiled = compile_pipeline(
        Pipeline(doc, "fan.pipeline"),
        images=cc.IMAGES,
        config=cc.CONFIG,
        source_path="fan.pipeline",
    )
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / f"{DAG_ID}.py").write_text(compiled.text)
    assert "KubernetesPodOperator.partial(" in compiled.text
    proc = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            POD_SCRIPT,
            str(dags),
            str(TESTS / "airflow"),
            DAG_ID,
            json.dumps({"shards": ITEMS}),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**harness._child_env(), "AIRFLOW_HOME": str(tmp_path / "home")},
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    info = json.loads(proc.stdout.strip().splitlines()[-1])
    assert info["errors"] == {} and info["serialization_error"] is None, info
    assert info["type"] == "MappedOperator" and info["limit"] == 2
    assert len(info["pods"]) == 3
    for index, (item, pod) in enumerate(zip(ITEMS, info["pods"])):
        container = next(c for c in pod["spec"]["containers"] if c["name"] == "base")
        args = container["args"]
        assert args[:4] == ["--item-index", str(index), "--item-count", "3"]
        assert json.loads(base64.b64decode(args[5])) == item
        command = container["command"]
        assert command[command.index("--run-prefix") + 1] == f"{DAG_ID}/runs/manual__fan"
        assert command[command.index("--item-parameter") + 1] == "shard"
        assert command[command.index("--task-id") + 1] == "work"
        assert pod["metadata"]["labels"]["mlpipe-lab/task"] == "work"
