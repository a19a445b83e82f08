"""local-worker DAGs in real Airflow 3.3 and 2.10: zero import errors, BashOperator tasks with the
compiled ids and links, and bash_command/env rendered with a run conf as the compiler meant."""

from __future__ import annotations

import json
import os
import subprocess

import compile_corpus as cc
import pytest
from fixture_paths import load_airflow_harness
from test_airflow_run_compile import argv_dump, compile_doc, worker_config  # noqa: F401  (fixture)

from mlpipe_lab.runner.contract import DAG_RUNNER_ENV, WORKER_ZIPAPP

harness = load_airflow_harness()

pytestmark = pytest.mark.airflow

CONF = {"alpha": 0.25, "epochs": 4, "mode": "fast", "items": 'it\'s "q" {{ x }}'}


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dags")
    docs = {"everything": cc.everything(), "hostile": cc.hostile()}
    compiled = {}
    for doc in docs.values():
        out = compile_doc(doc, worker_config())
        (folder / out.filename).write_text(out.text, encoding="utf-8")
        compiled[out.dag_id] = out
    return compiled, harness.inspect_both(folder, render=CONF), folder


@pytest.mark.parametrize("version", ["3.3", "2.10"])
def test_imports_and_renders(reports, version, argv_dump, tmp_path):  # noqa: F811
    compiled, docs, folder = reports
    doc = docs[version]
    assert doc["import_errors"] == {}
    for dag_id, out in compiled.items():
        dag = doc["dags"][dag_id]
        assert [t["task_id"] for t in out.tasks] == sorted(
            dag["tasks"], key=[t["task_id"] for t in out.tasks].index
        )
        assert set(dag["tasks"]) == {t["task_id"] for t in out.tasks}
        read = cc.read_dag(
            compile_doc(cc.everything() if dag_id == "everything" else cc.hostile(), cc.CONFIG).text
        )
        for task_id, task in dag["tasks"].items():
            assert task["operator"] == "BashOperator"
            assert task["upstream"] == sorted(read["upstream"][task_id])
            assert task["render_error"] is None, task["render_error"]
            cmd = task["rendered"]["bash_command"]
            if dag_id == "everything":
                assert "--run-prefix 'everything/runs/manual__mlpipe_render' " in cmd
            if task_id == "train_model":
                assert "'alpha=0.25'" in cmd and "'epochs=4'" in cmd and task["retries"] == 3
                assert task["trigger_rule"] == "all_done" and task["pool"] == "gpu_pool"
            env = task["rendered"]["env"]
            # the runner zipapp beside the DAG file, as Airflow's worker reads the DAG
            runner = env.pop(DAG_RUNNER_ENV)
            assert runner == str(folder / WORKER_ZIPAPP), runner
            if dag_id == "everything" and "items" in env:
                assert env["items"] == CONF["items"] and env["mode"] == "fast"
            if "\x00" not in cmd:
                out_file = tmp_path / f"{task_id}.json"
                fake = tmp_path / "mlpipe-runner.pyz"
                fake.write_bytes(b"")
                env2 = {
                    "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                    "MLPIPE_RUNNER_PYTHON": str(argv_dump),
                    DAG_RUNNER_ENV: str(fake),
                    "ARGV_OUT": str(out_file),
                }
                subprocess.run(["bash", "-c", cmd], env=env2, check=True, timeout=30)
                argv = json.loads(out_file.read_text())
                assert argv[:2] == ["-S", str(fake)] and task_id in argv
