"""How soon the self-contained runner starts the user's code (issue 12: within 0.3 s).

For each Python (3.9-3.13, pyenv) the zipapp runs a Python node whose first line records the
time; the latency is from just before the container's command starts (``/bin/sh`` and the pod's
launcher, as in a pod) to that line: shell, interpreter start, runner import, bundle fetched and
unpacked, upstream manifest read, script started. Store: a local folder, and moto's S3 server on
127.0.0.1 (real HTTP and SigV4). Median of N runs, printed as two tables: wall-clock seconds,
which a loaded host stretches, and the CPU time the runner itself spends (the whole command,
uploads after the script included, less ``floor``), which it stretches much less; for:

- ``floor``: ``python3 s.py`` with the script already unpacked: the one interpreter start for the
  user's code that no runner can avoid (what the runner adds is the difference);
- ``before``: the runner as it was (``python3 RUNNER``: site-packages imported; zipimport, which
  compiles each of the runner's modules twice);
- ``-S``: the launcher now (no site-packages until a notebook needs them) and the zipapp's own
  finder (each module compiled once);
- ``-S + bytecode``: the zipapp as the runner image writes it (bytecode of the building
  interpreter's version; other versions compile the sources as before).

    python benchmarks/runner_startup.py [--runs 7] [--profile]
    python benchmarks/runner_startup.py --baseline REV [--runs 21] [--python /usr/bin/python3]

``--profile`` prints where the runner's own start goes (``-X importtime``, this interpreter).
``--baseline REV`` compares the zipapp of git revision REV with the checkout's, both as the runner
image writes them (bytecode of this interpreter's version), on one python3 (``--python``, default
this one; the pods' Debian python3 is ``/usr/bin/python3``), local folder and moto S3, runs
interleaved so that a changing host load hits both alike; it also counts the modules each imports
before the node's script starts (``-X importtime``).
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from mlpipe_lab.runner import contract, zipapp  # noqa: E402

SCRIPT = b"import time, os\nopen(os.environ['STAMP'], 'w').write(repr(time.time()))\n"
TARGET = 0.300


def bundle() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo("s.py")
        info.size = len(SCRIPT)
        tar.addfile(info, io.BytesIO(SCRIPT))
    return buf.getvalue()


def pythons() -> dict[str, str]:
    base = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    out = {}
    for minor in range(9, 14):
        found = sorted(base.glob(f"3.{minor}.*/bin/python3"))
        if found:
            out[f"3.{minor}"] = str(found[-1])
    return out


def launcher(python: str, pyz: Path, site: bool) -> list[str]:
    """The pod's command (contract.LAUNCH_SCRIPT) with this python and zipapp."""
    script = contract.LAUNCH_SCRIPT.replace(
        "exec python3 -S " + contract.RUNNER_DIR + "/" + contract.ZIPAPP_NAME,
        f'exec "{python}" {"" if site else "-S "}"{pyz}"',
    )
    assert script != contract.LAUNCH_SCRIPT, "the launcher changed; update the benchmark"
    return ["/bin/sh", "-c", script.replace("command -v python3", f'command -v "{python}"'), "r"]


def measure(argv: list[str], env: dict[str, str], stamp: Path) -> tuple[float, float]:
    """(wall seconds to the script's first line, CPU seconds of the whole command)."""
    stamp.unlink(missing_ok=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.time()
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-2000:])
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return float(stamp.read_text()) - t0, cpu


def profile(pyz: Path, args: list[str], env: dict[str, str]) -> None:
    proc = subprocess.run(
        [sys.executable, "-S", "-X", "importtime", str(pyz), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    rows = []
    for line in proc.stderr.splitlines():
        if line.startswith("import time:") and "|" in line and "self" not in line:
            own, total, name = line[len("import time:") :].split("|")
            rows.append((int(own), int(total), name.rstrip()))
    print(f"\nimports of the runner (-S, {sys.version.split()[0]}), self time, top 15:")
    for own, total, name in sorted(rows, reverse=True)[:15]:
        print(f"  {own / 1000:7.1f} ms (with children {total / 1000:7.1f} ms) {name.strip()}")
    print(f"  {sum(r[0] for r in rows) / 1000:7.1f} ms in all {len(rows)} imports")


def imported(python: str, pyz: Path, args: list[str], env: dict[str, str]) -> int:
    """How many modules the runner imports (the script runs in its own interpreter)."""
    proc = subprocess.run(
        [python, "-S", "-X", "importtime", str(pyz), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return sum(1 for line in proc.stderr.splitlines() if line.startswith("import time:")) - 1


def compare(rev: str, runs: int, python: str) -> int:
    tmp = Path(tempfile.mkdtemp(prefix="runner-compare-"))
    src = tmp / "baseline"
    src.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", rev, "mlpipe_lab"], capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(src)
    build = "from mlpipe_lab.runner import zipapp; import sys, pathlib; "
    build += "zipapp.write_zipapp(pathlib.Path(sys.argv[1]), bytecode=True)"
    zips = {}
    for name, root in (("baseline " + rev, src), ("checkout", ROOT)):
        zips[name] = tmp / name.replace(" ", "-") / contract.ZIPAPP_NAME
        subprocess.run(
            [sys.executable, "-c", build, str(zips[name])],
            cwd=str(root),
            env={**os.environ, "PYTHONPATH": str(root)},
            check=True,
        )
    (tmp / "store/b").mkdir(parents=True)
    (tmp / "store/b/s.tar.gz").write_bytes(bundle())
    stamp = tmp / "stamp"
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp), "STAMP": str(stamp)}
    task = contract.task_arguments(kind="python", file="s.py", bundle="b/s.tar.gz", task_id="t")
    from s3server import S3Server

    server = S3Server(max_seconds=900)
    server.start()
    try:
        import boto3

        s3 = boto3.client(
            "s3",
            endpoint_url=server.endpoint,
            region_name="us-east-1",
            aws_access_key_id="k",
            aws_secret_access_key="s",
        )
        s3.create_bucket(Bucket="bench")
        s3.put_object(Bucket="bench", Key="b/s.tar.gz", Body=bundle())
        stores = {
            "local": (
                contract.store_arguments(store="local", root=str(tmp / "store"), run_prefix="r"),
                {},
            ),
            "S3": (
                contract.store_arguments(
                    store="s3", bucket="bench", endpoint=server.endpoint, run_prefix="r"
                ),
                {"AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s"},
            ),
        }
        print(f"{python} ({sys.version.split()[0]} built the bytecode), median of {runs} runs")
        print(
            "| zipapp | store | modules imported | wall to the script (s) | CPU, whole node (s) |"
        )
        print("|---|---|---:|---:|---:|")
        for store_name, (store, extra) in stores.items():
            results: dict[str, list[tuple[float, float]]] = {name: [] for name in zips}
            for _ in range(runs):
                for name, pyz in zips.items():
                    argv = launcher(python, pyz, site=False) + store + task
                    results[name].append(measure(argv, {**env, **extra}, stamp))
            for name, pyz in zips.items():
                count = imported(python, pyz, store + task, {**env, **extra})
                wall = statistics.median(w for w, _ in results[name])
                cpu = statistics.median(c for _, c in results[name])
                print(f"| {name} | {store_name} | {count} | {wall:.3f} | {cpu:.3f} |")
    finally:
        server.stop()
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--baseline", metavar="REV")
    parser.add_argument("--python", default=sys.executable)
    opts = parser.parse_args()
    if opts.baseline:
        return compare(opts.baseline, opts.runs, opts.python)
    tmp = Path(tempfile.mkdtemp(prefix="runner-bench-"))
    pyz = zipapp.write_zipapp(tmp / contract.ZIPAPP_NAME)
    old = zipapp.write_zipapp(tmp / "zipimport" / contract.ZIPAPP_NAME, finder=False)
    pyc = zipapp.write_zipapp(tmp / "with-bytecode" / contract.ZIPAPP_NAME, bytecode=True)
    data = bundle()
    (tmp / "store/b").mkdir(parents=True)
    (tmp / "store/b/s.tar.gz").write_bytes(data)
    (tmp / "floor").mkdir()
    (tmp / "floor/s.py").write_bytes(SCRIPT)
    stamp = tmp / "stamp"
    base_env = {"PATH": os.environ["PATH"], "HOME": str(tmp), "STAMP": str(stamp)}
    task = contract.task_arguments(kind="python", file="s.py", bundle="b/s.tar.gz", task_id="t")
    local = contract.store_arguments(store="local", root=str(tmp / "store"), run_prefix="r")
    if opts.profile:
        profile(pyz, local + task, base_env)

    from s3server import S3Server

    server = S3Server(max_seconds=900)
    server.start()
    try:
        import boto3

        s3 = boto3.client(
            "s3",
            endpoint_url=server.endpoint,
            region_name="us-east-1",
            aws_access_key_id="k",
            aws_secret_access_key="s",
        )
        s3.create_bucket(Bucket="bench")
        s3.put_object(Bucket="bench", Key="b/s.tar.gz", Body=data)
        stores = {
            "local": local,
            "S3": contract.store_arguments(
                store="s3", bucket="bench", endpoint=server.endpoint, run_prefix="r"
            ),
        }
        s3_env = {"AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s"}
        built = f"{sys.version_info[0]}.{sys.version_info[1]}"
        print(
            f"zipapp: {pyz.stat().st_size} bytes ({pyc.stat().st_size} with {built} bytecode); "
            f"median of {opts.runs} runs, seconds from the container's command (/bin/sh) to the "
            "first line of the node's script; target 0.300\n"
        )
        variants = {
            "before": lambda py, store: launcher(py, old, site=True) + store + task,
            "-S": lambda py, store: launcher(py, pyz, site=False) + store + task,
            "-S + bytecode": lambda py, store: launcher(py, pyc, site=False) + store + task,
        }
        cols = ["floor"] + [f"{v}, {s}" for v in variants for s in stores]
        wall_rows, cpu_rows = [], []
        for version, python in pythons().items():
            os.chdir(tmp / "floor")
            floor = [
                measure(["/bin/sh", "-c", f'exec "{python}" s.py'], base_env, stamp)
                for _ in range(opts.runs)
            ]
            floor_cpu = statistics.median(c for _, c in floor)
            wall = [f"{statistics.median(w for w, _ in floor):.3f}"]
            cpu = [f"{floor_cpu:.3f}"]
            for name, argv in variants.items():
                for store_name, store in stores.items():
                    if name == "-S + bytecode" and version != built:
                        wall.append("(as -S)")
                        cpu.append("(as -S)")
                        continue
                    env = {**base_env, **(s3_env if store_name == "S3" else {})}
                    times = [measure(argv(python, store), env, stamp) for _ in range(opts.runs)]
                    wall.append(f"{statistics.median(w for w, _ in times):.3f}")
                    cpu.append(f"{statistics.median(c for _, c in times) - floor_cpu:.3f}")
            wall_rows.append(f"| {version} | " + " | ".join(wall) + " |")
            cpu_rows.append(f"| {version} | " + " | ".join(cpu) + " |")
        head = ["| Python | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
        print("wall-clock seconds to the user's first line:\n")
        print("\n".join(head + wall_rows))
        print(
            "\nCPU seconds of the runner, the whole node (fetch, run, upload outputs and log) "
            "less the script alone (floor: the script's own):\n"
        )
        print("\n".join(head + cpu_rows))
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
