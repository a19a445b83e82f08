"""The image check without images: the probe read back, the command built, errors in one line; the
whole path (CLI and REST) with a run command that runs the probe on this machine. The same check
against stand-in images: tests/pods/test_pods_image_check.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from openapi_check import check_response

from mlpipe_lab.catalog.imagecheck import (
    PROBE,
    ImageCheckError,
    check_image,
    command_for,
    read_probe,
)

# "runs the image": here, the probe runs on this machine with this venv's python3 (ipykernel)
HOST = "env MLPIPE_CHECKED={image}"
VENV_BIN = str(Path(sys.executable).parent)


def test_command_puts_the_reference_where_the_template_says():
    assert command_for("python:3.11", "docker run --rm --entrypoint= {image}") == [
        "docker", "run", "--rm", "--entrypoint=", "python:3.11", "/bin/sh", "-c", PROBE,
    ]  # fmt: skip
    assert command_for("python:3.11", "podman run --rm")[3:5] == ["python:3.11", "/bin/sh"]


@pytest.mark.parametrize("ref", ["--privileged", "a b", "", "x;rm -rf /", "$(id)"])
def test_a_reference_is_never_an_option_or_shell(ref):
    with pytest.raises(ImageCheckError) as err:
        command_for(ref, "docker run --rm {image}")
    assert err.value.status == 400 and err.value.field == "image"


def test_no_way_to_run_images_says_how_to_set_one(monkeypatch):
    monkeypatch.delenv("MLPIPE_IMAGE_RUN", raising=False)
    with pytest.raises(ImageCheckError) as err:
        check_image("python:3.11")
    assert err.value.status == 409 and "MLPIPE_IMAGE_RUN" in err.value.message
    with pytest.raises(ImageCheckError) as err:
        check_image("python:3.11", template="no-such-container-tool run {image}")
    assert err.value.message == (
        "Cannot run images here: 'no-such-container-tool' is not installed (image run command: "
        "MLPIPE_IMAGE_RUN)."
    )


def test_probe_output_read_back():
    out = "mlpipe-probe 1\npython3 /usr/bin/python3\npython-version 3.8.10\nmlpipe-probe-end\n"
    report = read_probe("old:1", out)
    assert not report.python and not report.notebook
    assert report.needs[1].found == "Python 3.8.10 at /usr/bin/python3"
    out = (
        "mlpipe-probe 1\npython3 /opt/conda/bin/python3\npython-version 3.12.1\n"
        "ipykernel 6.29.0\nkernels ir python3\nrscript /usr/bin/Rscript\nmlpipe-probe-end\n"
    )
    report = read_probe("conda:1", out)
    assert (report.python, report.notebook, report.r) == (True, True, True)
    assert report.summary == "image conda:1 runs Python, notebook, R nodes"
    with pytest.raises(ImageCheckError) as err:
        read_probe("gone:1", "", 125, "Error: manifest unknown\n")
    assert err.value.message == "Could not run image gone:1: Error: manifest unknown"


def test_cli_checks_an_image_with_the_configured_command(tmp_path):
    env = {
        **os.environ,
        "PATH": VENV_BIN + os.pathsep + os.environ.get("PATH", "/usr/bin:/bin"),
        "MLPIPE_IMAGE_RUN": HOST,
        "MLPIPE_LAB_DATA_DIR": str(tmp_path),
    }
    base = [sys.executable, "-m", "mlpipe_lab.cli", "catalog", "check-image"]
    proc = subprocess.run(
        [*base, "here/python:1", "--json"], env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["runs"]["python"] and report["runs"]["notebook"], report
    proc = subprocess.run(
        [*base, "here/python:1"], env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0
    assert proc.stdout.splitlines()[-1].startswith("image here/python:1 runs Python, notebook")
    del env["MLPIPE_IMAGE_RUN"]
    proc = subprocess.run([*base, "x:1"], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "MLPIPE_IMAGE_RUN" in proc.stderr
    assert "Traceback" not in proc.stderr


async def test_rest_route(jp_fetch, monkeypatch):
    monkeypatch.setenv("PATH", VENV_BIN + os.pathsep + os.environ.get("PATH", ""))
    monkeypatch.setenv("MLPIPE_IMAGE_RUN", HOST)
    path = "/catalogs/runtime-images/_check"
    response = await jp_fetch(
        "mlpipe-lab", "catalogs", "runtime-images", "_check",
        method="POST", body=json.dumps({"image": "here/python:1"}),
    )  # fmt: skip
    check_response("POST", path, response.code, response.body)
    assert json.loads(response.body)["runs"]["python"] is True
    response = await jp_fetch(
        "mlpipe-lab", "catalogs", "runtime-images", "_check",
        method="POST", body=json.dumps({"image": "--privileged"}), raise_error=False,
    )  # fmt: skip
    check_response("POST", path, response.code, response.body)
    assert response.code == 400 and json.loads(response.body)["error"]["field"] == "image"
    monkeypatch.delenv("MLPIPE_IMAGE_RUN")
    response = await jp_fetch(
        "mlpipe-lab", "catalogs", "runtime-images", "_check",
        method="POST", body=json.dumps({"image": "x:1"}), raise_error=False,
    )  # fmt: skip
    assert (
        response.code == 409 and "MLPIPE_IMAGE_RUN" in json.loads(response.body)["error"]["message"]
    )
