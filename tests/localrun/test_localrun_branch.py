"""Branches in local runs: the real engine and runner processes. A script returns a result
(mlpipe-result.json); one branch tests a key of it, another a pipeline parameter. The engine
decides a branch without a process: the linked nodes it does not choose are skipped with reason
"branch", their descendants by trigger rules, the join after it runs; step caching and partial
runs keep working (a cached task returns its recorded result)."""

from __future__ import annotations

import json
from pathlib import Path

from openapi_check import check_response
from pipeline_builder import branch as branch_node
from pipeline_builder import node, pipeline

from mlpipe_lab.localrun import run_pipeline
from mlpipe_lab.pipeline import dumps

FILES = {
    "train.py": "import json, os\nopen('model.txt', 'w').write('model')\n"
    "json.dump({'metrics': {'accuracy': float(os.environ['acc'])}}, "
    "open('mlpipe-result.json', 'w'))\n",
    "deploy.py": "open('deployed.txt', 'w').write(open('model.txt').read())\n",
    "retrain.py": "open('retrained.txt', 'w').write(open('model.txt').read())\n",
    "report.py": "import os\nopen('report.txt', 'w').write(' '.join(sorted(\n"
    "    f for f in ('deployed.txt', 'retrained.txt', 'model.txt') if os.path.exists(f))))\n",
    "extra.py": "print('extra')\n",
    "after_extra.py": "print('after extra')\n",
}


def project(folder: Path, key: str = "metrics.accuracy") -> Path:
    """train -> gate (its accuracy) -> deploy | retrain -> report (a join);
    train -> mode (parameter) -> extra -> after_extra."""
    folder.mkdir(parents=True, exist_ok=True)
    for rel, text in FILES.items():
        (folder / rel).write_text(text)
    nodes = [
        node(
            "train", "train.py", label="train", outputs=["model.txt"], pipeline_parameters=["acc"]
        ),
        branch_node(
            "gate",
            ["train"],
            "gate",
            value_from={"from": "result", "node": "train", "key": key},
            rules=[{"op": ">=", "value": 0.9, "run": ["deploy"]}],
            otherwise=["retrain"],
        ),
        node("deploy", "deploy.py", parents=["gate"], label="deploy", outputs=["deployed.txt"]),
        node("retrain", "retrain.py", parents=["gate"], label="retrain", outputs=["retrained.txt"]),
        node(
            "report",
            "report.py",
            parents=["deploy", "retrain"],
            label="report",
            outputs=["report.txt"],
        ),
        branch_node(
            "mode",
            ["train"],
            "mode",
            value_from={"from": "parameter", "parameter": "mode"},
            rules=[{"op": "==", "value": "full", "run": ["extra"]}],
            otherwise=[],
        ),
        node("extra", "extra.py", parents=["mode"], label="extra"),
        node("after_extra", "after_extra.py", parents=["extra"], label="after_extra"),
    ]
    doc = pipeline(
        "branchy",
        nodes,
        mlpipe={
            "parameters": [
                {"name": "acc", "type": "number", "default": 0.93},
                {"name": "mode", "type": "string", "default": "quick"},
            ]
        },
    )
    path = folder / "branchy.pipeline"
    path.write_text(dumps(doc))
    return path


def states(result) -> dict[str, str]:
    return {n.task_id: n.status for n in result.nodes}


def reasons(result) -> dict[str, str | None]:
    return {n.task_id: n.reason for n in result.nodes if n.status == "skipped"}


def test_branch_on_a_result_and_on_a_parameter(tmp_path):
    path = project(tmp_path / "p")
    art = tmp_path / "art"
    events: list[dict] = []
    first = run_pipeline(path, artifacts_root=art, on_event=events.append)
    assert first.ok, first.report()
    assert states(first) == {
        "train": "succeeded",
        "gate": "succeeded",
        "deploy": "succeeded",
        "retrain": "skipped",
        "report": "succeeded",  # the join runs after one path was skipped
        "mode": "succeeded",
        "extra": "skipped",
        "after_extra": "skipped",
    }
    assert reasons(first) == {"retrain": "branch", "extra": "branch", "after_extra": "skipped"}
    assert first.node("gate").message == "value 0.93: rule 1, runs deploy"
    assert first.node("mode").message == "value 'quick': otherwise, runs nothing"
    assert first.node("retrain").message == "not chosen by branch gate"
    assert first.node("after_extra").message == "trigger rule all_success"
    run_dir = Path(first.run_dir)
    assert json.loads((run_dir / "train" / "manifest.json").read_text())["result"] == {
        "metrics": {"accuracy": 0.93}
    }
    # the join received train's output through the branch, and deploy's
    assert (run_dir / "report" / "outputs" / "report.txt").read_text() == "deployed.txt model.txt"
    # a branch starts no process: no running event
    gate_events = [e["status"] for e in events if e.get("task_id") == "gate"]
    assert gate_events == ["queued", "succeeded"]
    assert "branch gate: value 0.93" in Path(first.node("gate").log).read_text()

    # other values choose the other paths; train runs again (its parameter changed)
    second = run_pipeline(path, artifacts_root=art, params={"acc": 0.5, "mode": "full"})
    assert second.ok, second.report()
    assert states(second) == {
        "train": "succeeded",
        "gate": "succeeded",
        "deploy": "skipped",
        "retrain": "succeeded",
        "report": "succeeded",
        "mode": "succeeded",
        "extra": "succeeded",
        "after_extra": "succeeded",
    }
    assert reasons(second) == {"deploy": "branch"}
    report = Path(second.run_dir) / "report" / "outputs" / "report.txt"
    assert report.read_text() == "model.txt retrained.txt"

    # nothing changed since the first run: train is cached and returns its recorded result
    third = run_pipeline(path, artifacts_root=art)
    assert third.ok, third.report()
    assert states(third)["train"] == "cached"
    assert third.node("gate").message == "value 0.93: rule 1, runs deploy"
    assert states(third)["deploy"] == "cached" and states(third)["retrain"] == "skipped"

    # a partial run of the join: train and deploy reuse results, the branch decides again
    fourth = run_pipeline(path, artifacts_root=art, only=["report"])
    assert fourth.ok, fourth.report()
    assert states(fourth) == {
        "train": "cached",
        "gate": "succeeded",
        "deploy": "cached",
        "retrain": "skipped",
        "report": "succeeded",  # chosen: runs although cached
        "mode": "skipped",
        "extra": "skipped",
        "after_extra": "skipped",
    }
    assert reasons(fourth)["retrain"] == "branch"
    assert reasons(fourth)["mode"] == "not_chosen"

    # a node the partial run chooses runs even where the branch would not take it
    fifth = run_pipeline(path, artifacts_root=art, only=["retrain"])
    assert fifth.ok, fifth.report()
    assert states(fifth)["gate"] == "succeeded" and states(fifth)["retrain"] == "succeeded"
    assert states(fifth)["deploy"] == "skipped" and states(fifth)["report"] == "skipped"


def test_a_branch_that_cannot_decide_fails_in_one_line(tmp_path):
    path = project(tmp_path / "p", key="metrics.loss")
    result = run_pipeline(path, artifacts_root=tmp_path / "art")
    assert result.status == "failed"
    gate = result.node("gate")
    assert gate.status == "failed"
    assert (
        gate.message
        == "node 'gate' failed: branch: the result of task train has no key 'metrics.loss'"
    )
    assert states(result)["deploy"] == "skipped" and states(result)["report"] == "skipped"
    assert {reasons(result)[t] for t in ("deploy", "retrain")} == {"upstream_failed"}
    assert states(result)["extra"] == "skipped" and reasons(result)["extra"] == "branch"


def test_runs_api_shows_the_reason(tmp_path, monkeypatch):
    from mlpipe_lab.runs import RunsService
    from mlpipe_lab.services import Services

    root = tmp_path / "root"
    path = project(root / "p")
    monkeypatch.setenv("MLPIPE_LAB_DATA_DIR", str(tmp_path / "data"))
    service = RunsService(Services(root))
    art = Path(service.config("local")["local"]["artifacts_path"])
    result = run_pipeline(path, artifacts_root=art)
    assert result.ok, result.report()
    run = service.get("local", "branchy", result.run_id)
    tasks = {t["task_id"]: t for t in run["tasks"]}
    assert tasks["retrain"]["state"] == "skipped" and tasks["retrain"]["reason"] == "branch"
    assert tasks["extra"]["reason"] == "branch"
    assert "reason" not in tasks["after_extra"]  # skipped by its trigger rule
    assert tasks["gate"]["state"] == "success"
    assert tasks["gate"]["message"] == "value 0.93: rule 1, runs deploy"
    check_response("GET", f"/runs/local/branchy/{result.run_id}", 200, json.dumps(run).encode())
    log = service.logs("local", "branchy", result.run_id, "gate")
    assert "branch gate: value 0.93: rule 1, runs deploy" in log["text"]


def test_describe_shows_a_branch_without_a_file(tmp_path):
    from mlpipe_lab.services import Services

    project(tmp_path / "p")
    described = Services(tmp_path, tmp_path / "data").pipelines.describe("p/branchy.pipeline")
    nodes = {n["id"]: n for n in described["nodes"]}
    assert nodes["gate"]["file_status"] is None and nodes["gate"]["task_id"] == "gate"
    assert nodes["train"]["file_status"] == "ok"
    assert "gate" not in " ".join(described["files"])
