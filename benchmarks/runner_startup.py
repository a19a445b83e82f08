"""How soon the self-contained runner starts the user's code (issue 12: within 0.3 s).

For each Python (3.9-3.13, pyenv) the zipapp runs a Python node whose first line records the
time; the latency is from just before the interpreter is started (the container's start) to that
line: interpreter start, runner import, bundle fetched and unpacked, upstream manifest read, script
started. Store: a local folder, and moto's S3 server on 127.0.0.1 (real HTTP and SigV4). Median of
N runs, printed as a table.

    python benchmarks/runner_startup.py [--runs 7]
"""

from __future__ import annotations

import argparse
import io
import os
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


def measure(python: str, pyz: Path, args: list[str], env: dict[str, str], stamp: Path) -> float:
    t0 = time.time()
    proc = subprocess.run(
        [python, "-I", "-S", str(pyz), *args], env=env, capture_output=True, text=True, timeout=60
    )
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-2000:])
    return float(stamp.read_text()) - t0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    opts = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="runner-bench-"))
    pyz = zipapp.write_zipapp(tmp / contract.ZIPAPP_NAME)
    data = bundle()
    (tmp / "store/b").mkdir(parents=True)
    (tmp / "store/b/s.tar.gz").write_bytes(data)
    base_env = {"PATH": os.environ["PATH"], "HOME": str(tmp), "STAMP": str(tmp / "stamp")}

    from s3server import S3Server

    server = S3Server(max_seconds=600)
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
        task = contract.task_arguments(kind="python", file="s.py", bundle="b/s.tar.gz", task_id="t")
        stores = {
            "local folder": contract.store_arguments(
                store="local", root=str(tmp / "store"), run_prefix="r"
            ),
            "S3 (moto, 127.0.0.1)": contract.store_arguments(
                store="s3", bucket="bench", endpoint=server.endpoint, run_prefix="r"
            ),
        }
        s3_env = {"AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s"}
        print(f"zipapp: {pyz.stat().st_size} bytes; median of {opts.runs} runs, seconds from")
        print("interpreter start to the first line of the node's script\n")
        print(f"| Python | {' | '.join(stores)} | target |")
        print("|---|" + "---|" * len(stores) + "---|")
        for version, python in pythons().items():
            cells = []
            for name, args in stores.items():
                env = {**base_env, **(s3_env if "S3" in name else {})}
                times = [
                    measure(python, pyz, args + task, env, tmp / "stamp") for _ in range(opts.runs)
                ]
                cells.append(f"{statistics.median(times):.3f}")
            print(f"| {version} | {' | '.join(cells)} | 0.300 |")
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
