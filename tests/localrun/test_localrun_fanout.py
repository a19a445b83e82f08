"""Fan-out in local runs (docs/control-flow.md): the real engine and runner processes run a node
once per item of a list, at most max_parallel at a time; each item's outputs reach a downstream
node under <task>/<index>/; one failing item fails the node; items are cached one by one; the
runs API reports the items."""

from __future__ import annotations

import json
from pathlib import Path

from pipeline_builder import node
from test_localrun import NO_HTML, Events, write
from test_runner import notebook

from mlpipe_lab.cli import main
from mlpipe_lab.localrun import run_pipeline

HOSTILE = "{{ 7*7 }} $(echo pwned) '\"; {% raw %}"
PARAMS = {"parameters": [{"name": "shards", "type": "list", "default": ["a", "b", "c"]}]}
FOR_EACH = {
    "for_each": {"value_from": {"from": "parameter", "parameter": "shards"}, "max_parallel": 2}
}

PREP = "import os\nos.makedirs('data', exist_ok=True)\nopen('data/base.txt', 'w').write('base')\n"
WORK = (
    "import json, os, time\n"
    "item = json.loads(os.environ['MLPIPE_ITEM'])\n"
    "index = int(os.environ['MLPIPE_ITEM_INDEX'])\n"
    "assert os.environ['shard'] == (item if isinstance(item, str) else json.dumps(item)), os.environ['shard']\n"
    "if item == 'boom':\n    raise SystemExit('item boom fails')\n"
    "time.sleep(float(os.environ.get('WORK_SLEEP', '0')))\n"
    "os.makedirs('out', exist_ok=True)\n"
    "base = open('data/base.txt').read()\n"
    "json.dump({'item': item, 'index': index, 'base': base}, open('out/result.json', 'w'))\n"
)
JOIN = (
    "import json, os\n"
    "found = sorted(os.listdir('work'), key=int)\n"
    "rows = [json.load(open(f'work/{i}/out/result.json')) for i in found]\n"
    "open('summary.json', 'w').write(json.dumps(rows))\n"
)


def _project(tmp_path: Path, work_label="work", join=True, **mlpipe) -> Path:
    nodes = [
        node("p", "prep.py", label="prep", outputs=["data/base.txt"]),
        node(
            "w",
            "work.py",
            parents=["p"],
            label=work_label,
            outputs=["out/result.json"],
            mlpipe={"for_each": {**FOR_EACH["for_each"], "item_parameter": "shard"}},
        ),
    ]
    if join:
        nodes.append(node("j", "join.py", parents=["w"], label="join", outputs=["summary.json"]))
    files = {"prep.py": PREP, "work.py": WORK, "join.py": JOIN}
    return write(tmp_path / "project", "fan", nodes, files, mlpipe={**PARAMS, **mlpipe})


def _overlap(events: Events, task_id: str) -> int:
    """The most items of ``task_id`` running at once, from the engine's item events."""
    live, most = 0, 0
    for e in sorted(
        (e for e in events.items if e.get("event") == "item" and e["task_id"] == task_id),
        key=lambda e: e["ts"],
    ):
        if e["status"] == "running":
            live += 1
        elif e["status"] in ("succeeded", "failed", "cached", "cancelled"):
            live -= 1
        most = max(most, live)
    return most


def test_items_run_and_reach_the_downstream_node(tmp_path):
    path = _project(tmp_path)
    events = Events()
    items = ["a", HOSTILE, {"k": [1, 2]}, 7]
    result = run_pipeline(
        path,
        params={"shards": json.dumps(items)},  # as the CLI gives it: text
        artifacts_root=tmp_path / "artifacts",
        on_event=events,
        env={**NO_HTML, "WORK_SLEEP": "0.6"},
        max_parallel=4,
    )
    assert result.status == "succeeded", result.report()
    run = Path(result.run_dir)
    work = result.node("work")
    assert work.status == "succeeded"
    assert work.items == {"total": 4, "success": 4, "failed": 0, "running": 0}
    for i, item in enumerate(items):
        data = json.loads((run / "work" / str(i) / "outputs" / "out" / "result.json").read_text())
        assert data == {"item": item, "index": i, "base": "base"}
        manifest = json.loads((run / "work" / str(i) / "manifest.json").read_text())
        assert manifest["item"] == {"index": i, "count": 4}
        assert (run / "_mlpipe_local" / "logs" / "work" / f"{i}.log").is_file()
    summary = json.loads((run / "join" / "outputs" / "summary.json").read_text())
    assert [r["item"] for r in summary] == items  # hostile text stayed data end to end
    assert work.outputs == [f"work/{i}/out/result.json" for i in range(4)]
    # at most max_parallel (2) items at once, though the run could run 4 processes
    assert _overlap(events, "work") == 2
    log = Path(work.log).read_text()
    assert "---- item 3: succeeded ----" in log
    node_events = [e for e in events.of("work") if e.get("event") == "node"]
    assert node_events[-1]["items"] == {"total": 4, "success": 4, "failed": 0, "running": 0}
    assert any(e.get("items", {}).get("running") == 2 for e in node_events)


def test_one_failing_item_fails_the_node(tmp_path):
    path = _project(tmp_path)
    result = run_pipeline(
        path,
        params={"shards": ["a", "boom", "c"]},
        artifacts_root=tmp_path / "artifacts",
        env=NO_HTML,
    )
    assert result.status == "failed"
    work, join = result.node("work"), result.node("join")
    assert work.status == "failed" and work.items == {
        "total": 3,
        "success": 2,
        "failed": 1,
        "running": 0,
    }
    assert "1 of 3 items failed; item 1:" in work.message and "boom" in work.message
    assert join.status == "skipped" and "work" in join.message
    run = Path(result.run_dir)
    assert (run / "work" / "0" / "manifest.json").is_file()
    assert not (run / "work" / "1" / "manifest.json").exists()
    assert not (run / "work" / "manifest.json").exists()


def test_items_are_cached_one_by_one(tmp_path):
    path = _project(tmp_path)
    root = tmp_path / "artifacts"
    first = run_pipeline(path, params={"shards": ["a", "b"]}, artifacts_root=root, env=NO_HTML)
    assert first.status == "succeeded", first.report()
    events = Events()
    second = run_pipeline(
        path, params={"shards": ["a", "b", "c"]}, artifacts_root=root, env=NO_HTML, on_event=events
    )
    assert second.status == "succeeded", second.report()
    statuses = {
        e["index"]: e["status"]
        for e in events.items
        if e.get("event") == "item" and e["status"] in ("succeeded", "cached")
    }
    assert statuses == {0: "cached", 1: "cached", 2: "succeeded"}
    run = Path(second.run_dir)
    for i, item in enumerate(["a", "b", "c"]):
        data = json.loads((run / "work" / str(i) / "outputs" / "out" / "result.json").read_text())
        assert data["item"] == item
    # the downstream node's inputs changed (a third item): it ran again
    assert second.node("join").status == "succeeded"
    third = run_pipeline(path, params={"shards": ["a", "b", "c"]}, artifacts_root=root, env=NO_HTML)
    assert third.node("work").status == "cached" and third.node("join").status == "cached"


def test_partial_run_reuses_items(tmp_path):
    path = _project(tmp_path)
    root = tmp_path / "artifacts"
    first = run_pipeline(path, artifacts_root=root, env=NO_HTML, cache=False)
    assert first.status == "succeeded", first.report()
    second = run_pipeline(path, artifacts_root=root, env=NO_HTML, cache=False, only="join")
    assert second.status == "succeeded", second.report()
    assert second.node("work").status == "cached" and second.node("join").status == "succeeded"
    summary = json.loads((Path(second.run_dir) / "join" / "outputs" / "summary.json").read_text())
    assert [r["item"] for r in summary] == ["a", "b", "c"]


def test_an_empty_list_skips_the_node(tmp_path):
    path = _project(tmp_path, join=False)
    result = run_pipeline(path, params={"shards": []}, artifacts_root=tmp_path / "a", env=NO_HTML)
    assert result.node("work").status == "skipped"
    assert result.node("work").message == "the list to run over is empty"


def test_runs_api_and_cli(tmp_path, capsys):
    from mlpipe_lab.runs.local import LocalRuns

    path = _project(tmp_path, join=False)
    root = tmp_path / "artifacts"
    code = main(["run", str(path), "--artifacts", str(root), "--param", 'shards=["x", "y"]'])
    out = capsys.readouterr()
    assert code == 0, out
    run_dir = next((root / "fan" / "runs").iterdir())
    runs = LocalRuns()
    record = runs.read(run_dir, runtime_config="local", display=lambda p: p)
    work = next(t for t in record["tasks"] if t["task_id"] == "work")
    assert work["state"] == "success"
    assert work["items"] == {"total": 2, "success": 2, "failed": 0, "running": 0}
    assert (
        json.loads((run_dir / "work" / "1" / "outputs" / "out" / "result.json").read_text())["item"]
        == "y"
    )


def test_notebook_items_get_the_item_parameter(tmp_path):
    nb = notebook(
        ("parameters", "shard = None"),
        "import json, os\nos.makedirs('out', exist_ok=True)\n"
        "json.dump({'shard': shard, 'env': os.environ['MLPIPE_ITEM']}, open('out/nb.json', 'w'))",
    )
    nodes = [
        node(
            "w",
            "work.ipynb",
            label="work",
            outputs=["out/nb.json"],
            mlpipe={"for_each": {**FOR_EACH["for_each"], "item_parameter": "shard"}},
        )
    ]
    path = write(tmp_path / "nb", "fan", nodes, {"work.ipynb": nb}, mlpipe=PARAMS)
    result = run_pipeline(
        path, params={"shards": [{"n": 1}, "two"]}, artifacts_root=tmp_path / "a", env=NO_HTML
    )
    assert result.status == "succeeded", result.report()
    run = Path(result.run_dir)
    got = [
        json.loads((run / "work" / str(i) / "outputs" / "out" / "nb.json").read_text())
        for i in (0, 1)
    ]
    assert got == [{"shard": {"n": 1}, "env": '{"n": 1}'}, {"shard": "two", "env": '"two"'}]
    assert (run / "work" / "0" / "work.ipynb").is_file()


def test_a_result_of_an_upstream_node_is_the_list(tmp_path):
    prep = (
        "import json\n"
        "json.dump({'files': ['f1', {'n': 2}], 'other': 1}, open('mlpipe-result.json', 'w'))\n"
    )
    nodes = [
        node("p", "prep.py", label="prep"),
        node(
            "w",
            "work.py",
            parents=["p"],
            label="work",
            outputs=["out/result.json"],
            mlpipe={
                "for_each": {
                    "value_from": {"from": "result", "node": "p", "key": "files"},
                    "item_parameter": "shard",
                }
            },
        ),
    ]
    work = WORK.replace("base = open('data/base.txt').read()", "base = None")
    path = write(tmp_path / "r", "fan", nodes, {"prep.py": prep, "work.py": work})
    result = run_pipeline(path, artifacts_root=tmp_path / "a", env=NO_HTML)
    assert result.status == "succeeded", result.report()
    run = Path(result.run_dir)
    got = [
        json.loads((run / "work" / str(i) / "outputs" / "out" / "result.json").read_text())["item"]
        for i in (0, 1)
    ]
    assert got == ["f1", {"n": 2}]
    # a key that is not a list fails the node, saying so
    bad = write(
        tmp_path / "r2",
        "fan",
        [nodes[0], {**nodes[1]}],
        {"prep.py": prep.replace("'files': ['f1', {'n': 2}]", "'files': 'f1'"), "work.py": work},
    )
    failed = run_pipeline(bad, artifacts_root=tmp_path / "b", env=NO_HTML)
    assert failed.node("work").status == "failed"
    assert failed.node("work").message == (
        "fan-out node 'work' runs once per item of a list, but the result of 'prep' at key "
        "'files' is a str: \"f1\""
    )


def test_cancel_stops_running_items_and_cancels_the_rest(tmp_path):
    import threading

    path = _project(tmp_path, join=False)
    cancel = threading.Event()

    def on_event(event):
        if event.get("event") == "item" and event["status"] == "running":
            cancel.set()

    result = run_pipeline(
        path,
        params={"shards": ["a", "b", "c", "d"]},
        artifacts_root=tmp_path / "a",
        env={**NO_HTML, "WORK_SLEEP": "30"},
        on_event=on_event,
        cancel_event=cancel,
        grace_seconds=2,
    )
    assert result.status == "cancelled"
    work = result.node("work")
    assert work.status == "cancelled"
    assert work.items["success"] == 0 and work.items["running"] == 0 and work.items["total"] == 4


def test_mlpipe_run_prints_items(tmp_path, capsys):
    path = _project(tmp_path, join=False)
    code = main(["run", str(path), "--artifacts", str(tmp_path / "a"), "--param", 'shards=["x"]'])
    out = capsys.readouterr()
    assert code == 0, out
    text = out.out + out.err
    assert "work[0]" in text and "1 items" in text and "items: 1/1 succeeded" in text


# the join's runner is its script's parent process: what the engine told it
TOLD = (
    "import os\n"
    "argv = open(f'/proc/{os.getppid()}/cmdline', 'rb').read().split(b'\\0')\n"
    "told = argv[argv.index(b'--upstream-items') + 1].decode()\n"
    "open('told.txt', 'w').write(told)\n"
)


def test_the_downstream_is_told_how_many_items_ran(tmp_path):
    """The engine knows the count once the node expanded: its downstream's runner reads exactly
    those manifests (``--upstream-items work=N``); an empty list is 0, nothing to read."""
    nodes = [
        node("p", "prep.py", label="prep", outputs=["data/base.txt"]),
        node("w", "work.py", parents=["p"], label="work", mlpipe=FOR_EACH),
        node(
            "j",
            "join.py",
            parents=["w"],
            label="join",
            outputs=["told.txt"],
            mlpipe={"trigger_rule": "all_done"},
        ),
    ]
    files = {"prep.py": PREP, "work.py": WORK.replace("os.environ['shard']", "os.environ['item']")}
    path = write(tmp_path / "project", "fan", nodes, {**files, "join.py": TOLD}, mlpipe=PARAMS)
    root = tmp_path / "artifacts"
    for shards, told in ((["a", "b", "c"], "work=3"), ([], "work=0")):
        result = run_pipeline(
            path, params={"shards": shards}, artifacts_root=root, env=NO_HTML, cache=False
        )
        join = result.node("join")
        assert join.status == "succeeded", result.report()
        assert (Path(result.run_dir) / "join" / "outputs" / "told.txt").read_text() == told
    assert result.node("work").status == "skipped"
    assert "upstream fan-out work ran over no items" in Path(join.log).read_text()
