"""Partial runs on Airflow: clearing the chosen tasks of a finished run through the runs service
(REST v2 on Airflow 3.3, v1 on 2.10), against a real `airflow standalone` in a private network
namespace. The tasks not chosen keep their state (and outputs); the chosen ones run again in the
same run (their try number goes up)."""

from __future__ import annotations

import sys

import pytest
from fixture_paths import load_airflow_harness

pytestmark = pytest.mark.airflow

from fixture_paths import REPO  # noqa: E402

harness = load_airflow_harness()
DAG = """\
try:
    from airflow.sdk import DAG
except ImportError:
    from airflow import DAG
try:
    from airflow.providers.standard.operators.bash import BashOperator
except ImportError:
    from airflow.operators.bash import BashOperator
import pendulum

with DAG(dag_id="partial_demo", schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
         catchup=False, tags=["mlpipe-test"]):
    a = BashOperator(task_id="a", bash_command="echo a")
    b = BashOperator(task_id="b", bash_command="echo b")
    c = BashOperator(task_id="c", bash_command="echo c")
    d = BashOperator(task_id="d", bash_command="echo d")
    a >> b >> c
    a >> d
"""

SCENARIO = r"""
import json, os, sys, time
from mlpipe_lab.airflowapi import AirflowAPIError, AirflowClient
from mlpipe_lab.errors import MLPipeError
from mlpipe_lab.runs import RunsService
from mlpipe_lab.runs.airflow import AirflowRuns
from mlpipe_lab.services import Services

home, api, work = os.environ["AIRFLOW_HOME"], sys.argv[1], sys.argv[2]
deadline = time.monotonic() + 180
while True:  # standalone writes the password once its user exists
    try:
        if api == "v2":
            users = json.load(open(os.path.join(home, "simple_auth_manager_passwords.json.generated")))
            user, password = next(iter(users.items()))
        else:
            user, password = "admin", open(os.path.join(home, "standalone_admin_password.txt")).read().strip()
        c = AirflowClient("http://127.0.0.1:8080", user, password, api=api)
        c.get_dag("partial_demo")
        break
    except (OSError, ValueError, StopIteration, AirflowAPIError):
        if time.monotonic() > deadline:
            raise
        time.sleep(1)
config = {"name": "af", "type": "airflow", "airflow": {
    "api_endpoint": "http://127.0.0.1:8080", "version": "3" if api == "v2" else "2",
    "auth": {"type": "basic", "username": user, "password": password}}}
runs = AirflowRuns("af", config, Services(work, data_dir=os.path.join(work, "data")))
c.unpause("partial_demo")
run_id = c.trigger("partial_demo", {})["dag_run_id"]

def wait():
    deadline = time.monotonic() + 300
    while True:
        run = runs.get("partial_demo", run_id)
        if run["state"] in ("success", "failed"):
            return run
        if time.monotonic() > deadline:
            raise SystemExit("run did not finish: " + json.dumps(run))
        time.sleep(2)

out = {}
first = wait()
out["first"] = {t["task_id"]: [t["state"], t["try_number"]] for t in first["tasks"]}
errors = {}
for name, asked in (("unknown", {"only": ["nope"]}), ("nothing", {})):
    try:
        runs.clear("partial_demo", run_id, asked)
    except MLPipeError as exc:
        errors[name] = [exc.status, exc.field, exc.message]
out["errors"] = errors
cleared = runs.clear("partial_demo", run_id, {"from": ["b"]})
out["message"] = cleared["message"]
out["state_after_clear"] = cleared["state"]
second = wait()
out["second"] = {t["task_id"]: [t["state"], t["try_number"]] for t in second["tasks"]}
print("RESULT " + json.dumps(out))
"""


@pytest.mark.parametrize("version", ["3.3", "2.10"])
def test_clear_the_chosen_tasks_of_a_run(tmp_path, version):
    venv = harness.require_airflow(version)
    api = "v2" if version == "3.3" else "v1"
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "partial_demo.py").write_text(DAG)
    (tmp_path / "scenario.py").write_text(SCENARIO)
    work = tmp_path / "work"
    work.mkdir()
    stdout, _ = harness.standalone(
        version,
        venv,
        tmp_path,
        f"PYTHONPATH={REPO}:{REPO}/tests timeout 700 {sys.executable} {tmp_path}/scenario.py "
        f"{api} {work}",
        env=f"AIRFLOW__CORE__DAGS_FOLDER={dags}",
        timeout=1200,
    )
    result = harness.result_line(stdout)
    assert result["first"] == {t: ["success", 1] for t in "abcd"}
    assert result["errors"]["unknown"][:2] == [400, "only"]
    assert "has no node 'nope'" in result["errors"]["unknown"][2]
    assert result["errors"]["nothing"][0] == 400
    assert result["message"] == (
        "Cleared b, c: Airflow runs them again in run "
        f"'{result['message'].split(chr(39))[1]}'. Outputs of a from this run are reused."
    )
    assert result["state_after_clear"] in ("queued", "running")
    # b and c ran again (second try); a and d were left as they were
    assert result["second"] == {
        "a": ["success", 1],
        "b": ["success", 2],
        "c": ["success", 2],
        "d": ["success", 1],
    }


FAN_DAG = """\
try:
    from airflow.sdk import DAG
except ImportError:
    from airflow import DAG
try:
    from airflow.providers.standard.operators.bash import BashOperator
    from airflow.providers.standard.operators.python import PythonOperator
except ImportError:
    from airflow.operators.bash import BashOperator
    from airflow.operators.python import PythonOperator
import pendulum


def listing(ti):  # one more item on each try: shows whether the list was read again
    return [{"I": str(i)} for i in range(ti.try_number + 1)]


with DAG(dag_id="partial_fan", schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
         catchup=False, tags=["mlpipe-test"]):
    prep = BashOperator(task_id="prep", bash_command="echo prep")
    items = PythonOperator(task_id="work__items", python_callable=listing)
    work = BashOperator.partial(task_id="work", bash_command="echo item $I").expand(env=items.output)
    join = BashOperator(task_id="join", bash_command="echo join")
    prep >> items >> work >> join
"""

FAN_SCENARIO = (
    SCENARIO.replace('"partial_demo"', '"partial_fan"')
    .replace('{"from": ["b"]}', '{"only": ["work"]}')
    .replace(
        'out["first"] = {t["task_id"]: [t["state"], t["try_number"]] for t in first["tasks"]}',
        'out["first"] = tis()',
    )
    .replace(
        'out["second"] = {t["task_id"]: [t["state"], t["try_number"]] for t in second["tasks"]}',
        'out["second"] = tis()\nout["items"] = [t.get("items") for t in second["tasks"] '
        'if t["task_id"] == "work"]',
    )
    .replace(
        "out = {}\n",
        "out = {}\ndef tis():\n"
        "    return sorted([t['task_id'], t.get('map_index', -1), t['state'], t['try_number']]\n"
        "                  for t in c.task_instances('partial_fan', run_id))\n",
    )
)


@pytest.mark.parametrize("version", ["3.3", "2.10"])
def test_clear_a_fan_out_node_clears_every_item_and_reads_its_list_again(tmp_path, version):
    venv = harness.require_airflow(version)
    api = "v2" if version == "3.3" else "v1"
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "partial_fan.py").write_text(FAN_DAG)
    (tmp_path / "scenario.py").write_text(FAN_SCENARIO)
    work = tmp_path / "work"
    work.mkdir()
    stdout, _ = harness.standalone(
        version,
        venv,
        tmp_path,
        f"PYTHONPATH={REPO}:{REPO}/tests timeout 700 {sys.executable} {tmp_path}/scenario.py "
        f"{api} {work}",
        env=f"AIRFLOW__CORE__DAGS_FOLDER={dags}",
        timeout=1200,
    )
    result = harness.result_line(stdout)
    assert result["first"] == [
        ["join", -1, "success", 1],
        ["prep", -1, "success", 1],
        ["work", 0, "success", 1],
        ["work", 1, "success", 1],
        ["work__items", -1, "success", 1],
    ]
    run = result["message"].split(chr(39))[1]
    assert result["message"] == (
        f"Cleared work: Airflow runs them again in run '{run}'. The items of work are read "
        "again. Outputs of prep from this run are reused."
    )
    # every mapped instance ran again, over the list read again (one more item: map index 2,
    # its first try); prep and join (not chosen) kept their first try
    assert result["second"] == [
        ["join", -1, "success", 1],
        ["prep", -1, "success", 1],
        ["work", 0, "success", 2],
        ["work", 1, "success", 2],
        ["work", 2, "success", 1],
        ["work__items", -1, "success", 2],
    ]
