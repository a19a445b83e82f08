"""Test support for the serving runtime: test Predictors, a runtime subprocess and a logger sink.

The Predictor classes here are imported by the runtime itself (``serving_helpers.EchoPredictor``
with ``--model-dir`` pointing at this folder). Servers bind 127.0.0.1 on an ephemeral port, are
bounded in time, and are stopped by their PID.
"""

from __future__ import annotations

import http.client
import http.server
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


# -- test Predictors ------------------------------------------------------------------------


class EchoPredictor:
    """Multiplies arrays by ``factor`` (10 by default) and echoes everything else.

    Like the MLflow model in the serving facts it expects 2 columns and fails otherwise. The
    strData ``whoami`` answers ``"<worker pid> <pid that built me> <load() calls>"``, ``thread``
    the name of the thread the call ran on, ``sleep <seconds>`` sleeps first.
    """

    def __init__(self, factor: int = 10, columns: int = 2):
        self.factor = factor
        self.columns = columns
        self.init_pid = os.getpid()
        self.loads = 0

    def load(self):
        self.loads += 1

    def predict(self, X, features_names=None):
        if isinstance(X, np.ndarray) and X.dtype.kind == "U":  # V2 BYTES strings
            return np.char.multiply(X, self.factor)
        if isinstance(X, np.ndarray):
            if X.ndim == 2 and X.shape[1] != self.columns:
                raise ValueError(
                    f"Failed to enforce schema of data '{X.tolist()}' with schema "
                    f"'[Tensor('int64', (-1, {self.columns}))]'. Error: Shape of input "
                    f"{X.shape} does not match expected shape (-1, {self.columns})."
                )
            return X * self.factor
        if X == "whoami":
            return f"{os.getpid()} {self.init_pid} {self.loads}"
        if X == "sleep":
            time.sleep(0.5)
        if X == "thread":  # where the call ran: MainThread = the event loop
            return threading.current_thread().name
        if isinstance(X, str) and X.startswith("sleep "):
            time.sleep(float(X.split()[1]))
            return threading.current_thread().name
        return X


class DemoPredictor:
    """The 'Predictor with metrics()/tags()' of the serving facts, plus the other hooks."""

    def __init__(self, model_uri: str = "models:/mlflowdemo/1"):
        self.model_uri = model_uri
        self.feedback = []

    def load(self):
        pass

    def predict(self, X, features_names=None, meta=None):
        from mlpipe_lab.serving.runtime import SeldonResponse

        if isinstance(X, str) and X == "with-response":
            return SeldonResponse(
                np.array([[1, 0]]),
                tags={"extra": "yes"},
                metrics=[{"type": "GAUGE", "key": "mlflowdemo_queue", "value": 3}],
            )
        if isinstance(X, str) and X == "meta":
            return {"meta_seen": meta}
        if isinstance(X, np.ndarray) and X.ndim == 2 and X.shape[1] == 3:
            return np.array([[0.25, 0.75]] * X.shape[0])  # 2-D: class_names() apply
        return np.ones(len(X), dtype=np.int64)

    def metrics(self):
        return [{"type": "COUNTER", "key": "mlflowdemo_predictions_total", "value": 1}]

    def tags(self):
        return {"model_uri": self.model_uri}

    def class_names(self):
        return ["no", "yes"]

    def health_status(self):
        return [1]

    def init_metadata(self):
        return {
            "name": "mlflowdemo",
            "versions": ["1"],
            "platform": "mlflow-sklearn",
            "inputs": [{"name": "input", "datatype": "INT64", "shape": [-1, 2]}],
            "outputs": [{"name": "output", "datatype": "INT64", "shape": [-1]}],
        }

    def send_feedback(self, features, feature_names, reward, truth, routing=None):
        self.feedback.append((features.tolist(), reward, None if truth is None else truth.tolist()))


class RawPredictor:
    """``predict_raw`` builds the whole response; its metadata is invalid on purpose."""

    def predict_raw(self, msg):
        if msg.get("strData") == "boom":
            from mlpipe_lab.serving.runtime import MicroserviceError

            raise MicroserviceError("boom is not allowed", 422, "MICROSERVICE_BAD_DATA")
        return {
            "jsonData": {"got": msg},
            "meta": {
                "metrics": [
                    {
                        "type": "TIMER",
                        "key": "raw_latency_ms",
                        "value": 12.5,
                        "tags": {"stage": "raw"},
                    }
                ]
            },
        }

    def init_metadata(self):
        return {"name": "raw", "inputs": [{"name": "x"}]}  # no datatype/shape: invalid


class BrokenLoadPredictor:
    def predict(self, X, features_names=None):
        return X

    def load(self):
        raise RuntimeError("the model file is missing")


# -- runtime subprocess ---------------------------------------------------------------------


class ServingServer:
    """``python -m mlpipe_lab.serving.runtime`` on 127.0.0.1:<ephemeral> until stopped."""

    def __init__(
        self,
        predictor: str,
        *args: str,
        env: dict | None = None,
        start_timeout: float = 60.0,
        cwd: str | Path = REPO,
    ):
        self.cwd = str(cwd)
        self.predictor = predictor
        self.args = list(args)
        self.env = env or {}
        self.start_timeout = start_timeout
        self.proc: subprocess.Popen | None = None
        self.port: int | None = None
        self.stderr_path: Path | None = None

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "mlpipe_lab.serving.runtime",
            self.predictor,
            "--host",
            "127.0.0.1",
            "--http-port",
            "0",
            "--model-dir",
            str(HERE),
            "--log-level",
            "warning",
            "--graceful-timeout",
            "5",
            *self.args,
        ]

    def start(self) -> ServingServer:
        self.spawn()
        return self.wait_ready()

    def spawn(self) -> ServingServer:
        import tempfile

        fd, name = tempfile.mkstemp(prefix="serving-stderr-", suffix=".log")
        self.stderr_path = Path(name)
        env = {**os.environ, **self.env}
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        self.proc = subprocess.Popen(
            self.command(),
            env=env,
            stdout=subprocess.PIPE,
            stderr=fd,
            text=True,
            start_new_session=True,
            cwd=self.cwd,
        )
        os.close(fd)
        return self

    def wait_ready(self) -> ServingServer:
        """Until the runtime prints its port (its workers have loaded the model)."""
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.proc.stdout], [], [], 0.2)
            if ready:
                line = self.proc.stdout.readline()
                if line.startswith("PORT "):
                    self.port = int(line.split()[1])
                    return self
            if self.proc.poll() is not None:
                break
        self.stop()
        raise RuntimeError(f"serving runtime did not start:\n{self.stderr()}")

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace") if self.stderr_path else ""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> int | None:
        proc, self.proc = self.proc, None
        if proc is None:
            return None
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)  # our own session: the supervisor's id
                proc.wait(timeout=5)
        if proc.stdout:
            proc.stdout.close()
        return proc.returncode

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        if self.stderr_path:
            self.stderr_path.unlink(missing_ok=True)


def start_all(servers: list[ServingServer]) -> list[ServingServer]:
    """Start several runtimes at once (each loads its model meanwhile); stop them all if one
    does not come up."""
    try:
        for server in servers:
            server.spawn()
        for server in servers:
            server.wait_ready()
    except BaseException:
        for server in servers:
            server.stop()
        raise
    return servers


def call(
    url: str,
    method: str = "GET",
    body: bytes | str | dict | None = None,
    headers: dict | None = None,
    timeout: float = 10.0,
) -> tuple[int, dict, bytes]:
    """One request on a fresh connection: ``(status, headers (lower-case), body)``."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        if isinstance(body, dict):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode()
        hdrs = {"Content-Type": "application/json", **(headers or {})}
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        conn.request(method, path, body=body, headers=hdrs if body is not None else (headers or {}))
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def prometheus_value(text: str, name: str, **labels: str) -> float:
    """Sum of the samples of ``name`` whose labels include ``labels`` (0 if none)."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        head, _, value = line.rpartition(" ")
        metric, _, label_text = head.partition("{")
        if metric != name:
            continue
        found = dict(
            part.split("=", 1) for part in label_text.rstrip("}").split(",") if "=" in part
        )
        found = {k: v.strip('"') for k, v in found.items()}
        if all(found.get(k) == v for k, v in labels.items()):
            total += float(value)
    return total


# -- CloudEvents sink -----------------------------------------------------------------------


class LoggerSink:
    """A tiny HTTP server on 127.0.0.1 that records the events posted to it."""

    def __init__(self, delay: float = 0.0):
        self.events: list[tuple[dict, bytes]] = []
        self.lock = threading.Lock()
        self.delay = delay
        sink = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if sink.delay:
                    time.sleep(sink.delay)
                with sink.lock:
                    sink.events.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/events"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def for_request(
        self, request_id: str, count: int, timeout: float = 5.0
    ) -> list[tuple[dict, bytes]]:
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                found = [e for e in self.events if e[0].get("ce-requestid") == request_id]
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.02)
