"""Approval gates on real Airflow: a pipeline (BashOperator nodes around a gate) compiled by us,
run by `airflow standalone` 3.3 in a private network namespace. The gate waits for input (our runs
API says awaiting_approval with its message), is approved through our runs service and the node
after it succeeds; a second run is rejected (the gate shows rejected, the node after it skipped);
a gate nobody answers takes its on_timeout outcome.
On Airflow 2.10 the same DAG file does not import, with our sentence."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import compile_corpus as cc
import pytest
from approval_fixtures import gate
from fixture_paths import REPO, load_airflow_harness

from mlpipe_lab.compiler.compile import render_plan
from mlpipe_lab.components import ComponentIndex
from mlpipe_lab.pipeline.model import Pipeline
from mlpipe_lab.plan import plan

pytestmark = pytest.mark.airflow

harness = load_airflow_harness()
DAG_ID = "gated_demo"
BASH = "airflow-package-catalog:ce4bcf4f74a0:BashOperator"  # resolved from the venv's providers
SENTENCE = "approval gates need Airflow 3.1 or newer (node 'approve')"


def _operator(nid, label, command, parents=()):
    node = {
        "id": nid,
        "type": "execution_node",
        "op": BASH,
        "app_data": {"label": label, "component_parameters": {"bash_command": command}},
    }
    if parents:
        node["inputs"] = [
            {
                "id": "inPort",
                "links": [
                    {"id": f"{p}-{nid}", "node_id_ref": p, "port_id_ref": "outPort"}
                    for p in parents
                ],
            }
        ]
    return node


def gated_dag(providers: Path, dag_id: str = DAG_ID, **gate_params) -> str:
    nodes = [
        _operator("a", "before", "echo before"),
        gate(
            "g", parents=["a"], label="approve", message="Deploy {{ params.model }}?", **gate_params
        ),
        _operator("b", "after", "echo deployed", parents=["g"]),
    ]
    doc = {
        "doc_type": "pipeline",
        "version": "3.0",
        "id": "gated",
        "primary_pipeline": "p",
        "pipelines": [
            {
                "id": "p",
                "nodes": nodes,
                "app_data": {
                    "version": 8,
                    "properties": {"name": dag_id},
                    "mlpipe": {
                        "parameters": [{"name": "model", "type": "string", "default": "churn"}]
                    },
                },
            }
        ],
    }
    index = ComponentIndex(
        [{"name": "airflow", "type": "airflow-providers", "environment": str(providers)}]
    )
    result = plan(Pipeline(doc), cc.CONFIG, cc.IMAGES, bundles={}, components=index)
    assert result.ok, [p.message for p in result.errors]
    assert [t.kind for t in result.tasks] == ["operator", "approval", "operator"]
    return render_plan(result, source_path="gated.pipeline", source_sha256="0" * 64)


SCENARIO = r"""
import json, os, sys, time
from mlpipe_lab.airflowapi import AirflowAPIError, AirflowClient
from mlpipe_lab.errors import MLPipeError
from mlpipe_lab.runs.airflow import AirflowRuns
from mlpipe_lab.services import Services

home, work = os.environ["AIRFLOW_HOME"], sys.argv[1]
deadline = time.monotonic() + 240
while True:  # standalone writes the password once its user exists
    try:
        users = json.load(open(os.path.join(home, "simple_auth_manager_passwords.json.generated")))
        user, password = next(iter(users.items()))
        c = AirflowClient("http://127.0.0.1:8080", user, password, api="v2")
        c.get_dag("gated_demo")
        c.get_dag("gated_timeout")
        break
    except (OSError, ValueError, StopIteration, AirflowAPIError):
        if time.monotonic() > deadline:
            raise
        time.sleep(1)
config = {"name": "af", "type": "airflow", "airflow": {
    "api_endpoint": "http://127.0.0.1:8080", "version": "3",
    "auth": {"type": "basic", "username": user, "password": password}}}
runs = AirflowRuns("af", config, Services(work, data_dir=os.path.join(work, "data")))
c.unpause("gated_demo")

def states(run):
    return {t["task_id"]: t["state"] for t in run["tasks"]}

def until(run_id, predicate, what):
    deadline = time.monotonic() + 300
    while True:
        run = runs.get("gated_demo", run_id)
        if predicate(run):
            return run
        if time.monotonic() > deadline:
            raise SystemExit(what + ": " + json.dumps(run))
        time.sleep(2)

def error(fn, *args):
    try:
        fn(*args)
    except MLPipeError as exc:
        return [exc.status, exc.message]
    return None

out = {}
for name, decision, comment in (("approved", "approve", "ship it"), ("rejected", "reject", None)):
    run_id = c.trigger("gated_demo", {"model": "churn-" + name})["dag_run_id"]
    waiting = until(run_id, lambda r: states(r).get("approve") == "awaiting_approval", "no wait")
    gate = next(t for t in waiting["tasks"] if t["task_id"] == "approve")
    # it keeps waiting; and Airflow 3.3.2 fails a gate answered before its scheduler has seen the
    # parking attempt's process end ("task state changed externally"): people take longer
    time.sleep(15)
    still = states(runs.get("gated_demo", run_id))
    # the runs list says which run waits, with one request for all runs' gates (not one per run)
    paths = []
    real_request = runs.client.request
    runs.client.request = lambda *a, **k: (paths.append(a[1]), real_request(*a, **k))[1]
    listed = {r["id"]: r["awaiting"] for r in runs.list("gated_demo")}
    del runs.client.request
    errors = {
        "not_a_gate": error(runs.decide, "gated_demo", run_id, "before", decision, None),
        "unknown": error(runs.decide, "gated_demo", run_id, "nope", decision, None),
    }
    decided = runs.decide("gated_demo", run_id, "approve", decision, comment)
    errors["twice"] = error(runs.decide, "gated_demo", run_id, "approve", decision, None)
    final = until(run_id, lambda r: r["state"] in ("success", "failed"), "no end")
    final_gate = next(t for t in final["tasks"] if t["task_id"] == "approve")
    listed_after = {r["id"]: r["awaiting"] for r in runs.list("gated_demo")}
    out[name] = {
        "waiting": {"run": waiting["state"], "tasks": states(waiting), "gate": gate},
        "still": still,
        "errors": errors,
        "listed": {"mine": listed.get(run_id), "others": [v for k, v in listed.items()
                   if k != run_id], "paths": paths, "after": listed_after.get(run_id)},
        "decided_state": next(t["state"] for t in decided["tasks"] if t["task_id"] == "approve"),
        "final": {"run": final["state"], "tasks": states(final), "gate": final_gate},
    }
# nobody answers a gate with a timeout: the scheduler takes its default (on_timeout: reject)
c.unpause("gated_timeout")
run_id = c.trigger("gated_timeout", {})["dag_run_id"]
deadline = time.monotonic() + 300
while True:
    final = runs.get("gated_timeout", run_id)
    if final["state"] in ("success", "failed"):
        break
    if time.monotonic() > deadline:
        raise SystemExit("no end: " + json.dumps(final))
    time.sleep(2)
out["timeout"] = {"run": final["state"], "tasks": states(final),
                  "gate": next(t for t in final["tasks"] if t["task_id"] == "approve")}
print("RESULT " + json.dumps(out))
"""


def test_gate_waits_then_approve_runs_downstream_and_reject_skips_it(tmp_path):
    venv = harness.require_airflow("3.3")
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / f"{DAG_ID}.py").write_text(gated_dag(venv))
    timeout = gated_dag(venv, "gated_timeout", timeout_seconds=20, on_timeout="reject")
    assert 'defaults="Reject"' in timeout and "execution_timeout=timedelta(seconds=20)" in timeout
    (dags / "gated_timeout.py").write_text(timeout)
    (tmp_path / "scenario.py").write_text(SCENARIO)
    work = tmp_path / "work"
    work.mkdir()
    stdout, log = harness.standalone(
        "3.3",
        venv,
        tmp_path,
        f"PYTHONPATH={REPO}:{REPO}/tests timeout 900 {sys.executable} {tmp_path}/scenario.py {work}",
        env=f"AIRFLOW__CORE__DAGS_FOLDER={dags}",
    )
    result = harness.result_line(stdout)
    if os.environ.get("MLPIPE_KEEP"):
        Path(os.environ["MLPIPE_KEEP"]).write_text(json.dumps(result, indent=1) + log[-20000:])

    for name in ("approved", "rejected"):
        r = result[name]
        # the task waits for input: our runs API says so, with the gate's message rendered
        assert r["waiting"]["run"] == "running"
        assert r["waiting"]["tasks"]["before"] == "success"
        assert r["waiting"]["tasks"].get("after") in (None, "none")
        assert r["waiting"]["gate"]["message"] == f"Deploy churn-{name}?"
        assert r["waiting"]["gate"]["approval"]["decision"] is None
        assert r["still"]["approve"] == "awaiting_approval"
        assert r["errors"]["not_a_gate"][0] == 409 and "'before'" in r["errors"]["not_a_gate"][1]
        assert r["errors"]["unknown"][0] == 404 and "'nope'" in r["errors"]["unknown"][1]
        assert r["errors"]["twice"][0] == 409 and "'approve'" in r["errors"]["twice"][1]
        assert r["final"]["run"] == "success"
        assert r["final"]["tasks"]["before"] == "success"
        # listed: the waiting run names its gate; finished ones none; once decided, none
        (gate,) = r["listed"]["mine"]
        assert gate["task_id"] == "approve" and gate["message"] == f"Deploy churn-{name}?"
        assert all(a == [] for a in r["listed"]["others"]) and r["listed"]["after"] == []
        assert [p for p in r["listed"]["paths"] if "hitl" in p.lower()] == [
            "/dags/gated_demo/dagRuns/~/hitlDetails"
        ]
        assert len(r["listed"]["paths"]) == 2, r["listed"]["paths"]  # the runs, the gates
    approved, rejected = result["approved"]["final"], result["rejected"]["final"]
    assert approved["tasks"]["approve"] == "success" and approved["tasks"]["after"] == "success"
    assert approved["gate"]["approval"]["decision"] == "approve"
    assert approved["gate"]["approval"]["comment"] == "ship it"
    assert (
        approved["gate"]["message"].startswith("approved")
        and "ship it" in (approved["gate"]["message"])
    )
    assert rejected["tasks"]["approve"] == "rejected" and rejected["tasks"]["after"] == "skipped"
    assert rejected["gate"]["approval"]["decision"] == "reject"
    timed_out = result["timeout"]
    assert timed_out["run"] == "success"
    assert timed_out["tasks"] == {"before": "success", "approve": "rejected", "after": "skipped"}
    assert timed_out["gate"]["approval"]["decision"] == "reject"


def test_airflow_2_refuses_the_dag_file_with_our_sentence(tmp_path):
    providers = harness.require_airflow("3.3")
    venv = harness.require_airflow("2.10")
    dag = tmp_path / f"{DAG_ID}.py"
    dag.write_text(gated_dag(providers))
    env = {
        "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": str(tmp_path),
        "AIRFLOW_HOME": str(tmp_path / "home"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp_path}/airflow.db",
    }
    proc = subprocess.run(
        [str(venv / "bin" / "python"), "-c", f"import runpy; runpy.run_path({str(dag)!r})"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert last == f"ImportError: {SENTENCE}", proc.stderr[-2000:]
