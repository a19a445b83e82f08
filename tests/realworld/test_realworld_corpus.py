"""The real-pipeline tier: every pipeline of shared/fixtures/elyra-realworld through ``mlpipe
export`` (complete ones export; the rest are refused with node and field named), then the DAGs in
real Airflow 3.3 and 2.10 (one task per node, exactly the pipeline's links). What each pipeline
must do comes from the corpus's INDEX.tsv and the files themselves (see corpus.py); the result
table is printed at the end of the run."""

from __future__ import annotations

import os
import sys
import time
import warnings

import corpus
import pytest

CORPUS = corpus.corpus_dir()
SHARED = corpus.read_index(CORPUS) if CORPUS is not None else []
# and the other real pipelines whose license lets them live in this repository
ENTRIES = SHARED + corpus.read_index(corpus.EXTRA)


def _missing() -> None:
    message = (
        "the real-pipeline corpus (shared/fixtures/elyra-realworld) is not here; set "
        "MLPIPE_REALWORLD_CORPUS or MLPIPE_SHARED_DIR"
    )
    if os.environ.get("CI"):
        pytest.fail(message)
    warnings.warn(message, stacklevel=2)
    pytest.skip(message)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    if CORPUS is None:
        _missing()
    work = tmp_path_factory.mktemp("corpus")
    started = time.monotonic()
    repos = corpus.prepare(work, ENTRIES)
    catalogs, why = corpus.component_catalogs()
    if why and os.environ.get("CI"):
        pytest.fail(why)
    corpus.add_catalogs(work / "data", catalogs)
    prepared = time.monotonic()
    results = corpus.export_in_process(ENTRIES, repos, work / "out", data_dir=work / "data")
    done = time.monotonic()
    corpus.REPORT.update(
        results=results,
        timings=[
            f"corpus tier: copy + git init {prepared - started:.1f} s, "
            f"{len(results)} exports {done - prepared:.1f} s"
        ],
    )
    return {"work": work, "results": results, "no_catalogs": why}


def by_local(exported) -> dict[str, corpus.Result]:
    return {r.entry.local: r for r in exported["results"]}


def test_the_corpus_is_all_there():
    if CORPUS is None:
        _missing()
    assert len(SHARED) == 63
    assert sum(e.expect == "export" for e in SHARED) >= 30


COMPLETE = [e.local for e in ENTRIES if e.expect == "export"] or ["(no corpus)"]
INCOMPLETE = [e.local for e in ENTRIES if e.expect != "export"] or ["(no corpus)"]


@pytest.mark.parametrize("local", COMPLETE, ids=COMPLETE)
def test_complete_pipeline_exports(exported, local):
    r = by_local(exported)[local]
    if r.entry.reason == corpus.COMPONENTS and exported["no_catalogs"]:
        pytest.skip(f"component catalogs unavailable: {exported['no_catalogs']}")
    assert r.exported, corpus._first_error(r) or r.stderr[-2000:]
    assert not [p for p in r.problems if p.get("severity") == "error"]
    doc = corpus.load_doc(r.entry)
    assert sorted(t["node_id"] for t in r.output["tasks"]) == sorted(
        n["id"] for n in corpus.execution_nodes(doc)
    )


def test_every_component_pipeline_whose_files_are_here_exports(exported):
    """Operators (Bash, Email, Http, Slack, SparkSql, SparkSubmit, Python) and KFP components
    from Elyra 2.x-4.x files, supernodes included: all but the ones missing a file or a field."""
    if exported["no_catalogs"]:
        pytest.skip(f"component catalogs unavailable: {exported['no_catalogs']}")
    results = [r for r in exported["results"] if r.entry.has_components]
    shared = [r for r in results if r.entry.base == CORPUS]
    assert len(shared) == 19
    assert sum(r.exported for r in shared) == 13
    assert all(r.exported == (r.entry.expect == "export") for r in results)


@pytest.mark.parametrize("local", INCOMPLETE, ids=INCOMPLETE)
def test_incomplete_pipeline_is_refused_with_node_and_field(exported, local):
    r = by_local(exported)[local]
    assert not r.exported and r.code == 1, r.output
    assert "Traceback" not in r.stderr
    problems = [p for p in r.problems if p.get("severity", "error") == "error"]
    assert problems, r.output
    reason = r.entry.reason
    if reason == "invalid JSON":
        assert problems[0]["code"] == "json" and problems[0]["line"] > 0
    elif reason == "no pipelines field":
        assert any(p["path"] == "pipelines" or "pipelines" in p["message"] for p in problems)
    elif reason == "no nodes":
        assert any(p["code"] == "empty-pipeline" for p in problems)
    else:
        # a node, and the field in it
        located = [p for p in problems if p.get("node_id") and p.get("path")]
        assert located, problems
        if reason == "component file missing":
            for p in located:  # the component is named, with the file its catalog lacks
                assert p["path"] == "op" and p["code"] == "component", p
                assert p["node_label"] and ".py)" in p["message"] or ".yaml)" in p["message"], p
        elif reason == "component node incomplete":
            label, field = corpus.INCOMPLETE_NODES[r.entry.local]
            assert [(p["node_label"], p["path"]) for p in located] == [(label, field)]
        elif reason == "referenced file missing":
            assert any(
                p["path"].startswith(("component_parameters/filename", "component_parameters/dep"))
                for p in located
            )
        elif reason == "no runtime image":
            assert any(p["path"] == "component_parameters/runtime_image" for p in located)


@pytest.mark.airflow
def test_exported_dags_import_in_airflow_with_the_exact_tasks_and_links(exported):
    sys.path.insert(0, str(corpus.REPO / "tests" / "airflow"))
    import harness

    results = exported["results"]
    started = time.monotonic()
    imported = corpus.import_all(results, exported["work"] / "dags", harness.inspect_both)
    seconds = time.monotonic() - started
    airflow = {
        v: {
            i: corpus.check_airflow(results[i], corpus.load_doc(results[i].entry), doc)
            for i, doc in sorted(docs.items())
        }
        for v, docs in imported.items()
    }
    corpus.REPORT["airflow"] = airflow
    corpus.REPORT.setdefault("timings", []).append(
        f"corpus tier: Airflow imports (both versions in parallel) {seconds:.1f} s"
    )
    exported_count = sum(r.exported for r in results)
    wrong = {
        (v, results[i].entry.local): w
        for v, checks in airflow.items()
        for i, w in checks.items()
        if w
    }
    assert not wrong, wrong
    assert all(len(checks) == exported_count for checks in airflow.values())
