"""The runs API on Airflow shows a fan-out node as one task with its items (mapped task
instances merged; the helper ``<task>__items`` left out when the plan knows the node)."""

from __future__ import annotations

from mlpipe_lab.runs.airflow import merge_mapped


def _ti(task_id, state, map_index=-1, start=None, end=None):
    return {
        "task_id": task_id,
        "state": state,
        "map_index": map_index,
        "start_date": start,
        "end_date": end,
        "try_number": 1,
    }


def test_mapped_instances_become_one_task_with_items():
    tis = [
        _ti("prep", "success"),
        _ti("work__items", "success"),
        _ti("work", "success", 0, "t1", "t3"),
        _ti("work", "running", 1, "t2"),
        _ti("work", "failed", 2, "t0", "t4"),
        _ti("join", None),
    ]
    merged = merge_mapped(tis, {"prep": {}, "work": {}, "join": {}})
    assert [t["task_id"] for t in merged] == ["prep", "work", "join"]
    work = merged[1]
    assert work["state"] == "failed" and work["start_date"] == "t0" and work["end_date"] is None
    assert work["items"] == {"total": 3, "success": 1, "failed": 1, "running": 1}


def test_states_of_a_mapped_task():
    def state(*states):
        tis = [_ti("w", s, i, "a", "b") for i, s in enumerate(states)]
        return merge_mapped(tis, {"w": {}})[0]["state"]

    assert state("success", "success") == "success"
    assert state("success", "queued") == "running"
    assert state("skipped") == "skipped"
    assert state("upstream_failed", "success") == "failed"
    # an unknown DAG (no plan): the helper task stays visible
    assert [t["task_id"] for t in merge_mapped([_ti("w__items", "success")], {})] == ["w__items"]


def test_the_cli_shows_a_fan_out_nodes_items():
    from mlpipe_lab.runs.cli import _task_line

    task = {
        "task_id": "work",
        "label": "work",
        "state": "running",
        "try_number": 1,
        "message": None,
        "items": {"total": 3, "success": 1, "failed": 0, "running": 2},
    }
    assert _task_line(task, 6).endswith("items: 1/3 succeeded, 0 failed, 2 running")
