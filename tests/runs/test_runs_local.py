"""The runs API with the local runtime, through a real Jupyter server (jp_fetch): real pipelines run
by the real engine in the server's background threads; answers checked against openapi.yaml."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from fixture_paths import EXAMPLES
from openapi_check import check_response
from pipeline_builder import node, pipeline

from mlpipe_lab.cli import main
from mlpipe_lab.pipeline import dumps
from mlpipe_lab.runs import RunsService
from mlpipe_lab.services import Services


def write(folder: Path, name: str, nodes: list[dict], files: dict[str, str], **kw) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for rel, text in files.items():
        (folder / rel).write_text(text)
    path = folder / f"{name}.pipeline"
    path.write_text(dumps(pipeline(name, nodes, **kw)))
    return path


@pytest.fixture
def api(jp_fetch, jp_root_dir):
    shutil.copytree(EXAMPLES / "hello_world", jp_root_dir / "hello_world")

    async def call(method, path, body=None, headers=None, check=True):
        kwargs = {"method": method, "raise_error": False}
        if body is not None:
            kwargs["body"] = body if isinstance(body, (str, bytes)) else json.dumps(body)
        elif method == "POST":
            kwargs["body"] = ""
        if headers is not None:
            kwargs["headers"] = headers
        base, _, query = path.partition("?")
        params = dict(p.split("=", 1) for p in query.split("&")) if query else None
        response = await jp_fetch(
            "mlpipe-lab", *[quote(p, safe="") for p in base.split("/")], params=params, **kwargs
        )
        if check:
            check_response(method, "/" + base, response.code, response.body)
        return response.code, json.loads(response.body) if response.body else None

    return call


async def until_done(api, run, timeout=90):
    deadline = time.monotonic() + timeout
    while True:
        code, now = await api("GET", f"runs/{run['runtime_config']}/{run['dag_id']}/{run['id']}")
        assert code == 200, now
        if now["state"] not in ("queued", "running"):
            return now
        assert time.monotonic() < deadline, now
        await asyncio.sleep(0.3)


async def test_local_run_end_to_end_states_tasks_logs_and_listing(api):
    code, run = await api(
        "POST", "runs", {"path": "hello_world/hello_world.pipeline", "runtime_config": "local"}
    )
    assert code == 202, run
    assert (run["kind"], run["state"], run["dag_id"], run["pipeline"]) == (
        "local",
        "queued",
        "hello_world",
        "hello_world/hello_world.pipeline",
    )
    assert [t["task_id"] for t in run["tasks"]] == ["hello", "world"]
    assert {t["state"] for t in run["tasks"]} == {"none"}

    # the run is listed (and found by its pipeline) from the moment it was accepted
    code, listed = await api("GET", "runs?path=hello_world/hello_world.pipeline")
    assert code == 200 and [r["id"] for r in listed["runs"]] == [run["id"]]

    done = await until_done(api, run)
    assert done["state"] == "success", done
    assert done["ended"] and done["started"] <= done["ended"] and done["message"] is None
    tasks = {t["task_id"]: t for t in done["tasks"]}
    assert tasks["hello"]["node_id"] == "11111111-aaaa-4aaa-8aaa-000000000001"
    assert tasks["hello"]["label"] == "hello.py"
    assert all(
        t["state"] == "success" and t["try_number"] == 1 and t["started"] and t["ended"]
        for t in tasks.values()
    )
    assert tasks["hello"]["ended"] <= tasks["world"]["started"]  # world waits for hello
    assert Path(done["links"]["artifacts"]).is_dir()

    base = f"runs/local/hello_world/{run['id']}/logs/"
    code, log = await api("GET", base + "hello")
    assert code == 200 and "hello" in log["text"] and log["complete"] is True
    assert log["offset"] == len(log["text"].encode())
    code, rest = await api("GET", base + f"hello?offset={log['offset']}")
    assert rest == {"text": "", "offset": log["offset"], "complete": True}
    code, part = await api("GET", base + "hello?offset=5")
    assert part["text"] == log["text"][5:]

    code, listed = await api("GET", "runs?runtime_config=local&dag_id=hello_world")
    assert [r["id"] for r in listed["runs"]] == [run["id"]]
    assert listed["runs"][0]["state"] == "success" and listed["runs"][0]["tasks"] == []
    code, other = await api("GET", "runs?dag_id=not_this_one")
    assert code == 200 and other["runs"] == []

    code, again = await api("POST", f"runs/local/hello_world/{run['id']}/cancel")
    assert code == 409 and "already finished" in again["error"]["message"]


async def test_failure_names_the_node_and_params_reach_it(api, jp_root_dir):
    write(
        jp_root_dir / "bad",
        "bad",
        [
            node("ok", "ok.py", label="Prepare"),
            node("boom", "boom.py", parents=["ok"], label="Train model"),
            node("after", "ok.py", parents=["boom"], label="Report"),
        ],
        {
            "ok.py": "print('fine')\n",
            "boom.py": "import sys\nprint('about to fail')\nsys.exit('bad data in row 7')\n",
        },
    )
    code, run = await api("POST", "runs", {"path": "bad/bad.pipeline", "runtime_config": "local"})
    assert code == 202, run
    done = await until_done(api, run)
    assert done["state"] == "failed"
    assert "Node 'Train model' (Train_model) failed" in done["message"]
    assert "failed: node '" not in done["message"]
    tasks = {t["task_id"]: t for t in done["tasks"]}
    assert tasks["Prepare"]["state"] == "success"
    assert tasks["Train_model"]["state"] == "failed" and tasks["Train_model"]["message"]
    assert tasks["Report"]["state"] == "upstream_failed"
    code, log = await api("GET", f"runs/local/bad/{run['id']}/logs/Train_model")
    assert "about to fail" in log["text"] and "bad data in row 7" in log["text"]


async def test_parameters_and_unsaved_content(api, jp_root_dir):
    folder = jp_root_dir / "params"
    path = write(
        folder,
        "p",
        [node("n", "n.py", label="n")],
        {"n.py": "import os\nprint('greeting=' + os.environ['GREETING'])\n"},
    )
    doc = json.loads(path.read_text())
    props = doc["pipelines"][0]["app_data"]["properties"]
    props["pipeline_parameters"] = [
        {"name": "who", "default_value": {"type": "String", "value": "nobody"}}
    ]
    doc["pipelines"][0]["nodes"][0]["app_data"]["component_parameters"]["env_vars"] = [
        {"env_var": "GREETING", "value": "hello"}
    ]
    doc["pipelines"][0]["nodes"][0]["app_data"]["component_parameters"]["pipeline_parameters"] = [
        "who"
    ]
    path.write_text(json.dumps(doc))
    # the saved file says "hello"; the editor's unsaved text says "bonjour": the run uses the latter
    unsaved = json.loads(path.read_text())
    unsaved["pipelines"][0]["nodes"][0]["app_data"]["component_parameters"]["env_vars"][0][
        "value"
    ] = "bonjour"
    code, run = await api(
        "POST",
        "runs",
        {
            "path": "params/p.pipeline",
            "runtime_config": "local",
            "params": {"who": "world"},
            "content": json.dumps(unsaved),
        },
    )
    assert code == 202, run
    assert run["params"] == {"who": "world"}
    done = await until_done(api, run)
    assert done["state"] == "success", done
    assert done["params"] == {"who": "world"}
    code, log = await api("GET", f"runs/local/p/{run['id']}/logs/n")
    assert "greeting=bonjour" in log["text"]
    assert "bonjour" not in path.read_text()  # the file on disk is left alone

    code, err = await api(
        "POST",
        "runs",
        {"path": "params/p.pipeline", "runtime_config": "local", "params": {"nope": 1}},
    )
    assert code == 400 and err["error"]["field"] == "params" and "nope" in err["error"]["message"]


async def test_cancel_stops_a_running_node(api, jp_root_dir):
    write(
        jp_root_dir / "slow",
        "slow",
        [node("s", "s.py", label="Sleepy"), node("t", "s.py", parents=["s"])],
        {"s.py": "import time\nprint('sleeping', flush=True)\ntime.sleep(120)\n"},
    )
    code, run = await api("POST", "runs", {"path": "slow/slow.pipeline", "runtime_config": "local"})
    assert code == 202
    url = f"runs/local/slow/{run['id']}"
    deadline = time.monotonic() + 60
    while True:  # wait until the node runs (and has printed), then cancel it
        code, now = await api("GET", url)
        code, log = await api("GET", url + "/logs/Sleepy")
        if now["tasks"] and now["tasks"][0]["state"] == "running" and "sleeping" in log["text"]:
            assert log["complete"] is False
            break
        assert time.monotonic() < deadline, now
        await asyncio.sleep(0.3)
    started = time.monotonic()
    code, cancelled = await api("POST", url + "/cancel")
    assert code == 200, cancelled
    assert time.monotonic() - started < 15
    assert cancelled["state"] == "cancelled" and cancelled["message"] == "The run was cancelled."
    assert [t["state"] for t in cancelled["tasks"]] == ["cancelled", "cancelled"]


@pytest.mark.parametrize(
    "body,status,field",
    [
        ({"path": "hello_world/hello_world.pipeline"}, 400, "runtime_config"),
        ({"path": "hello_world/hello_world.pipeline", "runtime_config": "nope"}, 404, None),
        ({"path": "../x.pipeline", "runtime_config": "local"}, 403, "path"),
        ({"path": "missing.pipeline", "runtime_config": "local"}, 404, "path"),
        (
            {"path": "hello_world/hello_world.pipeline", "runtime_config": "local", "params": [1]},
            400,
            "params",
        ),
        (
            {"path": "hello_world/hello_world.pipeline", "runtime_config": "local", "content": 3},
            400,
            "content",
        ),
        (
            {
                "path": "hello_world/hello_world.pipeline",
                "runtime_config": "local",
                "publish": True,
            },
            400,
            "publish",
        ),
    ],
)
async def test_bad_start_requests_are_clear_4xx(api, body, status, field):
    code, err = await api("POST", "runs", body)
    assert code == status, err
    assert err["error"]["message"]
    if field:
        assert err["error"].get("field") == field


async def test_pipeline_errors_are_422_with_problems(api, jp_root_dir):
    write(jp_root_dir / "broken", "broken", [node("a", "missing.py")], {})
    code, err = await api(
        "POST", "runs", {"path": "broken/broken.pipeline", "runtime_config": "local"}
    )
    assert code == 422
    assert "broken/broken.pipeline" in err["error"]["message"]
    assert any("missing.py" in p["message"] for p in err["error"]["problems"])


async def test_unknown_runs_logs_and_bad_queries(api):
    for path, status in [
        ("runs/local/hello_world/local__nope", 404),
        ("runs/local/hello_world/..", 404),
        ("runs/nope/hello_world/x", 404),
        ("runs/local/hello_world/local__nope/logs/hello", 404),
        ("runs?limit=0", 400),
        ("runs?limit=x", 400),
        ("runs?dag_id=a%2Fb", 400),
    ]:
        code, err = await api("GET", path)
        assert code == status, (path, err)
        assert err["error"]["message"]
    code, err = await api("POST", "runs/local/hello_world/local__nope/cancel")
    assert code == 404


async def test_runs_routes_require_authentication(api):
    for method, path in [
        ("GET", "runs"),
        ("POST", "runs"),
        ("GET", "runs/local/d/r"),
        ("GET", "runs/local/d/r/logs/t"),
        ("POST", "runs/local/d/r/cancel"),
        ("POST", "publish-status"),
    ]:
        code, _ = await api(
            method,
            path,
            body="{}" if method == "POST" else None,
            headers={"Authorization": ""},
            check=False,
        )
        assert code == 403, (method, path)


# -- without a server: records read back after a restart, and runs made by `mlpipe run` ----------------


def test_runs_survive_a_restart_and_cli_runs_are_listed(tmp_path, capsys):
    folder = tmp_path / "root"
    shutil.copytree(EXAMPLES / "hello_world", folder / "hello_world")
    assert main(["run", str(folder / "hello_world" / "hello_world.pipeline")]) == 0
    capsys.readouterr()

    fresh = RunsService(Services(folder))  # a new server process: nothing in memory
    runs = fresh.list()["runs"]
    assert len(runs) == 1
    run = runs[0]
    assert (run["runtime_config"], run["dag_id"], run["state"], run["pipeline"]) == (
        "local",
        "hello_world",
        "success",
        "hello_world/hello_world.pipeline",
    )
    full = fresh.get("local", "hello_world", run["id"])
    assert [t["state"] for t in full["tasks"]] == ["success", "success"]
    assert "hello" in fresh.logs("local", "hello_world", run["id"], "hello")["text"]

    # a run whose process died mid-way (no result, its pid gone) is "unknown", not "running" forever
    record = Path(full["links"]["artifacts"]) / "_mlpipe_local"
    (record / "result.json").unlink()
    events = (record / "events.jsonl").read_text().splitlines()
    (record / "events.jsonl").write_text(
        "\n".join(events[:-3]) + '\n{"event": "no'
    )  # torn last line
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    info = json.loads((record / "run.json").read_text())
    info["pid"] = int(dead.stdout)
    (record / "run.json").write_text(json.dumps(info))
    again = RunsService(Services(folder)).get("local", "hello_world", run["id"])
    assert again["state"] == "unknown" and "stopped before it finished" in again["message"]
    assert again["ended"] is None

    # seen from a server rooted elsewhere, the pipeline path is null (never an absolute path)
    (tmp_path / "other").mkdir()
    elsewhere = RunsService(Services(tmp_path / "other")).list()["runs"]
    assert [r["pipeline"] for r in elsewhere] == [None]


def test_runner_python_from_the_runtime_config(tmp_path):
    """The local runtime's runner_python is the interpreter of every node."""
    folder = tmp_path / "root"
    write(
        folder,
        "which",
        [node("w", "w.py", label="w")],
        {"w.py": "import sys\nprint('exe=' + sys.executable)\n"},
    )
    venv = tmp_path / "py"
    os.makedirs(venv / "bin")
    wrapper = venv / "bin" / "python"  # a distinct interpreter path that still has mlpipe-lab
    marker = tmp_path / "used"
    wrapper.write_text(f'#!/bin/sh\necho "$@" >> {marker}\nexec {sys.executable} "$@"\n')
    wrapper.chmod(0o755)
    services = Services(folder, allowed_local_paths=[tmp_path])  # the artifacts lie beside the root
    services.catalogs.create(
        "runtime-configs",
        {
            "name": "mine",
            "type": "local",
            "local": {"artifacts_path": str(tmp_path / "art"), "runner_python": str(wrapper)},
        },
    )
    runs = RunsService(services)
    run = runs.start({"path": "which.pipeline", "runtime_config": "mine"})
    runs.local.wait(run["id"], 60)
    done = runs.get("mine", "which", run["id"])
    assert done["state"] == "success", done
    assert (
        "-m mlpipe_lab.runner" in marker.read_text()
    )  # the node was started through runner_python


# -- Airflow configurations, where no Airflow is needed to tell what is wrong ---------------------------


AIRFLOW_DOWN = {
    "name": "af-down",
    "type": "airflow",
    "airflow": {
        "api_endpoint": "http://127.0.0.1:9",
        "version": "auto",
        "auth": {"type": "basic", "username": "u", "password": "canary-pw-77"},
    },
    "dag_repo": {"url": "https://git.invalid/dags.git"},
}


async def test_airflow_unreachable_is_a_502_in_plain_words(api):
    code, _ = await api("POST", "catalogs/runtime-configs", AIRFLOW_DOWN, check=False)
    assert code == 201
    calls = [
        ("GET", "runs?runtime_config=af-down&dag_id=hello_world", None),
        ("GET", "runs?runtime_config=af-down&path=hello_world/hello_world.pipeline", None),
        ("GET", "runs/af-down/hello_world/manual__1", None),
        ("POST", "runs", {"runtime_config": "af-down", "path": "hello_world/hello_world.pipeline"}),
        ("POST", "publish-status", {"runtime_config": "af-down", "dag_id": "hello_world"}),
    ]
    for method, path, body in calls:
        code, err = await api(method, path, body)
        assert code == 502, (path, err)
        assert "Airflow at http://127.0.0.1:9 cannot be reached" in err["error"]["message"], err
        assert "canary-pw-77" not in json.dumps(err)


async def test_airflow_requests_that_cannot_work_are_4xx(api):
    await api("POST", "catalogs/runtime-configs", AIRFLOW_DOWN, check=False)
    for method, path, body, field in [
        ("GET", "runs?runtime_config=af-down", None, "dag_id"),
        ("POST", "publish-status", {"runtime_config": "local", "dag_id": "x"}, "runtime_config"),
        ("POST", "publish-status", {"runtime_config": "af-down", "dag_id": "../x"}, "dag_id"),
        (
            "POST",
            "publish-status",
            {"runtime_config": "af-down", "dag_id": "x", "commit": "zz top"},
            "commit",
        ),
        (
            "POST",
            "runs",
            {
                "runtime_config": "af-down",
                "path": "hello_world/hello_world.pipeline",
                "content": "{}",
            },
            "content",
        ),
        ("POST", "runs", {"runtime_config": "af-down"}, "path"),
        (
            "POST",
            "runs",
            {"runtime_config": "af-down", "dag_id": "x", "import_timeout": -1},
            "import_timeout",
        ),
    ]:
        code, err = await api(method, path, body)
        assert code == 400, (path, body, err)
        assert err["error"].get("field") == field, (path, body, err)


# -- the command line ---------------------------------------------------------------------------------


def test_cli_trigger_runs_show_and_logs_for_local_runs(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shutil.copytree(EXAMPLES / "hello_world", tmp_path / "hello_world")
    pipe = str(tmp_path / "hello_world" / "hello_world.pipeline")
    assert main(["trigger", pipe, "-r", "local", "--json"]) == 0  # a local run is always waited for
    captured = capsys.readouterr()
    run = json.loads(captured.out)
    assert run["state"] == "success" and run["kind"] == "local"
    assert (
        "hello" in captured.err and "success" in captured.err
    )  # live task lines go to stderr with --json

    assert main(["runs"]) == 0
    out = capsys.readouterr().out
    assert run["id"] in out and "success" in out and "hello_world" in out
    assert main(["runs", pipe, "--json"]) == 0
    assert [r["id"] for r in json.loads(capsys.readouterr().out)["runs"]] == [run["id"]]

    assert main(["runs", "show", run["id"]]) == 0
    out = capsys.readouterr().out
    assert f"Run {run['id']} of hello_world (local, local): success" in out
    assert re.search(r"hello\s+success\s+try 1 \(hello\.py\)", out)

    assert main(["logs", run["id"], "world", "--follow"]) == 0
    assert "world" in capsys.readouterr().out
    assert main(["logs", run["id"], "nope"]) == 2
    assert "has no task 'nope'" in capsys.readouterr().err
    assert main(["runs", "show", "local__nope"]) == 2
    assert main(["trigger", "-r", "local"]) == 2  # neither a pipeline nor a DAG id
    capsys.readouterr()


def test_cli_trigger_wait_exit_code_and_failed_log_tail(tmp_path, capsys):
    path = write(
        tmp_path / "p",
        "fail",
        [node("x", "x.py", label="Explode")],
        {"x.py": "print('line before the end')\nraise SystemExit('kaboom')\n"},
    )
    assert main(["trigger", str(path), "-r", "local", "--wait"]) == 1
    out = capsys.readouterr().out
    assert "--- last" in out and "log of Explode" in out and "kaboom" in out
    assert "Node 'Explode' failed" in out


def test_a_run_whose_folder_appears_while_listing_is_listed_once(tmp_path):
    """The listing first notes the runs still starting (no folder yet), then reads the folders; a
    run whose folder is made between the two steps used to be listed twice."""
    from mlpipe_lab.runs.local import LocalRuns, _Active

    class CheckedJustBeforeItWasMade(type(tmp_path)):
        def exists(self, **kwargs):
            return False

    root = tmp_path / "artifacts"
    run_dir = root / "hello_world" / "runs" / "local__20261124T071220Z__f4261d"
    run_dir.mkdir(parents=True)
    runs = LocalRuns()
    runs._active[run_dir.name] = _Active(
        run_id=run_dir.name,
        dag_id="hello_world",
        run_dir=CheckedJustBeforeItWasMade(run_dir),
        runtime_config="local",
        pipeline="hello_world.pipeline",
        params={},
        tasks=[],
        started="2026-11-24T07:12:20Z",
    )
    listed = runs.list([("local", root)], display=lambda p: p)
    assert [r["id"] for r in listed] == [run_dir.name]
    assert listed[0]["state"] == "queued"


async def test_a_pipeline_without_runtime_images_runs_through_the_runs_service(api, jp_root_dir):
    """The editor's Run: nodes without a runtime image validate (a warning) and run locally."""
    write(
        jp_root_dir / "noimage",
        "noimage",
        [node("a", "a.py", image=None), node("b", "b.py", parents=["a"], image=None)],
        {"a.py": "print('a ran')\n", "b.py": "print('b ran')\n"},
    )
    path = "noimage/noimage.pipeline"
    code, checked = await api("POST", "validate", {"path": path})
    assert code == 200 and checked["valid"] is True, checked
    (said,) = [p for p in checked["problems"] if p["code"] == "runtime-image"]
    assert said["severity"] == "warning" and said["path"] == "component_parameters/runtime_image"
    code, run = await api("POST", "runs", {"path": path, "runtime_config": "local"})
    assert code == 202, run
    done = await until_done(api, run)
    assert done["state"] == "success", done
    assert [t["state"] for t in done["tasks"]] == ["success", "success"]
    code, log = await api("GET", f"runs/local/noimage/{run['id']}/logs/b")
    assert code == 200 and "b ran" in log["text"]
