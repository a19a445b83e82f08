"""A Python with ipykernel and nothing of ours: an Airflow worker's interpreter for notebook nodes.

Built once under ``${MLPIPE_CACHE_DIR:-~/.cache/mlpipe-lab}/venvs/kernel-<python>-<key>`` (pip from
the usual index and cache), in a temporary sibling renamed into place under an flock, so a
half-built venv is never used. mlpipe_lab is not installed in it, and tests check that.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

REQUIREMENTS = ["ipykernel>=6"]


def kernel_python(python: str = sys.executable) -> Path:
    """The venv's python (built if absent)."""
    cache = Path(os.environ.get("MLPIPE_CACHE_DIR") or Path.home() / ".cache" / "mlpipe-lab")
    tag = f"{sys.version_info[0]}.{sys.version_info[1]}"
    key = hashlib.sha256(" ".join(REQUIREMENTS).encode()).hexdigest()[:12]
    venv = cache / "venvs" / f"kernel-{tag}-{key}"
    exe = venv / "bin" / "python"
    if (venv / ".complete").exists():
        return exe
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(venv.parent / f".{venv.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (venv / ".complete").exists():
            return exe
        tmp = venv.parent / f".{venv.name}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        subprocess.run([python, "-m", "venv", str(tmp)], check=True, timeout=300)
        subprocess.run(
            [str(tmp / "bin" / "python"), "-m", "pip", "install", "-q", *REQUIREMENTS],
            check=True,
            timeout=900,
        )
        shutil.rmtree(venv, ignore_errors=True)
        tmp.rename(venv)
        # the venv's scripts name the temporary folder; only its python is used, which does not
        (venv / ".complete").write_text("ok\n")
    return exe
