"""Step caching in local runs: real pipelines run twice by the real engine and runner; a node whose
file, inputs, parameters and image are unchanged reuses the earlier run's results ("cached")."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from openapi_check import check_response
from pipeline_builder import node, pipeline
from test_runner import notebook

from mlpipe_lab.cli import main
from mlpipe_lab.localrun import run_pipeline
from mlpipe_lab.localrun.cache import CACHE_DIR, CacheIndex
from mlpipe_lab.pipeline import dumps

NO_HTML = {"MLPIPE_RUNNER_HTML": "0"}

FILES = {
    "a.py": "open('base.txt', 'w').write('base')\n",
    "b.py": "open('b.txt', 'w').write(open('base.txt').read() + '+b')\n",
    "c.py": "open('c.txt', 'w').write(open('base.txt').read() + '+c')\n",
    "d.py": "parts = [open(f).read() for f in ('base.txt', 'b.txt', 'c.txt')]\n"
    "open('d.txt', 'w').write(' '.join(parts))\n",
    "e.py": "import os\nopen('e.txt', 'w').write(os.environ['size'])\n",
}


def write(folder: Path, nodes: list[dict], files: dict[str, str], **kw) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for rel, text in files.items():
        (folder / rel).write_text(text)
    path = folder / "cached.pipeline"
    path.write_text(dumps(pipeline("cached", nodes, **kw)))
    return path


def diamond(folder: Path, *, side_effects: bool = False, **kw) -> Path:
    """a -> (b, c) -> d, and e on its own (it reads the parameter 'size')."""
    return write(
        folder,
        [
            node("a", "a.py", outputs=["base.txt"]),
            node(
                "b",
                "b.py",
                parents=["a"],
                outputs=["b.txt"],
                mlpipe={"side_effects": True} if side_effects else None,
            ),
            node("c", "c.py", parents=["a"], outputs=["c.txt"]),
            node("d", "d.py", parents=["b", "c"], outputs=["d.txt"]),
            node("e", "e.py", outputs=["e.txt"], pipeline_parameters=["size"]),
        ],
        FILES,
        mlpipe={"parameters": [{"name": "size", "type": "integer", "default": 1}], **kw},
    )


def states(result) -> dict[str, str]:
    return {n.task_id: n.status for n in result.nodes}


def test_a_rerun_with_nothing_changed_reuses_every_result(tmp_path):
    path = diamond(tmp_path / "p")
    art = tmp_path / "art"
    first = run_pipeline(path, artifacts_root=art)
    assert states(first) == dict.fromkeys("abcde", "succeeded"), first.report()
    assert len(list((art / CACHE_DIR).glob("*.json"))) == 5

    events: list[dict] = []
    second = run_pipeline(path, artifacts_root=art, on_event=events.append)
    assert second.ok and states(second) == dict.fromkeys("abcde", "cached")
    run_dir = Path(second.run_dir)
    # the results are in this run's folder, as if the nodes had run
    assert (run_dir / "d" / "outputs" / "d.txt").read_text() == "base base+b base+c"
    manifest = json.loads((run_dir / "d" / "manifest.json").read_text())
    assert manifest["own_outputs"] == ["d.txt"] and manifest["task_id"] == "d"
    assert {e["path"]: e["object"] for e in manifest["outputs"]} == {
        "base.txt": "a/outputs/base.txt",
        "b.txt": "b/outputs/b.txt",
        "c.txt": "c/outputs/c.txt",
        "d.txt": "d/outputs/d.txt",
    }
    assert manifest["reused"] == {"run_prefix": f"cached/runs/{first.run_id}", "task_id": "d"}
    # the log says so, then shows the earlier log
    log = Path(second.node("d").log).read_text()
    assert re.search(
        rf"node d: cached, nothing changed since run {first.run_id} finished at \S+ "
        r"\(cache key [0-9a-f]{12}\)",
        log,
    )
    assert "node 'd' succeeded" in log
    assert second.node("d").outputs == ["d.txt"]
    assert second.node("d").message.startswith(f"results of run {first.run_id}")
    # no process was started: the events go straight from queued to cached
    assert [e["status"] for e in events if e.get("task_id") == "d"] == ["queued", "cached"]
    assert not any(e.get("status") == "running" for e in events if e["event"] == "node")

    # the earlier run's folder gone: nothing to reuse, everything runs (and is recorded again)
    shutil.rmtree(first.run_dir)
    shutil.rmtree(second.run_dir)
    third = run_pipeline(path, artifacts_root=art)
    assert states(third) == dict.fromkeys("abcde", "succeeded")
    assert states(run_pipeline(path, artifacts_root=art)) == dict.fromkeys("abcde", "cached")


def test_a_changed_file_reruns_that_node_and_its_descendants_only(tmp_path):
    path = diamond(tmp_path / "p")
    art = tmp_path / "art"
    assert run_pipeline(path, artifacts_root=art).ok
    (tmp_path / "p" / "b.py").write_text(FILES["b.py"].replace("+b", "+B"))
    result = run_pipeline(path, artifacts_root=art)
    assert states(result) == {
        "a": "cached",
        "b": "succeeded",
        "c": "cached",
        "d": "succeeded",
        "e": "cached",
    }
    assert (Path(result.run_dir) / "d" / "outputs" / "d.txt").read_text() == "base base+B base+c"
    # the file back as it was: the first run's results of b and d are found again
    (tmp_path / "p" / "b.py").write_text(FILES["b.py"])
    again = run_pipeline(path, artifacts_root=art)
    assert states(again) == dict.fromkeys("abcde", "cached")
    assert (Path(again.run_dir) / "d" / "outputs" / "d.txt").read_text() == "base base+b base+c"


def test_parameter_values_are_part_of_the_key(tmp_path):
    path = diamond(tmp_path / "p")
    art = tmp_path / "art"
    assert run_pipeline(path, artifacts_root=art, params={"size": 1}).ok
    result = run_pipeline(path, artifacts_root=art, params={"size": 2})
    assert states(result) == {**dict.fromkeys("abcd", "cached"), "e": "succeeded"}
    assert (Path(result.run_dir) / "e" / "outputs" / "e.txt").read_text() == "2"
    assert states(run_pipeline(path, artifacts_root=art, params={"size": 1}))["e"] == "cached"


def test_an_upstream_output_that_changes_reruns_the_descendants(tmp_path):
    """a writes a different file each time (its code unchanged): b, c and d run again."""
    files = {**FILES, "a.py": "import time\nopen('base.txt', 'w').write(str(time.time()))\n"}
    path = write(
        tmp_path / "p",
        [
            node("a", "a.py", outputs=["base.txt"], mlpipe={"side_effects": True}),
            node("c", "c.py", parents=["a"], outputs=["c.txt"]),
        ],
        files,
    )
    art = tmp_path / "art"
    assert run_pipeline(path, artifacts_root=art).ok
    result = run_pipeline(path, artifacts_root=art)
    assert states(result) == {"a": "succeeded", "c": "succeeded"}  # a: side effects, never cached


def test_no_cache_side_effects_and_settings(tmp_path):
    art = tmp_path / "art"
    path = diamond(tmp_path / "p", side_effects=True)
    assert run_pipeline(path, artifacts_root=art).ok
    # a node with side effects always runs; its unchanged output leaves d cached
    result = run_pipeline(path, artifacts_root=art)
    assert states(result) == {**dict.fromkeys("acde", "cached"), "b": "succeeded"}
    # --no-cache: everything runs, and the results are recorded for the next run
    result = run_pipeline(path, artifacts_root=art, cache=False)
    assert states(result) == dict.fromkeys("abcde", "succeeded")
    entry = json.loads(next((art / CACHE_DIR).glob("*.json")).read_text())
    assert entry["run_prefix"].startswith("cached/runs/local__")
    # the pipeline turns caching off, one node turns it back on
    off = diamond(tmp_path / "p", cache=False)
    doc = json.loads(off.read_text())
    doc["pipelines"][0]["nodes"][4]["app_data"]["mlpipe"] = {"cache": True}
    off.write_text(json.dumps(doc))
    result = run_pipeline(off, artifacts_root=art)
    assert states(result) == {**dict.fromkeys("abcd", "succeeded"), "e": "cached"}


def test_max_age(tmp_path):
    import datetime as dt

    art = tmp_path / "art"
    path = diamond(tmp_path / "p", cache_max_age_seconds=3600)
    assert run_pipeline(path, artifacts_root=art).ok
    assert states(run_pipeline(path, artifacts_root=art)) == dict.fromkeys("abcde", "cached")
    # the same entries, seen two hours later, are too old
    entry = json.loads(next((art / CACHE_DIR).glob("*.json")).read_text())
    later = lambda: dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=2)  # noqa: E731
    assert CacheIndex(art).lookup(entry["key"], 3600) is not None
    assert CacheIndex(art, now=later).lookup(entry["key"], 3600) is None
    assert CacheIndex(art, now=later).lookup(entry["key"], None) is not None


def test_notebook_node_reuses_its_executed_notebook(tmp_path):
    nb = notebook(("parameters", "k = 1"), "open('out.txt', 'w').write(str(k * 2))")
    path = write(
        tmp_path / "p",
        [node("nb", "nb.ipynb", outputs=["out.txt"], pipeline_parameters=["k"])],
        {"nb.ipynb": nb},
        mlpipe={"parameters": [{"name": "k", "type": "integer", "default": 3}]},
    )
    art = tmp_path / "art"
    first = run_pipeline(path, artifacts_root=art)
    assert first.ok, first.report()
    second = run_pipeline(path, artifacts_root=art)
    n = second.node("nb")
    assert n.status == "cached"
    assert n.notebook == str(Path(second.run_dir) / "nb" / "nb.ipynb")
    assert Path(n.notebook).read_bytes() == Path(first.node("nb").notebook).read_bytes()
    assert n.html and Path(n.html).is_file()
    assert (Path(second.run_dir) / "nb" / "outputs" / "out.txt").read_text() == "6"


def test_cli_says_cached_and_no_cache_runs_again(tmp_path, capsys):
    path = diamond(tmp_path / "p")
    art = str(tmp_path / "art")
    assert main(["run", str(path), "--artifacts", art]) == 0
    capsys.readouterr()
    assert main(["run", str(path), "--artifacts", art]) == 0
    out = capsys.readouterr().out
    assert re.search(r"\d\d:\d\d:\d\d  d\s+cached\s+results of run local__\S+", out)
    assert "cached: 5 of 5 node(s) reused earlier results" in out
    assert main(["run", str(path), "--artifacts", art, "--no-cache", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [n["status"] for n in data["nodes"]] == ["succeeded"] * 5


def test_runs_service_and_api_shape_show_cached(tmp_path, monkeypatch):
    from mlpipe_lab.runs import RunsService
    from mlpipe_lab.services import Services

    root = tmp_path / "root"
    path = diamond(root / "p")
    monkeypatch.setenv("MLPIPE_LAB_DATA_DIR", str(tmp_path / "data"))
    service = RunsService(Services(root))
    art = Path(service.config("local")["local"]["artifacts_path"])
    assert run_pipeline(path, artifacts_root=art).ok
    second = run_pipeline(path, artifacts_root=art)
    run = service.get("local", "cached", second.run_id)
    assert run["state"] == "success"
    assert {t["task_id"]: t["state"] for t in run["tasks"]} == dict.fromkeys("abcde", "cached")
    d = next(t for t in run["tasks"] if t["task_id"] == "d")
    assert d["started"] and d["ended"] and d["message"].startswith("results of run local__")
    check_response("GET", f"/runs/local/cached/{second.run_id}", 200, json.dumps(run).encode())
    log = service.logs("local", "cached", second.run_id, "d")
    assert log["complete"] and "cached, nothing changed since" in log["text"]
