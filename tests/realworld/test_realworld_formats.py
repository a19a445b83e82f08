"""Every historical Elyra format is read as Elyra's own migrations read it, and never rewritten:
pre-version-1 names, properties in app_data, ``"KEY=value"`` entries, ``null`` for unset,
version-1 paths, 7.5; load -> save is JSON-equal, and byte-identical for a file Elyra wrote."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from corpus import corpus_dir
from fixture_paths import FIXTURES

from mlpipe_lab.pipeline import dumps, load, parse, validate
from mlpipe_lab.pipeline.files import LocalFiles, PipelineFiles
from mlpipe_lab.pipeline.model import read_properties

CORPUS = corpus_dir()


def envelope(nodes: list[dict], version=8, properties=None, **app_data) -> dict:
    return {
        "doc_type": "pipeline",
        "version": "3.0",
        "json_schema": "http://api.dataplatform.ibm.com/schemas/common-pipeline/pipeline-flow/"
        "pipeline-flow-v3-schema.json",
        "id": "t",
        "primary_pipeline": "primary",
        "pipelines": [
            {
                "id": "primary",
                "nodes": nodes,
                "app_data": {
                    **({"version": version} if version is not None else {}),
                    "properties": properties or {"name": "t", "runtime": "Generic"},
                    **app_data,
                },
            }
        ],
        "schemas": [],
    }


def notebook(node_id: str, **params) -> dict:
    return {
        "id": node_id,
        "type": "execution_node",
        "op": "execute-notebook-node",
        "app_data": {"label": "", "component_parameters": params},
        "inputs": [{"id": "inPort"}],
        "outputs": [{"id": "outPort"}],
    }


def test_older_list_entries_become_objects_like_migrate_v8():
    stored = {
        "env_vars": ["A=1", "URL=http://x/?a=b=c", " ", None],
        "kubernetes_secrets": ["TOKEN=my-secret:token"],
        "mounted_volumes": ["/data=my-pvc"],
        "kubernetes_pod_annotations": ["owner=alice"],
        "kubernetes_pod_labels": ["team=ml"],
        "kubernetes_tolerations": ["TOL_1=gpu:Equal:true:NoSchedule"],
    }
    before = copy.deepcopy(stored)
    props, kept = read_properties(stored)
    assert props["env_vars"] == [
        {"env_var": "A", "value": "1"},
        {"env_var": "URL", "value": "http://x/?a=b=c"},
    ]
    assert props["kubernetes_secrets"] == [
        {"env_var": "TOKEN", "name": "my-secret", "key": "token"}
    ]
    assert props["mounted_volumes"] == [{"path": "/data", "pvc_name": "my-pvc"}]
    assert props["kubernetes_pod_annotations"] == [{"key": "owner", "value": "alice"}]
    assert props["kubernetes_pod_labels"] == [{"key": "team", "value": "ml"}]
    assert props["kubernetes_tolerations"] == [
        {"key": "gpu", "operator": "Equal", "value": "true", "effect": "NoSchedule"}
    ]
    assert kept == {"env_vars": [0, 1]}  # the unset entries 2 and 3 are left out
    assert stored == before  # read, never rewritten


def test_null_and_empty_mean_unset_and_today_format_is_not_copied():
    props, _ = read_properties(
        {
            "filename": "a.ipynb",
            "cpu": None,
            "memory": "",
            "gpu": None,
            "dependencies": [None, "", "x.py"],
            "outputs": None,
            "env_vars": [{"env_var": "A", "value": None}],
        }
    )
    assert props == {
        "filename": "a.ipynb",
        "dependencies": ["x.py"],
        "env_vars": [{"env_var": "A"}],
    }
    current = {"filename": "a.ipynb", "env_vars": [{"env_var": "A", "value": "1"}]}
    assert read_properties(current)[0] is current


def test_pre_version_1_names_and_node_types(tmp_path):
    (tmp_path / "nb.ipynb").write_text("{}")
    node = {
        "id": "n",
        "type": "pipeline_node",
        "app_data": {
            "artifact": "nb.ipynb",
            "image": "python:3.11",
            "vars": ["A=1"],
            "file_dependencies": [],
            "recursive_dependencies": False,
        },
    }
    doc = envelope([node], version=None, properties={})
    p = load(doc, "old.pipeline")
    (n,) = p.nodes
    assert (n.type, n.op, n.filename) == ("execution_node", "execute-notebook-node", "nb.ipynb")
    assert p.node_properties(n)["runtime_image"] == "python:3.11"
    assert p.node_properties(n)["env_vars"] == [{"env_var": "A", "value": "1"}]
    problems = validate(doc, source="old.pipeline", files=LocalFiles(tmp_path))
    assert [p for p in problems if p.severity == "error"] == []
    assert not any("version" in p.message for p in problems)


def test_errors_point_at_the_stored_entry_when_unset_entries_were_left_out(tmp_path):
    (tmp_path / "a.ipynb").write_text("{}")
    doc = envelope(
        [notebook("a", filename="a.ipynb", runtime_image="i", env_vars=[None, "", "1BAD=x"])]
    )
    (problem,) = [p for p in validate(doc, files=LocalFiles(tmp_path)) if p.severity == "error"]
    assert problem.path == "component_parameters/env_vars/2/env_var"


def test_pipeline_defaults_in_older_formats(tmp_path):
    (tmp_path / "a.ipynb").write_text("{}")
    doc = envelope(
        [notebook("a", filename="a.ipynb")],
        version=7,
        properties={
            "name": "t",
            "pipeline_defaults": {
                "runtime_image": "python:3.11",
                "env_vars": ["STAGE=dev", None],
                "kubernetes_secrets": ["DB-PASS=db:pw"],
                "mounted_volumes": ["/data=pvc"],
            },
        },
    )
    problems = validate(doc, files=LocalFiles(tmp_path))
    assert [p for p in problems if p.severity == "error"] == []
    p = load(doc)
    props = p.node_properties(p.nodes[0])
    assert props["env_vars"] == [{"env_var": "STAGE", "value": "dev"}]
    assert props["kubernetes_secrets"] == [{"env_var": "DB-PASS", "name": "db", "key": "pw"}]


@pytest.mark.parametrize("version", [7.5, 7, 1, 0, None])
def test_versions_read_without_a_word_and_newer_ones_warned(tmp_path, version):
    (tmp_path / "a.ipynb").write_text("{}")
    doc = envelope([notebook("a", filename="a.ipynb", runtime_image="i")], version=version)
    assert [p.message for p in validate(doc, files=LocalFiles(tmp_path))] == []
    doc = envelope([notebook("a", filename="a.ipynb", runtime_image="i")], version=9)
    (warning,) = validate(doc, files=LocalFiles(tmp_path))
    assert warning.severity == "warning" and "newer Elyra" in warning.message


def test_version_1_paths_resolve_from_the_root_first(tmp_path):
    root = tmp_path / "root"
    (root / "pipelines" / "demo").mkdir(parents=True)
    for rel in ("pipelines/demo/nb.ipynb", "nb.ipynb"):
        (root / rel).write_text(rel)
    pipeline_path = root / "pipelines" / "demo" / "p.pipeline"
    v1 = envelope([notebook("a", filename="pipelines/demo/nb.ipynb", runtime_image="i")], version=1)
    p = load(v1, "p.pipeline")
    files = PipelineFiles.at(root, pipeline_path)
    assert files.node(p, p.nodes[0]).file == "pipelines/demo/nb.ipynb"
    # version 2 and later: relative to the pipeline file
    v2 = envelope([notebook("a", filename="nb.ipynb", runtime_image="i")], version=2)
    p = load(v2, "p.pipeline")
    assert (
        PipelineFiles.at(root, pipeline_path).node(p, p.nodes[0]).file == "pipelines/demo/nb.ipynb"
    )
    # a version-1 name both at the root and next to the file: the root, as Elyra reads it
    v1 = envelope([notebook("a", filename="nb.ipynb", runtime_image="i")], version=1)
    p = load(v1, "p.pipeline")
    assert PipelineFiles.at(root, pipeline_path).node(p, p.nodes[0]).file == "nb.ipynb"


def _pipeline_files() -> list[Path]:
    found = sorted((FIXTURES / "elyra-repro").rglob("*.pipeline"))
    found += sorted((FIXTURES / "elyra").rglob("*.pipeline"))
    found += sorted((FIXTURES / "elyra-extra").rglob("*.pipeline"))
    if CORPUS is not None:
        found += sorted(CORPUS.rglob("*.pipeline"))
    return found


def test_load_save_is_json_equal_and_elyra_files_are_byte_identical():
    if CORPUS is None:
        pytest.skip("the real-pipeline corpus (shared/fixtures/elyra-realworld) is not here")
    checked = identical = 0
    for path in _pipeline_files():
        text = path.read_text(encoding="utf-8")
        try:
            doc = parse(text)
        except Exception:
            continue  # the corpus's invalid-JSON file
        before = copy.deepcopy(doc)
        p = load(doc, path.name)
        for node in p.nodes:  # read every view
            p.node_properties(node)
        assert doc == before, path  # reading changed nothing
        saved = dumps(doc, like=text)
        assert json.loads(saved) == json.loads(text), path
        checked += 1
        if text == json.dumps(json.loads(text), indent=2, ensure_ascii=False) + (
            "\n" if text.endswith("\n") else ""
        ):  # written as Elyra's editor writes (JSON.stringify(doc, null, 2))
            assert saved == text, path
            identical += 1
    assert checked >= 60 and identical >= 40, (checked, identical)
