"""Serving runtime benchmark: req/s and p50/p99 latency at concurrency 8 on 127.0.0.1, single-row
Seldon requests ``{"data":{"ndarray":[[2,1]]}}``, for our runtime with 1 and 2 workers, side by
side with seldon-core 1.19.0 as measured in shared/docs/serving-facts.md (same wrk settings).

    python benchmarks/serve.py [--workers 1,2] [--threads 1] [--duration 10] [--warmup 2]
                               [--runs 1] [--client auto|wrk|python] [--close] [--json FILE]

``--close`` sends ``Connection: close`` so every request opens a new TCP connection: seldon-core's
sync gunicorn worker closes every connection, so its numbers in the facts include TCP set-up.

The model is a tiny linear classifier in numpy (the facts used a tiny sklearn model). Load comes
from ``wrk -t1 -c8`` when installed (``apt-get install wrk``), else from the asyncio keep-alive
client below. Everything is bounded in time and stops its servers by PID. On 2 shared cores the
client competes with the server: numbers are for comparison on one machine, not capacity.
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
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BODY = b'{"data":{"ndarray":[[2,1]]}}'
PATH = "/api/v1.0/predictions"
CONCURRENCY = 8
SELDON = [  # serving-facts.md, wrk -t1 -c8 -d10s, tiny sklearn model
    ("seldon-core 1.19.0, 1 worker (facts)", "631 (569-719)", "10.5-13.4", "18-35"),
    ("seldon-core 1.19.0, 2 workers (facts)", "926-1179", "6.4-8.0", "12-19"),
]
MODEL = textwrap.dedent('''\
    import numpy as np

    class BenchModel:
        """A tiny linear classifier: 1 when 0.8*x0 + 0.6*x1 > 1."""

        def __init__(self):
            self.w = None

        def load(self):
            self.w = np.array([0.8, 0.6])

        def predict(self, X, features_names=None):
            return (np.asarray(X) @ self.w > 1.0).astype("int64")
    ''')


def start_server(model_dir: str, workers: int, threads: int) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlpipe_lab.serving.runtime", "BenchModel", "--host", "127.0.0.1",
         "--http-port", "0", "--workers", str(workers), "--threads", str(threads),
         "--model-dir", model_dir, "--log-level", "warning", "--graceful-timeout", "5"],
        stdout=subprocess.PIPE, text=True, start_new_session=True, cwd=model_dir,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.startswith("PORT "):
            return proc, int(line.split()[1])
        if not line and proc.poll() is not None:
            break
    stop_server(proc)
    raise RuntimeError("the serving runtime did not start")


def stop_server(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
    if proc.stdout:
        proc.stdout.close()


# -- load generators ----------------------------------------------------------------------------


def _wrk_ms(text: str) -> float:
    m = re.match(r"([\d.]+)(us|ms|s)", text)
    value, unit = float(m[1]), m[2]
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


CLOSE = False


def run_wrk(port: int, seconds: float, latency: bool = True) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        fh.write('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                 f"wrk.body = '{BODY.decode()}'\n")
        if CLOSE:
            fh.write('wrk.headers["Connection"] = "close"\n')
        script = fh.name
    try:
        cmd = ["wrk", "-t1", f"-c{CONCURRENCY}", f"-d{max(1, round(seconds))}s", "-s", script]
        if latency:
            cmd.append("--latency")
        out = subprocess.run(cmd + [f"http://127.0.0.1:{port}{PATH}"], capture_output=True,
                             text=True, timeout=seconds + 30).stdout
    finally:
        os.unlink(script)
    result = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1])}
    if latency:
        result["p50_ms"] = _wrk_ms(re.search(r"\s50%\s+(\S+)", out)[1])
        result["p99_ms"] = _wrk_ms(re.search(r"\s99%\s+(\S+)", out)[1])
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    result["errors"] = (int(bad[1]) if bad else 0) + (1 if errors else 0)
    return result


async def _client(port: int, deadline: float, latencies: list[float], errors: list[int]) -> None:
    connection = "Connection: close\r\n" if CLOSE else ""
    request = (f"POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
               f"{connection}Content-Length: {len(BODY)}\r\n\r\n").encode() + BODY
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < deadline:
            t0 = time.perf_counter()
            if CLOSE and reader.at_eof():  # the server closed the last one: reconnect (timed)
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(re.search(rb"(?i)content-length:\s*(\d+)", head)[1])
            await reader.readexactly(length)
            if CLOSE:
                await reader.read()  # wait for the server's close
            latencies.append(time.perf_counter() - t0)
            if not head.startswith(b"HTTP/1.1 200"):
                errors.append(1)
    finally:
        writer.close()


def run_python(port: int, seconds: float, latency: bool = True) -> dict:
    latencies: list[float] = []
    errors: list[int] = []

    async def main():
        deadline = time.perf_counter() + seconds
        await asyncio.gather(*(_client(port, deadline, latencies, errors) for _ in range(CONCURRENCY)))

    t0 = time.perf_counter()
    asyncio.run(main())
    elapsed = time.perf_counter() - t0
    latencies.sort()
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000
    return {"rps": len(latencies) / elapsed, "p50_ms": pick(0.50), "p99_ms": pick(0.99),
            "errors": len(errors)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--warmup", type=float, default=2.0)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--client", choices=["auto", "wrk", "python"], default="auto")
    ap.add_argument("--close", action="store_true", help="a new connection per request")
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args(argv)
    global CLOSE
    CLOSE = args.close
    client = args.client
    if client == "auto":
        client = "wrk" if shutil.which("wrk") else "python"
    load = run_wrk if client == "wrk" else run_python
    rows = []
    with tempfile.TemporaryDirectory(prefix="serve-bench-") as model_dir:
        Path(model_dir, "BenchModel.py").write_text(MODEL)
        for workers in [int(w) for w in args.workers.split(",")]:
            proc, port = start_server(model_dir, workers, args.threads)
            try:
                load(port, args.warmup, latency=False)
                runs = [load(port, args.duration) for _ in range(args.runs)]
            finally:
                stop_server(proc)
            row = {
                "server": f"mlpipe runtime, {workers} worker{'s' if workers > 1 else ''}"
                          f" (threads={args.threads}{', Connection: close' if CLOSE else ''})",
                "workers": workers,
                "rps": statistics.median(r["rps"] for r in runs),
                "p50_ms": statistics.median(r["p50_ms"] for r in runs),
                "p99_ms": statistics.median(r["p99_ms"] for r in runs),
                "errors": sum(r["errors"] for r in runs),
                "runs": runs,
            }
            rows.append(row)
    load_avg = os.getloadavg()[0]
    print(f"client: {client} -c{CONCURRENCY}, {args.duration:.0f} s x {args.runs} run(s) after "
          f"{args.warmup:.0f} s warm-up; host load {load_avg:.1f}; {os.cpu_count()} cores")
    print("| server | req/s | p50 ms | p99 ms | errors |\n|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['server']} | {r['rps']:.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['errors']} |")
    for name, rps, p50, p99 in SELDON:
        print(f"| {name} | {rps} | {p50} | {p99} | 0 |")
    one = next((r for r in rows if r["workers"] == 1), None)
    if one:
        print(f"\n1 worker vs seldon-core's 631 req/s: {one['rps'] / 631:.1f}x "
              f"(target >= 1.5x with p99 <= 20 ms: "
              f"{'met' if one['rps'] >= 1.5 * 631 and one['p99_ms'] <= 20 else 'NOT met'})")
    if args.json:
        Path(args.json).write_text(json.dumps({"client": client, "load": load_avg, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
