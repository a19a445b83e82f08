"""Fan-out edge cases on real Airflow (``airflow dags test``, local-worker mode, moto S3):
an empty list, a value that is not a list, more than 1,000 items (docs/control-flow.md)."""

from __future__ import annotations

import json
import sys

import pytest
from fixture_paths import load_airflow_harness
from pipeline_builder import node, pipeline
from worker_export import export_to_bucket

from mlpipe_lab.pipeline import dumps

harness = load_airflow_harness()
pytestmark = pytest.mark.airflow

DAG_ID = "fanout_edges"
WORK = "import os\nos.makedirs('out', exist_ok=True)\nopen('out/x.txt', 'w').write(os.environ['MLPIPE_ITEM'])\n"
AFTER = "print('after ran')\n"
RESULT = (  # the producer's result: {"files": $RESULT_FILES}
    "import json, os\n"
    "json.dump({'files': json.loads(os.environ.get('RESULT_FILES', '{\"a\": 1}'))},"
    " open('mlpipe-result.json', 'w'))\n"
)


def _fan(source: dict) -> dict:
    return {"for_each": {"value_from": source, "max_parallel": 2}}


def _nodes() -> list[dict]:
    return [
        node("r", "result.py", label="producer"),
        node(
            "w",
            "work.py",
            label="work",
            outputs=["out/x.txt"],
            mlpipe=_fan({"from": "parameter", "parameter": "shards"}),
        ),
        # all_success after an empty fan-out: skipped; all_done: runs
        node("j", "after.py", parents=["w"], label="join"),
        node("k", "after.py", parents=["w"], label="always", mlpipe={"trigger_rule": "all_done"}),
        node(
            "v",
            "work.py",
            parents=["r"],
            label="by_result",
            outputs=["out/x.txt"],
            mlpipe=_fan({"from": "result", "node": "r", "key": "files"}),
        ),
    ]


@pytest.fixture(scope="module")
def s3():
    pytest.importorskip("moto")
    from s3server import S3Server

    server = S3Server(max_seconds=900)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _export(s3, tmp_path):
    pytest.importorskip("boto3")
    project = tmp_path / "project"
    project.mkdir()
    for name, text in {"work.py": WORK, "after.py": AFTER, "result.py": RESULT}.items():
        (project / name).write_text(text)
    path = project / f"{DAG_ID}.pipeline"
    params = {"parameters": [{"name": "shards", "type": "list", "default": ["x"]}]}
    path.write_text(dumps(pipeline(DAG_ID, _nodes(), mlpipe=params)))
    dags = tmp_path / "dags"
    export_to_bucket(s3, path, dags, DAG_ID, key_id="AKIAEDGE", secret="edge-secret")
    (dags / ".airflowignore").write_text("mlpipe_runner/\n")
    return dags


def _run(version, s3, tmp_path, conf, result_files="[]"):
    venv = harness.require_airflow(version)
    dags = _export(s3, tmp_path)
    env = {
        "MLPIPE_RUNNER_PYTHON": sys.executable,
        "AWS_ACCESS_KEY_ID": "AKIAEDGE",
        "AWS_SECRET_ACCESS_KEY": "edge-secret",
        "RESULT_FILES": result_files,
    }
    return harness.dags_test(venv, dags, DAG_ID, tmp_path, env=env, conf=conf)


@pytest.mark.parametrize("version", ["3.3", "2.10"])
def test_empty_list_skips_the_node_and_downstream_follows_its_trigger_rule(version, s3, tmp_path):
    res = _run(version, s3, tmp_path, {"shards": []}, result_files="[]")
    assert res.states == {
        "producer": "success",
        "work__items": "success",
        "work": "skipped",  # one unmapped instance, skipped: "the map has 0 values to expand"
        "join": "skipped",  # all_success
        "always": "success",  # all_done: runs, and receives no item
        "by_result__items": "success",  # an empty list from a result: the same
        "by_result": "skipped",
    }, res.out[-6000:]
    assert res.returncode == 0 and res.xcoms["work__items"] == [], res.out[-3000:]
    # the DAG told the runner the count, 0: it read no manifest (no probing)
    assert "upstream fan-out work ran over no items" in res.out
    assert "of upstream fan-out work left no manifest" not in res.out  # no made-up indexes


WHERE = "ERROR fan-out node '{}' "
BAD = {  # case: run conf, producer's result, the failing node, the rest of its line
    "object": (
        {"shards": ["x"]},
        '{"a": 1}',
        "by_result",
        "runs once per item of a list, but the result of 'producer' at key 'files' is a dict: "
        '{"a": 1}',
    ),
    "long": (
        {"shards": list(range(1001))},
        "[]",
        "work",
        "would run for 1001 items of parameter 'shards'; at most 1000 are allowed",
    ),
    "long_result": (
        {"shards": ["x"]},
        json.dumps(list(range(1001))),
        "by_result",
        "would run for 1001 items of the result of 'producer' at key 'files'; "
        "at most 1000 are allowed",
    ),
}


@pytest.mark.parametrize("version", ["3.3", "2.10"])
@pytest.mark.parametrize("case", sorted(BAD))
def test_a_value_that_is_no_usable_list_fails_the_items_task_in_one_line(
    case, version, s3, tmp_path
):
    conf, result, failing, line = BAD[case]
    res = _run(version, s3, tmp_path, conf, result_files=result)
    assert res.states[f"{failing}__items"] == "failed", (res.states, res.out[-4000:])
    assert res.states[failing] == "upstream_failed", res.states
    assert res.returncode != 0
    lines = [ln for ln in res.out.splitlines() if ln.startswith(WHERE.format(failing))]
    assert lines == [WHERE.format(failing) + line], res.out[-6000:]
    other = "work" if failing == "by_result" else "by_result"
    assert res.states[f"{other}__items"] == "success"  # the other fan-out is not affected


@pytest.mark.parametrize("version", ["3.3", "2.10"])
def test_a_list_parameter_given_as_text_is_refused_before_the_run(version, s3, tmp_path):
    """Airflow validates the run conf against the DAG's Param(type="array") first: no run, no
    task, and its own one line names the parameter."""
    res = _run(version, s3, tmp_path, {"shards": "a,b"})
    assert res.states == {} and res.returncode != 0
    assert "Invalid input for param shards: 'a,b' is not of type 'array'" in res.out, res.out[
        -3000:
    ]
