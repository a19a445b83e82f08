"""Hostile requests against a real Jupyter server with mlpipe-lab (a subprocess in a sandbox):
every one answers 4xx with a message naming the field, none freezes the server, nothing is
written outside the root and the data folder, no canary secret comes back.

The cases are the ones of issue #17: integers too large, JSON nested too deeply, NUL bytes and
lone surrogates in paths, over-long names, file: and sqlite: MLflow tracking URIs outside the
allowed folders, a FIFO named x.pipeline, a symlinked <dag_id>.bundles folder, oversized bodies
and pipeline files.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from urllib.parse import quote

import pytest
from fixture_paths import ELYRA_FIXTURES
from hardening_server import JupyterServer

pytestmark = pytest.mark.hardening

CANARY = "canary-secret-9b27e4c1"
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    sandbox = tmp_path_factory.mktemp("hardening")
    srv = JupyterServer(sandbox, {"MLPipeLab": {"max_request_mb": 1, "max_pipeline_mb": 1}})
    srv.start()
    shutil.copytree(ELYRA_FIXTURES / "hello_world", srv.root / "hello_world")
    (srv.outside / "secret.txt").write_text(CANARY)
    try:
        yield srv
    finally:
        srv.stop()


def call(server, method, path, body=None, timeout=30.0):
    code, raw = server.request(method, path, body, timeout=timeout)
    data = json.loads(raw) if raw else None
    return code, data


P = "/mlpipe-lab"
HELLO = "hello_world/hello_world.pipeline"
LONG = "a" * 300

# (method, path, body, status, field): each a request that once gave a 500
CASES = [
    ("POST", f"{P}/validate", "[" * 50_000 + "]" * 50_000, 400, None),
    ("POST", f"{P}/validate", '{"path": ' + "[" * 5_000 + "]" * 5_000 + "}", 400, None),
    ("POST", f"{P}/validate", '{"path": "a\\u0000b.pipeline"}', 400, "path"),
    ("POST", f"{P}/validate", '{"path": "a\\ud800b.pipeline"}', 400, "path"),
    ("POST", f"{P}/validate", '{"path": "x.pipeline", "content": "\\udfff"}', 400, "content"),
    ("POST", f"{P}/validate", json.dumps({"path": LONG + ".pipeline"}), 400, "path"),
    ("POST", f"{P}/validate", json.dumps({"path": "x/" * 3000 + "a.pipeline"}), 400, "path"),
    ("POST", f"{P}/validate", '{"path": "a.pipeline", "n": ' + "9" * 40 + "}", 400, "n"),
    ("POST", f"{P}/validate", '{"path": "a.pipeline", "n": 1e999}', 400, "n"),
    ("POST", f"{P}/validate", '{"path": NaN}', 400, None),
    ("POST", f"{P}/export", json.dumps({"path": HELLO, "output": "a\x00.py"}), 400, "output"),
    (
        "POST",
        f"{P}/export",
        json.dumps({"path": HELLO, "runtime_config": "local", "output": LONG + ".py"}),
        400,
        "output",
    ),
    ("POST", f"{P}/runs", '{"parameters": {"x": ' + "1" * 30 + "}}", 400, "parameters.x"),
    ("GET", f"{P}/describe?path=" + quote(LONG) + ".pipeline", None, 400, "path"),
    ("GET", f"{P}/catalogs/runtime-images/{LONG}", None, 400, "name"),
    (
        "POST",
        f"{P}/catalogs/runtime-images",
        '{"name": "n", "image": "x:1", "pull_policy": ' + "9" * 5000 + "}",
        400,
        None,
    ),
    (
        "GET",
        f"{P}/mlflow/models?tracking_uri=file:///nonexistent/mlruns",
        None,
        403,
        "tracking_uri",
    ),
    (
        "GET",
        f"{P}/mlflow/models?tracking_uri=sqlite:////{{outside}}/x.db",
        None,
        403,
        "tracking_uri",
    ),
    (
        "GET",
        f"{P}/mlflow/models/x/versions?tracking_uri=file:///{{outside}}/m",
        None,
        403,
        "tracking_uri",
    ),
    ("POST", f"{P}/validate", "x" * (MIB + 10), 413, None),
]


def test_hostile_requests_answer_4xx_naming_the_field(server):
    before = server.snapshot()
    counts: dict[str, int] = {}
    for method, path, body, status, field in CASES:
        path = path.replace("{outside}", str(server.outside).lstrip("/"))
        code, data = call(server, method, path, body)
        counts[f"{code // 100}xx"] = counts.get(f"{code // 100}xx", 0) + 1
        assert code == status, (method, path[:120], code, data)
        message = data["error"]["message"]
        assert message and "Traceback" not in message
        if field is not None:
            assert data["error"].get("field") == field, (path[:80], data)
    print(f"\nreplayed {len(CASES)} hostile requests: {counts}")
    assert server.snapshot() == before
    assert not list(server.outside.glob("x.db*")) and not (server.outside / "m").exists()
    assert "Traceback" not in server.log()


def test_a_fifo_named_like_a_pipeline_is_refused_without_freezing_the_server(server):
    fifo = server.root / "x.pipeline"
    os.mkfifo(fifo)
    try:
        for method, path, body in [
            ("POST", f"{P}/validate", {"path": "x.pipeline"}),
            ("GET", f"{P}/describe?path=x.pipeline", None),
            ("POST", f"{P}/export", {"path": "x.pipeline", "runtime_config": "local"}),
            ("POST", f"{P}/export", {"path": "x.pipeline", "dry_run": True}),
        ]:
            started = time.monotonic()
            code, data = call(server, method, path, body, timeout=15)
            assert code == 400, (path, data)
            assert "not a regular file" in data["error"]["message"]
            assert data["error"]["field"] == "path"
            assert time.monotonic() - started < 10
    finally:
        fifo.unlink()


def test_a_fifo_as_the_dag_file_is_left_alone(server):
    dags = server.root / "hello_world" / "fifo-dags"
    dags.mkdir()
    os.mkfifo(dags / "out.py")
    try:
        code, data = call(
            server,
            "POST",
            f"{P}/export",
            {"path": HELLO, "runtime_config": "local", "output": "hello_world/fifo-dags/out.py"},
            timeout=20,
        )
        assert code == 409 and data["error"]["code"] == "output-not-generated", data
    finally:
        shutil.rmtree(dags)


def test_size_limits_of_pipeline_files(server):
    big = server.root / "big.pipeline"
    big.write_text(json.dumps({"x": "y" * (MIB + 1)}))
    try:
        code, data = call(server, "POST", f"{P}/validate", {"path": "big.pipeline"})
        assert code == 400 and "too big" in data["error"]["message"], data
        assert data["error"]["field"] == "path"
    finally:
        big.unlink()


def test_a_symlinked_bundles_folder_gets_nothing_written_through_it(server):
    code, target = call(server, "POST", f"{P}/export", {"path": HELLO, "dry_run": True})
    assert code == 200, target
    dags = server.root / "hello_world" / "dags"
    dags.mkdir(exist_ok=True)
    link = dags / f"{target['dag_id']}.bundles"
    link.symlink_to(server.outside, target_is_directory=True)
    before = server.snapshot()
    try:
        code, data = call(server, "POST", f"{P}/export", {"path": HELLO, "runtime_config": "local"})
        assert code == 403 and data["error"]["field"] == "output", data
        assert "outside the server's root" in data["error"]["message"]
        assert server.snapshot() == before
        assert sorted(p.name for p in server.outside.iterdir()) == ["secret.txt"]
        # a symlinked dags/ folder too
        link.unlink()
        dags.rmdir()
        dags.symlink_to(server.outside, target_is_directory=True)
        code, data = call(server, "POST", f"{P}/export", {"path": HELLO, "runtime_config": "local"})
        assert code == 403, data
        assert sorted(p.name for p in server.outside.iterdir()) == ["secret.txt"]
    finally:
        if dags.is_symlink():
            dags.unlink()
        else:
            shutil.rmtree(dags, ignore_errors=True)


def test_the_server_answers_while_a_slow_request_waits(server):
    """A request of ours that blocks (a FIFO opened by someone else's writer, or a slow
    network) occupies a pool thread, never the event loop: /api/status answers meanwhile."""
    fifo = server.root / "slow.pipeline"
    os.mkfifo(fifo)
    results: list[int] = []
    try:
        threads = [
            threading.Thread(
                target=lambda: results.append(
                    call(server, "POST", f"{P}/validate", {"path": "slow.pipeline"})[0]
                )
            )
            for _ in range(4)
        ]
        for t in threads:
            t.start()
        latencies = []
        for _ in range(10):
            started = time.monotonic()
            assert server.request("GET", "/api/status", timeout=5)[0] == 200
            latencies.append(time.monotonic() - started)
        for t in threads:
            t.join(timeout=20)
        assert results == [400] * 4
        assert max(latencies) < 2.0, latencies
    finally:
        fifo.unlink()


def test_no_canary_in_the_log(server):
    assert CANARY not in server.log()
