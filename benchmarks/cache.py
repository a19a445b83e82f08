"""Step-caching benchmark: a 100-node local pipeline run, re-run with nothing changed, and re-run
after one node's file changed.

    python benchmarks/cache.py [--nodes 100] [--width 10] [--max-parallel 2] [--json FILE]

The pipeline is ``width`` Python nodes per layer, each reading one file of the layer before
(node i of a layer depends on nodes i and i+1 of the previous one) and writing its own. Rows:
the first run (every node runs), a re-run with nothing changed (target: <= 2 s, every node
cached), a re-run after changing the file of one node in the middle layer (that node and its
descendants run, the rest is cached), and ``--no-cache`` for comparison. The wall time is
``run_pipeline`` from call to return, export (bundles, validation, DAG) included.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from pipeline_builder import node, pipeline  # noqa: E402

from mlpipe_lab.localrun import run_pipeline  # noqa: E402
from mlpipe_lab.pipeline import dumps  # noqa: E402

TARGET_S = 2.0


def make(folder: Path, count: int, width: int) -> tuple[Path, dict[str, list[str]]]:
    """The pipeline file, and each node's direct upstream nodes."""
    folder.mkdir(parents=True, exist_ok=True)
    nodes, ups = [], {}
    for i in range(count):
        layer, pos = divmod(i, width)
        name = f"n{i:03d}"
        parents = []
        if layer:
            prev = (layer - 1) * width
            parents = sorted({f"n{prev + pos:03d}", f"n{prev + (pos + 1) % width:03d}"})
        reads = "".join(f"open('{p}.txt').read() + " for p in parents)
        (folder / f"{name}.py").write_text(
            f"open('{name}.txt', 'w').write({reads}'{name}')\n", encoding="utf-8"
        )
        nodes.append(node(name, f"{name}.py", parents=parents, outputs=[f"{name}.txt"]))
        ups[name] = parents
    path = folder / "wide.pipeline"
    path.write_text(dumps(pipeline("wide", nodes)), encoding="utf-8")
    return path, ups


def descendants(start: str, ups: dict[str, list[str]]) -> set[str]:
    out, changed = {start}, True
    while changed:
        changed = False
        for name, parents in ups.items():
            if name not in out and any(p in out for p in parents):
                out.add(name)
                changed = True
    return out


def timed_run(path: Path, art: Path, parallel: int, cache: bool = True) -> dict:
    t0 = time.perf_counter()
    result = run_pipeline(path, artifacts_root=art, max_parallel=parallel, cache=cache)
    wall = time.perf_counter() - t0
    assert result.ok, result.report()
    ran = sorted(n.task_id for n in result.nodes if n.status == "succeeded")
    cached = sorted(n.task_id for n in result.nodes if n.status == "cached")
    return {"wall_s": round(wall, 3), "ran": ran, "cached": cached}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--nodes", type=int, default=100)
    parser.add_argument("--width", type=int, default=10)
    parser.add_argument("--max-parallel", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3, help="re-runs with nothing changed")
    parser.add_argument("--json")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="mlpipe-bench-cache-") as tmp:
        tmp_path = Path(tmp)
        os.environ["MLPIPE_LAB_DATA_DIR"] = str(tmp_path / "data")
        path, ups = make(tmp_path / "p", args.nodes, args.width)
        art = tmp_path / "art"
        rows.append(("first run", timed_run(path, art, args.max_parallel)))
        for i in range(args.repeat):
            rows.append(
                (f"re-run, nothing changed #{i + 1}", timed_run(path, art, args.max_parallel))
            )
        middle = f"n{(args.nodes // args.width // 2) * args.width + args.width // 2:03d}"
        script = tmp_path / "p" / f"{middle}.py"
        # a change that changes its output (a comment would leave its descendants cached)
        script.write_text(script.read_text().replace(f"'{middle}')", f"'{middle} v2')"))
        expected = descendants(middle, ups)
        changed = timed_run(path, art, args.max_parallel)
        assert set(changed["ran"]) == expected, (sorted(expected), changed["ran"])
        rows.append((f"re-run, {middle}.py changed", changed))
        rows.append(("re-run, --no-cache", timed_run(path, art, args.max_parallel, cache=False)))
    print(
        f"{args.nodes} nodes ({args.width} per layer), max parallel {args.max_parallel}, "
        f"{os.cpu_count()} CPUs"
    )
    print(f"{'run':<34} {'wall s':>8} {'ran':>5} {'cached':>7}")
    for name, row in rows:
        print(f"{name:<34} {row['wall_s']:>8.2f} {len(row['ran']):>5} {len(row['cached']):>7}")
    best = min(r["wall_s"] for n, r in rows if "nothing changed" in n)
    verdict = "met" if best <= TARGET_S else "NOT met"
    print(f"target: re-run with nothing changed <= {TARGET_S:.0f} s: {verdict} (best {best:.2f} s)")
    print(f"changed node: {len(expected)} node(s) re-ran = it and its descendants, the rest cached")
    if args.json:
        Path(args.json).write_text(json.dumps([{"run": n, **r} for n, r in rows], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
