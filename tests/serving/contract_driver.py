"""Send the same HTTP requests to seldon-core 1.19's microservice and to our runtime; record both.

Runs inside a private network namespace (``unshare -n``; the caller brings ``lo`` up), because
seldon-core binds 0.0.0.0 with no option to change it: in the namespace only loopback exists, so
nothing is reachable from outside. Both servers serve the same Predictor from the same folder.

    python contract_driver.py SPEC.json OUT.json

SPEC: ``{"servers": [{"name", "dir", "predictor", "env": {}, "seldon_bin": DIR}], "cases":
[{"id", "server", "method", "path", "headers", "body_b64"}], "timeout": seconds}``. OUT: per case
``{"seldon": {"status", "headers", "body"}, "ours": {...}}`` (body as text), plus each server's
stderr tail under ``"logs"``. Servers are stopped by PID (their own session) whatever happens.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

SELDON_BASE_PORT = 19000  # http; +1000 gRPC, +2000 metrics (only loopback in this namespace)
OURS_BASE_PORT = 29000


def wait_ready(port: int, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server on port {port} exited with {proc.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/health/ping")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        finally:
            conn.close()
        time.sleep(0.2)
    raise RuntimeError(f"server on port {port} not ready within {timeout:.0f} s")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # start_new_session: the group is the server's
            proc.wait(timeout=5)


def start(kind: str, server: dict, index: int, logdir: str) -> tuple[subprocess.Popen, int, str]:
    env = {**os.environ, **server.get("env", {})}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    log_path = os.path.join(logdir, f"{server['name']}-{kind}.log")
    if kind == "seldon":
        port = SELDON_BASE_PORT + index
        env.update(
            {
                "PREDICTIVE_UNIT_HTTP_SERVICE_PORT": str(port),
                "PREDICTIVE_UNIT_GRPC_SERVICE_PORT": str(port + 1000),
                "PREDICTIVE_UNIT_METRICS_SERVICE_PORT": str(port + 2000),
                "PREDICTIVE_UNIT_METRICS_ENDPOINT": "/prometheus",
                "GRPC_WORKERS": "0",  # REST only: the contract is about REST
            }
        )
        cmd = [
            os.path.join(server["seldon_bin"], "seldon-core-microservice"),
            server["predictor"],
            "--service-type",
            "MODEL",
        ]
    else:
        port = OURS_BASE_PORT + index
        cmd = [
            sys.executable,
            "-m",
            "mlpipe_lab.serving.runtime",
            server["predictor"],
            "--host",
            "127.0.0.1",
            "--http-port",
            str(port),
            "--model-dir",
            server["dir"],
            "--log-level",
            "warning",
            "--graceful-timeout",
            "5",
        ]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            cmd, cwd=server["dir"], env=env, stdout=log, stderr=log, start_new_session=True
        )
    return proc, port, log_path


def send(port: int, case: dict) -> dict:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        body = base64.b64decode(case["body_b64"]) if case.get("body_b64") is not None else None
        conn.request(case["method"], case["path"], body=body, headers=case.get("headers") or {})
        resp = conn.getresponse()
        raw = resp.read()
        return {
            "status": resp.status,
            "headers": {k.lower(): v for k, v in resp.getheaders()},
            "body": raw.decode("utf-8", "replace"),
        }
    finally:
        conn.close()


def main() -> int:
    spec = json.loads(open(sys.argv[1]).read())
    out_path = sys.argv[2]
    timeout = float(spec.get("timeout", 120))
    logdir = tempfile.mkdtemp(prefix="contract-logs-")
    procs: list[subprocess.Popen] = []
    ports: dict[tuple[str, str], int] = {}
    logs: dict[str, str] = {}
    result: dict = {"cases": {}, "logs": logs}
    try:
        for i, server in enumerate(spec["servers"]):
            for kind in ("seldon", "ours"):
                proc, port, log_path = start(kind, server, i, logdir)
                procs.append(proc)
                ports[(server["name"], kind)] = port
                logs[f"{server['name']}-{kind}"] = log_path
        for i, server in enumerate(spec["servers"]):
            for kind, proc in zip(("seldon", "ours"), procs[2 * i : 2 * i + 2]):
                wait_ready(ports[(server["name"], kind)], proc, timeout)
        for case in spec["cases"]:
            result["cases"][case["id"]] = {
                kind: send(ports[(case["server"], kind)], case) for kind in ("seldon", "ours")
            }
    except Exception as exc:  # reported to the test with the servers' logs
        result["error"] = f"{type(exc).__name__}: {exc}"
    finally:
        for proc in procs:
            stop(proc)
        for name, path in list(logs.items()):
            with open(path, errors="replace") as fh:
                logs[name] = fh.read()[-4000:]
            os.unlink(path)
        os.rmdir(logdir)
        with open(out_path, "w") as fh:
            json.dump(result, fh)
    return 0


if __name__ == "__main__":
    sys.exit(main())
