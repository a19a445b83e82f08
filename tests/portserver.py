"""Test servers run as subprocesses on 127.0.0.1: started, told apart by the port they print,
bounded in time and stopped by their PID. The server scripts print ``PORT <n>`` once listening."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence


class PortServer:
    """Base for a subprocess server; subclasses give the command in ``command()``."""

    what = "test server"
    start_timeout = 30.0

    def __init__(self) -> None:
        self.proc: subprocess.Popen[str] | None = None
        self.port: int | None = None

    def command(self) -> Sequence[str]:
        raise NotImplementedError

    def environment(self) -> Mapping[str, str]:
        return os.environ

    def start(self):
        self.proc = subprocess.Popen(
            list(self.command()),
            env=dict(self.environment()),
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )
        deadline = time.monotonic() + self.start_timeout
        line = ""
        while time.monotonic() < deadline:
            ready, _, _ = select.select(
                [self.proc.stdout], [], [], max(0.0, deadline - time.monotonic())
            )
            line = self.proc.stdout.readline() if ready and self.proc.stdout else ""
            if line.startswith("PORT "):
                self.port = int(line.split()[1])
                return self
            if self.proc.poll() is not None:
                break
        self.stop()
        raise RuntimeError(f"{self.what} did not start ({line!r})")

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        if proc.stdout:
            proc.stdout.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
