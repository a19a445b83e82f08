"""Pipeline editor benchmark in real Chromium: time for a pipeline to open and become interactive,
and frame rate while dragging a node, for 100 / 500 / 1,000-node pipelines.

    python benchmarks/browser.py [--sizes 100,500,1000] [--runs 3] [--drag-ms 2000] [--json FILE]

"open" is from the open command (run in the page) until every node is in the DOM and measured;
"interactive" is from the same instant until a real mouse click on the first node has selected it
and the properties panel shows that node. "fps" counts requestAnimationFrame callbacks while the
mouse drags one node in circles. Targets (issue #4): a 500-node pipeline interactive <= 1.5 s and
>= 30 fps while dragging, on the 2-core machines.

`--profile DIR` prints CPU hot spots and trace totals and keeps the drag traces; MLPIPE_BENCH_CSS
(a stylesheet) is added to the page first, to measure a style change without rebuilding.

Starts its own JupyterLab (127.0.0.1, a free port, galata's test configuration so the page exposes
the app), bounded in time and stopped by PID; needs the built extension (`make install`), Chromium
(`scripts/install-chromium.sh`) and the ui-tests' Playwright (`cd ui-tests && jlpm install`).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_INTERACTIVE_MS = 1500
TARGET_FPS = 30
TARGET_NODES = 500
PER_ROW = 20  # nodes per row of the generated grid; each row is a chain of links
CONFIG = """
from jupyterlab.galata import configure_jupyter_server

configure_jupyter_server(c)  # noqa: F821
c.ServerApp.ip = "127.0.0.1"
c.ServerApp.port = {port}
c.ServerApp.root_dir = {root!r}
c.ServerApp.allow_root = True  # benchmark-only configuration, like the galata tests
"""


def pipeline_document(n: int, name: str) -> dict:
    """An Elyra pipeline with ``n`` Python nodes on a grid, each row a chain of links."""
    nodes = []
    for i in range(n):
        row, col = divmod(i, PER_ROW)
        node = {
            "id": f"n{i}",
            "type": "execution_node",
            "op": "execute-python-node",
            "app_data": {
                "component_parameters": {
                    "filename": f"steps/step_{i}.py",
                    "runtime_image": "amancevice/pandas:jupyter-2.3.2",
                    "dependencies": [],
                    "include_subdirectories": False,
                    "outputs": [],
                    "env_vars": [],
                    "kubernetes_secrets": [],
                },
                "label": f"step {i}",
                "ui_data": {
                    "label": f"step {i}",
                    "x_pos": 80 + col * 260,
                    "y_pos": 80 + row * 120,
                    "description": "Run Python script",
                },
            },
            "inputs": [
                {
                    "id": "inPort",
                    "app_data": {
                        "ui_data": {"cardinality": {"min": 0, "max": -1}, "label": "Input Port"}
                    },
                }
            ],
            "outputs": [
                {
                    "id": "outPort",
                    "app_data": {
                        "ui_data": {"cardinality": {"min": 0, "max": -1}, "label": "Output Port"}
                    },
                }
            ],
        }
        if col > 0:
            node["inputs"][0]["links"] = [
                {"id": f"l{i}", "node_id_ref": f"n{i - 1}", "port_id_ref": "outPort"}
            ]
        nodes.append(node)
    return {
        "doc_type": "pipeline",
        "version": "3.0",
        "json_schema": "http://api.dataplatform.ibm.com/schemas/common-pipeline/pipeline-flow/pipeline-flow-v3-schema.json",
        "id": "elyra-auto-generated-pipeline",
        "primary_pipeline": "primary",
        "pipelines": [
            {
                "id": "primary",
                "nodes": nodes,
                "app_data": {
                    "ui_data": {"comments": []},
                    "version": 8,
                    "runtime_type": "APACHE_AIRFLOW",
                    "properties": {
                        "name": name,
                        "runtime": "Apache Airflow",
                        "pipeline_defaults": {},
                    },
                },
                "runtime_ref": "",
            }
        ],
        "schemas": [],
    }


def write_pipelines(root: Path, sizes: list[int]) -> list[dict]:
    steps = root / "steps"
    steps.mkdir()
    for i in range(max(sizes)):
        (steps / f"step_{i}.py").write_text(f"print('step {i}')\n")
    out = []
    for n in sizes:
        name = f"bench_{n}"
        (root / f"{name}.pipeline").write_text(
            json.dumps(pipeline_document(n, name), indent=2) + "\n"
        )
        out.append({"path": f"{name}.pipeline", "nodes": n})
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_lab(root: Path, work: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    config = work / "bench_config.py"
    config.write_text(CONFIG.format(port=port, root=str(root)))
    env = {**os.environ, "MLPIPE_LAB_DATA_DIR": str(work / "data")}
    log = open(work / "lab.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--config", str(config)],
        cwd=work,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"JupyterLab exited early; see {work / 'lab.log'}")
        try:
            with urllib.request.urlopen(f"{url}/api/status", timeout=2):
                return proc, url
        except OSError:
            time.sleep(0.5)
    stop(proc)
    raise SystemExit("JupyterLab did not start within 120 s")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def chromium_path() -> str:
    for candidate in (os.environ.get("CHROMIUM_PATH"), "/usr/bin/chromium"):
        if candidate and Path(candidate).exists():
            return candidate
    raise SystemExit("Chromium not found: run scripts/install-chromium.sh or set CHROMIUM_PATH")


def summarize(results: list[dict], sizes: list[int]) -> list[dict]:
    rows = []
    for n in sizes:
        runs = [r for r in results if r["nodes"] == n]
        rows.append(
            {
                "nodes": n,
                "runs": len(runs),
                "open_ms": (
                    min(r["open_ms"] for r in runs),
                    statistics.median(r["open_ms"] for r in runs),
                ),
                "interactive_ms": (
                    min(r["interactive_ms"] for r in runs),
                    statistics.median(r["interactive_ms"] for r in runs),
                ),
                # frame rate: the worst run matters, so max/median
                "fps": (max(r["fps"] for r in runs), statistics.median(r["fps"] for r in runs)),
                "p95_frame_ms": statistics.median(r["p95_frame_ms"] for r in runs),
                "open_cpu_ms": statistics.median(r["open_cpu_ms"] for r in runs),
                "drag_cpu_ms_per_move": statistics.median(r["drag_cpu_ms_per_move"] for r in runs),
            }
        )
    return rows


def print_table(rows: list[dict]) -> None:
    header = [
        "nodes",
        "runs",
        "open ms min/med",
        "interactive ms min/med",
        "drag fps max/med",
        "p95 frame ms",
        "open CPU ms",
        "CPU ms/move",
        "target",
    ]
    lines = []
    for r in rows:
        if r["nodes"] == TARGET_NODES:
            ok = r["interactive_ms"][1] <= TARGET_INTERACTIVE_MS and r["fps"][1] >= TARGET_FPS
            verdict = (
                f"<= {TARGET_INTERACTIVE_MS} ms, >= {TARGET_FPS} fps: {'PASS' if ok else 'FAIL'}"
            )
        else:
            verdict = "(curve)"
        lines.append(
            [
                str(r["nodes"]),
                str(r["runs"]),
                f"{r['open_ms'][0]:.0f} / {r['open_ms'][1]:.0f}",
                f"{r['interactive_ms'][0]:.0f} / {r['interactive_ms'][1]:.0f}",
                f"{r['fps'][0]:.1f} / {r['fps'][1]:.1f}",
                f"{r['p95_frame_ms']:.1f}",
                f"{r['open_cpu_ms']:.0f}",
                f"{r['drag_cpu_ms_per_move']:.1f}",
                verdict,
            ]
        )
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(header)]
    print(" | ".join(h.ljust(w) for h, w in zip(header, widths)))
    print("-+-".join("-" * w for w in widths))
    for line in lines:
        print(" | ".join(x.ljust(w) for x, w in zip(line, widths)))
    print(
        "targets on the median of the runs; Chromium headless with software rendering (--disable-gpu);"
        " a loaded shared host makes every wall-clock number worse."
    )
    print(
        "open CPU ms / CPU ms/move: main-thread CPU (thread time, medians) to open and select, and per"
        " drag move (one move per 16 ms): less sensitive to other load; <= 16 ms/move allows 60 fps."
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="100,500,1000")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--drag-ms", type=int, default=2000)
    ap.add_argument("--json", help="also write the raw results here")
    ap.add_argument(
        "--profile",
        metavar="DIR",
        help="print the functions with the most CPU time during each drag; screenshots to DIR",
    )
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    playwright = ROOT / "ui-tests" / "node_modules" / "@playwright" / "test"
    if not playwright.exists():
        raise SystemExit("Playwright missing: run `cd ui-tests && jlpm install` first")
    chromium = chromium_path()
    with tempfile.TemporaryDirectory(prefix="mlpipe-bench-browser-") as tmp:
        work = Path(tmp)
        root = work / "root"
        root.mkdir()
        pipelines = write_pipelines(root, sizes)
        proc, url = start_lab(root, work)
        try:
            config = {
                "url": url,
                "chromium": chromium,
                "runs": args.runs,
                "dragMs": args.drag_ms,
                "pipelines": pipelines,
                "profile": args.profile,
            }
            env = {**os.environ, "NODE_PATH": str(ROOT / "ui-tests" / "node_modules")}
            # bounded: ~10 s per run is generous even for 1,000 nodes on a loaded host
            timeout = 120 + 60 * args.runs * len(sizes)
            done = subprocess.run(
                ["node", str(ROOT / "benchmarks" / "browser_measure.js"), json.dumps(config)],
                env=env,
                capture_output=True,
                text=True,
                timeout=timeout,
            )
            sys.stderr.write(done.stderr)
            if done.returncode != 0:
                raise SystemExit(
                    f"browser run failed (exit {done.returncode}); lab log: {work / 'lab.log'}"
                )
            results = json.loads(done.stdout.strip().splitlines()[-1])
        finally:
            stop(proc)
    rows = summarize(results, sizes)
    print_table(rows)
    if args.json:
        Path(args.json).write_text(json.dumps({"runs": results, "summary": rows}, indent=2) + "\n")
    target = next((r for r in rows if r["nodes"] == TARGET_NODES), None)
    return (
        0
        if target is None
        or (target["interactive_ms"][1] <= TARGET_INTERACTIVE_MS and target["fps"][1] >= TARGET_FPS)
        else 1
    )


if __name__ == "__main__":
    sys.exit(main())
