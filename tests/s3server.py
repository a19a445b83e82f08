"""An S3 server for tests: moto's server on 127.0.0.1, in a subprocess, bounded in time.

Run as a script it binds an ephemeral port, prints ``PORT <n>`` and serves until SIGTERM or
``--max-seconds``. :class:`S3Server` starts it and stops it by PID.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

from portserver import PortServer


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


class S3Server(PortServer):
    """``endpoint`` is ``http://127.0.0.1:<port>``; any access key and secret are accepted."""

    what = "moto server"
    start_timeout = 60.0

    def __init__(self, max_seconds: float = 300.0) -> None:
        super().__init__()
        self.max_seconds = max_seconds

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return [sys.executable, __file__, "--max-seconds", str(self.max_seconds)]

    def environment(self) -> dict[str, str]:
        return {**os.environ, "MOTO_ALLOW_NONEXISTENT_REGION": "true"}


if __name__ == "__main__":
    sys.exit(main())
