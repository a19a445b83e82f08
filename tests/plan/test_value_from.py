"""``value_from`` (docs/control-flow.md): a parameter or an upstream node's result becomes a typed
plan value with task ids; what cannot be read is a Problem naming pipeline, node and field."""

from __future__ import annotations

import copy

import compile_corpus as cc
import jsonschema
import pytest
from pipeline_builder import node, pipeline

from mlpipe_lab.pipeline import Pipeline
from mlpipe_lab.plan import flow
from mlpipe_lab.plan.model import FROM_PARAMETER, FROM_RESULT, ValueFrom
from mlpipe_lab.plan.planner import Planner
from mlpipe_lab.schemas import load_schema

PARAMS = {"parameters": [{"name": "mode", "type": "string", "default": "fast"}]}
PATH = "component_parameters/value_from"


def _planner(nodes, mlpipe=PARAMS, config=cc.CONFIG):
    doc = pipeline("flow", nodes, mlpipe=copy.deepcopy(mlpipe))
    p = Pipeline(doc, "flow.pipeline")
    planner = Planner(p, copy.deepcopy(config), cc.IMAGES, None, None)
    return p, planner


def _resolve(raw, target="c", nodes=None):
    nodes = nodes or [
        node("a", "a.py", label="Train"),
        node("b", "b.py", parents=["a"], label="Evaluate"),
        node("c", "c.py", parents=["b"], label="Deploy"),
        node("x", "x.py", label="Elsewhere"),
    ]
    p, planner = _planner(nodes)
    value = flow.value_from(planner, p.node_by_id[target], raw, PATH)
    return value, planner


def _problems(planner):
    return [(p.pipeline, p.node_id, p.node_label, p.path, p.code) for p in planner.problems]


def test_parameter_becomes_a_typed_value():
    value, planner = _resolve({"from": "parameter", "parameter": "mode"})
    assert value == ValueFrom(FROM_PARAMETER, parameter="mode")
    assert planner.problems == [] and planner.result_tasks == set()


def test_result_of_an_ancestor_names_its_task_and_the_task_returns_it():
    value, planner = _resolve({"from": "result", "node": "a", "key": "metrics.accuracy"})
    assert value == ValueFrom(
        FROM_RESULT, task_id="Train", node_id="a", key=("metrics", "accuracy")
    )
    assert value.key_text == "metrics.accuracy"
    plan = planner.run()
    assert [t.task_id for t in plan.tasks if t.returns_result] == ["Train"]


def test_whole_result_without_a_key():
    value, _ = _resolve({"from": "result", "node": "b"})
    assert value is not None and value.key == () and value.task_id == "Evaluate"
    value, _ = _resolve({"from": "result", "node": "b", "key": ""})
    assert value is not None and value.key == ()


def test_the_task_id_is_the_plans_not_the_nodes():
    nodes = [
        node("a", "a.py", label="Train", mlpipe={"task_id": "train_model"}),
        node("c", "c.py", parents=["a"]),
    ]
    value, _ = _resolve({"from": "result", "node": "a"}, nodes=nodes)
    assert value is not None and value.task_id == "train_model"


@pytest.mark.parametrize(
    "raw, field, words",
    [
        (None, "", "Choose where the value comes from"),
        ({"from": "env"}, "/from", "'from' must be"),
        ({"from": "parameter", "parameter": "speed"}, "/parameter", "Unknown pipeline parameter"),
        ({"from": "parameter"}, "/parameter", "Name the pipeline parameter"),
        ({"from": "result"}, "/node", "Choose the upstream node"),
        ({"from": "result", "node": "zz"}, "/node", "no node with id 'zz'"),
        ({"from": "result", "node": "x"}, "/node", "'Elsewhere' is not upstream"),
        ({"from": "result", "node": "c"}, "/node", "'Deploy' is not upstream"),  # itself
        ({"from": "result", "node": "a", "key": "a..b"}, "/key", "not a dotted path"),
        ({"from": "result", "node": "a", "key": ".a"}, "/key", "not a dotted path"),
        ({"from": "result", "node": "a", "key": 3}, "/key", "not a dotted path"),
    ],
)
def test_refusals_name_pipeline_node_and_field(raw, field, words):
    value, planner = _resolve(raw)
    assert value is None
    assert _problems(planner) == [("flow", "c", "Deploy", PATH + field, "value-from")]
    assert words in planner.problems[0].message
    assert planner.result_tasks == set()


def test_a_node_that_cannot_return_a_result():
    from serve_fixtures import serve_node

    nodes = [serve_node("s", parents=[]), node("c", "c.py", parents=["s"], label="Deploy")]
    value, planner = _resolve({"from": "result", "node": "s"}, nodes=nodes)
    assert value is None
    assert _problems(planner) == [("flow", "c", "Deploy", PATH + "/node", "value-from")]
    assert "cannot return a result" in planner.problems[0].message


def test_schema_def():
    schema = load_schema("node-properties")
    sub = {**schema, "$ref": "#/$defs/value_from"}
    ok = [
        {"from": "parameter", "parameter": "mode"},
        {"from": "result", "node": "a"},
        {"from": "result", "node": "a", "key": "metrics.accuracy"},
        {"from": "result", "node": "a", "key": ""},
    ]
    bad = [
        {"from": "parameter"},
        {"from": "result", "node": "a", "key": "a..b"},
        {"from": "result", "node": "a", "parameter": "x"},
        {"from": "other", "node": "a"},
    ]
    for value in ok:
        jsonschema.validate(value, sub)
    for value in bad:
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(value, sub)


WORKER = {**cc.CONFIG, "airflow": {**cc.CONFIG["airflow"], "execution_mode": "local-worker"}}
LOCAL = {"name": "local", "type": "local", "local": {"artifacts_path": "/srv/artifacts"}}


@pytest.mark.parametrize(
    "config, extra",
    [
        (cc.CONFIG, ["--result", "--xcom-file", "/airflow/xcom/return.json"]),
        (WORKER, ["--result", "--xcom-stdout"]),
        (LOCAL, ["--result"]),
    ],
)
def test_the_result_reaches_where_the_plan_reads_it(config, extra):
    from mlpipe_lab.compiler.compile import render_plan

    nodes = [node("a", "a.py", label="Train"), node("c", "c.py", parents=["a"], label="Deploy")]
    p, planner = _planner(nodes, config=config)
    flow.value_from(planner, p.node_by_id["c"], {"from": "result", "node": "a"}, PATH)
    plan = planner.run()
    train, deploy = plan.tasks
    args = train.command.args
    at = args.index("--task-id") + 2
    assert args[at : at + len(extra)] == extra
    assert "--result" not in deploy.command.args and not deploy.returns_result
    if config is LOCAL:
        return
    text = render_plan(plan, source_path="p.pipeline", source_sha256="0" * 64)
    if config is WORKER:  # BashOperator pushes its last line; the others push nothing
        assert 'RESULT_TASK_SETTINGS = {**TASK_SETTINGS, "do_xcom_push": True}' in text
        assert text.count("**RESULT_TASK_SETTINGS") == 1
    else:
        assert text.count("do_xcom_push=True") == 1
