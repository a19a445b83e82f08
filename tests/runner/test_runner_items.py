"""The runner's fan-out arguments (runner/contract.py): an item's files go under <task>/<index>/,
the node gets the item in its environment, --cache keys include the item, --upstream-items
places each item's outputs under <task>/<index>/ and says which items left nothing, reading
exactly the manifests of the count it is given (TASK=COUNT) and probing only when it is not."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from mlpipe_lab.runner import __main__ as runner_main
from mlpipe_lab.runner.contract import item_arguments
from mlpipe_lab.runner.store import LocalStore

WORK = (
    "import json, os\n"
    "open('out.txt', 'w').write(json.dumps([os.environ['MLPIPE_ITEM'], os.environ['shard'],"
    " os.environ['MLPIPE_ITEM_INDEX'], os.environ['MLPIPE_ITEM_COUNT']]))\n"
)
READ = (
    "import os\n"
    "open('seen.txt', 'w').write(' '.join(sorted(os.path.relpath(os.path.join(d, f))"
    " for d, _, fs in os.walk('work') for f in fs)))\n"
)


def _bundle(root: Path, key: str, name: str, text: str) -> None:
    data = text.encode()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    (root / key).parent.mkdir(parents=True, exist_ok=True)
    (root / key).write_bytes(buf.getvalue())


def _run(root: Path, run: str, *args: str) -> subprocess.CompletedProcess:
    base = ["--store", "local", "--root", str(root), "--run-prefix", f"dag/runs/{run}"]
    return subprocess.run(
        [sys.executable, "-m", "mlpipe_lab.runner", *base, *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def _work(root, run, index, count, item, *extra):
    return _run(
        root,
        run,
        "--kind",
        "python",
        "--file",
        "work.py",
        "--bundle",
        "b/work.tar.gz",
        "--task-id",
        "work",
        "--output",
        "out.txt",
        "--item-parameter",
        "shard",
        *item_arguments(index, count, item),
        *extra,
    )


def test_item_files_environment_and_cache(tmp_path):
    root = tmp_path / "store"
    _bundle(root, "b/work.tar.gz", "work.py", WORK)
    hostile = "{{ 7*7 }} $(id) '\""
    first = _work(root, "r1", 1, 2, hostile, "--cache")
    assert first.returncode == 0, first.stderr
    folder = root / "dag" / "runs" / "r1" / "work" / "1"
    assert json.loads((folder / "outputs" / "out.txt").read_text()) == [
        json.dumps(hostile),
        hostile,
        "1",
        "2",
    ]
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["item"] == {"index": 1, "count": 2} and manifest["own_outputs"] == ["out.txt"]
    assert manifest["outputs"][0]["object"] == "work/1/outputs/out.txt"
    assert (folder / "work.log").is_file()
    # the same item again (another index, another run): cached; another item: runs
    again = _work(root, "r2", 0, 2, hostile, "--cache")
    assert again.returncode == 0 and "cached:" in again.stderr + again.stdout, again.stderr
    assert (root / "dag" / "runs" / "r2" / "work" / "0" / "outputs" / "out.txt").is_file()
    other = _work(root, "r3", 1, 2, "other", "--cache")
    assert other.returncode == 0 and "no earlier results" in other.stdout + other.stderr


def test_upstream_items_are_placed_per_index(tmp_path):
    root = tmp_path / "store"
    _bundle(root, "b/work.tar.gz", "work.py", WORK)
    _bundle(root, "b/read.tar.gz", "read.py", READ)
    assert _work(root, "r1", 1, 3, "b").returncode == 0  # items 0 and 2 left nothing
    proc = _run(
        root,
        "r1",
        "--kind",
        "python",
        "--file",
        "read.py",
        "--bundle",
        "b/read.tar.gz",
        "--task-id",
        "read",
        "--output",
        "seen.txt",
        "--upstream-items",
        "work",
    )
    assert proc.returncode == 0, proc.stderr
    seen = (root / "dag" / "runs" / "r1" / "read" / "outputs" / "seen.txt").read_text()
    assert seen == "work/1/out.txt"
    assert "items 0, 2 of upstream fan-out work left no manifest" in proc.stdout


def _read_in_process(root, monkeypatch, upstream_items):
    """The reading task run in this process, every manifest read of the fan-out recorded (the
    store's requests: on S3 each is a GET)."""
    reads: list[str] = []
    get_json = LocalStore.get_json

    def counting(self, key):
        if "/work/" in key:
            reads.append(key)
        return get_json(self, key)

    monkeypatch.setattr(LocalStore, "get_json", counting)
    base = ["--store", "local", "--root", str(root), "--run-prefix", "dag/runs/r1"]
    task = ["--kind", "python", "--file", "read.py", "--bundle", "b/read.tar.gz"]
    task += ["--task-id", "read", "--output", "seen.txt", "--upstream-items", upstream_items]
    status = runner_main.main([*base, *task])
    assert status == 0
    return reads


@pytest.fixture
def one_of_three(tmp_path):
    """Item 1 of 3 ran; items 0 and 2 left nothing."""
    root = tmp_path / "store"
    _bundle(root, "b/work.tar.gz", "work.py", WORK)
    _bundle(root, "b/read.tar.gz", "read.py", READ)
    assert _work(root, "r1", 1, 3, "b").returncode == 0
    return root


def test_a_given_item_count_reads_exactly_that_many_manifests(one_of_three, monkeypatch, capsys):
    reads = _read_in_process(one_of_three, monkeypatch, "work=3")
    assert reads == [f"dag/runs/r1/work/{i}/manifest.json" for i in range(3)]
    seen = one_of_three / "dag" / "runs" / "r1" / "read" / "outputs" / "seen.txt"
    assert seen.read_text() == "work/1/out.txt"
    assert "items 0, 2 of upstream fan-out work left no manifest" in capsys.readouterr().out


def test_an_empty_fan_out_is_read_with_no_request(one_of_three, monkeypatch, capsys):
    # count 0 (an empty list): nothing is read, even where files of another run's items lie
    assert _read_in_process(one_of_three, monkeypatch, "work=0") == []
    out = capsys.readouterr().out
    assert "upstream fan-out work ran over no items" in out and "left no manifest" not in out
    seen = one_of_three / "dag" / "runs" / "r1" / "read" / "outputs" / "seen.txt"
    assert seen.read_text() == ""


def test_every_item_failed_with_a_count_reads_only_those(tmp_path, monkeypatch, capsys):
    root = tmp_path / "store"
    _bundle(root, "b/read.tar.gz", "read.py", READ)
    reads = _read_in_process(root, monkeypatch, "work=2")
    assert reads == [f"dag/runs/r1/work/{i}/manifest.json" for i in range(2)]
    assert "upstream fan-out work has no finished item" in capsys.readouterr().out


def test_an_unknown_count_probes_as_before(tmp_path, one_of_three, monkeypatch):
    """A DAG compiled before (plain TASK) or a count Airflow could not give (TASK=): the runner
    reads until a manifest states the count, all 1,000 when none is there."""
    assert len(_read_in_process(one_of_three, monkeypatch, "work=")) == 3
    monkeypatch.undo()
    assert len(_read_in_process(one_of_three, monkeypatch, "work")) == 3
    monkeypatch.undo()
    empty = tmp_path / "empty"
    _bundle(empty, "b/read.tar.gz", "read.py", READ)
    assert len(_read_in_process(empty, monkeypatch, "work")) == 1000


def test_item_arguments_are_checked(tmp_path):
    root = tmp_path / "store"
    base = ["--kind", "python", "--file", "w.py", "--bundle", "b", "--task-id", "w"]
    for extra, words in (
        (["--item-index", "0"], "need --item-parameter"),
        (["--item-parameter", "x", "--item-index", "0"], "needs --item-index, --item-count"),
        (["--item-parameter", "x", *item_arguments(3, 2, 1)], "not below --item-count"),
        (
            ["--item-parameter", "x", "--item-index", "0", "--item-count", "1", "--item-b64", "!"],
            "not base64",
        ),
        (["--upstream-items", "work=x"], "item count in 'work=x' is not a number"),
        (["--upstream-items", "=3"], "expected TASK_ID[=COUNT]"),
    ):
        proc = _run(root, "r", *base, *extra)
        assert proc.returncode == 2 and words in proc.stderr, proc.stderr
