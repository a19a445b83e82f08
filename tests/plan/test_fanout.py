"""Fan-out in the plan (docs/control-flow.md): ``mlpipe.for_each`` on a notebook/Python/R node
becomes ``Task.for_each``; its downstream reads every item (``--upstream-items``); what cannot
fan out is a Problem naming pipeline, node and field."""

from __future__ import annotations

import copy

import compile_corpus as cc
import jsonschema
import pytest
from pipeline_builder import node, pipeline

from mlpipe_lab.pipeline import Pipeline
from mlpipe_lab.plan.model import FROM_PARAMETER, FROM_RESULT, ForEach, ValueFrom
from mlpipe_lab.plan.planner import Planner
from mlpipe_lab.plan.values import ItemCount, Join
from mlpipe_lab.schemas import load_schema

LIST = {"name": "shards", "type": "list", "default": ["a", "b", "c"]}
PARAMS = {"parameters": [LIST, {"name": "mode", "type": "string", "default": "fast"}]}
FROM_SHARDS = {"value_from": {"from": "parameter", "parameter": "shards"}}


def _plan(nodes, mlpipe=PARAMS, config=cc.CONFIG):
    doc = pipeline("fan", nodes, mlpipe=copy.deepcopy(mlpipe))
    return Planner(
        Pipeline(doc, "fan.pipeline"), copy.deepcopy(config), cc.IMAGES, None, None
    ).run()


def _problems(plan, code=None):
    return [
        (p.pipeline, p.node_id, p.path, p.code)
        for p in plan.problems
        if p.severity == "error" and (code is None or p.code == code)
    ]


def _args(task):
    return [a if isinstance(a, str) else repr(a) for a in task.command.args]


def test_a_list_parameter_source_becomes_for_each_and_downstream_reads_each_item():
    plan = _plan(
        [
            node("p", "prep.py", label="prep"),
            node(
                "m",
                "work.py",
                parents=["p"],
                label="work",
                mlpipe={"for_each": {**FROM_SHARDS, "max_parallel": 2}},
            ),
            node("d", "join.py", parents=["m", "p"], label="join"),
        ]
    )
    assert plan.ok, plan.problems
    work, join = plan.task("work"), plan.task("join")
    assert work.for_each == ForEach(
        ValueFrom(FROM_PARAMETER, parameter="shards"), 2, "item", "work__items"
    )
    assert (
        "--item-parameter" in _args(work)
        and _args(work)[_args(work).index("--item-parameter") + 1] == "item"
    )
    assert plan.task("prep").for_each is None and join.for_each is None
    args = _args(join)
    # the fan-out and its item count in this run (the DAG renders it, a local run fills it in)
    assert join.command.args[args.index("--upstream-items") + 1] == Join(
        ("work=", ItemCount("work", "work__items"))
    )
    assert args[args.index("--upstream") + 1] == "prep" and args.count("--upstream") == 1
    # the DAG declares the parameter as an array
    spec = next(p for p in plan.dag.params if p.name == "shards")
    assert spec.type == "array" and spec.default == ["a", "b", "c"]


def test_defaults_and_result_source():
    plan = _plan(
        [
            node("p", "prep.py", label="prep"),
            node(
                "m",
                "work.py",
                parents=["p"],
                label="work",
                mlpipe={
                    "for_each": {"value_from": {"from": "result", "node": "p", "key": "files"}}
                },
            ),
        ]
    )
    assert plan.ok, plan.problems
    fe = plan.task("work").for_each
    assert fe == ForEach(
        ValueFrom(FROM_RESULT, task_id="prep", node_id="p", key=("files",)),
        4,
        "item",
        "work__items",
    )
    assert plan.task("prep").returns_result


@pytest.mark.parametrize(
    "for_each, path, words",
    [
        (
            {"value_from": {"from": "parameter", "parameter": "mode"}},
            "mlpipe/for_each/value_from/parameter",
            "not a list",
        ),
        ({**FROM_SHARDS, "max_parallel": 0}, "mlpipe/for_each/max_parallel", "1 to 64"),
        ({**FROM_SHARDS, "max_parallel": 65}, "mlpipe/for_each/max_parallel", "1 to 64"),
        ({**FROM_SHARDS, "max_parallel": True}, "mlpipe/for_each/max_parallel", "1 to 64"),
        (
            {**FROM_SHARDS, "item_parameter": "no-dash"},
            "mlpipe/for_each/item_parameter",
            "identifier",
        ),
        (
            {**FROM_SHARDS, "item_parameter": "mode"},
            "mlpipe/for_each/item_parameter",
            "also a pipeline parameter",
        ),
        (
            {"value_from": {"from": "parameter", "parameter": "nope"}},
            "mlpipe/for_each/value_from/parameter",
            "Unknown",
        ),
        ("shards", "mlpipe/for_each", "object"),
    ],
)
def test_refusals_are_located(for_each, path, words):
    plan = _plan(
        [
            node(
                "m",
                "work.py",
                label="work",
                mlpipe={"for_each": for_each},
                pipeline_parameters=["mode"],
            )
        ]
    )
    found = [p for p in plan.problems if p.severity == "error"]
    assert [(p.pipeline, p.node_id, p.path) for p in found] == [("fan", "m", path)], found
    assert words in found[0].message
    assert plan.task("work").for_each is None


def test_a_default_over_1000_items_is_refused_at_the_parameter():
    big = {"parameters": [{**LIST, "default": list(range(1001))}]}
    plan = _plan([node("m", "work.py", label="work", mlpipe={"for_each": FROM_SHARDS})], mlpipe=big)
    (problem,) = [p for p in plan.problems if p.severity == "error"]
    assert problem.path == "mlpipe/parameters/0/default" and "1001 items" in problem.message
    ok = _plan(
        [node("m", "work.py", label="work", mlpipe={"for_each": FROM_SHARDS})],
        mlpipe={"parameters": [{**LIST, "default": list(range(1000))}]},
    )
    assert ok.ok


def test_a_list_parameter_default_must_be_a_list():
    plan = _plan(
        [node("m", "work.py", label="work")], mlpipe={"parameters": [{**LIST, "default": "a"}]}
    )
    assert _problems(plan) == [("fan", None, "mlpipe/parameters/0/default", "parameter")]


def test_serve_and_other_nodes_cannot_fan_out():
    serve = {
        "id": "s",
        "type": "execution_node",
        "op": "mlpipe:serve-mlflow-model",
        "app_data": {
            "label": "serve",
            "component_parameters": {"model_uri": "models:/m/1"},
            "mlpipe": {"for_each": FROM_SHARDS},
        },
        "inputs": [{"id": "inPort"}],
        "outputs": [{"id": "outPort"}],
    }
    plan = _plan([node("m", "work.py", label="work"), serve])
    assert ("fan", "s", "mlpipe/for_each", "for-each") in _problems(plan)


def test_mapping_over_a_fan_out_nodes_result_is_refused():
    plan = _plan(
        [
            node("a", "a.py", label="a", mlpipe={"for_each": FROM_SHARDS}),
            node(
                "b",
                "b.py",
                parents=["a"],
                label="b",
                mlpipe={"for_each": {"value_from": {"from": "result", "node": "a"}}},
            ),
        ]
    )
    assert _problems(plan, "for-each") == [
        ("fan", "b", "mlpipe/for_each/value_from/node", "for-each"),
        ("fan", "a", "mlpipe/for_each", "for-each"),  # and a result is read from it
    ]


def test_items_task_id_clash_is_refused():
    plan = _plan(
        [
            node("m", "work.py", label="work", mlpipe={"for_each": FROM_SHARDS}),
            node("x", "x.py", label="x", mlpipe={"task_id": "work__items"}),
        ]
    )
    assert ("fan", "m", "mlpipe/for_each", "for-each") in _problems(plan)


def test_schema_accepts_for_each_and_list_parameters():
    schema = load_schema("node-properties")
    mlpipe = {"$defs": schema["$defs"], **schema["$defs"]["mlpipe"]}
    jsonschema.validate(
        {"for_each": {**FROM_SHARDS, "max_parallel": 8, "item_parameter": "shard"}}, mlpipe
    )
    for bad in (
        {"for_each": {**FROM_SHARDS, "max_parallel": 65}},
        {"for_each": {"max_parallel": 2}},
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, mlpipe)
    props = load_schema("pipeline-properties")
    param = {"$defs": props["$defs"], **props["$defs"]["parameter"]}
    jsonschema.validate(LIST, param)
