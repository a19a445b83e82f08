"""Validate, describe and export in worker processes, so that their pure Python never holds the
Jupyter server's GIL while its event loop has requests to answer (issue #17).

What crosses to a worker is small and picklable: the settings the server's :class:`Services` were
built with (paths and flags, :class:`WorkerSettings`), the name of the operation and its request
arguments (paths, the editor's text of a pipeline, flags). The worker builds the same services
from the same settings once, so every check (confinement to the root, race-free reads, size
limits, the guard on runtime configurations) is the one the server would apply; catalogs are
read from disk under their shared locks on every call, so the worker sees what the server wrote.
What comes back is the answer already encoded as JSON, or the error's status and JSON body.

Workers are started with ``spawn`` (never ``fork``: the server has threads and an event loop),
lazily on the first request, in a pool of bounded size; more requests wait their turn. A worker
that dies (killed, out of memory) breaks its pool: the requests it held get a 503 naming what
failed, and the next request starts a new pool.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import threading
import time
import traceback
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

from ..errors import MLPipeError, http_status

# operation -> the Pipelines method it calls (nothing else can be asked of a worker)
OPERATIONS = {
    "validate": "validate",
    "describe": "describe",
    "export": "export",
    "export_target": "export_target",
}
# how an answer names the work, e.g. "The worker process validating 'a.pipeline' stopped"
DOING = {
    "validate": "validating",
    "describe": "describing",
    "export": "exporting",
    "export_target": "looking up the export target of",
}
# what workers add to the server's niceness (c.MLPipeLab.compute_niceness): measured with 5, the
# server answered no sooner on a busy host, and the workers did a third less work
DEFAULT_NICENESS = 0


@dataclass(frozen=True)
class WorkerSettings:
    """What a worker needs to build the server's services: paths and flags, no secrets."""

    root_dir: str
    data_dir: str
    elyra_data_dir: str | None
    confine_outputs: bool
    max_pipeline_bytes: int
    allowed_local_paths: tuple[str, ...] | None
    allow_plain_http: bool

    @classmethod
    def of(cls, services: Any) -> WorkerSettings:
        """The settings of the server's ``services`` (the data folders resolved here, so that the
        worker does not depend on its environment)."""
        store = services.catalogs.store("runtime-configs")
        elyra = store.elyra_data_dir
        allowed = services.allowed_local_paths
        return cls(
            root_dir=str(services.workspace.root),
            data_dir=str(store.data_dir),
            elyra_data_dir=None if elyra is None else str(elyra),
            confine_outputs=services.workspace.confine_outputs,
            max_pipeline_bytes=services.workspace.max_pipeline_bytes,
            allowed_local_paths=None if allowed is None else tuple(str(p) for p in allowed),
            allow_plain_http=services.allow_plain_http,
        )

    def services(self) -> Any:
        from . import Services

        return Services(
            self.root_dir,
            data_dir=self.data_dir,
            elyra_data_dir=self.elyra_data_dir,
            confine_outputs=self.confine_outputs,
            max_pipeline_bytes=self.max_pipeline_bytes,
            allowed_local_paths=self.allowed_local_paths,
            allow_plain_http=self.allow_plain_http,
        )


class WorkerBug(Exception):
    """An unexpected exception in a worker (a bug): its traceback, for the server's log."""


# -- in the worker ------------------------------------------------------------------------------

_services: dict[WorkerSettings, Any] = {}


def _start_worker(niceness: int) -> None:
    # the server stops its workers; Ctrl-C in the server's terminal is for the server
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if niceness:
        try:
            os.nice(niceness)
        except OSError:  # pragma: no cover - not allowed here: run at the server's priority
            pass


def run(settings: WorkerSettings, operation: str, kwargs: dict[str, Any]) -> tuple[Any, ...]:
    """One operation in a worker: ``("ok", status, json_text)``, ``("error", status, body)`` for
    an MLPipeError, ``("recursion",)`` for input nested too deeply, ``("bug", traceback)``."""
    try:
        services = _services.get(settings)
        if services is None:
            services = _services[settings] = settings.services()
        result = getattr(services.pipelines, OPERATIONS[operation])(**kwargs)
        return ("ok", 200, json.dumps(result))
    except MLPipeError as exc:
        return ("error", http_status(exc), exc.to_json())
    except RecursionError:
        return ("recursion",)
    except Exception:
        return ("bug", traceback.format_exc())


def worker_pid(*_: Any) -> int:
    """The worker's process id (tests: the work runs in another process)."""
    return os.getpid()


def crash(*_: Any) -> None:
    """Kill the worker that runs this (tests: a worker that dies mid-request)."""
    os.kill(os.getpid(), signal.SIGKILL)


# -- in the server ------------------------------------------------------------------------------


def rebuild_error(status: int, body: dict[str, Any]) -> MLPipeError:
    """The worker's MLPipeError again, with the same status and the same JSON body."""
    err = body.get("error") or {}
    return MLPipeError(
        str(err.get("message") or ""),
        status,
        field=err.get("field"),
        problems=err.get("problems"),
        steps=err.get("steps"),
        code=err.get("code"),
        details=err.get("details"),
    )


class ComputePool:
    """A bounded pool of worker processes, started on first use and restarted when one dies."""

    def __init__(
        self, settings: WorkerSettings, processes: int = 2, niceness: int = DEFAULT_NICENESS
    ):
        if processes < 1:
            raise ValueError("a compute pool needs at least one process")
        self.settings = settings
        self.processes = processes
        self.niceness = niceness
        self._context = multiprocessing.get_context("spawn")
        self._executor: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()
        self._closed = False
        self._in_flight = 0

    def _current(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._closed:
                raise MLPipeError(
                    "The server is shutting down; try again when it is back.", 503
                ) from None
            if self._executor is None:
                self._executor = ProcessPoolExecutor(
                    self.processes,
                    mp_context=self._context,
                    initializer=_start_worker,
                    initargs=(self.niceness,),
                )
            return self._executor

    def _discard(self, executor: ProcessPoolExecutor) -> None:
        """Forget a broken pool (the next request starts a new one)."""
        with self._lock:
            if self._executor is executor:
                self._executor = None
        executor.shutdown(wait=False, cancel_futures=True)

    def submit(self, operation: str, what: str, **kwargs: Any) -> Future:
        """Start ``operation`` in a worker (call it off the event loop: the first call starts the
        processes). ``what`` names the work in errors, e.g. the pipeline's path. The future's
        result is ``(status, json_text)``; its errors are MLPipeErrors (a 503 when a worker died),
        RecursionError or :class:`WorkerBug`."""
        return self._submit(run, operation, what, kwargs)

    def _submit(self, func: Any, operation: str, what: str, kwargs: dict[str, Any]) -> Future:
        executor = self._current()
        try:
            inner = executor.submit(func, self.settings, operation, kwargs)
        except BrokenProcessPool:  # broken by another request's worker: start anew, once
            self._discard(executor)
            executor = self._current()
            inner = executor.submit(func, self.settings, operation, kwargs)
        except RuntimeError:  # shut down meanwhile
            raise MLPipeError(
                "The server is shutting down; try again when it is back.", 503
            ) from None
        outer: Future = Future()
        with self._lock:
            self._in_flight += 1
        inner.add_done_callback(lambda f: self._settle(f, outer, executor, operation, what))
        return outer

    def _settle(
        self, inner: Future, outer: Future, executor: Any, operation: str, what: str
    ) -> None:
        with self._lock:
            self._in_flight -= 1
        if inner.cancelled():
            outer.set_exception(self._died(operation, what))
            return
        exc = inner.exception()
        if isinstance(exc, BrokenProcessPool):
            self._discard(executor)
            outer.set_exception(self._died(operation, what))
            return
        if exc is not None:
            outer.set_exception(exc)
            return
        outcome = inner.result()
        if not isinstance(outcome, tuple):  # the test helpers' answers
            outer.set_result(outcome)
        elif outcome[0] == "ok":
            outer.set_result((outcome[1], outcome[2]))
        elif outcome[0] == "error":
            outer.set_exception(rebuild_error(outcome[1], outcome[2]))
        elif outcome[0] == "recursion":
            outer.set_exception(RecursionError())
        else:
            outer.set_exception(WorkerBug(f"in a compute worker:\n{outcome[1]}"))

    def _died(self, operation: str, what: str) -> MLPipeError:
        doing = DOING.get(operation, "running")
        return MLPipeError(
            f"The worker process {doing} {what} stopped unexpectedly (it may have run out of "
            "memory or been killed); nothing more was done. mlpipe-lab starts a new one: try "
            "again.",
            503,
            code="worker-died",
        )

    def shutdown(self, grace: float = 10.0) -> None:
        """Stop the workers (the server stops): waiting work is cancelled, running work gets
        ``grace`` seconds to end, then its worker is terminated. Requests after this get a 503."""
        with self._lock:
            self._closed = True
            executor, self._executor = self._executor, None
        if executor is None:
            return
        processes = list((getattr(executor, "_processes", None) or {}).values())
        executor.shutdown(wait=False, cancel_futures=True)
        deadline = time.monotonic() + grace
        for process in processes:
            process.join(max(0.0, deadline - time.monotonic()))
        for process in processes:
            if process.is_alive():
                process.terminate()
                process.join(2)
            if process.is_alive():  # pragma: no cover - ignores SIGTERM
                process.kill()
                process.join(2)

    @property
    def in_flight(self) -> int:
        """Requests handed to the workers and not answered yet."""
        return self._in_flight

    def pids(self) -> list[int]:
        """The workers' process ids (tests and the server's log)."""
        executor = self._executor
        processes = getattr(executor, "_processes", None) or {}
        return sorted(processes)
