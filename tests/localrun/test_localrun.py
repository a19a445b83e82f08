"""Local runs: real pipelines exported, their DAG read back, each node run by the real runner in a
subprocess; parallel branches, trigger rules, cancel, timeouts, the `mlpipe run` command."""

from __future__ import annotations

import json
import re
import shutil
import threading
import time
from pathlib import Path

import pytest
from fixture_paths import EXAMPLES
from pipeline_builder import node, pipeline
from test_runner import notebook

from mlpipe_lab.cli import main
from mlpipe_lab.compiler import compile_pipeline
from mlpipe_lab.localrun import LocalRunError, ParameterError, decide, new_run_id, run_pipeline
from mlpipe_lab.localrun.params import parse_assignments, resolve_params
from mlpipe_lab.pipeline import Parameter, Pipeline, PipelineError, dumps

NO_HTML = {"MLPIPE_RUNNER_HTML": "0"}


def write(folder: Path, name: str, nodes: list[dict], files: dict[str, str], **kw) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for rel, text in files.items():
        (folder / rel).write_text(text)
    path = folder / f"{name}.pipeline"
    path.write_text(dumps(pipeline(name, nodes, **kw)))
    return path


class Events:
    def __init__(self):
        self.items: list[dict] = []
        self.lock = threading.Lock()

    def __call__(self, event: dict) -> None:
        with self.lock:
            self.items.append(event)

    def of(self, task_id: str) -> list[dict]:
        return [e for e in self.items if e.get("task_id") == task_id]

    def ts(self, task_id: str, status: str) -> float:
        return next(e["ts"] for e in self.of(task_id) if e["status"] == status)


def copy_example(name: str, tmp_path: Path) -> Path:
    target = tmp_path / name
    shutil.copytree(EXAMPLES / name, target)
    return target / f"{name}.pipeline"


# -- the examples -------------------------------------------------------------------------------------


def test_iris_example(tmp_path):
    path = copy_example("iris", tmp_path)
    events = Events()
    result = run_pipeline(
        path,
        params={"sample_frac": 0.5},
        artifacts_root=tmp_path / "artifacts",
        on_event=events,
        env=NO_HTML,
    )
    assert result.status == "succeeded", result.report()
    assert re.fullmatch(r"local__\d{8}T\d{6}Z__[0-9a-f]{6}", result.run_id)
    run_dir = Path(result.run_dir)
    assert run_dir == tmp_path / "artifacts" / "iris" / "runs" / result.run_id
    assert result.params == {"sample_frac": 0.5, "learning_rate": 0.1}
    prep, train = result.node("Prepare_data"), result.node("Train")
    assert (prep.label, prep.kind, prep.node_id) == ("Prepare data", "notebook", "prepare")
    assert prep.outputs == ["data/train.csv"] and train.outputs == ["model/centroids.json"]
    rows = (run_dir / "Prepare_data" / "outputs" / "data" / "train.csv").read_text().splitlines()
    assert len(rows) == 1 + 75  # sample_frac reached the notebook
    centroids = json.loads((run_dir / "Train" / "outputs" / "model" / "centroids.json").read_text())
    assert sorted(centroids) == ["0", "1"]
    assert (
        prep.notebook == str(run_dir / "Prepare_data" / "prepare.ipynb")
        and Path(prep.notebook).is_file()
    )
    assert "learning rate (unused): 0.1" in Path(train.log).read_text()
    assert [e["status"] for e in events.of("Train")] == ["queued", "running", "succeeded"]
    assert events.ts("Prepare_data", "succeeded") <= events.ts("Train", "running")
    assert events.items[0]["event"] == "run" and events.items[-1]["status"] == "succeeded"
    record = run_dir / "_mlpipe_local"
    saved = json.loads((record / "result.json").read_text())
    assert saved["status"] == "succeeded" and saved["nodes"][1]["task_id"] == "Train"
    assert len((record / "events.jsonl").read_text().splitlines()) == len(events.items)
    assert (record / "dag.py").is_file()
    assert (tmp_path / "artifacts" / "iris" / "bundles").is_dir()


def test_hello_world_example_and_the_cli(tmp_path, capsys):
    path = copy_example("hello_world", tmp_path)
    result = run_pipeline(path, artifacts_root=tmp_path / "a", max_parallel=1)
    assert result.ok
    assert "hello" in Path(result.node("hello").log).read_text()
    assert "world" in (Path(result.run_dir) / "world" / "world.log").read_text()

    assert main(["run", str(path), "--artifacts", str(tmp_path / "a"), "--no-cache"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"\d\d:\d\d:\d\d  hello\s+running\s+log: ", out)
    assert re.search(r"world\s+succeeded", out) and "Run folder: " in out
    assert re.search(r"Run local__\S+ of hello_world: succeeded in [\d.]+ s", out)

    # nothing changed: both nodes reuse the earlier results (step caching, tests/localrun/test_cache.py)
    assert main(["run", str(path), "--artifacts", str(tmp_path / "a"), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["status"] == "succeeded" and [n["status"] for n in data["nodes"]] == ["cached"] * 2
    runs = sorted(p.name for p in (tmp_path / "a" / "hello_world" / "runs").iterdir())
    assert len(runs) == 3 and len(set(runs)) == 3


# -- parallel branches, outputs, failures ---------------------------------------------------------------

DIAMOND_FILES = {
    "a.py": "open('base.txt', 'w').write('base')\n",
    "b.py": "import time\ntime.sleep(2)\nopen('b.txt', 'w').write(open('base.txt').read() + '+b')\n",
    "c.py": "import time\ntime.sleep(2)\nopen('c.txt', 'w').write(open('base.txt').read() + '+c')\n",
    "d.py": "parts = [open(f).read() for f in ('base.txt', 'b.txt', 'c.txt')]\n"
    "open('d.txt', 'w').write(' '.join(parts))\n",
}


def diamond(folder: Path) -> Path:
    return write(
        folder,
        "diamond",
        [
            node("a", "a.py", outputs=["base.txt"]),
            node("b", "b.py", parents=["a"], outputs=["b.txt"]),
            node("c", "c.py", parents=["a"], outputs=["c.txt"]),
            node("d", "d.py", parents=["b", "c"], outputs=["d.txt"]),
        ],
        DIAMOND_FILES,
    )


def test_diamond_branches_run_in_parallel_and_outputs_flow_down(tmp_path):
    events = Events()
    result = run_pipeline(
        diamond(tmp_path / "p"), artifacts_root=tmp_path / "art", max_parallel=2, on_event=events
    )
    assert result.ok, result.report()
    starts = [events.ts(t, "running") for t in ("b", "c")]
    ends = [events.ts(t, "succeeded") for t in ("b", "c")]
    assert max(starts) < min(ends), "the two branches did not overlap"
    assert events.ts("d", "running") >= max(ends)
    out = Path(result.run_dir) / "d" / "outputs" / "d.txt"
    assert out.read_text() == "base base+b base+c"  # 'base' comes from the grand-parent
    assert result.node("d").upstream == ["b", "c"]


def test_max_parallel_one_runs_branches_one_after_the_other(tmp_path):
    events = Events()
    result = run_pipeline(
        diamond(tmp_path / "p"), artifacts_root=tmp_path / "art", max_parallel=1, on_event=events
    )
    assert result.ok
    first, second = sorted(("b", "c"), key=lambda t: events.ts(t, "running"))
    assert events.ts(second, "running") >= events.ts(first, "succeeded")


def test_failure_report_skips_and_trigger_rules(tmp_path, capsys):
    files = {
        "root.py": "open('r.txt', 'w').write('r')\n",
        "bad.py": "print('working...')\nraise ValueError('boom')\n",
        "child.py": "print('never')\n",
        "grandchild.py": "print('never')\n",
        "cleanup.py": "import os\nprint('cleanup sees', sorted(os.listdir('.')))\n",
        "notify.py": "print('notified')\n",
        "other.py": "print('independent')\n",
    }
    path = write(
        tmp_path / "p",
        "failing",
        [
            node("root", "root.py", outputs=["r.txt"]),
            node("bad", "bad.py", parents=["root"]),
            node("child", "child.py", parents=["bad"]),
            node("grandchild", "grandchild.py", parents=["child"]),
            node("cleanup", "cleanup.py", parents=["bad"], mlpipe={"trigger_rule": "all_done"}),
            node("notify", "notify.py", parents=["child"], mlpipe={"trigger_rule": "always"}),
            node("other", "other.py"),
        ],
        files,
    )
    result = run_pipeline(path, artifacts_root=tmp_path / "art")
    status = {n.task_id: n.status for n in result.nodes}
    assert status == {
        "root": "succeeded",
        "bad": "failed",
        "child": "skipped",
        "grandchild": "skipped",
        "cleanup": "succeeded",
        "notify": "succeeded",
        "other": "succeeded",
    }
    assert result.status == "failed"
    bad = result.node("bad")
    assert bad.message == "node 'bad' failed: bad.py exited with status 1 (ValueError: boom)"
    assert bad.exit_code == 1 and [n.task_id for n in result.failures] == ["bad"]
    assert result.node("child").message == "upstream bad failed"
    assert result.node("grandchild").message == "upstream child did not run after a failure"
    assert (
        "working..." in (Path(result.run_dir) / "bad" / "bad.log").read_text()
    )  # the uploaded log
    assert "Traceback" in Path(bad.log).read_text()  # the live log
    assert "upstream task bad left no manifest" in Path(result.node("cleanup").log).read_text()
    report = result.report()
    assert report.splitlines()[0] == f"Run {result.run_id} of failing: failed"
    assert (
        "  FAILED bad.py (bad): node 'bad' failed: bad.py exited with status 1 (ValueError: boom)"
        in report
    )
    assert f"    log: {bad.log}" in report and "skipped: child (upstream bad failed)" in report

    assert main(["run", str(path), "--artifacts", str(tmp_path / "art")]) == 1
    out = capsys.readouterr().out
    assert (
        "FAILED bad.py (bad): node 'bad' failed: bad.py exited with status 1 (ValueError: boom)"
        in out
    )
    assert re.search(r"child\s+skipped\s+upstream bad failed", out)


def test_execution_timeout_fails_the_node(tmp_path):
    path = write(
        tmp_path / "p",
        "slow",
        [
            node("sleepy", "sleepy.py", mlpipe={"execution_timeout_seconds": 2}),
            node("after", "after.py", parents=["sleepy"]),
        ],
        {
            "sleepy.py": "import time\nprint('sleeping', flush=True)\ntime.sleep(120)\n",
            "after.py": "pass\n",
        },
    )
    t0 = time.monotonic()
    result = run_pipeline(path, artifacts_root=tmp_path / "art", grace_seconds=5)
    assert time.monotonic() - t0 < 60
    assert result.status == "failed"
    assert result.node("sleepy").message == "node 'sleepy' timed out after 2 s (execution timeout)"
    assert result.node("after").status == "skipped"
    assert "sleeping" in (Path(result.run_dir) / "sleepy" / "sleepy.log").read_text()


# -- cancel ----------------------------------------------------------------------------------------------


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_cancel_stops_running_nodes_and_cancels_the_rest(tmp_path):
    pids = tmp_path / "pids"
    pids.mkdir()
    files = {
        "slow.py": f"import os, time\nopen({str(pids / 'py')!r}, 'w').write(str(os.getpid()))\n"
        "print('python node started', flush=True)\ntime.sleep(120)\n",
        "slow.ipynb": notebook(
            f"import os, time\nopen({str(pids / 'kernel')!r}, 'w').write(str(os.getpid()))",
            "time.sleep(120)",
        ),
        "after.py": "print('never')\n",
    }
    path = write(
        tmp_path / "p",
        "cancelme",
        [
            node("slow_py", "slow.py", label="slow_py"),
            node("slow_nb", "slow.ipynb", label="slow_nb"),
            node(
                "after",
                "after.py",
                parents=["slow_py", "slow_nb"],
                mlpipe={"trigger_rule": "all_done"},
            ),
        ],
        files,
    )
    cancel = threading.Event()
    events = Events()
    box: dict = {}
    thread = threading.Thread(
        target=lambda: box.setdefault(
            "result",
            run_pipeline(
                path,
                artifacts_root=tmp_path / "art",
                on_event=events,
                cancel_event=cancel,
                env=NO_HTML,
            ),
        )
    )
    thread.start()
    deadline = time.monotonic() + 120
    while (
        not ((pids / "py").is_file() and (pids / "kernel").is_file())
        and time.monotonic() < deadline
    ):
        time.sleep(0.1)
    time.sleep(0.5)  # the notebook's second cell is running
    py_pid, kernel_pid = int((pids / "py").read_text()), int((pids / "kernel").read_text())
    t0 = time.monotonic()
    cancel.set()
    thread.join(timeout=60)
    assert not thread.is_alive()
    assert time.monotonic() - t0 < 30
    result = box["result"]
    assert result.status == "cancelled"
    assert {n.task_id: n.status for n in result.nodes} == {
        "slow_py": "cancelled",
        "slow_nb": "cancelled",
        "after": "cancelled",
    }
    assert result.node("after").message == "the run was cancelled"
    for _ in range(50):
        if not _alive(py_pid) and not _alive(kernel_pid):
            break
        time.sleep(0.2)
    assert not _alive(py_pid) and not _alive(kernel_pid)
    run_dir = Path(result.run_dir)
    assert "node 'slow_py' failed: terminated" in Path(result.node("slow_py").log).read_text()
    assert "python node started" in (run_dir / "slow_py" / "slow_py.log").read_text()
    assert (run_dir / "slow_nb" / "slow.ipynb").is_file()  # the executed part is kept
    assert [e["status"] for e in events.of("after")] == ["queued", "cancelled"]
    assert events.items[-1] == {**events.items[-1], "event": "run", "status": "cancelled"}


# -- parameters, DAG reading, trigger rules --------------------------------------------------------------


def test_parameters():
    declared = [
        Parameter("n", "integer", 3, minimum=1),
        Parameter("x", "number", 0.5),
        Parameter("flag", "boolean", False),
        Parameter("name", "string", "a", enum=("a", "b")),
        Parameter("req", "string", None, required=True),
    ]
    values = resolve_params(declared, {"n": "4", "x": "1e-3", "flag": "yes", "req": "r"})
    assert values == {"n": 4, "x": 0.001, "flag": True, "name": "a", "req": "r"}
    assert resolve_params(declared, {"n": 2, "x": 2, "req": "z"})["x"] == 2
    for given, message in [
        ({"req": "r", "n": "0"}, "at least 1"),
        ({"req": "r", "n": "1.5"}, "integer"),
        ({"req": "r", "flag": "maybe"}, "boolean"),
        ({"req": "r", "name": "c"}, "one of"),
        ({}, "'req' is required"),
        ({"req": "r", "zzz": 1}, "no parameter 'zzz'"),
        ({"req": "r", "x": True}, "must be a number"),
    ]:
        with pytest.raises(ParameterError, match=message):
            resolve_params(declared, given)
    assert parse_assignments(["a=1", "b=x=y", "c="]) == {"a": "1", "b": "x=y", "c": ""}
    with pytest.raises(ParameterError):
        parse_assignments(["novalue"])


def test_bad_parameters_and_bad_pipelines_start_nothing(tmp_path, capsys):
    path = copy_example("iris", tmp_path)
    with pytest.raises(ParameterError, match="at most 1"):
        run_pipeline(path, params={"sample_frac": 2}, artifacts_root=tmp_path / "art")
    assert (
        main(["run", str(path), "--artifacts", str(tmp_path / "art"), "-p", "sample_frac=abc"]) == 2
    )
    assert "parameter 'sample_frac' is a number" in capsys.readouterr().err
    broken = write(tmp_path / "b", "broken", [node("x", "missing.py")], {})
    with pytest.raises(PipelineError):
        run_pipeline(broken, artifacts_root=tmp_path / "art")
    assert main(["run", str(broken), "--artifacts", str(tmp_path / "art")]) == 1
    assert not (tmp_path / "art" / "broken").exists() or not any(
        (tmp_path / "art" / "broken" / "runs").iterdir()
    )
    with pytest.raises(LocalRunError):
        run_pipeline(path, artifacts_root=tmp_path / "art", max_parallel=0)
    result = run_pipeline(
        copy_example("hello_world", tmp_path / "h"), artifacts_root=tmp_path / "art", run_id="fixed"
    )
    assert result.ok and result.run_id == "fixed"
    with pytest.raises(LocalRunError, match="already exists"):
        run_pipeline(
            copy_example("hello_world", tmp_path / "h2"),
            artifacts_root=tmp_path / "art",
            run_id="fixed",
        )


def test_run_ids_are_unique():
    ids = {new_run_id() for _ in range(50)}
    assert len(ids) == 50 and all(i.startswith("local__") for i in ids)


@pytest.mark.parametrize(
    "rule, states, expected",
    [
        ("all_success", ["success", "success"], "run"),
        ("all_success", ["success", "failed"], "upstream_failed"),
        ("all_success", ["success", "skipped"], "skipped"),
        ("all_done", ["failed", "upstream_failed"], "run"),
        ("always", ["upstream_failed"], "run"),
        ("all_failed", ["failed", "upstream_failed"], "run"),
        ("all_failed", ["failed", "success"], "skipped"),
        ("one_success", ["failed", "success"], "run"),
        ("one_success", ["failed", "failed"], "upstream_failed"),
        ("one_failed", ["success", "failed"], "run"),
        ("one_failed", ["success"], "skipped"),
        ("one_done", ["skipped", "failed"], "run"),
        ("none_failed", ["success", "skipped"], "run"),
        ("none_failed", ["upstream_failed"], "upstream_failed"),
        ("none_failed_min_one_success", ["skipped", "skipped"], "skipped"),
        ("none_skipped", ["failed"], "run"),
        ("all_skipped", ["skipped"], "run"),
        ("all_success", [], "run"),
    ],
)
def test_trigger_rules(rule, states, expected):
    assert decide(rule, states) == expected


def _airflow_render(value, context):
    """What Airflow's rendering of a templated field gives (sandboxed Jinja, strict undefined)."""
    import jinja2.sandbox

    env = jinja2.sandbox.SandboxedEnvironment(
        undefined=jinja2.StrictUndefined, keep_trailing_newline=True
    )
    if isinstance(value, list):
        return [_airflow_render(v, context) for v in value]
    if isinstance(value, dict):
        return {k: _airflow_render(v, context) for k, v in value.items()}
    return env.from_string(value).render(**context)


def test_local_runs_start_what_the_dags_pods_would_start():
    """The plan a local run executes, its run-time values filled in, against the generated DAG
    read by the tests' own reader and rendered by Jinja as Airflow would."""
    import compile_corpus as cc

    from mlpipe_lab.localrun.run import _tasks, local_run_config
    from mlpipe_lab.plan import plan as make_plan

    doc = pipeline(
        "reader",
        [
            node(
                "a",
                "a.py",
                env_vars=[{"env_var": "GREETING", "value": "{{ hi }}"}],
                pipeline_parameters=["k"],
            ),
            node("b", "b.py", parents=["a"], mlpipe={"trigger_rule": "all_done"}),
            node(
                "c",
                "c.py",
                parents=["a"],
                mlpipe={"trigger_rule": "all_done", "execution_timeout_seconds": 7},
            ),
            node(
                "d",
                "d.ipynb",
                parents=["b", "c"],
                outputs=["x.csv"],
                pipeline_parameters=["k", "items"],
            ),
        ],
        mlpipe={
            "execution_timeout_seconds": 60,
            "parameters": [
                {"name": "k", "type": "integer", "default": 1},
                {"name": "items", "type": "string", "default": "it's"},
            ],
        },
    )
    pipe = Pipeline(doc, "reader.pipeline")
    config = local_run_config(Path("/srv/art"))
    dag = cc.read_dag(
        compile_pipeline(pipe, images=[], config=config, source_path="reader.pipeline").text
    )
    plan = make_plan(pipe, config)
    assert plan.ok
    values = {"k": 3, "items": "it's"}
    tasks = _tasks(plan, "manual__1", values, Path("/rec"), Path("/run"), "PY", {}, [])
    assert dag["order"] == [t.node.task_id for t in tasks]
    assert dag["upstream"] == {t.node.task_id: t.upstream for t in tasks}
    context = {"run_id": "manual__1", "params": values}
    for task in tasks:
        kwargs = dag["tasks"][task.node.task_id]
        assert task.node.trigger_rule == kwargs.get("trigger_rule", "all_success")
        cmds, args = (
            _airflow_render(kwargs["cmds"], context),
            _airflow_render(kwargs["arguments"], context),
        )
        assert cmds[:3] == ["python3", "-m", "mlpipe_lab.runner"]
        assert task.argv == ["PY", *cmds[1:], *args]
        env = _airflow_render(kwargs.get("env_vars") or {}, context)
        assert {k: task.env[k] for k in env} == env
    by_id = {t.node.task_id: t for t in tasks}
    assert by_id["c"].timeout == 7 and by_id["a"].timeout == 60
    assert by_id["a"].env["GREETING"] == "{{ hi }}" and by_id["a"].env["k"] == "3"
    assert "k=3" in by_id["d"].argv and 'items="it\\u0027s"' in by_id["d"].argv
    assert "--root" in by_id["d"].argv and "/srv/art" in by_id["d"].argv
    assert plan.dag_id == "reader"


def test_ctrl_c_cancels_mlpipe_run(tmp_path):
    import os
    import signal
    import subprocess
    import sys

    path = write(
        tmp_path / "p",
        "interrupt",
        [
            node("wait", "wait.py", label="wait"),
            node("next", "next.py", parents=["wait"], label="next"),
        ],
        {
            "wait.py": "import time\nprint('waiting', flush=True)\ntime.sleep(120)\n",
            "next.py": "pass\n",
        },
    )
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlpipe_lab.cli",
            "run",
            str(path),
            "--artifacts",
            str(tmp_path / "art"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        for line in proc.stdout:
            if re.search(r"wait\s+running", line):
                break
        time.sleep(1)
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130
    assert "cancelling: stopping running nodes" in out
    assert re.search(r"Run local__\S+ of interrupt: cancelled", out)
    assert re.search(r"next\s+cancelled\s+the run was cancelled", out)


# -- no runtime image -------------------------------------------------------------------------------


def test_a_pipeline_without_runtime_images_validates_runs_and_caches_locally(tmp_path, capsys):
    """A local run starts nodes with this machine's Python: no image needed. Export (a DAG whose
    tasks are pods) still refuses, naming the node and the field."""
    path = write(
        tmp_path / "proj",
        "noimage",
        [
            node("a", "a.py", image=None, outputs=["a.txt"]),
            node("b", "b.py", parents=["a"], image=None),
        ],
        {
            "a.py": "open('a.txt', 'w').write('from a')\n",
            "b.py": "print('b read', open('a.txt').read())\n",
        },
    )
    art = str(tmp_path / "art")
    assert main(["validate", str(path)]) == 0
    out = capsys.readouterr().out
    assert "warning: noimage › node 'a.py' › component_parameters/runtime_image" in out
    assert "a local run does not need one" in out and ": valid (0 errors, 1 warnings)" in out

    result = run_pipeline(path, artifacts_root=art, env=NO_HTML)
    assert result.status == "succeeded", result.report()
    assert "b read from a" in Path(result.node("b").log).read_text()

    # `mlpipe run`: runs, and step caching keys work without an image (both nodes reused)
    assert main(["run", str(path), "--artifacts", art, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["status"] == "succeeded" and [n["status"] for n in data["nodes"]] == ["cached"] * 2
    assert main(["run", str(path), "--artifacts", art, "--no-cache"]) == 0
    assert re.search(r"Run local__\S+ of noimage: succeeded", capsys.readouterr().out)

    # a Kubernetes DAG needs the images: export refuses, names node and field, writes nothing
    out_dag = tmp_path / "dags" / "noimage.py"
    assert main(["export", str(path), "-o", str(out_dag)]) == 1
    err = capsys.readouterr().err
    assert "node 'a.py' › component_parameters/runtime_image: No runtime image" in err
    assert "node 'b.py' › component_parameters/runtime_image" in err
    assert not out_dag.exists()
