"""Partial local runs (--only / --from / --to): the chosen nodes run, the nodes whose outputs they
need reuse earlier results (the cache, else their last successful run), the rest is skipped.
Real pipelines, the real engine and runner."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from openapi_check import check_response
from test_cache import FILES, diamond, states

from mlpipe_lab.cli import main
from mlpipe_lab.localrun import LocalRunError, run_pipeline
from mlpipe_lab.localrun.partial import SelectionError, select
from mlpipe_lab.pipeline import Pipeline, document
from mlpipe_lab.plan import plan as make_plan


def plan_of(path: Path):
    doc = document.parse(path.read_text(), pipeline=path.name)
    return make_plan(
        Pipeline(doc, path.name), {"name": "x", "type": "local", "local": {"artifacts_path": "/a"}}
    )


def test_selection(tmp_path):
    plan = plan_of(diamond(tmp_path / "p"))
    s = select(plan, only="d")
    assert (s.selected, s.forced, s.needed, s.others) == (["d"], {"d"}, ["a", "b", "c"], ["e"])
    s = select(plan, start="b")
    assert (s.selected, s.forced, s.needed, s.others) == (["b", "d"], {"b"}, ["a", "c"], ["e"])
    s = select(plan, end="b")
    assert (s.selected, s.forced, s.needed, s.others) == (["a", "b"], set(), [], ["c", "d", "e"])
    s = select(plan, start="a", end=["b", "c"])
    assert s.selected == ["a", "b", "c"] and s.forced == {"a"}
    s = select(plan, only=["b,c", "e.py"])  # labels too (the builder labels nodes by file)
    assert s.selected == ["b", "c", "e"] and s.needed == ["a"]
    assert select(plan) is None
    with pytest.raises(
        SelectionError,
        match=r"only: pipeline 'cached' has no node 'x' \(its tasks: a, b, c, d, e\)",
    ):
        select(plan, only="x")
    with pytest.raises(SelectionError, match="no task lies between from"):
        select(plan, start="d", end="a")
    with pytest.raises(SelectionError, match="not both"):
        select(plan, only="a", start="b")


def test_only_reuses_what_the_node_needs_and_runs_it_even_when_cached(tmp_path):
    path = diamond(tmp_path / "p")
    art = tmp_path / "art"
    first = run_pipeline(path, artifacts_root=art)
    assert first.ok
    result = run_pipeline(path, artifacts_root=art, only=["d"])
    assert result.ok, result.report()
    assert states(result) == {
        "a": "cached",
        "b": "cached",
        "c": "cached",
        "d": "succeeded",  # chosen: runs although the cache has its results
        "e": "skipped",
    }
    assert result.node("a").message == (
        f"not chosen: results of run {first.run_id} (finished "
        f"{json.loads((Path(first.run_dir) / 'a' / 'manifest.json').read_text())['finished']})"
        ", unchanged since"
    )
    assert result.node("e").message == "not chosen for this partial run"
    assert (Path(result.run_dir) / "d" / "outputs" / "d.txt").read_text() == "base base+b base+c"
    assert result.partial == {
        "only": ["d"],
        "from": [],
        "to": [],
        "selected": ["d"],
        "reused": ["a", "b", "c"],
    }
    record = json.loads((Path(result.run_dir) / "_mlpipe_local" / "run.json").read_text())
    assert record["partial"]["selected"] == ["d"]


def test_from_runs_the_node_and_its_descendants_with_the_last_successful_outputs(tmp_path):
    path = diamond(tmp_path / "p")
    art = tmp_path / "art"
    first = run_pipeline(path, artifacts_root=art)
    # a changes (a comment: its key changes, its output would not): not chosen, so it does not
    # run; its last successful run's outputs are reused, and so c's cache entry still fits
    (tmp_path / "p" / "a.py").write_text(FILES["a.py"] + "# edited\n")
    (tmp_path / "p" / "b.py").write_text(FILES["b.py"].replace("+b", "+B"))
    events: list[dict] = []
    result = run_pipeline(path, artifacts_root=art, start="b", on_event=events.append)
    assert states(result) == {
        "a": "cached",
        "b": "succeeded",
        "c": "cached",
        "d": "succeeded",
        "e": "skipped",
    }
    assert result.node("a").message == (
        f"not chosen: results of its last successful run {first.run_id} reused"
    )
    assert "unchanged since" in result.node("c").message
    assert (
        "not chosen for this partial run; the outputs of its last successful run"
        in Path(result.node("a").log).read_text()
    )
    assert (Path(result.run_dir) / "d" / "outputs" / "d.txt").read_text() == "base base+B base+c"
    skipped = [e for e in events if e.get("task_id") == "e" and e["status"] == "skipped"]
    assert skipped[0]["reason"] == "not_chosen"


def test_to_runs_the_node_and_its_ancestors_cache_applies(tmp_path):
    path = diamond(tmp_path / "p")
    art = tmp_path / "art"
    assert run_pipeline(path, artifacts_root=art).ok
    result = run_pipeline(path, artifacts_root=art, end="b")
    assert states(result) == {"a": "cached", "b": "cached", **dict.fromkeys("cde", "skipped")}
    result = run_pipeline(path, artifacts_root=art, end="b", cache=False)
    assert states(result) == {"a": "succeeded", "b": "succeeded", **dict.fromkeys("cde", "skipped")}


def test_nothing_to_reuse_the_needed_nodes_run_and_the_run_says_so(tmp_path):
    path = diamond(tmp_path / "p")
    result = run_pipeline(path, artifacts_root=tmp_path / "art", only="d")
    assert states(result) == {**dict.fromkeys("abcd", "succeeded"), "e": "skipped"}
    assert any(
        "task a was not chosen, but the chosen tasks need its outputs" in w for w in result.warnings
    )


def test_unknown_node_starts_nothing(tmp_path):
    path = diamond(tmp_path / "p")
    with pytest.raises(LocalRunError, match="from: pipeline 'cached' has no node 'nope'"):
        run_pipeline(path, artifacts_root=tmp_path / "art", start="nope")
    assert not list((tmp_path / "art" / "cached" / "runs").iterdir())


def test_cli(tmp_path, capsys):
    path = diamond(tmp_path / "p")
    art = str(tmp_path / "art")
    assert main(["run", str(path), "--artifacts", art]) == 0
    capsys.readouterr()
    assert main(["run", str(path), "--artifacts", art, "--only", "b,c"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"\d\d:\d\d:\d\d  a\s+cached\s+not chosen: results of run local__\S+", out)
    assert re.search(r"  d\s+skipped\s+not chosen for this partial run", out)
    assert "partial run: ran b, c" in out
    assert re.search(r"  reused a: not chosen: results of run local__\S+ \(finished ", out)
    assert main(["run", str(path), "--artifacts", art, "--from", "zz"]) == 2
    err = capsys.readouterr().err
    assert "from: pipeline 'cached' has no node 'zz' (its tasks: a, b, c, d, e)" in err


def test_runs_service_partial_and_no_cache(tmp_path, monkeypatch):
    from mlpipe_lab.errors import MLPipeError
    from mlpipe_lab.runs import RunsService
    from mlpipe_lab.services import Services

    root = tmp_path / "root"
    diamond(root / "p")
    monkeypatch.setenv("MLPIPE_LAB_DATA_DIR", str(tmp_path / "data"))
    service = RunsService(Services(root))
    body = {"path": "p/cached.pipeline", "runtime_config": "local"}
    first = service.start(body)
    service.local.wait(first["id"], 120)
    run = service.start({**body, "only": ["d"], "cache": False})
    check_response("POST", "/runs", 202, json.dumps(run).encode())
    service.local.wait(run["id"], 120)
    run = service.get("local", "cached", run["id"])
    assert run["state"] == "success", run
    assert {t["task_id"]: t["state"] for t in run["tasks"]} == {
        **dict.fromkeys("abc", "cached"),
        "d": "success",
        "e": "skipped",
    }
    for bad, field, words in (
        ({"only": "nope"}, "only", "has no node 'nope'"),
        ({"from": 3}, "from", "must be a node"),
        ({"to": ["a"], "only": ["b"]}, "only", "not both"),
        ({"cache": "no"}, "cache", "true or false"),
    ):
        with pytest.raises(MLPipeError) as info:
            service.start({**body, **bad})
        assert (
            info.value.status == 400 and info.value.field == field and words in info.value.message
        )


def test_clear_route_on_a_local_run_starts_a_partial_run_of_it(tmp_path, monkeypatch, capsys):
    from mlpipe_lab.errors import MLPipeError
    from mlpipe_lab.runs import RunsService
    from mlpipe_lab.services import Services

    root = tmp_path / "root"
    diamond(root / "p")
    monkeypatch.setenv("MLPIPE_LAB_DATA_DIR", str(tmp_path / "data"))
    service = RunsService(Services(root))
    first = service.start(
        {"path": "p/cached.pipeline", "runtime_config": "local", "params": {"size": 4}}
    )
    service.local.wait(first["id"], 120)
    again = service.clear("local", "cached", first["id"], {"from": "c"})
    check_response(
        "POST", f"/runs/local/cached/{first['id']}/clear", 202, json.dumps(again).encode()
    )
    assert again["id"] != first["id"] and again["params"] == {"size": 4}
    service.local.wait(again["id"], 120)
    run = service.get("local", "cached", again["id"])
    assert {t["task_id"]: t["state"] for t in run["tasks"]} == {
        "a": "cached",
        "b": "cached",
        "c": "success",
        "d": "cached",  # c's output is the same as before: d's key is unchanged
        "e": "skipped",
    }
    with pytest.raises(MLPipeError, match="Choose the nodes") as info:
        service.clear("local", "cached", first["id"], {})
    assert info.value.status == 400
    # the CLI's --run is for Airflow runs
    assert (
        main(["run", str(root / "p" / "cached.pipeline"), "--run", first["id"], "--only", "a"]) == 2
    )
    assert "--run clears tasks of a run on Airflow" in capsys.readouterr().err
