"""A real Jupyter server with mlpipe-lab, as a subprocess in a sandbox, for the hardening tier and
the latency benchmark.

The sandbox holds the server's root (``root/``), the data folder (``data/``: mlpipe-lab's
catalogs, Jupyter's data and runtime), a home (``home/``) and a folder an attacker aims at
(``outside/``). ``snapshot()`` lists every file under the sandbox but root and data, so a test can
say "0 files created or changed outside the root and the data folder". The server's log goes to
``server.log``. Bound to 127.0.0.1, stopped by its PID.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

TOKEN = "hardening-token-5d1f0a"
OTHER_TOOLS = (".ipython", ".npm")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class JupyterServer:
    def __init__(self, sandbox: Path, extra_config: dict[str, Any] | None = None):
        self.sandbox = Path(sandbox)
        self.root = self.sandbox / "root"
        self.data = self.sandbox / "data"
        self.home = self.sandbox / "home"
        self.outside = self.sandbox / "outside"
        self.log_path = self.sandbox / "server.log"
        self.extra_config = extra_config or {}
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> JupyterServer:
        for folder in (self.root, self.data, self.home, self.outside, self.sandbox / "config"):
            folder.mkdir(parents=True, exist_ok=True)
        config = {
            "ServerApp": {
                # the API only: JupyterLab's own server parts (its extension manager asks npm) and
                # the language servers are not what is tested, and write into the home
                "jpserver_extensions": {
                    "mlpipe_lab": True,
                    "jupyterlab": False,
                    "jupyter_lsp": False,
                },
                "open_browser": False,
                "allow_root": True,
                "ip": "127.0.0.1",
                "root_dir": str(self.root),
            },
            "IdentityProvider": {"token": TOKEN},
            **self.extra_config,
        }
        (self.sandbox / "config" / "jupyter_server_config.json").write_text(json.dumps(config))
        self.port = free_port()
        env = {
            **os.environ,
            "HOME": str(self.home),
            "JUPYTER_CONFIG_DIR": str(self.sandbox / "config"),
            "JUPYTER_DATA_DIR": str(self.data / "jupyter"),
            "JUPYTER_RUNTIME_DIR": str(self.data / "runtime"),
            "MLPIPE_LAB_DATA_DIR": str(self.data / "mlpipe-lab"),
            "JUPYTER_PLATFORM_DIRS": "1",
        }
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jupyter_server", f"--port={self.port}", "--port-retries=0"],
            env=env,
            cwd=self.root,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the Jupyter server stopped: {self.log()[-2000:]}")
            try:
                if self.request("GET", "/api/status", timeout=2)[0] == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.3)
        self.stop()
        raise RuntimeError("the Jupyter server did not start in time")

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)

    def __enter__(self) -> JupyterServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def request(
        self,
        method: str,
        path: str,
        body: bytes | str | dict | None = None,
        timeout: float = 30.0,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, bytes]:
        """(status, body) of one request; the path is percent-encoded by the caller."""
        if isinstance(body, dict):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode("utf-8", "surrogatepass")
        if body is None and method in ("POST", "PUT"):
            body = b""
        req = urllib.request.Request(self.url + path, data=body, method=method)
        req.add_header("Authorization", f"token {TOKEN}")
        req.add_header("Content-Type", "application/json")
        for key, value in (headers or {}).items():
            req.add_header(key, value)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def snapshot(self) -> dict[str, tuple[int, int]]:
        """Every path under the sandbox outside the root and the data folder: (size, mtime_ns)."""
        # other tools' caches in the home (IPython's profile folder) are not ours to judge
        skip = {self.root, self.data, self.log_path, self.sandbox / "config"}
        skip |= {self.home / name for name in OTHER_TOOLS}
        found: dict[str, tuple[int, int]] = {}
        for dirpath, dirnames, filenames in os.walk(self.sandbox):
            here = Path(dirpath)
            dirnames[:] = [d for d in dirnames if here / d not in skip]
            for name in filenames + [d for d in dirnames]:
                path = here / name
                if path in skip:
                    continue
                st = path.lstat()
                found[str(path.relative_to(self.sandbox))] = (st.st_size, st.st_mtime_ns)
        return found
