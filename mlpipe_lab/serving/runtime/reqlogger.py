"""Request/response logging as CloudEvents 1.0 in binary mode, like Seldon's executor does.

Every logged request and response is its own HTTP POST to the logger URL: the body is the JSON
payload, the ``Ce-*`` headers carry the event attributes and ``Ce-Requestid`` (the request's puid)
joins a request to its response. Events go on a bounded queue that background threads drain, so
logging never delays a response; when the queue is full the event is dropped and counted.
"""

from __future__ import annotations

import http.client
import logging
import queue
import socket
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable
from datetime import datetime, timezone

log = logging.getLogger("mlpipe_lab.serving")

REQUEST = "io.seldon.serving.inference.request"
RESPONSE = "io.seldon.serving.inference.response"
FEEDBACK = "io.seldon.serving.feedback"
MODES = ("all", "request", "response")


class RequestLogger:
    def __init__(
        self,
        url: str,
        mode: str = "all",
        *,
        source: str,
        model_id: str = "",
        deployment: str = "",
        namespace: str = "",
        endpoint: str = "",
        threads: int = 2,
        queue_size: int = 10000,
        timeout: float = 10.0,
        on_outcome: Callable[[str], None] | None = None,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"logger mode must be one of {', '.join(MODES)}, not {mode!r}")
        parsed = urllib.parse.urlsplit(url if "://" in url else "http://" + url)
        if parsed.scheme not in ("http", "https"):
            raise ValueError(f"logger URL must be http(s): {url!r}")
        self.url = url
        self.mode = mode
        self._scheme = parsed.scheme
        self._host = parsed.hostname or "localhost"
        self._port = parsed.port
        self._path = (parsed.path or "/") + (f"?{parsed.query}" if parsed.query else "")
        self._static = {
            "Ce-Specversion": "1.0",
            "Ce-Source": source,
            "Ce-Modelid": model_id,
            "Ce-Inferenceservicename": deployment,
            "Ce-Namespace": namespace,
            "Ce-Endpoint": endpoint,
        }
        self._queue: queue.Queue = queue.Queue(maxsize=queue_size)
        self._threads_wanted = max(1, threads)
        self._threads: list[threading.Thread] = []
        self._start_lock = threading.Lock()
        self._timeout = timeout
        self._on_outcome = on_outcome or (lambda outcome: None)
        self._stopping = False

    def wants(self, ce_type: str) -> bool:
        if ce_type == REQUEST:
            return self.mode in ("all", "request")
        if ce_type == RESPONSE:
            return self.mode in ("all", "response")
        return self.mode == "all"

    def log(
        self,
        ce_type: str,
        request_id: str,
        body: bytes,
        content_type: str = "application/json",
        protocol: str = "seldon",
    ) -> None:
        """Queue one event; never blocks. ``protocol``: ``seldon`` or ``v2`` (``Ce-Protocol``)."""
        if not self.wants(ce_type):
            return
        if not self._threads:
            self._start()
        headers = dict(self._static)
        headers.update(
            {
                "Ce-Id": str(uuid.uuid4()),
                "Ce-Type": ce_type,
                "Ce-Time": datetime.now(timezone.utc).isoformat().replace("+00:00", "Z"),
                "Ce-Requestid": request_id,
                "Ce-Protocol": protocol,
                "Content-Type": content_type,
            }
        )
        try:
            self._queue.put_nowait((headers, body))
        except queue.Full:
            self._on_outcome("dropped")

    def _start(self) -> None:
        with self._start_lock:
            if self._threads:
                return
            for i in range(self._threads_wanted):
                t = threading.Thread(target=self._run, name=f"request-logger-{i}", daemon=True)
                t.start()
                self._threads.append(t)

    def _connect(self) -> http.client.HTTPConnection:
        cls = http.client.HTTPSConnection if self._scheme == "https" else http.client.HTTPConnection
        return cls(self._host, self._port, timeout=self._timeout)

    def _run(self) -> None:
        conn: http.client.HTTPConnection | None = None
        while True:
            item = self._queue.get()
            if item is None:
                break
            headers, body = item
            for attempt in (1, 2):  # a kept-alive connection the sink closed gets one retry
                try:
                    if conn is None:
                        conn = self._connect()
                    conn.request("POST", self._path, body=body, headers=headers)
                    resp = conn.getresponse()
                    resp.read()
                    if 200 <= resp.status < 300:
                        self._on_outcome("sent")
                    else:
                        log.warning("request logger: %s answered %s", self.url, resp.status)
                        self._on_outcome("failed")
                    if resp.will_close:
                        conn.close()
                        conn = None
                    break
                except (OSError, http.client.HTTPException) as exc:
                    if conn is not None:
                        conn.close()
                        conn = None
                    if attempt == 2:
                        log.warning("request logger: cannot post to %s: %s", self.url, exc)
                        self._on_outcome("failed")
            self._queue.task_done()

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until queued events are posted (for shutdown and tests)."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)
        return not self._queue.unfinished_tasks

    def close(self, timeout: float = 5.0) -> None:
        self.flush(timeout)
        for _ in self._threads:
            try:
                self._queue.put_nowait(None)
            except queue.Full:
                pass


def default_source(port: int) -> str:
    return f"http://{socket.gethostname()}:{port}/"
