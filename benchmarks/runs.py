"""Runs benchmark: how long the Runs panel's calls take over many local run records.

    python benchmarks/runs.py [--counts 10,200,1000] [--repeat 5] [--json FILE]

One real local run of examples/hello_world is made, then its record folder is copied N times
(distinct run ids); the table gives min/median of ``GET runs`` (the listing: every record read),
``GET runs/<config>/<dag>/<run>`` (one run with its tasks) and a log read, through the same service
the REST handlers call (no HTTP).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mlpipe_lab.localrun import run_pipeline  # noqa: E402
from mlpipe_lab.runs import RunsService  # noqa: E402
from mlpipe_lab.services import Services  # noqa: E402


def timed(fn, repeat: int) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return min(times), statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--counts", default="10,200,1000")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="mlpipe-bench-runs-") as tmp:
        tmp_path = Path(tmp)
        os.environ["MLPIPE_LAB_DATA_DIR"] = str(tmp_path / "data")
        shutil.copytree(ROOT / "examples" / "hello_world", tmp_path / "root" / "hello_world")
        artifacts = tmp_path / "data" / "local" / "artifacts"
        seed = run_pipeline(
            tmp_path / "root" / "hello_world" / "hello_world.pipeline", artifacts_root=artifacts
        )
        runs_dir = Path(seed.run_dir).parent
        made = 1
        for count in [int(c) for c in args.counts.split(",")]:
            while made < count:
                run_id = f"local__20200101T{made // 3600:02d}{made // 60 % 60:02d}{made % 60:02d}Z__{made:06x}"
                shutil.copytree(seed.run_dir, runs_dir / run_id)
                made += 1
            service = RunsService(Services(tmp_path / "root"))
            listing = timed(lambda s=service: s.list(limit=50), args.repeat)
            one = timed(lambda s=service: s.get("local", "hello_world", seed.run_id), args.repeat)
            log = timed(
                lambda s=service: s.logs("local", "hello_world", seed.run_id, "hello"), args.repeat
            )
            rows.append({"runs": count, "list_ms": listing, "get_ms": one, "log_ms": log})
    print(f"{'runs':>6}  {'GET runs (min/median ms)':>26}  {'GET run':>16}  {'GET log':>16}")
    for r in rows:
        print(
            f"{r['runs']:>6}  {r['list_ms'][0]:>12.1f} / {r['list_ms'][1]:>9.1f}  "
            f"{r['get_ms'][0]:>6.1f} / {r['get_ms'][1]:>6.1f}  {r['log_ms'][0]:>6.1f} / {r['log_ms'][1]:>6.1f}"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
