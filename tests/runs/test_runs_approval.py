"""Approval gates through the REST route of a real Jupyter server (jp_fetch) and through
``mlpipe approve`` against a run in another process; answers checked against openapi.yaml."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time

import pytest
from approval_fixtures import write_gated
from test_runs_local import api  # noqa: F401  (the jp_fetch client fixture)

from mlpipe_lab.cli import main
from mlpipe_lab.runs import RunsService
from mlpipe_lab.services import Services


def states(run):
    return {t["task_id"]: t["state"] for t in run["tasks"]}


async def until(api, run, predicate, timeout=60):  # noqa: F811
    deadline = time.monotonic() + timeout
    while True:
        code, now = await api("GET", f"runs/local/{run['dag_id']}/{run['id']}")
        assert code == 200, now
        if predicate(now):
            return now
        assert time.monotonic() < deadline, now
        await asyncio.sleep(0.2)


def route(run, task="approve"):
    return f"runs/local/{run['dag_id']}/{run['id']}/tasks/{task}/decision"


async def test_approve_and_reject_through_the_route(api, jp_root_dir):  # noqa: F811
    write_gated(jp_root_dir / "p")
    runs = []
    for _ in range(2):
        code, run = await api(
            "POST", "runs", {"path": "p/gated.pipeline", "runtime_config": "local"}
        )
        assert code == 202, run
        runs.append(run)
    waiting = [
        await until(api, r, lambda n: states(n).get("approve") == "awaiting_approval") for r in runs
    ]
    gate = next(t for t in waiting[0]["tasks"] if t["task_id"] == "approve")
    assert gate["message"] == "Deploy model churn?"
    assert gate["approval"]["message"] == "Deploy model churn?"

    # bad requests are 4xx naming the field, the run or the task
    code, err = await api("POST", route(runs[0]), {"decision": "maybe"})
    assert code == 400 and err["error"]["field"] == "decision"
    code, err = await api("POST", route(runs[0]), {"decision": "approve", "comment": 3})
    assert code == 400 and err["error"]["field"] == "comment"
    code, err = await api("POST", route(runs[0], "nope"), {"decision": "approve"})
    assert code == 404 and "'nope'" in err["error"]["message"]
    code, err = await api("POST", route(runs[0], "prepare"), {"decision": "approve"})
    assert (
        code == 409
        and "'prepare'" in err["error"]["message"]
        and runs[0]["id"] in err["error"]["message"]
    )
    code, err = await api(
        "POST", "runs/local/gated/local__nope/tasks/approve/decision", {"decision": "approve"}
    )
    assert code == 404

    code, after = await api("POST", route(runs[0]), {"decision": "approve", "comment": "ship it"})
    assert code == 200, after
    gate = next(t for t in after["tasks"] if t["task_id"] == "approve")
    assert gate["state"] == "success" and gate["approval"]["decision"] == "approve"
    assert gate["message"].startswith("approved") and gate["message"].endswith(": ship it")
    code, again = await api("POST", route(runs[0]), {"decision": "reject"})
    assert code == 409

    code, after = await api("POST", route(runs[1]), {"decision": "reject"})
    assert code == 200, after

    done = [await until(api, r, lambda n: n["state"] not in ("queued", "running")) for r in runs]
    assert states(done[0]) == {
        "prepare": "success",
        "approve": "success",
        "deploy": "success",
        "side": "success",
    }
    assert states(done[1])["approve"] == "rejected" and states(done[1])["deploy"] == "skipped"
    assert [r["state"] for r in done] == ["success", "success"]


async def test_decision_route_requires_authentication(api, jp_fetch):  # noqa: F811
    from tornado.httpclient import HTTPClientError

    with pytest.raises(HTTPClientError) as exc:
        await jp_fetch(
            "mlpipe-lab",
            "runs/local/gated/local__x/tasks/approve/decision",
            method="POST",
            body=json.dumps({"decision": "approve"}),
            headers={"Authorization": "token wrong"},
        )
    assert exc.value.code in (401, 403)


def test_cli_approves_a_run_in_another_process(tmp_path, capsys, monkeypatch):
    folder = tmp_path / "root"
    path = write_gated(folder / "p")
    monkeypatch.chdir(folder)
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlpipe_lab.cli", "run", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    try:
        service = RunsService(Services(folder))
        deadline = time.monotonic() + 60
        while True:
            listed = service.list()["runs"]
            if listed:
                run = service.get("local", listed[0]["dag_id"], listed[0]["id"])
                if states(run).get("approve") == "awaiting_approval":
                    break
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.2)
        assert main(["approve", run["id"], "--task", "nope"]) == 2
        assert "has no task 'nope'" in capsys.readouterr().err
        code = main(
            ["approve", run["id"], "--task", "approve", "--comment", "from the CLI", "--json"]
        )
        assert code == 0
        answer = json.loads(capsys.readouterr().out)
        gate = next(t for t in answer["tasks"] if t["task_id"] == "approve")
        assert gate["state"] == "success" and gate["approval"]["comment"] == "from the CLI"
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0, out
        # the terminal running it said what the gate asks and how to answer
        assert "awaiting_approval  Deploy model churn?" in out
        assert f"mlpipe approve {run['id']} --task approve [--reject]" in out
        final = service.get("local", run["dag_id"], run["id"])
        assert states(final)["deploy"] == "success"
        # a second decision, --reject, names the run and the task
        assert main(["approve", run["id"], "-t", "approve", "--reject", "--config", "local"]) == 2
        err = capsys.readouterr().err
        assert "'approve'" in err and run["id"] in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_decision_waits_until_the_gate_has_settled_in_airflow():
    """Airflow 3.3.2 fails a gate answered a few seconds after it parked; a decision waits until
    the parking attempt began GATE_SETTLE_SECONDS ago, never longer, and not for unknown times."""
    import datetime as dt

    from mlpipe_lab.runs.airflow import GATE_SETTLE_SECONDS, settle_wait

    now = dt.datetime(2026, 12, 7, 12, 0, 0, tzinfo=dt.timezone.utc).timestamp()
    assert settle_wait("2026-12-07T11:59:57Z", now) == GATE_SETTLE_SECONDS - 3
    assert settle_wait("2026-12-07T11:59:57.500000+00:00", now) == GATE_SETTLE_SECONDS - 2.5
    assert settle_wait("2026-12-07T11:00:00Z", now) == 0.0  # parked long ago
    assert settle_wait("2026-12-07T12:00:30Z", now) == GATE_SETTLE_SECONDS  # clock skew: capped
    assert settle_wait(None, now) == 0.0 and settle_wait("yesterday", now) == 0.0
