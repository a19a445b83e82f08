"""An S3 server for tests: moto's server on 127.0.0.1, in a subprocess, bounded in time.

Run as a script it binds an ephemeral port, prints ``PORT <n>`` and serves until SIGTERM or
``--max-seconds``. :class:`S3Server` starts it and stops it by PID.
"""

from __future__ import annotations

import argparse
import os
import select
import signal
import subprocess
import sys
import threading
import time


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--max-seconds", type=float, default=300.0)
    args = parser.parse_args(argv)
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    print(f"PORT {server.get_host_and_port()[1]}", flush=True)
    done.wait(args.max_seconds)
    server.stop()
    return 0


class S3Server:
    """``endpoint`` is ``http://127.0.0.1:<port>``; any access key and secret are accepted."""

    def __init__(self, max_seconds: float = 300.0) -> None:
        self.max_seconds = max_seconds
        self.proc: subprocess.Popen[str] | None = None
        self.port: int | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> S3Server:
        env = {**os.environ, "MOTO_ALLOW_NONEXISTENT_REGION": "true"}
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--max-seconds", str(self.max_seconds)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
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
        raise RuntimeError(f"moto server did not start ({line!r})")

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

    def __enter__(self) -> S3Server:  # noqa: PYI034
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


if __name__ == "__main__":
    sys.exit(main())
