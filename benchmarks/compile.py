"""Compiler benchmark: compile time in process and whole-process export, size of the DAG per task,
side by side with Elyra 4.1.1's measured export (shared/docs/elyra-compat.md).

    python benchmarks/compile.py [--sizes 10,200,1000,5000] [--runs 3] [--airflow] [--json FILE]
                                 [--baseline CHECKOUT]

Pipelines come from tests/compile_corpus.py: ``random_dag(n)`` (notebook/Python/R nodes with 1-3
links each, outputs, dependencies, two parameters, the editor's ~3 KB SVG per node) and
``minimal_dag(200)`` (a chain of bare Python nodes, the shape Elyra was measured with).
Whole-process export runs ``python -m mlpipe_lab.cli export`` (the ``local`` runtime configuration,
files on disk, bundles built); ``--airflow`` adds Airflow 3.3's cold parse time of the 200-node DAG
through tests/airflow/harness.py. ``--baseline CHECKOUT`` (e.g. a ``git worktree`` of an earlier
commit) times that checkout's whole-process export of the same pipelines in the same rounds,
alternating with ours, and prints the ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import compile_corpus as cc  # noqa: E402
from hoststats import cpu_times, steal_pct  # noqa: E402

from mlpipe_lab.compiler.bundles import bundle_key  # noqa: E402
from mlpipe_lab.compiler.compile import compile_plan  # noqa: E402
from mlpipe_lab.pipeline import Pipeline, validate  # noqa: E402
from mlpipe_lab.plan import layout_for, plan  # noqa: E402
from mlpipe_lab.plan.check import image_refs  # noqa: E402

ELYRA = {200: ("21-30 s", 1.65)}  # CLI export, 200 nodes: wall time, KB per task
TARGETS = {200: 0.6, 5000: 3.0}  # seconds


def timed(fn, runs: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def in_process(doc: dict, runs: int) -> dict:
    pipeline = Pipeline(doc, "bench.pipeline")
    refs = image_refs(cc.IMAGES)
    t_validate, checked = timed(lambda: validate(doc, source="bench.pipeline", images=refs), runs)

    # Bundle keys as export makes them (content hash included), without building the bundles.
    tasks = layout_for(pipeline, cc.CONFIG)
    bundles = {
        t.node_id: {"key": bundle_key(tasks.dag_id, t.task_id, "0123456789ab" * 6)}
        for t in tasks.slots
    }

    def compile_only():  # the plan (its checks included) and its rendering
        fresh = Pipeline(doc, "bench.pipeline")
        planned = plan(fresh, cc.CONFIG, cc.IMAGES, bundles)
        return compile_plan(planned, fresh, source_path="bench.pipeline", problems=checked)

    t_compile, out = timed(compile_only, runs)
    del pipeline
    size = len(out.text.encode("utf-8"))
    return {
        "validate_s": t_validate,
        "compile_s": t_compile,
        "total_s": t_validate + t_compile,
        "bytes": size,
        "bytes_per_task": size / len(out.tasks),
        "tasks": len(out.tasks),
    }


def _run_timed(cmd: list[str], env: dict, cwd: str, out: Path) -> tuple[float, float]:
    """(wall, CPU) seconds of one export process; CPU (user + system) is what a loaded host
    inflates least."""
    before = os.times()
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=cwd)
    wall = time.perf_counter() - start
    after = os.times()
    if proc.returncode != 0 or not out.exists():
        raise RuntimeError(f"export failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return wall, (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )


def whole_process(
    doc: dict, runs: int, workspace: Path, roots: dict[str, Path]
) -> dict[str, dict[str, float]]:
    """A fresh ``mlpipe export`` process: start-up, read, validate with files, bundles, write.
    Cold: into an empty output folder each time (every bundle file is created; the target is on
    this). Warm: again into the same folder (the content-addressed bundles are already there, so
    only the DAG file is compared). Median and minimum of each; the minimum is the better
    estimate on a busy machine. With several checkouts (``roots``), each round runs each of them
    in turn, so a change in the host's load falls on all of them alike. Outputs are kept until the
    whole benchmark ends: see ``creation_probe`` for why deleting them between runs would slow the
    next run down."""
    tmp = Path(tempfile.mkdtemp(prefix=f"n{len(doc['pipelines'][0]['nodes'])}-", dir=workspace))
    folder = tmp / "project"
    folder.mkdir()
    (folder / "bench.pipeline").write_text(json.dumps(doc, indent=2), encoding="utf-8")
    cc.write_files(doc, folder)

    def env_of(root: Path) -> dict:
        env = dict(os.environ, PYTHONPATH=str(root), MLPIPE_LAB_DATA_DIR=str(tmp / "data"))
        # As users run it: with bytecode caches (some shells set PYTHONDONTWRITEBYTECODE, which
        # makes every start compile ~100 modules from source).
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        return env

    def command(out: Path) -> list[str]:
        return [
            sys.executable,
            "-m",
            "mlpipe_lab.cli",
            "export",
            str(folder / "bench.pipeline"),
            "--runtime-config",
            "local",
            "--output",
            str(out),
        ]

    samples: dict[str, dict[str, list[float]]] = {}
    for name, root in roots.items():
        warm_out = tmp / name / "warm" / "bench.py"
        # bytecode and validator caches, warm folder
        _run_timed(command(warm_out), env_of(root), str(tmp), warm_out)
        samples[name] = {"cold": [], "cpu": [], "warm": []}
    for i in range(max(runs, 1)):
        for name, root in roots.items():
            out = tmp / name / f"cold{i}" / "bench.py"
            wall, cpu = _run_timed(command(out), env_of(root), str(tmp), out)
            warm_out = tmp / name / "warm" / "bench.py"
            samples[name]["cold"].append(wall)
            samples[name]["cpu"].append(cpu)
            samples[name]["warm"].append(
                _run_timed(command(warm_out), env_of(root), str(tmp), warm_out)[0]
            )
    return {
        name: {
            "cold_s": statistics.median(s["cold"]),
            "cold_min_s": min(s["cold"]),
            "cold_cpu_min_s": min(s["cpu"]),
            "warm_s": statistics.median(s["warm"]),
            "warm_min_s": min(s["warm"]),
        }
        for name, s in samples.items()
    }


def creation_probe(workspace: Path, count: int = 2000) -> float:
    """Microseconds to create one small file in a new folder here. An ext4 without a journal (as
    on these VMs) skips every inode freed in the last minutes while it looks for a free one, so
    after many deletions nearby one creation costs 300-500 µs instead of ~15 µs. The benchmark
    never deletes before it ends, and prints this so that a slow cold export can be told apart
    from a slow file system."""
    folder = Path(tempfile.mkdtemp(prefix="probe-", dir=workspace))
    start = time.perf_counter()
    for i in range(count):
        fd = os.open(folder / f"bundle-{i:05d}.tar.gz", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        os.write(fd, b"x" * 200)
        os.close(fd)
    return (time.perf_counter() - start) / count * 1e6


def airflow_parse(doc: dict) -> float | None:
    sys.path.insert(0, str(ROOT / "tests" / "airflow"))
    import harness

    if harness.airflow_venv("3.3") is None:
        return None
    from mlpipe_lab.compiler import compile_pipeline

    out = compile_pipeline(
        Pipeline(doc, "bench.pipeline"),
        images=cc.IMAGES,
        config=cc.CONFIG,
        source_path="bench.pipeline",
    )
    with tempfile.TemporaryDirectory(prefix="mlpipe-bench-af-") as tmp:
        path = Path(tmp) / out.filename
        path.write_text(out.text, encoding="utf-8")
        return float(harness.parse_time("3.3", path)["parse_seconds"])


def fmt_s(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10,200,1000,5000")
    ap.add_argument(
        "--runs", type=int, default=3, help="runs per measurement (median); 1 for 5000 nodes"
    )
    ap.add_argument(
        "--no-process", action="store_true", help="skip the whole-process export timings"
    )
    ap.add_argument(
        "--airflow", action="store_true", help="also time Airflow 3.3 parsing the 200-node DAG"
    )
    ap.add_argument("--json", help="write the measurements to this file")
    ap.add_argument(
        "--baseline",
        help="another checkout (e.g. a git worktree of an earlier commit) whose whole-process "
        "export is timed in the same rounds, for a side-by-side ratio",
    )
    ap.add_argument(
        "--workdir",
        help="where the project and export folders are made (default: the system's "
        "temporary folder); creating files costs very different times in different places",
    )
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s]

    validate(cc.hello_world() or cc.minimal_dag(2))  # import jsonschema and build validators once
    workspace = Path(tempfile.mkdtemp(prefix="mlpipe-bench-", dir=args.workdir))
    try:
        return _measure(args, sizes, workspace)
    finally:
        shutil.rmtree(workspace)


def _measure(args: argparse.Namespace, sizes: list[int], workspace: Path) -> int:
    cpu_before = cpu_times()
    probe_before = creation_probe(workspace)
    rows = []
    cases = [(f"random {n}", n, cc.random_dag(n)) for n in sizes]
    if 200 in sizes:
        cases.append(("minimal 200", 200, cc.minimal_dag(200)))
    for name, n, doc in cases:
        runs = 1 if n >= 5000 else args.runs
        row = {"case": name, "nodes": n, **in_process(doc, runs)}
        if not args.no_process:
            roots = {"ours": ROOT}
            if args.baseline:
                roots["baseline"] = Path(args.baseline).resolve()
            measured = whole_process(
                doc, max(args.runs, 3) if n < 5000 else max(args.runs, 5), workspace, roots
            )
            row.update(measured["ours"])
            if "baseline" in measured:
                row["baseline"] = measured["baseline"]
        if args.airflow and name == "random 200":
            row["airflow3_parse_s"] = airflow_parse(doc)
        rows.append(row)
        print(f"measured {name}", file=sys.stderr)

    header = [
        "pipeline",
        "validate",
        "compile",
        "in-process",
        "export cold (median / min)",
        "cold CPU",
        "export warm (median / min)",
        "B/task",
        "Elyra export",
        "Elyra B/task",
    ]
    if args.baseline:
        header += ["baseline cold (median / min)", "baseline cold CPU", "ours/baseline CPU"]
    table = []
    for r in rows:
        elyra = ELYRA.get(r["nodes"])
        table.append(
            [
                r["case"],
                fmt_s(r["validate_s"]),
                fmt_s(r["compile_s"]),
                fmt_s(r["total_s"]),
                f"{fmt_s(r.get('cold_s'))} / {fmt_s(r.get('cold_min_s'))}",
                fmt_s(r.get("cold_cpu_min_s")),
                f"{fmt_s(r.get('warm_s'))} / {fmt_s(r.get('warm_min_s'))}",
                f"{r['bytes_per_task']:.0f}",
                elyra[0] if elyra else "-",
                f"{elyra[1] * 1024:.0f}" if elyra else "-",
            ]
        )
        base = r.get("baseline")
        if args.baseline:
            table[-1] += (
                [
                    f"{fmt_s(base['cold_s'])} / {fmt_s(base['cold_min_s'])}",
                    fmt_s(base["cold_cpu_min_s"]),
                    f"{r['cold_cpu_min_s'] / base['cold_cpu_min_s']:.2f}x",
                ]
                if base
                else ["-", "-", "-"]
            )
    widths = [max(len(str(x)) for x in col) for col in zip(header, *table)]
    print(" | ".join(h.ljust(w) for h, w in zip(header, widths)))
    print("-+-".join("-" * w for w in widths))
    for line in table:
        print(" | ".join(str(x).ljust(w) for x, w in zip(line, widths)))
    print(
        f"targets: 200 nodes <= {TARGETS[200]} s whole process, 5000 nodes <= {TARGETS[5000]} s, "
        "<= 600 B/task"
    )
    print(
        "validate = mlpipe_lab.pipeline.validate (structure); compile = plan + render (the compiler); "
        "export = python -m mlpipe_lab.cli export in a fresh process (validation with files, bundles "
        "built, DAG written), cold = into an empty folder, warm = again into the same folder; "
        "cold CPU = user + system time of the fastest cold run"
    )
    print(
        f"export folders in {workspace.parent}; creating a file there: {probe_before:.0f} µs before, "
        f"{creation_probe(workspace):.0f} µs after the runs (~15 µs is normal; see creation_probe)"
    )
    load, stolen = os.getloadavg(), steal_pct(cpu_before, cpu_times())
    steal = "" if stolen is None else f", {stolen:.0f} % of the CPU time stolen by the hypervisor"
    print(
        f"load average during the run: {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} on {os.cpu_count()} CPUs"
        + steal
    )
    for r in rows:
        if "airflow3_parse_s" in r:
            print(
                f"Airflow 3.3 cold parse of the {r['nodes']}-node DAG: {fmt_s(r['airflow3_parse_s'])}"
            )
    if args.baseline:
        print(f"baseline: {Path(args.baseline).resolve()} (whole-process export only)")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
