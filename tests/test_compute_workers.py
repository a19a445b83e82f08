"""Validate, describe and export run in worker processes of the server (issue #17): another
process than the server's, the same answers and errors, a dead worker is a clear 503 and the next
request works, and the server stops its workers."""

from __future__ import annotations

import asyncio
import json
import os
import pickle
import shutil
import signal
import subprocess
import time

import pytest
from fixture_paths import ELYRA_FIXTURES

from mlpipe_lab.errors import MLPipeError
from mlpipe_lab.extension import COMPUTE_KEY, SETTINGS_KEY
from mlpipe_lab.services import compute

HELLO = "hello_world/hello_world.pipeline"


@pytest.fixture
def jp_server_config(jp_server_config, request):
    # one worker: a test that stops it knows no other one takes the request
    processes = getattr(request, "param", 1)
    return {**jp_server_config, "MLPipeLab": {"compute_processes": processes}}


@pytest.fixture
def api(jp_fetch, jp_root_dir):
    shutil.copytree(ELYRA_FIXTURES / "hello_world", jp_root_dir / "hello_world")

    async def call(method, route, body=None, **params):
        response = await jp_fetch(
            "mlpipe-lab",
            route,
            method=method,
            raise_error=False,
            params=params or None,
            body=json.dumps(body) if body is not None else None,
        )
        return response.code, json.loads(response.body) if response.body else None

    return call


def pool_of(app) -> compute.ComputePool:
    return app.web_app.settings[COMPUTE_KEY]


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


async def test_validate_describe_export_run_in_another_process(api, jp_serverapp, jp_root_dir):
    pool = pool_of(jp_serverapp)
    assert pool.pids() == []  # started on first use
    code, answer = await api("POST", "validate", {"path": HELLO})
    assert code == 200, answer
    services = jp_serverapp.web_app.settings[SETTINGS_KEY]
    assert answer == services.pipelines.validate(HELLO)  # the same answer as in the server
    workers = pool.pids()
    assert len(workers) == 1 and os.getpid() not in workers
    pid = await asyncio.wrap_future(pool._submit(compute.worker_pid, "validate", "x", {}))
    assert pid in workers and pid != os.getpid()

    code, described = await api("GET", "describe", path=HELLO)
    assert code == 200 and described["dag_id"] == "hello_world"
    code, exported = await api("POST", "export", {"path": HELLO, "runtime_config": "local"})
    assert code == 200, exported
    assert (jp_root_dir / exported["dag_path"]).is_file()
    code, target = await api("POST", "export", {"path": HELLO, "dry_run": True})
    assert code == 200 and target["existing"]["generated"] is True
    assert pool.pids() == workers  # one worker did all of it


async def test_errors_from_a_worker_keep_their_status_and_body(api, jp_serverapp, jp_root_dir):
    """What a worker answers is what the server's own services answer: the same status and the
    same body, errors (field, problems located by node and field) included."""
    from mlpipe_lab.errors import http_status

    services = jp_serverapp.web_app.settings[SETTINGS_KEY]
    (jp_root_dir / "hello_world" / "broken.pipeline").write_text("{not json")
    no_nodes = '{"doc_type": "pipeline", "version": 8, "pipelines": [{"id": "p", "nodes": []}]}'
    cases = [
        ("validate", {"path": "../elsewhere.pipeline"}),
        ("validate", {"path": "hello_world/missing.pipeline"}),
        ("validate", {"path": "hello_world/x.pipeline", "content": "{not json"}),
        ("validate", {"path": "hello_world/x.pipeline", "content": no_nodes}),
        ("export", {"path": HELLO, "runtime_config": "nope"}),
        ("export", {"path": "hello_world/broken.pipeline", "runtime_config": "local"}),
        ("export", {"path": HELLO, "runtime_config": "local", "output": "../out.py"}),
    ]
    problems = []
    for route, body in cases:
        try:
            call = getattr(services.pipelines, route)
            expected = (200, call(**body))
        except MLPipeError as exc:
            expected = (http_status(exc), exc.to_json())
            problems += exc.problems
        assert await api("POST", route, body) == expected, (route, body)
    assert problems  # the broken pipeline's, located
    assert expected[0] == 403 and expected[1]["error"]["field"] == "output"
    nested = "[" * 3000 + "]" * 3000  # deeper than a worker's recursion allows, within MAX_DEPTH
    code, data = await api("POST", "validate", {"path": "a.pipeline", "content": nested})
    assert code == 400, data


async def test_a_worker_that_dies_gives_a_clear_503_and_the_next_request_works(api, jp_serverapp):
    pool = pool_of(jp_serverapp)
    assert (await api("POST", "validate", {"path": HELLO}))[0] == 200
    (worker,) = pool.pids()
    os.kill(worker, signal.SIGSTOP)  # it cannot take the next request...
    request = asyncio.ensure_future(api("POST", "validate", {"path": HELLO}))
    for _ in range(600):
        if pool.in_flight:
            break
        await asyncio.sleep(0.05)
    assert pool.in_flight == 1
    os.kill(worker, signal.SIGKILL)  # ...and dies with it in hand
    code, data = await request
    assert code == 503, data
    assert data["error"]["code"] == "worker-died"
    assert data["error"]["message"].startswith(
        f"The worker process validating '{HELLO}' stopped unexpectedly"
    )
    assert "try again" in data["error"]["message"]
    code, again = await api("POST", "validate", {"path": HELLO})
    assert code == 200, again
    assert pool.pids() and worker not in pool.pids()

    # a worker that died between requests: the next request starts a new pool and works
    (worker,) = pool.pids()
    os.kill(worker, signal.SIGKILL)
    for _ in range(100):  # until the pool has seen it (reaped), at most 5 s
        if gone(worker):
            break
        await asyncio.sleep(0.05)
    code, again = await api("GET", "describe", path=HELLO)
    assert code == 200, again


async def test_the_server_stops_its_workers(api, jp_serverapp):
    pool = pool_of(jp_serverapp)
    assert (await api("POST", "validate", {"path": HELLO}))[0] == 200
    workers = pool.pids()
    assert workers
    await jp_serverapp.cleanup_extensions()
    assert all(gone(pid) for pid in workers)
    code, data = await api("POST", "validate", {"path": HELLO})
    assert code == 503 and "shutting down" in data["error"]["message"]


@pytest.mark.parametrize("jp_server_config", [0], indirect=True)
async def test_with_no_worker_processes_the_work_runs_in_threads(api, jp_serverapp):
    assert COMPUTE_KEY not in jp_serverapp.web_app.settings
    services = jp_serverapp.web_app.settings[SETTINGS_KEY]
    code, answer = await api("POST", "validate", {"path": HELLO})
    assert (code, answer) == (200, services.pipelines.validate(HELLO))
    code, data = await api("POST", "export", {"path": HELLO, "runtime_config": "nope"})
    assert code == 404 and data["error"]["field"] == "runtime_config"


def test_a_worker_gets_paths_and_settings_only(jp_root_dir, tmp_path):
    """What crosses to a worker is small: the settings and the request's arguments (no pipeline
    object, no catalog entry, no secret)."""
    from mlpipe_lab.services import Services

    services = Services(jp_root_dir, data_dir=tmp_path / "data", allowed_local_paths=[])
    settings = compute.WorkerSettings.of(services)
    sent = pickle.dumps((settings, "validate", {"path": HELLO, "runtime_config": None}))
    assert len(sent) < 1024
    assert settings.services().workspace.root == services.workspace.root
    assert settings.services().allowed_local_paths == ()


def test_a_pool_in_use_can_crash_and_recover(jp_root_dir, tmp_path):
    """The pool alone: a worker killed mid-call is a 503 naming the work, the next call works."""
    shutil.copytree(ELYRA_FIXTURES / "hello_world", jp_root_dir / "hello_world")
    from mlpipe_lab.services import Services

    services = Services(jp_root_dir, data_dir=tmp_path / "data", allowed_local_paths=[])
    pool = compute.ComputePool(compute.WorkerSettings.of(services), processes=1)
    try:
        with pytest.raises(MLPipeError) as died:
            pool._submit(compute.crash, "export", f"'{HELLO}'", {}).result(timeout=120)
        assert died.value.status == 503
        assert f"exporting '{HELLO}' stopped unexpectedly" in died.value.message
        status, text = pool.submit("validate", HELLO, path=HELLO).result(timeout=120)
        assert status == 200 and json.loads(text)["path"] == HELLO
    finally:
        workers = pool.pids()
        pool.shutdown()
    assert workers and all(gone(pid) for pid in workers)


@pytest.mark.hardening
def test_a_stopped_jupyter_server_leaves_no_worker_behind(tmp_path):
    """The real server, stopped by SIGTERM as an administrator would: its workers end with it."""
    from hardening_server import JupyterServer

    server = JupyterServer(tmp_path)
    server.start()
    try:
        shutil.copytree(ELYRA_FIXTURES / "hello_world", server.root / "hello_world")
        assert server.request("POST", "/mlpipe-lab/validate", {"path": HELLO})[0] == 200
        children = subprocess.run(
            ["ps", "-ww", "--ppid", str(server.proc.pid), "-o", "pid=,args="],
            capture_output=True,
            text=True,
        ).stdout.splitlines()
        workers = [int(line.split()[0]) for line in children if "spawn_main" in line]
        assert workers, children
    finally:
        server.stop()
    deadline = time.monotonic() + 10
    while not all(gone(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert all(gone(pid) for pid in workers)
