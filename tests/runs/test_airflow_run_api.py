"""mlpipe_lab.airflowapi against a real `airflow standalone` (3.3, REST v2), run in a private network
namespace (`unshare -n`: standalone also listens on 0.0.0.0) together with the client."""

from __future__ import annotations

import sys

import pytest
from fixture_paths import load_airflow_harness

pytestmark = pytest.mark.airflow

from fixture_paths import REPO  # noqa: E402

harness = load_airflow_harness()
OK_DAG = """\
try:
    from airflow.sdk import DAG
except ImportError:
    from airflow import DAG
try:
    from airflow.providers.standard.operators.bash import BashOperator
except ImportError:
    from airflow.operators.bash import BashOperator
import pendulum

with DAG(dag_id="api_ok", schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), catchup=False,
         tags=["mlpipe-test"]):
    BashOperator(task_id="hello", bash_command="echo hello-$WHO", env={"WHO": "{{ params.who }}"},
                 append_env=True, params={"who": "nobody"})
"""
BAD_DAG = "from airflow.sdk import DAG  # a dag\nraise RuntimeError('broken on purpose')\n"

CHECK = r"""
import json, os, sys, time
from mlpipe_lab.airflowapi import AirflowAPIError, AirflowClient
home, api = os.environ["AIRFLOW_HOME"], sys.argv[1]
deadline = time.monotonic() + 120
while True:  # standalone writes the password once its user exists
    try:
        if api == "v2":
            users = json.load(open(os.path.join(home, "simple_auth_manager_passwords.json.generated")))
            user, password = next(iter(users.items()))
        else:
            user, password = "admin", open(os.path.join(home, "standalone_admin_password.txt")).read().strip()
        c = AirflowClient("http://127.0.0.1:8080", user, password, api=api)
        c.list_dags()
        break
    except (OSError, ValueError, StopIteration, AirflowAPIError):
        if time.monotonic() > deadline:
            raise
        time.sleep(1)
out = {}
try:
    AirflowClient("http://127.0.0.1:8080", user, password + "x", api=api).list_dags()
except AirflowAPIError as exc:
    out["bad_password_status"] = exc.status
deadline = time.monotonic() + 120
while True:
    try:
        dag = c.get_dag("api_ok")
        errors = c.import_errors(filename_pattern="bad")
        if errors:
            break
    except AirflowAPIError as exc:
        if exc.status != 404:
            raise
    if time.monotonic() > deadline:
        raise SystemExit("DAGs not parsed in time")
    time.sleep(1)
out["dag_paused"] = dag["is_paused"]
out["import_error_files"] = sorted(os.path.basename(e["filename"]) for e in errors)
out["listed"] = [d["dag_id"] for d in c.list_dags(tags=["mlpipe-test"])]
out["unpaused"] = c.unpause("api_ok")["is_paused"]
run = c.trigger("api_ok", {"who": "world"})
run_id = run["dag_run_id"]
deadline = time.monotonic() + 180
while c.run_state("api_ok", run_id) not in ("success", "failed"):
    if time.monotonic() > deadline:
        raise SystemExit("run did not finish")
    time.sleep(1)
out["state"] = c.run_state("api_ok", run_id)
tis = c.task_instances("api_ok", run_id)
out["tis"] = {t["task_id"]: [t["state"], t["try_number"]] for t in tis}
out["log_has_greeting"] = "hello-world" in c.task_log("api_ok", run_id, "hello", 1)
print("RESULT " + json.dumps(out))
"""


@pytest.mark.parametrize("version", ["3.3", "2.10"])
def test_rest_client_against_standalone(tmp_path, version):
    venv = harness.require_airflow(version)
    api = "v2" if version == "3.3" else "v1"
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "ok.py").write_text(OK_DAG)
    (dags / "bad.py").write_text(BAD_DAG)
    (tmp_path / "check.py").write_text(CHECK)
    stdout, _ = harness.standalone(
        version,
        venv,
        tmp_path,
        f"PYTHONPATH={REPO} timeout 400 {sys.executable} {tmp_path}/check.py {api}",
        env=f"AIRFLOW__CORE__DAGS_FOLDER={dags}",
        timeout=900,
    )
    result = harness.result_line(stdout)
    assert result["bad_password_status"] == 401
    assert result["dag_paused"] is True and result["unpaused"] is False
    assert result["import_error_files"] == ["bad.py"]
    assert result["listed"] == ["api_ok"]
    assert result["state"] == "success" and result["tis"] == {"hello": ["success", 1]}
    assert result["log_has_greeting"] is True
