"""The runs service, `mlpipe submit --trigger` and `mlpipe runs/logs` against a real `airflow
standalone`, with moto S3 for the node bundles, all inside a private network namespace (standalone's
log servers bind every interface):

- Airflow 3.3 reads the DAG repo through GitDagBundle (apache-airflow-providers-git): "imported at
  the pushed commit" is the DAG's bundle_version;
- Airflow 2.10 reads a DAG folder that a `git pull` loop keeps in sync with the repo (git-sync's
  job in a cluster): "imported at the commit" is the parsed DAG source equal to the file at it.

One server per version: tests/airflow_runs_scenario.py runs every step against it and reports; the
tests below assert on that report."""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import time

import pytest
from fixture_paths import load_airflow_harness
from gitserver import git
from jsonschema import Draft202012Validator
from openapi_check import spec

pytestmark = pytest.mark.airflow

from fixture_paths import REPO, TESTS  # noqa: E402

harness = load_airflow_harness()

SCENARIO = TESTS / "airflow_runs_scenario.py"


@pytest.fixture(scope="module", params=["3.3", "2.10"])
def report(request, tmp_path_factory):
    version = request.param
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("ip"):
        pytest.skip("needs root, unshare and ip for a private network namespace")
    venv = harness.require_airflow(version)
    work = tmp_path_factory.mktemp("runs-airflow")
    bare = work / "dags.git"
    git("init", "-q", "--bare", "-b", "main", str(bare))
    seed = work / "seed"  # GitDagBundle needs the branch to exist before it starts
    git("init", "-q", "-b", "main", str(seed))
    (seed / "dags").mkdir()
    (seed / "dags" / ".airflowignore").write_text("")
    git("add", ".", cwd=seed)
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "seed", cwd=seed)
    git("push", "-q", str(bare), "main", cwd=seed)
    bundles = json.dumps(
        [
            {
                "name": "mlpipe",
                "classpath": "airflow.providers.git.bundles.git.GitDagBundle",
                "kwargs": {
                    "tracking_ref": "main",
                    "subdir": "dags",
                    "repo_url": str(bare),
                    "refresh_interval": 5,
                },
            }
        ]
    )
    if version == "3.3":
        dags = (
            f"AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST='{bundles}' "
            f"AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_STORAGE_PATH={work}/bundles"
        )
        sync = ""
    else:  # a DAG folder kept in sync with the repo, as git-sync does next to Airflow 2
        git("clone", "-q", str(bare), str(work / "synced"))
        dags = f"AIRFLOW__CORE__DAGS_FOLDER={work}/synced/dags"
        # the scenario holds the sync (pause-sync file) to see "waiting" deterministically
        sync = (
            f"(while true; do [ -e {work}/pause-sync ] || git -C {work}/synced pull -q --ff-only "
            f">/dev/null 2>&1; sleep 2; done) & BEFORE=$!"
        )
    started = time.monotonic()
    stdout, _ = harness.standalone(
        version,
        venv,
        work,
        f"PYTHONPATH={REPO}:{REPO / 'tests'} timeout 1500 {sys.executable} {SCENARIO} {work} "
        f"{bare} {'v2' if version == '3.3' else 'v1'}",
        env=f"{dags} AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT=120 "
        f"MLPIPE_RUNNER_PYTHON={sys.executable} MLPIPE_RUNNER_HTML=0 "
        "AWS_ACCESS_KEY_ID=AKIARUNSTEST AWS_SECRET_ACCESS_KEY=runs-secret-0b7f",
        before=sync,
        timeout=1800,
    )
    took = time.monotonic() - started
    data = harness.result_line(stdout)
    (work / "report.json").write_text(json.dumps(data, indent=1))  # to read when a test fails
    data["_total_seconds"] = round(took, 1)
    data["_healthy"] = next((ln for ln in stdout.splitlines() if ln.startswith("HEALTHY")), "")
    print(json.dumps({"timings": data["_seconds"], "total": took, "healthy": data["_healthy"]}))
    return data


def conforms(name: str, value) -> None:
    """``value`` is what the REST API would answer: check it against openapi.yaml's schema."""
    document = {"$ref": f"#/components/schemas/{name}", "components": spec()["components"]}
    errors = [e.message for e in Draft202012Validator(document).iter_errors(value)]
    assert not errors, (name, errors)


def ok(report, name):
    value = report[name]
    assert not (isinstance(value, dict) and ("crash" in value or "service_error" in value)), (
        name,
        value,
    )
    return value


def failed(report, name):
    value = report[name]
    assert isinstance(value, dict) and "service_error" in value, (name, value)
    return value["service_error"]


def test_submit_trigger_waits_for_the_pushed_commit_and_follows_the_run(report):
    assert report["status_before"]["state"] == "waiting"
    sub = ok(report, "submit_trigger")
    assert sub["exit"] == 0, sub
    run = sub["run"]
    assert run["state"] == "success" and run["kind"] == "airflow" and run["runtime_config"] == "af"
    assert run["params"] == {"scale": 3.0}
    if report["api"] == "v2":  # a GitDagBundle run records the commit it ran from
        assert run["links"]["commit"] == sub["head"]
    assert f"imported at {sub['head']}" in sub["progress"]
    assert ok(report, "status_after") == {"state": "imported", "commit": sub["head"], "errors": []}
    conforms("Run", run)
    conforms("PublishStatus", report["status_before"])
    conforms("PublishStatus", report["status_after"])


def test_run_tasks_carry_node_ids_labels_and_logs(report):
    run = ok(report, "run")
    conforms("Run", run)
    assert run["pipeline"] == "demo.pipeline" and run["state"] == "success"
    tasks = {t["task_id"]: t for t in run["tasks"]}
    assert set(tasks) == {"Prepare_data", "Train"}
    assert (tasks["Prepare_data"]["node_id"], tasks["Prepare_data"]["label"]) == (
        "prep",
        "Prepare data",
    )
    assert all(t["state"] == "success" and t["try_number"] == 1 for t in tasks.values())
    log = ok(report, "log_prep")
    assert re.search(r"prepared with scale 3(\.0)?\b", log["text"]) and log["complete"] is True
    assert ok(report, "log_tail") == {"text": "", "offset": log["offset"], "complete": True}
    assert ok(report, "listed")[0] == run["id"] and ok(report, "listed_by_path")[0] == run["id"]
    cli = ok(report, "cli")
    assert cli["runs"][0] == 0 and run["id"] in cli["runs"][1] and "success" in cli["runs"][1]
    assert (
        cli["show"][0] == 0
        and "Prepare_data" in cli["show"][1]
        and "(Prepare data)" in cli["show"][1]
    )
    assert cli["logs"][0] == 0 and "trained on rows" in cli["logs"][1]


def test_a_fan_out_node_is_one_task_with_items_and_item_logs(report):
    fan = ok(report, "fan_out")
    assert fan["exit"] == 0, fan
    run = fan["run"]
    conforms("Run", run)
    assert run["state"] == "success" and run["params"] == {"shards": ["a", "b"]}
    tasks = {t["task_id"]: t for t in run["tasks"]}
    assert set(tasks) == {"Work"}  # the Work__items helper task is not listed
    assert tasks["Work"]["state"] == "success" and tasks["Work"]["node_id"] == "work"
    assert tasks["Work"]["items"] == {"total": 2, "success": 2, "failed": 0, "running": 0}
    text = fan["log"]["text"]
    assert "---- item 0: success ----" in text and "---- item 1: success ----" in text
    assert 'working on "a"' in text and 'working on "b"' in text


def test_a_new_commit_is_waited_for(report):
    rep = ok(report, "republish")
    assert rep["final"] == {"state": "imported", "commit": rep["commit"], "errors": []}
    held = rep["held"]  # a commit Airflow has not read yet
    assert held["state"] == "waiting", held
    if report["api"] == "v2":
        assert (
            f"still has DAG 'runs_demo' at commit {rep['previous'][:12]}, not {held['commit'][:12]}"
            in held["message"]
        )
    else:
        assert "has not parsed DAG 'runs_demo' as of commit" in held["message"]


def test_task_failure_names_the_node_and_its_error(report):
    run = ok(report, "failing")
    conforms("Run", run)
    assert run["state"] == "failed"
    assert "Node 'Load table' (Load_table) failed" in run["message"]
    assert "failed: node '" not in run["message"]
    assert "table sales is missing" in run["message"]
    assert run["tasks"][0]["state"] == "failed"


def test_cancel_marks_the_run(report):
    res = ok(report, "cancel")
    assert res["cancelled"]["state"] == "cancelled" and res["again"] == "cancelled"
    assert res["cancelled"]["tasks"][0]["state"] in ("failed", "skipped", "upstream_failed")


def test_import_errors_are_shown_with_airflows_message(report):
    res = ok(report, "broken")
    conforms("PublishStatus", res["status"])
    assert res["status"]["state"] == "import_error"
    assert res["status"]["errors"][0]["filename"].endswith("broken_dag.py")
    assert "broken on purpose" in res["status"]["errors"][0]["message"]
    assert res["wait"]["status"] == 422 and "broken on purpose" in res["wait"]["message"]


def test_bearer_token_sign_in(report):
    if report["api"] != "v2":
        pytest.skip("Airflow 2's basic-auth API backend takes no bearer tokens")
    res = ok(report, "token_auth")
    assert res["ids"] and res["ids"][0] == ok(report, "run")["id"] and res["token_shown"] is False


def test_errors_in_plain_words(report):
    bad = failed(report, "bad_password")
    assert (
        bad["status"] == 400
        and bad["field"] == "airflow.auth"
        and "refused the credentials" in bad["message"]
    )
    down = failed(report, "unreachable")
    assert down["status"] == 502 and "http://127.0.0.1:9 cannot be reached" in down["message"]
    s3 = failed(report, "no_object_store")
    assert s3["status"] == 502 and "Publishing 'demo.pipeline' failed at" in s3["message"]
    never = failed(report, "never_imported")
    assert never["status"] == 504 and "dags/never_there.py at commit 0000000000" in never["message"]
    assert failed(report, "unknown_run")["status"] == 404
    unpublished = failed(report, "trigger_unpublished")
    assert unpublished["status"] == 404 and "publish it first" in unpublished["message"]
    assert report["secrets_in_output"] == []
