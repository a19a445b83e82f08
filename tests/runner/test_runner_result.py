"""Node results (runner ``--result``): the JSON a node writes to mlpipe-result.json reaches the
manifest, the pod's XCom file and, on an Airflow worker, the last stdout line; what is not a
result fails the task in one line. Real runner processes against the local store."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from test_runner import RUN, Store, verdict


@pytest.fixture
def store(tmp_path) -> Store:
    root = tmp_path / "artifacts"
    root.mkdir()
    return Store(root)


def _run(store, task, source, *extra, subdir="", outputs=()):
    """The runner on a one-script bundle, with ``extra`` arguments (--result ...)."""
    file = f"{subdir}{task}.py"
    store.bundle(task, {file: source})
    argv = [sys.executable, "-m", "mlpipe_lab.runner", "--contract", "1", "--store", "local"]
    argv += ["--root", str(store.root), "--run-prefix", RUN, "--kind", "python", "--file", file]
    argv += ["--bundle", f"dag/bundles/{task}.tar.gz", "--task-id", task]
    for o in outputs:
        argv += ["--output", o]
    env = {**os.environ, "MLPIPE_RUNNER_HTML": "0"}
    return subprocess.run(argv + list(extra), env=env, capture_output=True, text=True, timeout=120)


WRITE = "import json\njson.dump({'metrics': {'accuracy': 0.93}, 'mode': 'fast'}, open('mlpipe-result.json', 'w'))\n"


def test_result_goes_to_the_manifest(store):
    proc = _run(store, "train", WRITE, "--result")
    assert proc.returncode == 0, proc.stderr
    manifest = store.manifest("train")
    assert manifest["result"] == {"metrics": {"accuracy": 0.93}, "mode": "fast"}
    assert manifest["own_outputs"] == []  # not an output unless declared


def test_result_in_the_working_folder_of_a_file_in_a_subfolder(store):
    proc = _run(store, "deep", WRITE, "--result", subdir="src/", outputs=["src/mlpipe-result.json"])
    assert proc.returncode == 0, proc.stderr
    manifest = store.manifest("deep")
    assert manifest["result"]["mode"] == "fast"
    assert manifest["own_outputs"] == ["src/mlpipe-result.json"]  # declared: an output too


def test_xcom_file_and_last_stdout_line(store, tmp_path):
    xcom = tmp_path / "airflow" / "xcom" / "return.json"
    proc = _run(store, "both", WRITE, "--result", "--xcom-file", str(xcom), "--xcom-stdout")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(xcom.read_text()) == store.manifest("both")["result"]
    last = proc.stdout.rstrip("\n").splitlines()[-1]
    assert json.loads(last) == {"metrics": {"accuracy": 0.93}, "mode": "fast"}


def test_no_result_arguments_no_result(store):
    proc = _run(store, "plain", WRITE)
    assert proc.returncode == 0
    assert "result" not in store.manifest("plain")


@pytest.mark.parametrize(
    "source, words",
    [
        ("print('nothing')\n", "it wrote no mlpipe-result.json in its working folder"),
        ("open('mlpipe-result.json', 'w').write('{nope')\n", "its mlpipe-result.json is not JSON"),
        (
            "open('mlpipe-result.json', 'w').write('\"' + 'x' * 70000 + '\"')\n",
            "its mlpipe-result.json is 70002 bytes; a result is at most 65536 bytes of JSON",
        ),
        (  # small, but nested deeper than Python's JSON reader recurses
            "open('mlpipe-result.json', 'w').write('[' * 30000 + ']' * 30000)\n",
            "its mlpipe-result.json is not JSON (nested too deeply)",
        ),
    ],
)
def test_what_is_not_a_result_fails_in_one_line(store, source, words):
    proc = _run(store, "bad", source, "--result", "--xcom-stdout")
    assert proc.returncode == 1
    line = verdict(proc)
    assert line.startswith("mlpipe-runner: node 'bad' failed: " + words), line
    assert "\n" not in line
    assert not store.run_file("bad", "manifest.json").exists()
    assert "Traceback" not in proc.stderr


def test_xcom_options_need_result(store):
    proc = _run(store, "usage", WRITE, "--xcom-stdout")
    assert proc.returncode == 2
    assert "need --result" in proc.stderr
