"""The catalog's image check (``mlpipe catalog check-image``) against the root file systems that
stand in for images in the pods tier, run by a chroot command in place of ``docker run``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import BARE_IMAGE, NB_IMAGE, PY_IMAGE

pytestmark = pytest.mark.pods

HERE = Path(__file__).resolve().parent
RUN = f"{sys.executable} {HERE / 'chroot_image.py'} {{image}}"


def check(image: str, images: dict[str, str], tmp_path: Path) -> tuple[int, dict]:
    env = {
        **os.environ,
        "MLPIPE_TEST_IMAGES": json.dumps(images),
        "MLPIPE_IMAGE_RUN": RUN,
        "MLPIPE_LAB_DATA_DIR": str(tmp_path / "data"),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "mlpipe_lab.cli", "catalog", "check-image", image, "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.stdout.strip(), proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def needs(report: dict) -> dict[str, tuple[bool, str]]:
    return {n["need"]: (n["ok"], n["found"]) for n in report["needs"]}


def test_check_image_says_what_each_image_has(images, tmp_path):
    base = {ref: images[ref] for ref in (PY_IMAGE, NB_IMAGE, BARE_IMAGE)}
    empty = tmp_path / "empty-rootfs"
    empty.mkdir()
    base["registry.example.com/distroless:1"] = str(empty)

    status, report = check(NB_IMAGE, base, tmp_path)
    assert status == 0 and report["runs"] == {"python": True, "notebook": True, "r": False}
    have = needs(report)
    assert have["python3 3.9 or later on PATH"][0]
    assert have["python3 3.9 or later on PATH"][1].startswith("Python 3.11.")
    assert have["ipykernel (kernel 'python3')"][0]
    assert have["Rscript on PATH"] == (False, "no Rscript")

    status, report = check(PY_IMAGE, base, tmp_path)
    assert status == 0 and report["runs"] == {"python": True, "notebook": False, "r": False}
    ok, found = needs(report)["ipykernel (kernel 'python3')"]
    assert not ok and found == "ModuleNotFoundError: No module named 'ipykernel'"
    assert report["summary"].startswith(f"image {PY_IMAGE} runs Python nodes; missing: ipykernel")

    status, report = check(BARE_IMAGE, base, tmp_path)
    assert status == 1 and report["runs"] == {"python": False, "notebook": False, "r": False}
    assert needs(report)["python3 3.9 or later on PATH"] == (False, "no python3")

    status, report = check("registry.example.com/distroless:1", base, tmp_path)
    assert status == 1 and needs(report)["/bin/sh"][0] is False


def test_check_image_that_cannot_be_run_is_one_clear_error(images, tmp_path):
    env = {
        **os.environ,
        "MLPIPE_TEST_IMAGES": "{}",
        "MLPIPE_IMAGE_RUN": RUN,
        "MLPIPE_LAB_DATA_DIR": str(tmp_path / "data"),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "mlpipe_lab.cli", "catalog", "check-image", "nowhere/x:1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert (
        proc.stderr.strip()
        .splitlines()[-1]
        .endswith(
            "Could not run image nowhere/x:1: Error: unable to pull nowhere/x:1: image not known"
        )
    )
