"""Serving benchmark, side by side in one run: our runtime (Seldon v1 and Open Inference V2
endpoints), seldon-core 1.19's microservice, MLServer 1.7's V2 server and ``mlflow models serve``
on the same MLflow model, single-row requests at concurrency 8.

    python benchmarks/serve.py [--servers mlpipe,mlpipe-v2,mlserver,seldon-core,mlflow]
                               [--workers 1,2] [--duration 10] [--warmup 2] [--runs 3]
                               [--threads 1] [--client auto|wrk|python] [--json FILE]
                               [--baseline CHECKOUT]

The model is a small scikit-learn LogisticRegression saved by this venv's MLflow 3; our runtime
and seldon-core serve it through the same generated ``Predictor.py``
(``mlpipe_lab.serving.package.build_context``), ``mlflow models serve --env-manager local -w N``
serves the model folder itself, MLServer's MLflow runtime loads the same folder. seldon-core runs
from the cached venv of ``scripts/seldon-venv.sh`` (Python 3.12, numpy 1.26) with its defaults
(gunicorn sync workers, ``GUNICORN_THREADS=1``) and ``GUNICORN_WORKERS=N``, as in
docs/serving-facts.md; MLServer from ``scripts/mlserver-venv.sh`` (Python 3.11, the model's own
numpy 2) with ``parallel_workers`` 0 for one worker (inference in its server process, its
fastest single-process setup) and N for N workers.

Requests: ``{"data":{"ndarray":[[2,1]]}}`` to ``/api/v1.0/predictions`` (Seldon v1),
``{"inputs":[{"name":"input-0","shape":[1,2],"datatype":"INT64","data":[2,1]}]}`` to
``/v2/models/bench/infer`` (V2: ours and MLServer) and ``{"inputs":[[2,1]]}`` to ``/invocations``
(MLflow). Load: ``wrk -t1 -c8`` (``apt-get install
wrk``) after a warm-up, else the asyncio keep-alive client below. For each worker count all
servers are started once and measured in turns (``--runs`` rounds), so host-load drift hits them
alike; the table gives the median run. seldon-core binds 0.0.0.0 unconditionally, so the whole
benchmark re-runs itself in a private network namespace (``unshare -n``: loopback only).
Servers are bounded in time and stopped by their PID. On a 2-core host the client competes with
the servers: the numbers compare servers on one machine; they are not capacity figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
from hoststats import cpu_times, steal_pct  # noqa: E402

CONCURRENCY = 8
TARGET_P99_MS = 20.0
# (our server, the peer it is compared with, the req/s ratio to reach at equal workers)
TARGETS = (("mlpipe runtime", "seldon-core 1.19", 1.5), ("mlpipe runtime V2", "MLServer 1.7", 2.0))
SELDON_BODY = b'{"data":{"ndarray":[[2,1]]}}'
V2_BODY = b'{"inputs":[{"name":"input-0","shape":[1,2],"datatype":"INT64","data":[2,1]}]}'
V2_PATH = "/v2/models/bench/infer"
MLFLOW_BODY = b'{"inputs":[[2,1]]}'
IN_NETNS = "MLPIPE_BENCH_NETNS"
PEERS = ("seldon-core", "mlserver")

SAVE_MODEL = textwrap.dedent("""\
    import sys
    import numpy as np
    import mlflow.sklearn
    from sklearn.linear_model import LogisticRegression

    X = np.array([[0, 0], [1, 0], [0, 1], [2, 1], [3, 3], [2, 2]], dtype="int64")
    y = np.array([0, 0, 0, 1, 1, 1])
    mlflow.sklearn.save_model(LogisticRegression().fit(X, y), sys.argv[1], input_example=X[:1])
    """)


# -- servers ------------------------------------------------------------------------------------


class Server:
    """One server subprocess in its own session, ready when ``ping`` answers 200."""

    def __init__(
        self,
        name: str,
        workers: int,
        port: int,
        cmd: list[str],
        cwd: Path,
        env: dict,
        path: str,
        body: bytes,
        ping: str,
    ):
        self.name, self.workers, self.port = name, workers, port
        self.cmd, self.cwd, self.env = cmd, cwd, env
        self.path, self.body, self.ping = path, body, ping
        self.proc: subprocess.Popen | None = None
        self.log = tempfile.NamedTemporaryFile(prefix=f"bench-{name}-", suffix=".log", delete=False)

    def start(self, timeout: float = 180.0) -> None:
        self.proc = subprocess.Popen(
            self.cmd,
            cwd=self.cwd,
            env={**os.environ, **self.env},
            stdout=self.log,
            stderr=self.log,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{self.port}{self.ping}", timeout=2
                ) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"{self.name} did not start:\n{Path(self.log.name).read_text()[-3000:]}")

    def check(self) -> None:
        """One real prediction, so a server that answers errors is not benchmarked."""
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{self.path}",
            data=self.body,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=30) as r:
            doc = json.loads(r.read())
        if "outputs" in doc:
            got = doc["outputs"][0]["data"]
        else:
            got = doc.get("predictions", (doc.get("data") or {}).get("ndarray"))
        if got != [1]:
            raise RuntimeError(f"{self.name}: unexpected prediction {doc}")

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)  # its own session: its workers too
                proc.wait(timeout=5)
        self.log.close()


def mlserver_repository(ctx: Path, workers: int, port: int) -> Path:
    """An MLServer model repository for the benchmark model: settings on 127.0.0.1."""
    repo = ctx.parent / f"mlserver-{workers}"
    if not repo.exists():
        (repo / "bench").mkdir(parents=True)
        shutil.copytree(ctx / "model", repo / "bench" / "model")  # MLflow refuses a symlink
        settings = {"name": "bench", "implementation": "mlserver_mlflow.MLflowRuntime"}
        settings["parameters"] = {"uri": "./model", "version": "1"}
        (repo / "bench" / "model-settings.json").write_text(json.dumps(settings))
    server = {
        "host": "127.0.0.1",
        "http_port": port,
        "grpc_port": port + 1,
        "metrics_port": port + 2,
        "parallel_workers": 0 if workers == 1 else workers,
    }
    (repo / "settings.json").write_text(json.dumps(server))
    return repo


def make_servers(
    kinds: list[str],
    workers: int,
    threads: int,
    ctx: Path,
    peers: dict[str, Path],
    base_port: int,
    baseline: Path | None = None,
) -> list[Server]:
    model = ctx / "model"
    bin_dir = Path(sys.executable).parent
    seldon_bin = peers.get("seldon-core")
    out = []
    for i, kind in enumerate(kinds):
        port = base_port + 10 * i
        if kind == "mlserver":
            repo = mlserver_repository(ctx, workers, port)
            out.append(
                Server(
                    "MLServer 1.7",
                    workers,
                    port,
                    [str(peers["mlserver"] / "mlserver"), "start", str(repo)],
                    repo,
                    {},
                    V2_PATH,
                    V2_BODY,
                    "/v2/health/ready",
                )
            )
        elif kind in ("mlpipe", "mlpipe-v2", "baseline"):
            v2 = kind == "mlpipe-v2"
            name = "mlpipe runtime V2" if v2 else "mlpipe runtime"
            env = {"MODEL_DIR": str(model)}
            if kind == "baseline":  # our v1 endpoint as another checkout has it
                name = f"mlpipe runtime ({baseline.name})"
                env["PYTHONPATH"] = str(baseline)
            out.append(
                Server(
                    name,
                    workers,
                    port,
                    [
                        sys.executable,
                        "-m",
                        "mlpipe_lab.serving.runtime",
                        "Predictor",
                        "--host",
                        "127.0.0.1",
                        "--http-port",
                        str(port),
                        "--workers",
                        str(workers),
                        "--threads",
                        str(threads),
                        "--model-dir",
                        str(ctx),
                        "--log-level",
                        "warning",
                        "--graceful-timeout",
                        "5",
                    ],
                    ctx,
                    env,
                    V2_PATH if v2 else "/api/v1.0/predictions",
                    V2_BODY if v2 else SELDON_BODY,
                    "/health/ping",
                )
            )
        elif kind == "seldon-core":
            out.append(
                Server(
                    "seldon-core 1.19",
                    workers,
                    port,
                    [
                        str(seldon_bin / "seldon-core-microservice"),
                        "Predictor",
                        "--service-type",
                        "MODEL",
                    ],
                    ctx,
                    {
                        "MODEL_DIR": str(model),
                        "GUNICORN_WORKERS": str(workers),
                        "GUNICORN_THREADS": "1",
                        "PREDICTIVE_UNIT_HTTP_SERVICE_PORT": str(port),
                        "PREDICTIVE_UNIT_GRPC_SERVICE_PORT": str(port + 1),
                        "PREDICTIVE_UNIT_METRICS_SERVICE_PORT": str(port + 2),
                        "PATH": f"{seldon_bin}:{os.environ.get('PATH', '')}",
                    },
                    "/api/v1.0/predictions",
                    SELDON_BODY,
                    "/health/ping",
                )
            )
        elif kind == "mlflow":
            out.append(
                Server(
                    "mlflow models serve",
                    workers,
                    port,
                    [
                        str(bin_dir / "mlflow"),
                        "models",
                        "serve",
                        "-m",
                        str(model),
                        "--env-manager",
                        "local",
                        "-h",
                        "127.0.0.1",
                        "-p",
                        str(port),
                        "-w",
                        str(workers),
                    ],
                    ctx,
                    {"PATH": f"{bin_dir}:{os.environ.get('PATH', '')}"},
                    "/invocations",
                    MLFLOW_BODY,
                    "/ping",
                )
            )
        else:
            raise SystemExit(
                f"unknown server {kind!r} (mlpipe, mlpipe-v2, mlserver, seldon-core, mlflow)"
            )
    return out


# -- load generators ----------------------------------------------------------------------------


def _wrk_ms(text: str) -> float:
    m = re.match(r"([\d.]+)(us|ms|s)", text)
    value, unit = float(m[1]), m[2]
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


def run_wrk(server: Server, seconds: float) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        fh.write(
            'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
            f"wrk.body = '{server.body.decode()}'\n"
        )
        script = fh.name
    try:
        cmd = [
            "wrk",
            "-t1",
            f"-c{CONCURRENCY}",
            f"-d{max(1, round(seconds))}s",
            "--latency",
            "-s",
            script,
            f"http://127.0.0.1:{server.port}{server.path}",
        ]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60).stdout
    finally:
        os.unlink(script)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {
        "requests": int(re.search(r"(\d+) requests in", out)[1]),
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1]),
        "p50_ms": _wrk_ms(re.search(r"\s50%\s+(\S+)", out)[1]),
        "p99_ms": _wrk_ms(re.search(r"\s99%\s+(\S+)", out)[1]),
        # read errors are the sync worker closing each connection, as wrk counts them: not failures
        "errors": (int(bad[1]) if bad else 0) + (int(sock[1]) + int(sock[4]) if sock else 0),
    }


async def _client(
    server: Server, deadline: float, latencies: list[float], errors: list[int]
) -> None:
    request = (
        f"POST {server.path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(server.body)}\r\n\r\n"
    ).encode() + server.body
    reader = writer = None
    try:
        while time.perf_counter() < deadline:
            t0 = time.perf_counter()
            if reader is None or reader.at_eof():  # first request, or the server closed: reconnect
                if writer is not None:
                    writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(re.search(rb"(?i)content-length:\s*(\d+)", head)[1])
            await reader.readexactly(length)
            if re.search(rb"(?i)connection:\s*close", head):
                await reader.read()
            latencies.append(time.perf_counter() - t0)
            if not head.startswith(b"HTTP/1.1 200"):
                errors.append(1)
    finally:
        if writer is not None:
            writer.close()


def run_python(server: Server, seconds: float) -> dict:
    latencies: list[float] = []
    errors: list[int] = []

    async def main():
        deadline = time.perf_counter() + seconds
        await asyncio.gather(
            *(_client(server, deadline, latencies, errors) for _ in range(CONCURRENCY))
        )

    t0 = time.perf_counter()
    asyncio.run(main())
    elapsed = time.perf_counter() - t0
    latencies.sort()
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000  # noqa: E731
    return {
        "requests": len(latencies),
        "rps": len(latencies) / elapsed,
        "p50_ms": pick(0.50),
        "p99_ms": pick(0.99),
        "errors": len(errors),
    }


def group_cpu_seconds(pgid: int) -> float:
    """User + system CPU seconds of the live processes of a process group (a server and its
    workers: each server runs in its own session)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rpartition(")")[2].split()
        except OSError:
            continue
        # after the command: state, ppid, pgrp, ...; utime and stime are 11 and 12 further on
        if int(fields[2]) == pgid:
            total += int(fields[11]) + int(fields[12])
    return total / tick


def measured(load, server: Server, seconds: float) -> dict:
    """One load run, with the share of CPU time the hypervisor stole meanwhile (on these VMs it
    swings between 0 and 40 %, and every server slows down with it) and the server's own CPU
    time per request, which moves much less with the host's load than requests per second."""
    before = cpu_times()
    cpu_before = group_cpu_seconds(server.proc.pid)
    result = load(server, seconds)
    cpu = group_cpu_seconds(server.proc.pid) - cpu_before
    stolen = steal_pct(before, cpu_times())
    if stolen is not None:
        result["steal_pct"] = stolen
    if result.get("requests"):
        result["cpu_ms_per_request"] = 1000 * cpu / result["requests"]
    return result


# -- main ---------------------------------------------------------------------------------------


def build_model(root: Path) -> Path:
    sys.path.insert(0, str(ROOT))
    from mlpipe_lab.serving.package import build_context

    subprocess.run(
        [sys.executable, "-c", SAVE_MODEL, str(root / "saved")],
        check=True,
        timeout=300,
        capture_output=True,
    )
    return build_context(
        root / "saved", root / "ctx", runtime="seldon-core", model_name="bench", model_version="1"
    ).path


def peer_venv(peer: str) -> Path:
    """The bin folder of a peer's cached venv (scripts/peer-venv.sh seldon|mlserver)."""
    out = subprocess.run(
        [str(ROOT / "scripts" / "peer-venv.sh"), peer],
        stdout=subprocess.PIPE,
        text=True,
        timeout=1200,
    )
    if out.returncode != 0:
        raise SystemExit(f"scripts/peer-venv.sh {peer} failed (see above)")
    return Path(out.stdout.strip().splitlines()[-1]) / "bin"


def reexec_in_netns(argv: list[str]) -> int:
    for prefix in (["unshare", "-n"], ["unshare", "-rn"]):
        if subprocess.run([*prefix, "true"], capture_output=True).returncode == 0:
            cmd = [
                *prefix,
                "sh",
                "-c",
                'ip link set lo up 2>/dev/null || true; exec "$@"',
                "sh",
                sys.executable,
                *argv,
            ]
            return subprocess.run(cmd, env={**os.environ, IN_NETNS: "1"}).returncode
    raise SystemExit(
        "no private network namespace (unshare -n / -rn): seldon-core binds 0.0.0.0, "
        "so the benchmark does not run it outside one; use --servers mlpipe,mlflow"
    )


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--servers", default="mlpipe,mlpipe-v2,mlserver,seldon-core,mlflow")
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--threads", type=int, default=1, help="our runtime's model-call threads")
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--warmup", type=float, default=2.0)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--client", choices=["auto", "wrk", "python"], default="auto")
    ap.add_argument("--json", help="also write the results here")
    ap.add_argument(
        "--baseline",
        type=Path,
        help="also serve our v1 endpoint from this checkout (e.g. a git worktree of an earlier "
        "commit), side by side in the same run",
    )
    args = ap.parse_args(argv)
    kinds = [k.strip() for k in args.servers.split(",") if k.strip()]
    if args.baseline and "baseline" not in kinds:  # "baseline" in --servers sets its place
        kinds.insert(kinds.index("mlpipe") + 1 if "mlpipe" in kinds else 0, "baseline")
    # The peers' venvs need PyPI on a first run: build them before leaving the network behind.
    peers = {k: peer_venv("seldon" if k == "seldon-core" else k) for k in kinds if k in PEERS}
    if "seldon-core" in kinds and not os.environ.get(IN_NETNS):
        return reexec_in_netns([str(Path(__file__).resolve()), *argv])
    client = args.client
    if client == "auto":
        client = "wrk" if shutil.which("wrk") else "python"
    load = run_wrk if client == "wrk" else run_python
    rows = []
    with tempfile.TemporaryDirectory(prefix="serve-bench-") as tmp:
        ctx = build_model(Path(tmp))
        for workers in [int(w) for w in args.workers.split(",")]:
            servers = make_servers(
                kinds, workers, args.threads, ctx, peers, 18000 + workers * 100, args.baseline
            )
            runs: dict[str, list[dict]] = {s.name: [] for s in servers}
            try:
                for s in servers:
                    s.start()
                    s.check()
                for s in servers:
                    load(s, args.warmup)
                for _ in range(args.runs):
                    for s in servers:
                        runs[s.name].append(measured(load, s, args.duration))
            finally:
                for s in servers:
                    s.stop()
                    os.unlink(s.log.name)
            for s in servers:
                r = runs[s.name]
                rows.append(
                    {
                        "server": s.name,
                        "workers": workers,
                        "rps": statistics.median(x["rps"] for x in r),
                        "p50_ms": statistics.median(x["p50_ms"] for x in r),
                        "p99_ms": statistics.median(x["p99_ms"] for x in r),
                        "rps_min": min(x["rps"] for x in r),
                        "rps_max": max(x["rps"] for x in r),
                        "errors": sum(x["errors"] for x in r),
                        "runs": r,
                        "steal_pct": statistics.median(x.get("steal_pct", 0.0) for x in r),
                        "cpu_ms": statistics.median(x.get("cpu_ms_per_request", 0.0) for x in r),
                    }
                )
    load_avg = os.getloadavg()[0]
    print(
        f"\nclient: {client} -c{CONCURRENCY}, {args.duration:.0f} s x {args.runs} run(s) per server "
        f"after {args.warmup:.0f} s warm-up; our runtime threads={args.threads}; "
        f"host load {load_avg:.1f} on {os.cpu_count()} cores"
    )
    print(
        "| server | workers | req/s (median, min-max) | p50 ms | p99 ms | CPU ms/req | errors "
        "| vs peer | CPU steal |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    by = {(r["server"], r["workers"]): r for r in rows}
    peer_of = {ours: peer for ours, peer, _ in TARGETS}
    verdicts = []
    for r in rows:
        base = by.get((peer_of.get(r["server"], "seldon-core 1.19"), r["workers"]))
        ratio = f"{r['rps'] / base['rps']:.2f}x {base['server'].split()[0]}" if base else "-"
        print(
            f"| {r['server']} | {r['workers']} | {r['rps']:.0f} ({r['rps_min']:.0f}-{r['rps_max']:.0f}) "
            f"| {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {r['cpu_ms']:.2f} | {r['errors']} | {ratio} "
            f"| {r['steal_pct']:.0f} % |"
        )
    for ours, peer, target in TARGETS:
        for workers in sorted({r["workers"] for r in rows}):
            mine, theirs = by.get((ours, workers)), by.get((peer, workers))
            if not (mine and theirs):
                continue
            ok = mine["rps"] >= target * theirs["rps"] and mine["p99_ms"] <= TARGET_P99_MS
            verdicts.append(
                f"{ours} vs {peer}, {workers} worker(s): {mine['rps'] / theirs['rps']:.2f}x "
                f"(target >= {target}x), p99 {mine['p99_ms']:.1f} ms -> {'met' if ok else 'NOT met'}"
            )
    if verdicts:
        print(f"\ntargets (p99 <= {TARGET_P99_MS:.0f} ms):\n  " + "\n  ".join(verdicts))
    if args.json:
        Path(args.json).write_text(
            json.dumps({"client": client, "load": load_avg, "rows": rows}, indent=2)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
