"""The runs API on Airflow says which skipped tasks a branch decided (reason "branch"), as local
runs do: Airflow reports them only as "skipped"; the pipeline's plan knows the branch."""

from __future__ import annotations

from test_branch_airflow import write_project

from mlpipe_lab.runs.airflow import mark_branch_skips
from mlpipe_lab.services import Services


def test_skips_right_after_a_branch_carry_the_reason(tmp_path):
    path = write_project(tmp_path)
    services = Services(tmp_path, tmp_path / "data")
    _, planned = services.pipelines.tasks(path.name, "local")
    nodes = {t["task_id"]: t for t in planned}
    assert nodes["Good_enough"]["kind"] == "branch"
    assert nodes["Retrain"]["upstream"] == ["Good_enough"]
    # what Airflow answered for a run where accuracy passed the rule and mode was "quick"
    states = {
        "Train": "success",
        "Good_enough": "success",
        "Deploy": "success",
        "Retrain": "skipped",
        "Report": "success",
        "Full_run": "success",
        "Extra": "skipped",
    }
    tasks = [{"task_id": t, "state": s} for t, s in states.items()]
    tasks.append({"task_id": "not_in_the_plan", "state": "skipped"})
    mark_branch_skips(tasks, nodes)
    reasons = {t["task_id"]: t.get("reason") for t in tasks}
    assert reasons == {
        "Train": None,
        "Good_enough": None,
        "Deploy": None,
        "Retrain": "branch",
        "Report": None,
        "Full_run": None,
        "Extra": "branch",
        "not_in_the_plan": None,
    }


def test_a_skip_not_decided_by_a_branch_has_no_reason(tmp_path):
    path = write_project(tmp_path)
    services = Services(tmp_path, tmp_path / "data")
    _, planned = services.pipelines.tasks(path.name, "local")
    nodes = {t["task_id"]: t for t in planned}
    # Report follows Deploy and Retrain (no branch right before it): a skip there is Airflow's
    tasks = [{"task_id": "Report", "state": "skipped"}, {"task_id": "Deploy", "state": "failed"}]
    mark_branch_skips(tasks, nodes)
    assert all("reason" not in t for t in tasks)
