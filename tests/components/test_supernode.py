"""Supernodes flattened into one pipeline: links through binding nodes kept, nesting, ids kept,
the saved document untouched; component catalogs in the catalog store."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import pytest

from mlpipe_lab.catalog import MASK, ComponentCatalogs
from mlpipe_lab.components import flatten, has_supernodes
from mlpipe_lab.pipeline.model import Pipeline


def corpus_dir() -> Path | None:
    """The shared real-pipeline corpus (next to the repository, as CI lays it out)."""
    from fixture_paths import REPO as here

    for candidate in (
        os.environ.get("MLPIPE_REALWORLD_CORPUS"),
        here.parent / "shared" / "fixtures" / "elyra-realworld",
        Path("/work/shared/fixtures/elyra-realworld"),
    ):
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return None


def node(nid, label, links=(), ntype="execution_node", **extra):
    out = {
        "id": nid,
        "type": ntype,
        "op": "execute-python-node" if ntype == "execution_node" else None,
        "app_data": {"label": label, "component_parameters": {"filename": f"{label}.py"}},
        "inputs": [
            {
                "id": "inPort",
                "links": [
                    {"id": f"l-{src}-{nid}", "node_id_ref": src, "port_id_ref": port}
                    for src, port in links
                ],
            }
        ],
        "outputs": [{"id": "outPort"}],
    }
    if out["op"] is None:
        del out["op"]
    out.update(extra)
    return out


def supernode(nid, label, sub_id, inputs, outputs, links=()):
    """inputs: [(port id, entry binding id)]; outputs: [(port id, exit binding id)]."""
    return {
        "id": nid,
        "type": "super_node",
        "subflow_ref": {"pipeline_id_ref": sub_id},
        "app_data": {"ui_data": {"label": label}},
        "inputs": [
            {
                "id": port,
                "subflow_node_ref": binding,
                "links": [
                    {"id": f"l-{src}-{nid}", "node_id_ref": src, "port_id_ref": p}
                    for src, p in links
                ],
            }
            for port, binding in inputs
        ],
        "outputs": [{"id": port, "subflow_node_ref": binding} for port, binding in outputs],
    }


def binding_in(nid, port):
    return {"id": nid, "type": "binding", "outputs": [{"id": port}]}


def binding_out(nid, links):
    return {
        "id": nid,
        "type": "binding",
        "inputs": [
            {
                "id": "in",
                "links": [
                    {"id": f"l-{s}", "node_id_ref": s, "port_id_ref": "outPort"} for s in links
                ],
            }
        ],
    }


def document():
    """a -> [S: b -> c] -> d, with S nested: c is inside a supernode T inside S (T: c)."""
    primary = {
        "id": "main",
        "nodes": [
            node("a", "a"),
            supernode(
                "S",
                "Prepare data",
                "sub-S",
                [("S_in", "bS_in")],
                [("S_out", "bS_out")],
                [("a", "outPort")],
            ),
            node("d", "d", [("S", "S_out")]),
        ],
        "app_data": {"version": 8, "properties": {"name": "p"}},
    }
    sub_s = {
        "id": "sub-S",
        "nodes": [
            binding_in("bS_in", "bS_in_port"),
            node("b", "b", [("bS_in", "bS_in_port")]),
            supernode(
                "T",
                "Inner",
                "sub-T",
                [("T_in", "bT_in")],
                [("T_out", "bT_out")],
                [("b", "outPort")],
            ),
            binding_out("bS_out", ["T"]),
        ],
    }
    # the exit binding of S links from T's output port
    sub_s["nodes"][3]["inputs"][0]["links"][0]["port_id_ref"] = "T_out"
    sub_t = {
        "id": "sub-T",
        "nodes": [
            binding_in("bT_in", "bT_in_port"),
            node("c", "c", [("bT_in", "bT_in_port")]),
            binding_out("bT_out", ["c"]),
        ],
    }
    return {
        "doc_type": "pipeline",
        "version": "3.0",
        "primary_pipeline": "main",
        "pipelines": [primary, sub_s, sub_t],
    }


def flat_links(doc):
    p = Pipeline(doc)
    return {(link.source, link.target) for link in p.links}, [n.id for n in p.nodes]


def test_nested_supernodes_flatten_with_links_through_bindings():
    doc = document()
    saved = copy.deepcopy(doc)
    assert has_supernodes(doc)
    result = flatten(doc)
    links, ids = flat_links(result.doc)
    assert ids == ["a", "b", "c", "d"]
    assert links == {("a", "b"), ("b", "c"), ("c", "d")}
    assert result.groups == {"b": ["Prepare data"], "c": ["Prepare data", "Inner"]}
    assert result.supernodes == ["S", "T"]
    flat = {n["id"]: n for n in result.doc["pipelines"][0]["nodes"]}
    assert flat["c"]["mlpipe_group"] == ["Prepare data", "Inner"]
    assert "mlpipe" not in flat["a"]["app_data"]
    assert doc == saved  # the document given is never changed


def test_a_pass_through_supernode_and_a_missing_subflow():
    doc = document()
    # S passes its input straight to its output too: d also depends on a
    doc["pipelines"][1]["nodes"][3]["inputs"][0]["links"].append(
        {"id": "pt", "node_id_ref": "bS_in", "port_id_ref": "bS_in_port"}
    )
    links, _ = flat_links(flatten(doc).doc)
    assert ("a", "d") in links and ("c", "d") in links
    doc["pipelines"] = doc["pipelines"][:1]
    result = flatten(doc)
    assert result.problems == [("S", "The supernode's sub-pipeline is missing from the file.")]
    assert [n["id"] for n in result.doc["pipelines"][0]["nodes"]] == ["a", "d"]


def test_a_pipeline_without_supernodes_is_returned_as_is():
    doc = {"primary_pipeline": "m", "pipelines": [{"id": "m", "nodes": [node("a", "a")]}]}
    assert flatten(doc).doc is doc


def test_elyra_supernode_pipeline_of_the_corpus():
    corpus = corpus_dir()
    if corpus is None:
        pytest.skip("the shared real-pipeline corpus is not next to the repository")
    path = (
        corpus
        / "elyra-ai__elyra/elyra/tests/pipeline/resources/validation_pipelines/kf_supernode_valid.pipeline"
    )
    doc = json.loads(path.read_text())
    result = flatten(doc)
    p = Pipeline(result.doc)
    labels = {n.id: n.label for n in p.nodes}
    edges = {(labels[link.source], labels[link.target]) for link in p.links}
    assert edges == {
        ("Download data", "Filter text"),
        ("Filter text", "Calculate data hash"),
        ("Calculate data hash", "Run notebook using papermill"),
    }
    assert {labels[k]: v for k, v in result.groups.items()} == {
        "Filter text": ["Supernode"],
        "Calculate data hash": ["Supernode"],
    }


# -- component catalogs in the catalog store ------------------------------------------------------


def test_component_catalogs_store_keeps_the_url_password_secret(tmp_path):
    catalogs = ComponentCatalogs(data_dir=tmp_path / "data", include_elyra=False)
    created = catalogs.create(
        {
            "display_name": "Team components",
            "type": "url-catalog",
            "paths": ["http://127.0.0.1:9/c.yaml"],
            "auth_id": "reader",
            "auth_password": "pw-canary-123",
        }
    )
    assert created["name"] == "team-components" and created["auth_password"] == MASK
    assert catalogs.get_with_secrets("team-components")["auth_password"] == "pw-canary-123"
    public = (
        tmp_path / "data" / "catalogs" / "component-catalogs" / "team-components.json"
    ).read_text()
    assert "pw-canary-123" not in public
    assert all("pw-canary-123" not in json.dumps(e) for e in catalogs.list())
    with pytest.raises(Exception, match="paths: this field is required"):
        catalogs.create({"name": "x", "type": "local-directory-catalog"})


def test_elyra_component_catalogs_are_read(tmp_path):
    meta = tmp_path / "jupyter" / "metadata" / "component-catalogs"
    meta.mkdir(parents=True)
    (meta / "my_ops.json").write_text(
        json.dumps(
            {
                "display_name": "My operators",
                "schema_name": "local-directory-catalog",
                "metadata": {
                    "runtime_type": "APACHE_AIRFLOW",
                    "paths": ["/srv/ops"],
                    "include_subdirs": True,
                    "categories": ["Team"],
                },
            }
        )
    )
    (meta / "web.json").write_text(
        json.dumps(
            {
                "display_name": "Web",
                "schema_name": "url-catalog",
                "metadata": {"runtime_type": "KUBEFLOW_PIPELINES", "paths": ["https://x/c.yaml"],
                             "auth_id": "u", "auth_password": "elyra-pw-canary"},
            }
        )
    )  # fmt: skip
    catalogs = ComponentCatalogs(data_dir=tmp_path / "data", elyra_data_dir=tmp_path / "jupyter")
    entries = {e["name"]: e for e in catalogs.list()}
    assert entries["my_ops"]["type"] == "local-directory-catalog"
    assert entries["my_ops"]["paths"] == ["/srv/ops"] and entries["my_ops"]["source"] == "elyra"
    assert entries["web"]["auth_password"] == MASK
    assert "elyra-pw-canary" not in json.dumps(catalogs.list())


def test_a_supernode_pipeline_plans_with_readable_stable_task_ids():
    """Lifted nodes' task ids are prefixed with the labels of the supernodes around them; the
    links go through the bindings; the saved document is not changed by planning it."""
    import compile_corpus as cc

    from mlpipe_lab.plan import plan

    doc = document()
    doc["pipelines"][0]["app_data"]["properties"]["pipeline_defaults"] = {
        "runtime_image": cc.IMAGES[0]["image"]
    }
    saved = copy.deepcopy(doc)
    result = plan(Pipeline(doc), cc.CONFIG, cc.IMAGES, bundles={})
    assert result.ok, result.errors
    ids = {t.node_id: t.task_id for t in result.tasks}
    assert ids == {"a": "a", "b": "Prepare_data_b", "c": "Prepare_data_Inner_c", "d": "d"}
    upstream = {t.task_id: t.upstream for t in result.tasks}
    assert upstream == {
        "a": [],
        "Prepare_data_b": ["a"],
        "Prepare_data_Inner_c": ["Prepare_data_b"],
        "d": ["Prepare_data_Inner_c"],
    }
    assert doc == saved
