"""The pipeline model: Elyra files read unchanged, round trips, defaults merge, graph utilities."""

from __future__ import annotations

import json

import pytest
from fixture_paths import ELYRA_FIXTURES
from pipeline_builder import node, pipeline

from mlpipe_lab.pipeline import Graph, dumps, load, parse, slugify, subgraph, unique_ids
from mlpipe_lab.pipeline.model import merge_defaults


@pytest.mark.parametrize("name", ["hello_world", "props_demo"])
def test_elyra_fixture_round_trips_as_equal_json(name):
    text = (ELYRA_FIXTURES / name / f"{name}.pipeline").read_text()
    doc = parse(text)
    assert json.loads(dumps(doc)) == json.loads(text)
    # and a second round trip is byte-stable
    assert dumps(parse(dumps(doc))) == dumps(doc)


def test_hello_world_reads_nodes_links_and_names():
    p = load(parse((ELYRA_FIXTURES / "hello_world/hello_world.pipeline").read_text()))
    assert p.name == "hello_world"
    assert p.version == 8
    assert [n.label for n in p.nodes] == ["hello.py", "world.py"]
    assert [n.op for n in p.nodes] == ["execute-python-node"] * 2
    hello, world = p.nodes
    assert Graph(p).parents(world.id) == [hello.id]
    assert Graph(p).children(hello.id) == [world.id]


def test_props_demo_defaults_merge_like_elyra():
    p = load(parse((ELYRA_FIXTURES / "props_demo/props_demo.pipeline").read_text()))
    hello = p.nodes[0]
    props = p.node_properties(hello)
    assert props["env_vars"] == [
        {"env_var": "STAGE", "value": "dev"},
        {"env_var": "MLFLOW_TRACKING_URI", "value": "http://mlflow:5000"},
    ]
    assert props["kubernetes_secrets"] == [
        {"env_var": "DB_PASS", "name": "db-creds", "key": "password"}
    ]
    assert props["kubernetes_shared_mem_size"] == {"size": 2}
    assert p.defaults["cos_object_prefix"] == "team-a/exp1"


def test_node_value_overrides_default_on_the_same_key_and_scalars_fall_back():
    defaults = {
        "runtime_image": "img:default",
        "env_vars": [{"env_var": "A", "value": "default"}, {"env_var": "B", "value": "b"}],
        "kubernetes_pod_labels": [{"key": "team", "value": "x"}],
        "mounted_volumes": [{"path": "/data", "pvc_name": "default-pvc"}],
    }
    node_params = {
        "filename": "a.py",
        "runtime_image": "",
        "env_vars": [
            {"env_var": "A", "value": "node"},
            {"env_var": "", "value": "half-filled row"},
        ],
        "mounted_volumes": [
            {"path": "/data", "pvc_name": "node-pvc"},
            {"path": "/x", "pvc_name": "x"},
        ],
    }
    merged = merge_defaults(node_params, defaults)
    assert merged["runtime_image"] == "img:default"
    assert merged["env_vars"] == [{"env_var": "A", "value": "node"}, {"env_var": "B", "value": "b"}]
    assert merged["kubernetes_pod_labels"] == [{"key": "team", "value": "x"}]
    assert merged["mounted_volumes"] == [
        {"path": "/data", "pvc_name": "node-pvc"},
        {"path": "/x", "pvc_name": "x"},
    ]


def test_legacy_elyra_formats_are_read_without_rewriting():
    """Before v7 properties sat in app_data; before v8 lists were 'KEY=value' strings."""
    doc = pipeline("old", [])
    doc["pipelines"][0]["app_data"]["version"] = 6
    doc["pipelines"][0]["nodes"] = [
        {
            "id": "n1",
            "type": "execution_node",
            "op": "execute-notebook-node",
            "app_data": {
                "filename": "a.ipynb",
                "runtime_image": "img:1",
                "env_vars": ["A=1", "B = two words"],
                "kubernetes_secrets": ["PASS=db-creds:password"],
                "mounted_volumes": ["/data=my-pvc"],
                "kubernetes_tolerations": ["gpu:Equal:true:NoSchedule"],
                "ui_data": {"label": "A notebook"},
            },
        }
    ]
    before = json.dumps(doc, sort_keys=True)
    p = load(doc)
    props = p.node_properties(p.nodes[0])
    assert p.nodes[0].filename == "a.ipynb"
    assert p.nodes[0].label == "A notebook"
    assert props["env_vars"] == [
        {"env_var": "A", "value": "1"},
        {"env_var": "B", "value": "two words"},
    ]
    assert props["kubernetes_secrets"] == [
        {"env_var": "PASS", "name": "db-creds", "key": "password"}
    ]
    assert props["mounted_volumes"] == [{"path": "/data", "pvc_name": "my-pvc"}]
    assert props["kubernetes_tolerations"] == [
        {"key": "gpu", "operator": "Equal", "value": "true", "effect": "NoSchedule"}
    ]
    assert json.dumps(doc, sort_keys=True) == before


def test_unknown_keys_survive_round_trip():
    doc = pipeline("p", [node("a", "a.py")])
    doc["x-other-tool"] = {"keep": [1, 2, 3]}
    doc["pipelines"][0]["nodes"][0]["app_data"]["ui_data"]["image"] = (
        "data:image/svg+xml;base64,AAA"
    )
    doc["pipelines"][0]["app_data"]["mlpipe"] = {"schedule": "@daily"}
    assert parse(dumps(doc)) == doc


def test_topological_order_is_stable_and_follows_links():
    nodes = [
        node("d", "d.py", parents=["b", "c"]),
        node("b", "b.py", parents=["a"]),
        node("c", "c.py", parents=["a"]),
        node("a", "a.py"),
        node("e", "e.py"),
    ]
    g = Graph(load(pipeline("p", nodes)))
    order = g.topological_order()
    # ties are broken by position in the file: d, b, c, a, e
    assert order == ["a", "b", "c", "d", "e"]
    for child, parents in {"d": ["b", "c"], "b": ["a"], "c": ["a"]}.items():
        for parent in parents:
            assert order.index(parent) < order.index(child)
    assert order == Graph(load(pipeline("p", nodes))).topological_order()
    assert g.ancestors("d") == {"a", "b", "c"}
    assert g.descendants("a") == {"b", "c", "d"}
    assert g.children("a") == ["b", "c"]


def test_topological_order_raises_on_cycle_and_cycles_names_them():
    nodes = [
        node("a", "a.py", parents=["c"]),
        node("b", "b.py", parents=["a"]),
        node("c", "c.py", parents=["b"]),
        node("d", "d.py"),
    ]
    g = Graph(load(pipeline("p", nodes)))
    with pytest.raises(ValueError, match="cycle"):
        g.topological_order()
    assert g.cycles() == [["a", "b", "c"]]


def test_long_chain_has_no_recursion_limit():
    n = 5000
    nodes = [node("n0", "n0.py")] + [
        node(f"n{i}", f"n{i}.py", parents=[f"n{i - 1}"]) for i in range(1, n)
    ]
    g = Graph(load(pipeline("p", nodes)))
    assert g.cycles() == []
    assert g.topological_order()[-1] == f"n{n - 1}"


def test_subgraph_keeps_selection_and_links_among_it():
    nodes = [node("a", "a.py"), node("b", "b.py", parents=["a"]), node("c", "c.py", parents=["b"])]
    p = load(pipeline("p", nodes))
    only_c = load(subgraph(p, ["c"]))
    assert [n.id for n in only_c.nodes] == ["c"]
    assert only_c.links == []
    with_up = load(subgraph(p, ["c"], with_ancestors=True))
    assert [n.id for n in with_up.nodes] == ["a", "b", "c"]
    assert Graph(with_up).parents("c") == ["b"]
    assert [n.id for n in p.nodes] == ["a", "b", "c"]  # the original is untouched


@pytest.mark.parametrize(
    "text,expected",
    [
        ("hello.py", "hello"),
        ("Prepare data (v2).ipynb", "Prepare_data_v2"),
        ("  ", "task"),
        ("Über café", "Uber_cafe"),
        ("数据", "task"),
        ("a/b\\c'd\"e", "a_b_c_d_e"),
        ("x" * 300, "x" * 250),
    ],
)
def test_slugify(text, expected):
    assert slugify(text) == expected


def test_unique_ids_are_case_insensitive_and_suffixed():
    assert unique_ids(["a", "A", "a", "b"]) == ["a", "A_2", "a_3", "b"]
