"""Pre-fork supervisor: one listening socket, N worker processes each running uvicorn.

The supervisor builds the Predictor (``Predictor(**parameters)``), binds the socket(s) and forks
the workers; each worker calls ``load()`` once, then serves the shared socket with uvicorn
(httptools + uvloop when installed). Workers that die are replaced; a worker that dies before it
has loaded the model stops the whole server (a broken model must not crash-loop silently).
SIGTERM/SIGINT stop the workers gracefully (in-flight requests finish), then the supervisor exits.

The listening socket is created with ``IPPROTO_TCP`` so that accepted connections get
``TCP_NODELAY``: without it every keep-alive response after the first waits ~40 ms for the
client's delayed ACK (the problem behind uvicorn's multi-worker latency, Kludex/uvicorn#3149).
"""

from __future__ import annotations

import gc
import logging
import os
import select
import shutil
import signal
import socket
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("mlpipe_lab.serving")


@dataclass
class ServerOptions:
    predictor: str
    host: str = "0.0.0.0"
    http_port: int = 9000
    metrics_port: int | None = None
    workers: int = 1
    threads: int = 1
    inline_budget: float = 0.02
    parameters: dict[str, Any] = field(default_factory=dict)
    metrics_path: str = "/prometheus"
    logger_url: str | None = None
    logger_mode: str = "all"
    log_level: str = "info"
    keep_alive: int = 30
    graceful_timeout: float = 30.0
    load_timeout: float = 600.0
    max_body: int = 64 * 1024 * 1024
    backlog: int = 2048
    metrics_enabled: bool = True
    include_metrics_in_response: bool = True
    search_path: str | None = None
    model_name: str = ""


def bind_socket(host: str, port: int, backlog: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    sock.bind((host, port))
    sock.listen(backlog)
    sock.set_inheritable(True)
    return sock


def _worker_env() -> dict[str, str]:
    return {
        "model_id": os.environ.get("PREDICTIVE_UNIT_ID", ""),
        "deployment": os.environ.get("SELDON_DEPLOYMENT_ID", ""),
        "namespace": os.environ.get("POD_NAMESPACE", os.environ.get("SELDON_NAMESPACE", "")),
        "endpoint": os.environ.get("PREDICTOR_ID", ""),
    }


def run_worker(index: int, user_obj: Any, opts: ServerOptions, socks: list, ready_fd: int) -> None:
    """Body of one worker process; never returns."""
    code = 0
    try:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, signal.SIG_DFL)
        from .app import AppConfig, SeldonApp
        from .model import UserModel

        model = UserModel(user_obj)
        model.load()
        metrics = None
        if opts.metrics_enabled:
            from .metrics import Metrics

            metrics = Metrics()
        request_logger = None
        if opts.logger_url:
            from .reqlogger import RequestLogger, default_source

            env = _worker_env()
            request_logger = RequestLogger(
                opts.logger_url,
                opts.logger_mode,
                source=default_source(socks[0].getsockname()[1]),
                model_id=env["model_id"] or model.name,
                deployment=env["deployment"],
                namespace=env["namespace"],
                endpoint=env["endpoint"],
                on_outcome=(lambda outcome: metrics.logger_events.labels(outcome).inc())
                if metrics is not None
                else None,
            )
        config = AppConfig(
            metrics_path=opts.metrics_path,
            threads=opts.threads,
            inline_budget=opts.inline_budget,
            max_body=opts.max_body,
            include_metrics_in_response=opts.include_metrics_in_response,
            unit_id=os.environ.get("PREDICTIVE_UNIT_ID", ""),
            model_name=opts.model_name,
        )
        app = SeldonApp(model, config, metrics, request_logger)
        app.metadata_document()  # init_metadata() once per worker, after load()
        app.v2_metadata()
        # The model and its libraries (pandas, scikit-learn, MLflow: ~10^6 objects) live as long as
        # the worker: move them out of the cyclic GC's reach, so a full collection triggered by a
        # request does not walk them all in the middle of that request (tail latency).
        gc.collect()
        gc.freeze()
        os.write(ready_fd, b"1")
        os.close(ready_fd)
        _serve(app, opts, socks)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        log.exception("worker %d failed", index)
        code = 3
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _serve(app: Any, opts: ServerOptions, socks: list) -> None:
    import uvicorn

    try:
        import uvloop  # noqa: F401

        loop = "uvloop"
    except ImportError:
        loop = "asyncio"
    try:
        import httptools  # noqa: F401

        http = "httptools"
    except ImportError:
        http = "h11"
    config = uvicorn.Config(
        app,
        loop=loop,
        http=http,
        lifespan="on",
        access_log=False,
        log_level=opts.log_level,
        timeout_keep_alive=opts.keep_alive,
        server_header=False,
        proxy_headers=False,
        backlog=opts.backlog,
        timeout_graceful_shutdown=opts.graceful_timeout,
    )
    server = uvicorn.Server(config)
    server.run(sockets=socks)


class Supervisor:
    def __init__(self, opts: ServerOptions, user_obj: Any, socks: list) -> None:
        self.opts = opts
        self.user_obj = user_obj
        self.socks = socks
        self.workers: dict[int, int] = {}  # pid -> index
        self.stopping = False
        self.failed_starts = 0

    def spawn(self, index: int) -> tuple[int, int]:
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read_fd)
            run_worker(index, self.user_obj, self.opts, self.socks, write_fd)
        os.close(write_fd)
        self.workers[pid] = index
        return pid, read_fd

    def wait_ready(self, pending: dict[int, int]) -> bool:
        """Wait until every worker in ``pending`` (read fd -> pid) has loaded; False if one died."""
        deadline = time.monotonic() + self.opts.load_timeout
        while pending and not self.stopping:
            ready, _, _ = select.select(list(pending), [], [], 0.2)
            for fd in ready:
                data = os.read(fd, 1)
                os.close(fd)
                pid = pending.pop(fd)
                if data != b"1":
                    log.error("worker %d exited before the model was loaded", pid)
                    for rest in pending:
                        os.close(rest)
                    return False
            if time.monotonic() > deadline:
                log.error("workers did not load the model within %.0f s", self.opts.load_timeout)
                return False
        return not self.stopping

    def _on_signal(self, signum: int, frame: Any) -> None:
        self.stopping = True

    def run(self) -> int:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_signal)
        pending = {}
        for i in range(self.opts.workers):
            pid, fd = self.spawn(i)
            pending[fd] = pid
        if not self.wait_ready(pending):
            self.shutdown()
            return 0 if self.stopping else 1
        port = self.socks[0].getsockname()[1]
        host = self.opts.host
        log.info(
            "serving %s on http://%s:%d with %d worker(s)",
            self.opts.predictor,
            host,
            port,
            self.opts.workers,
        )
        print(f"PORT {port}", flush=True)
        while not self.stopping:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                pid, status = 0, 0
            if pid == 0:
                time.sleep(0.2)
                continue
            index = self.workers.pop(pid, None)
            if index is None:
                continue
            self._mark_dead(pid)
            if self.stopping:
                break
            log.warning(
                "worker %d (pid %d) exited with status %d; starting a new one", index, pid, status
            )
            new_pid, fd = self.spawn(index)
            if not self.wait_ready({fd: new_pid}):
                self.failed_starts += 1
                if self.failed_starts >= 3:
                    log.error("replacement workers keep failing to load the model; stopping")
                    self.shutdown()
                    return 1
            else:
                self.failed_starts = 0
        self.shutdown()
        return 0

    def _mark_dead(self, pid: int) -> None:
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR") and self.opts.metrics_enabled:
            try:
                from prometheus_client import multiprocess

                multiprocess.mark_process_dead(pid)
            except Exception:  # metrics cleanup must never stop the supervisor
                pass

    def shutdown(self) -> None:
        for pid in list(self.workers):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + self.opts.graceful_timeout + 5
        while self.workers and time.monotonic() < deadline:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                self.workers.clear()
                break
            if pid:
                self.workers.pop(pid, None)
                self._mark_dead(pid)
            else:
                time.sleep(0.05)
        for pid in list(self.workers):
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
        self.workers.clear()


def serve(opts: ServerOptions) -> int:
    """Build the Predictor, bind, fork the workers and supervise them until SIGTERM/SIGINT."""
    own_dir = None
    if opts.metrics_enabled and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        own_dir = tempfile.mkdtemp(prefix="mlpipe-serving-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = own_dir
    elif opts.metrics_enabled:
        path = os.environ["PROMETHEUS_MULTIPROC_DIR"]
        os.makedirs(path, exist_ok=True)
        for name in os.listdir(path):  # stale files of an earlier run would add up
            if name.endswith(".db"):
                os.unlink(os.path.join(path, name))
    try:
        from .model import import_predictor_class

        cls = import_predictor_class(opts.predictor, opts.search_path)
        user_obj = cls(**opts.parameters)
        socks = [bind_socket(opts.host, opts.http_port, opts.backlog)]
        if opts.metrics_port is not None and opts.metrics_port != opts.http_port:
            socks.append(bind_socket(opts.host, opts.metrics_port, opts.backlog))
        sys.stdout.flush()
        sys.stderr.flush()
        return Supervisor(opts, user_obj, socks).run()
    finally:
        if own_dir:
            shutil.rmtree(own_dir, ignore_errors=True)
