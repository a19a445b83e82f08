"""A fan-out in the DAG file (compiler/mapping.py): the items task gets user text only inside one
literal (the spec), the node's task is mapped with its parallelism, pods carry the runner's
arguments in cmds, workers use the BashOperator subclass; what reads a fan-out's result is
refused."""

from __future__ import annotations

import ast
import copy

import compile_corpus as cc
import pytest
from pipeline_builder import node, pipeline

from mlpipe_lab.compiler.compile import compile_pipeline
from mlpipe_lab.pipeline import Pipeline
from mlpipe_lab.plan import plan as make_plan

HOSTILE = "x'}}{{ 7*7 }}\"\n{% endraw %}__import__('os')"
PARAMS = {"parameters": [{"name": "shards", "type": "list", "default": [HOSTILE, 1]}]}


def _doc(source="parameter", label="work"):
    value = (
        {"from": "parameter", "parameter": "shards"}
        if source == "parameter"
        else {"from": "result", "node": "p", "key": f"a.{HOSTILE.replace('.', '_')}"}
    )
    return pipeline(
        "fan",
        [
            node("p", "prep.py", label="prep"),
            node(
                "w",
                "work.ipynb",
                parents=["p"],
                label=label,
                mlpipe={"for_each": {"value_from": value, "max_parallel": 3}},
            ),
            node("j", "join.py", parents=["w"], label="join"),
        ],
        mlpipe=PARAMS,
    )


def _compile(doc, worker=False, target=None):
    config = copy.deepcopy(cc.CONFIG)
    if worker:
        config.setdefault("airflow", {})["execution_mode"] = "local-worker"
    return compile_pipeline(
        Pipeline(doc, "fan.pipeline"),
        images=cc.IMAGES,
        config=config,
        source_path="fan.pipeline",
        target=target,
    ).text


def _calls(tree, name):
    return [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == name
    ]


@pytest.mark.parametrize("worker", [False, True])
@pytest.mark.parametrize("source", ["parameter", "result"])
def test_user_text_reaches_the_items_task_only_as_a_literal(worker, source):
    text = _compile(_doc(source, label=HOSTILE), worker=worker)
    tree = ast.parse(text)
    (call,) = _calls(tree, "mlpipe_items")
    spec = ast.literal_eval(call.args[0])
    assert spec["task_id"] == "work" or spec["task_id"].startswith("x")
    assert spec["limit"] == 1000 and spec["parse"] is worker  # a worker pushes JSON text
    if source == "result":
        assert spec["value_from"] == {
            "from": "result",
            "task_id": "prep",
            "key": ["a", HOSTILE.replace(".", "_")],
        }
    else:
        assert spec["value_from"] == {"from": "parameter", "parameter": "shards"}
    # the functions and the worker class are the compiler's own, nothing else is defined
    defined = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    expected = {"mlpipe_branch_lookup", "mlpipe_branch_value", "mlpipe_items_args", "mlpipe_items"}
    assert defined == expected | ({"MlpipeItemBashOperator"} if worker else set())


def test_pod_and_worker_shapes():
    pods = _compile(_doc())
    assert "KubernetesPodOperator.partial(" in pods
    assert ").expand(arguments=work__items.output)" in pods
    assert "max_active_tis_per_dagrun=3" in pods
    assert "cmds=RUNNER" in pods  # the others name the runner themselves
    assert "prep >> [work__items, work]" in pods and "work >> join" in pods
    assert '"--upstream-items", "work"' in pods
    worker = _compile(_doc(), worker=True)
    assert "MlpipeItemBashOperator.partial(" in worker
    assert ").expand(item_args=work__items.output)" in worker
    for target, line in (
        ("3", "from airflow.providers.standard.operators.python import PythonOperator"),
        ("2", "from airflow.operators.python import PythonOperator"),
    ):
        assert line in _compile(_doc(), target=target)


def test_reading_a_fan_out_nodes_result_is_refused():
    doc = pipeline(
        "fan",
        [
            node(
                "w",
                "work.py",
                label="work",
                mlpipe={"for_each": {"value_from": {"from": "parameter", "parameter": "shards"}}},
            ),
            {
                "id": "b",
                "type": "execution_node",
                "op": "mlpipe:branch",
                "app_data": {
                    "label": "b",
                    "component_parameters": {
                        "value_from": {"from": "result", "node": "w"},
                        "rules": [{"op": "is true", "run": ["c"]}],
                    },
                },
                "inputs": [
                    {
                        "id": "inPort",
                        "links": [{"id": "l1", "node_id_ref": "w", "port_id_ref": "outPort"}],
                    }
                ],
                "outputs": [{"id": "outPort"}],
            },
            node("c", "c.py", parents=["b"], label="c"),
        ],
        mlpipe=PARAMS,
    )
    result = make_plan(Pipeline(doc, "fan.pipeline"), cc.CONFIG, cc.IMAGES)
    found = [(p.node_id, p.path, p.code) for p in result.errors]
    assert ("w", "mlpipe/for_each", "for-each") in found, found
