"""A git smart-HTTP server for tests: ``git http-backend`` (CGI, one subprocess per request) behind a
tiny threaded Python HTTP server that requires Basic authentication.

Run as a script it serves the bare repositories under ``--root`` on 127.0.0.1 (an ephemeral port,
printed as ``PORT <n>`` on stdout), reads the expected user and token from the environment
(``GITSERVER_USER``, ``GITSERVER_TOKEN``: never from the command line), and exits by itself after
``--max-seconds``. :class:`GitHttpServer` starts it as a subprocess and stops it by PID.
"""

from __future__ import annotations

import argparse
import base64
import hmac
import os
import signal
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from portserver import PortServer

CGI_TIMEOUT = 60


def _read_body(handler: BaseHTTPRequestHandler) -> bytes:
    if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
        chunks = []
        while True:
            size_line = handler.rfile.readline().strip()
            size = int(size_line.split(b";")[0] or b"0", 16)
            if size == 0:
                while handler.rfile.readline().strip():  # trailers
                    pass
                break
            chunks.append(handler.rfile.read(size))
            handler.rfile.readline()  # CRLF after each chunk
        return b"".join(chunks)
    length = int(handler.headers.get("Content-Length") or 0)
    return handler.rfile.read(length) if length else b""


def make_handler(root: str, user: str, token: str) -> type[BaseHTTPRequestHandler]:
    expected = "Basic " + base64.b64encode(f"{user}:{token}".encode()).decode()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def log_message(self, format: str, *args: object) -> None:
            return

        def _deny(self) -> None:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="mlpipe-test"')
            self.send_header("Content-Length", "0")
            self.end_headers()

        def _serve(self) -> None:
            given = self.headers.get("Authorization", "")
            if not hmac.compare_digest(given.encode(), expected.encode()):
                _read_body(self)
                self._deny()
                return
            body = _read_body(self)
            path, _, query = self.path.partition("?")
            env = {
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "GIT_PROJECT_ROOT": root,
                "GIT_HTTP_EXPORT_ALL": "1",
                "GIT_CONFIG_NOSYSTEM": "1",
                "GIT_CONFIG_COUNT": "1",
                "GIT_CONFIG_KEY_0": "http.receivepack",
                "GIT_CONFIG_VALUE_0": "true",
                "REMOTE_USER": user,
                "REMOTE_ADDR": self.client_address[0],
                "REQUEST_METHOD": self.command,
                "PATH_INFO": path,
                "QUERY_STRING": query,
                "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                "CONTENT_LENGTH": str(len(body)),
                "SERVER_PROTOCOL": "HTTP/1.0",
                "GATEWAY_INTERFACE": "CGI/1.1",
            }
            if self.headers.get("Content-Encoding"):
                env["HTTP_CONTENT_ENCODING"] = self.headers["Content-Encoding"]
            if self.headers.get("Git-Protocol"):
                env["GIT_PROTOCOL"] = self.headers["Git-Protocol"]
            try:
                done = subprocess.run(
                    ["git", "http-backend"],
                    input=body,
                    env=env,
                    capture_output=True,
                    timeout=CGI_TIMEOUT,
                    check=False,
                )
            except subprocess.TimeoutExpired:
                self.send_error(504)
                return
            head, _, payload = done.stdout.partition(b"\r\n\r\n")
            if not _:
                head, _, payload = done.stdout.partition(b"\n\n")
            status = 200
            headers = []
            for line in head.decode("latin-1").splitlines():
                name, _, value = line.partition(":")
                if name.lower() == "status":
                    status = int(value.strip().split()[0])
                elif name:
                    headers.append((name.strip(), value.strip()))
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = _serve
        do_POST = _serve

    return Handler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--root", required=True, help="folder holding the bare repositories")
    parser.add_argument("--max-seconds", type=float, default=300.0)
    args = parser.parse_args(argv)
    user = os.environ.get("GITSERVER_USER", "mlpipe")
    token = os.environ.get("GITSERVER_TOKEN", "")
    if not token:
        print("GITSERVER_TOKEN is not set", file=sys.stderr)
        return 2
    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), make_handler(str(Path(args.root).resolve()), user, token)
    )
    server.daemon_threads = True
    timer = threading.Timer(args.max_seconds, server.shutdown)
    timer.daemon = True
    timer.start()
    signal.signal(
        signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown, daemon=True).start()
    )
    print(f"PORT {server.server_address[1]}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
    return 0


class GitHttpServer(PortServer):
    """Start the server above in a subprocess; ``url(name)`` is a repository URL; ``stop()`` kills it
    by PID (also on context-manager exit)."""

    what = "git test server"
    start_timeout = 20.0

    def __init__(
        self, root: os.PathLike[str] | str, *, user: str, token: str, max_seconds: float = 300.0
    ) -> None:
        super().__init__()
        self.root = Path(root)
        self.user = user
        self._token = token
        self.max_seconds = max_seconds

    def command(self) -> list[str]:
        return [
            sys.executable,
            __file__,
            "--root",
            str(self.root),
            "--max-seconds",
            str(self.max_seconds),
        ]

    def environment(self) -> dict[str, str]:
        # the token reaches the server through its environment, never its command line
        return {**os.environ, "GITSERVER_USER": self.user, "GITSERVER_TOKEN": self._token}

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{name}"


# --------------------------------------------------------------------------------------------------
# Inspecting repositories in tests


def git(*args: str, cwd: os.PathLike[str] | str | None = None, check: bool = True) -> str:
    """Run git (no user or system configuration) and return stdout."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        {
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": "/dev/null",
            "LC_ALL": "C",
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_AUTHOR_NAME": "Someone Else",
            "GIT_AUTHOR_EMAIL": "else@example.com",
            "GIT_COMMITTER_NAME": "Someone Else",
            "GIT_COMMITTER_EMAIL": "else@example.com",
        }
    )
    done = subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, timeout=60, check=False
    )
    if check and done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {done.stderr.decode(errors='replace')}")
    return done.stdout.decode("utf-8", "replace")  # no newline translation: CRLF stays CRLF


def log(repo: os.PathLike[str] | str, branch: str = "main") -> list[dict[str, object]]:
    """Commits of ``branch`` newest first: sha, parents, author, subject, body."""
    out = git(
        "--git-dir", str(repo), "log", "--format=%H%x1f%P%x1f%an <%ae>%x1f%s%x1f%b%x1e", branch
    )
    commits = []
    for record in out.split("\x1e"):
        record = record.strip("\n")
        if not record:
            continue
        sha, parents, author, subject, body = record.split("\x1f")
        commits.append(
            {
                "sha": sha,
                "parents": parents.split(),
                "author": author,
                "subject": subject,
                "body": body.strip(),
            }
        )
    return commits


def show(repo: os.PathLike[str] | str, path: str, rev: str = "main") -> str | None:
    """Content of ``path`` at ``rev`` in a (bare) repository, or None if absent."""
    done = git("--git-dir", str(repo), "show", f"{rev}:{path}", check=False)
    exists = git(
        "--git-dir", str(repo), "ls-tree", "--name-only", rev, "--", path, check=False
    ).strip()
    return done if exists else None


def files(repo: os.PathLike[str] | str, rev: str = "main") -> list[str]:
    return git("--git-dir", str(repo), "ls-tree", "-r", "--name-only", rev).split()


def all_objects(git_dir: os.PathLike[str] | str) -> bytes:
    """Every object of a repository, decompressed (commits, trees, blobs, tags)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    done = subprocess.run(
        [
            "git",
            "--git-dir",
            str(git_dir),
            "cat-file",
            "--batch-all-objects",
            "--batch",
            "--unordered",
        ],
        env=env,
        capture_output=True,
        timeout=60,
        check=True,
    )
    return done.stdout


if __name__ == "__main__":
    sys.exit(main())
