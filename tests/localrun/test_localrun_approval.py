"""Approval gates in local runs: the real engine and runner, decisions through the runs service
(the decision file it writes), reject, timeout and cancel (docs/control-flow.md)."""

from __future__ import annotations

import json
import resource
import threading
import time
from pathlib import Path

import pytest
from approval_fixtures import write_gated

from mlpipe_lab.errors import MLPipeError
from mlpipe_lab.localrun import run_pipeline
from mlpipe_lab.localrun.run import read_decision, write_decision
from mlpipe_lab.runs import RunsService
from mlpipe_lab.services import Services


@pytest.fixture
def service(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    return RunsService(Services(root))


def start(service, tmp_path, **gate_params):
    write_gated(tmp_path / "root" / "p", **gate_params)
    return service.start({"path": "p/gated.pipeline", "runtime_config": "local"})


def states(run):
    return {t["task_id"]: t["state"] for t in run["tasks"]}


def wait_for(service, run, predicate, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        now = service.get("local", run["dag_id"], run["id"])
        if predicate(now):
            return now
        assert time.monotonic() < deadline, now
        time.sleep(0.1)


def awaiting(run):
    return states(run).get("approve") == "awaiting_approval"


def done(run):
    return run["state"] not in ("queued", "running")


def test_a_run_waits_for_approval_then_downstream_runs(service, tmp_path):
    run = start(service, tmp_path)
    run = wait_for(service, run, lambda r: awaiting(r) and states(r).get("side") == "success")
    gate_task = next(t for t in run["tasks"] if t["task_id"] == "approve")
    # the runs API says what the gate asks (parameters filled in); the run is running
    assert gate_task["message"] == "Deploy model churn?"
    assert gate_task["approval"]["message"] == "Deploy model churn?"
    assert gate_task["approval"]["decision"] is None
    assert run["state"] == "running" and states(run)["deploy"] == "queued"
    # waiting costs (almost) no CPU: the waiter sleeps between looks at the decision file
    before = resource.getrusage(resource.RUSAGE_SELF)
    time.sleep(2.0)
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    assert cpu < 0.5, f"{cpu:.2f} s of CPU in 2 s of waiting"

    decided = service.decide(
        "local", run["dag_id"], run["id"], "approve", "approve", "looks good", by="ana"
    )
    gate_task = next(t for t in decided["tasks"] if t["task_id"] == "approve")
    assert gate_task["state"] == "success"
    assert gate_task["message"] == "approved by ana: looks good"
    assert gate_task["approval"]["decision"] == "approve"
    assert gate_task["approval"]["comment"] == "looks good"
    final = wait_for(service, run, done)
    assert final["state"] == "success", final
    assert states(final) == {
        "prepare": "success",
        "approve": "success",
        "deploy": "success",
        "side": "success",
    }
    assert "deploying model-v1" in service.logs("local", run["dag_id"], run["id"], "deploy")["text"]
    gate_log = service.logs("local", run["dag_id"], run["id"], "approve")
    assert "waiting for approval: Deploy model churn?" in gate_log["text"]
    assert gate_log["complete"]
    # a decision for a gate that is not waiting is a conflict naming run and task
    with pytest.raises(MLPipeError) as exc:
        service.decide("local", run["dag_id"], run["id"], "approve", "reject")
    assert exc.value.status == 409
    assert "'approve'" in exc.value.message and run["id"] in exc.value.message


def test_a_comment_is_one_line_of_the_gates_log_and_message(service, tmp_path):
    run = wait_for(service, start(service, tmp_path), awaiting)
    forged = "ok\n2026-01-01T00:00:00Z approved by admin\r\nmore"
    service.decide("local", run["dag_id"], run["id"], "approve", "approve", forged, by="eve")
    final = wait_for(service, run, done)
    gate = next(t for t in final["tasks"] if t["task_id"] == "approve")
    assert gate["approval"]["comment"] == forged  # kept whole where it is data
    assert gate["message"] == "approved by eve: ok 2026-01-01T00:00:00Z approved by admin more"
    text = service.logs("local", run["dag_id"], run["id"], "approve")["text"]
    assert [ln for ln in text.splitlines() if "approved by" in ln] == [
        ln for ln in text.splitlines() if "approved by eve: ok 2026" in ln
    ]


def test_reject_ends_the_gate_rejected_and_skips_downstream(service, tmp_path):
    run = wait_for(service, start(service, tmp_path), awaiting)
    service.decide("local", run["dag_id"], run["id"], "approve", "reject", "not this week")
    final = wait_for(service, run, done)
    assert final["state"] == "success"  # a decision, not a failure
    assert states(final) == {
        "prepare": "success",
        "approve": "rejected",
        "deploy": "skipped",
        "side": "success",
    }
    tasks = {t["task_id"]: t for t in final["tasks"]}
    assert tasks["approve"]["message"] == "rejected: not this week"
    assert tasks["approve"]["approval"]["decision"] == "reject"
    assert tasks["approve"]["ended"]
    assert tasks["deploy"]["message"] == "approval gate approve was rejected"


@pytest.mark.parametrize(
    "on_timeout, gate_state, deploy_state",
    [("reject", "rejected", "skipped"), ("approve", "success", "success")],
)
def test_timeout_decides_as_on_timeout_says(tmp_path, on_timeout, gate_state, deploy_state):
    path = write_gated(tmp_path / "p", timeout_seconds=1, on_timeout=on_timeout)
    started = time.monotonic()
    result = run_pipeline(path, artifacts_root=tmp_path / "art")
    assert time.monotonic() - started < 30
    assert result.status == "succeeded", result.report()
    status = {n.task_id: n.status for n in result.nodes}
    engine = {"success": "succeeded"}
    assert status["approve"] == engine.get(gate_state, gate_state)
    assert status["deploy"] == engine.get(deploy_state, deploy_state)
    word = "approved" if on_timeout == "approve" else "rejected"
    assert result.node("approve").message == f"no decision within 1 s: {word} (on_timeout)"


def test_cancel_ends_the_wait(service, tmp_path):
    run = wait_for(
        service,
        start(service, tmp_path),
        lambda r: awaiting(r) and states(r).get("side") == "success",  # only the gate is left
    )
    started = time.monotonic()
    cancelled = service.cancel("local", run["dag_id"], run["id"])
    assert time.monotonic() - started < 5
    assert cancelled["state"] == "cancelled"
    assert states(cancelled)["approve"] == "cancelled"
    assert states(cancelled)["deploy"] == "cancelled"
    with pytest.raises(MLPipeError) as exc:
        service.decide("local", run["dag_id"], run["id"], "approve", "approve")
    assert exc.value.status == 409


def test_the_engine_reads_a_decision_written_by_another_process_and_a_decision_is_written_once(
    tmp_path,
):
    path = write_gated(tmp_path / "p")
    events: list[dict] = []
    waiting = threading.Event()

    def on_event(event):
        events.append(event)
        if event.get("status") == "awaiting_approval":
            waiting.set()

    box = {}
    thread = threading.Thread(
        target=lambda: box.setdefault(
            "result", run_pipeline(path, artifacts_root=tmp_path / "art", on_event=on_event)
        )
    )
    thread.start()
    assert waiting.wait(60)
    record = Path(next(e["run_dir"] for e in events if e.get("run_dir"))) / "_mlpipe_local"
    written = write_decision(record, "approve", "approve", by="cli")
    assert read_decision(written)["decision"] == "approve"
    with pytest.raises(FileExistsError):
        write_decision(record, "approve", "reject")
    thread.join(60)
    result = box["result"]
    assert result.ok and result.node("deploy").status == "succeeded"
    assert json.loads(written.read_text())["decision"] == "approve"
    gate_events = [e["status"] for e in events if e.get("task_id") == "approve"]
    assert gate_events == ["queued", "awaiting_approval", "succeeded"]


def test_bad_decisions_are_4xx_naming_the_field(service, tmp_path):
    run = wait_for(service, start(service, tmp_path), awaiting)
    for args, field in (
        (("maybe", None), "decision"),
        (("approve", 5), "comment"),
        (("approve", "x" * 5000), "comment"),
    ):
        with pytest.raises(MLPipeError) as exc:
            service.decide("local", run["dag_id"], run["id"], "approve", *args)
        assert exc.value.status == 400 and exc.value.field == field
    with pytest.raises(MLPipeError) as exc:
        service.decide("local", run["dag_id"], run["id"], "nope", "approve")
    assert exc.value.status == 404 and "'nope'" in exc.value.message
    with pytest.raises(MLPipeError) as exc:  # a task that is no gate is not waiting for approval
        service.decide("local", run["dag_id"], run["id"], "prepare", "approve")
    assert exc.value.status == 409
    service.cancel("local", run["dag_id"], run["id"])
