"""The runs list says which runs wait at an approval gate (``awaiting``), so a collapsed run in the
Runs panel and ``mlpipe runs`` can show it: real local runs in a real Jupyter server (jp_fetch),
answers checked against openapi.yaml."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time

from approval_fixtures import write_gated
from test_runs_local import api, until_done  # noqa: F401  (the jp_fetch client fixture)


async def listed(api):  # noqa: F811
    code, body = await api("GET", "runs?runtime_config=local")
    assert code == 200, body
    return {r["id"]: r for r in body["runs"]}


async def test_a_waiting_gate_is_in_the_runs_list_until_decided(
    api,  # noqa: F811
    jp_root_dir,
):
    write_gated(jp_root_dir / "p")
    code, done = await api(
        "POST", "runs", {"path": "hello_world/hello_world.pipeline", "runtime_config": "local"}
    )
    assert code == 202, done
    done = await until_done(api, done)
    code, run = await api("POST", "runs", {"path": "p/gated.pipeline", "runtime_config": "local"})
    assert code == 202, run

    deadline = time.monotonic() + 60
    while not (await listed(api))[run["id"]]["awaiting"]:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.2)
    runs = await listed(api)
    assert runs[run["id"]]["state"] == "running" and runs[run["id"]]["tasks"] == []
    assert runs[run["id"]]["awaiting"] == [
        {"task_id": "approve", "label": "approve", "message": "Deploy model churn?"}
    ]
    assert runs[done["id"]]["awaiting"] == []
    # GET of one run says the same
    code, one = await api("GET", f"runs/local/{run['dag_id']}/{run['id']}")
    assert code == 200 and one["awaiting"] == runs[run["id"]]["awaiting"]

    # `mlpipe runs` in a terminal (another process) names the gate on the waiting run's line only
    cli = subprocess.run(
        [sys.executable, "-m", "mlpipe_lab.cli", "runs"],
        cwd=jp_root_dir,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert cli.returncode == 0, cli.stderr
    lines = cli.stdout.splitlines()
    assert [line for line in lines if "awaits approval" in line] == [
        next(line for line in lines if run["id"] in line)
    ]
    assert next(line for line in lines if run["id"] in line).endswith("awaits approval: approve")

    route = f"runs/local/{run['dag_id']}/{run['id']}/tasks/approve/decision"
    code, after = await api("POST", route, {"decision": "approve"})
    assert code == 200, after
    assert (await listed(api))[run["id"]]["awaiting"] == []
    final = await until_done(api, run)
    assert final["state"] == "success" and final["awaiting"] == []
    assert (await listed(api))[run["id"]]["awaiting"] == []
