"""Fixtures of the emulated-pods tier: the images (cached root file systems, scripts/pod-rootfs.sh)
and the runner image (the checkout's wheel installed with pip over the cached runner base)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
for folder in (str(HERE), str(HERE.parent)):
    if folder not in sys.path:
        sys.path.insert(0, folder)

from emulator import build_layer  # noqa: E402

# Image references as a DAG names them, and the root file systems standing in for them.
PY_IMAGE = "docker.io/library/python:3.11-slim-bookworm"  # stands for "python3 only"
NB_IMAGE = "quay.io/jupyter/ipykernel:bookworm"  # python3 + ipykernel
BARE_IMAGE = "docker.io/library/debian:bookworm-slim"  # no python3
RUNNER_IMAGE = "registry.local/mlpipe/runner:test"


def _require_root() -> None:
    if os.geteuid() != 0 or not Path("/usr/bin/unshare").exists():
        if os.environ.get("CI"):
            pytest.fail("the pods tier needs root and unshare (it runs in CI as root)")
        pytest.skip("emulated pods need root (unshare, mount, chroot)")


def rootfs(name: str) -> Path:
    _require_root()
    t0 = time.monotonic()
    proc = subprocess.run(
        ["bash", str(ROOT / "scripts" / "pod-rootfs.sh"), name],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if proc.returncode != 0:
        pytest.fail(f"scripts/pod-rootfs.sh {name} failed:\n{proc.stderr[-4000:]}")
    if time.monotonic() - t0 > 5:
        print(f"[pods] built root file system {name} in {time.monotonic() - t0:.0f} s")
    return Path(proc.stdout.strip().splitlines()[-1])


def source_tree() -> str:
    """The checkout to build the wheel from. A frontend build of `make install` leaves
    ``mlpipe_lab/labextension/install.json`` beside the top-level one the wheel maps to the same
    place, and hatch refuses two files at one path; then the wheel is built from a copy without
    it (the runner image needs the Python package only)."""
    if not (ROOT / "mlpipe_lab" / "labextension" / "install.json").exists():
        return str(ROOT)
    import shutil
    import tempfile

    copy = Path(tempfile.mkdtemp(prefix="mlpipe-wheel-src-")) / "src"
    shutil.copytree(
        ROOT,
        copy,
        ignore=shutil.ignore_patterns(".git", ".venv", "node_modules", "ui-tests", "__pycache__"),
        symlinks=True,
    )
    (copy / "mlpipe_lab" / "labextension" / "install.json").unlink()
    return str(copy)


@pytest.fixture(scope="session")
def images(tmp_path_factory) -> dict[str, str]:
    """{image reference: overlay lower dirs} for the emulator."""
    bare, python3, ipykernel, runner_base = (
        rootfs(n) for n in ("bare", "python3", "ipykernel", "runner")
    )
    wheels = tmp_path_factory.mktemp("wheel")
    t0 = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), source_tree()],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    (wheel,) = wheels.glob("mlpipe_lab-*.whl")
    layer_root = tmp_path_factory.mktemp("runner-image")
    runner = build_layer(
        str(runner_base),
        layer_root / "wheel",
        # images/runner/Dockerfile's step, from the local wheel (its dependencies are in the base)
        [
            "python3",
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-index",
            "--break-system-packages",
            f"/wheels/{wheel.name}",
        ],
        {"/wheels": wheels},
    )
    print(f"[pods] runner image (wheel built and installed) in {time.monotonic() - t0:.0f} s")
    return {
        BARE_IMAGE: str(bare),
        PY_IMAGE: str(python3),
        NB_IMAGE: str(ipykernel),
        RUNNER_IMAGE: runner,
    }
