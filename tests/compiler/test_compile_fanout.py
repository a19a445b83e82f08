"""A fan-out in the DAG file (compiler/mapping.py): the items task gets user text only inside one
literal (the spec), the node's task is mapped with its parallelism, pods carry the runner's
arguments in cmds, workers use the BashOperator subclass; what reads a fan-out's result is
refused."""

from __future__ import annotations

import ast
import copy
import shlex

import compile_corpus as cc
import jinja2
import pytest
from pipeline_builder import branch, node, pipeline

from mlpipe_lab.compiler.compile import compile_pipeline
from mlpipe_lab.pipeline import Pipeline
from mlpipe_lab.plan import plan as make_plan
from mlpipe_lab.runner.contract import parse_args

COUNT = '{{ [ti.xcom_pull(task_ids="work__items")] | reject("none") | map("length") | join }}'
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
    assert '"--upstream-items", \'work=' + COUNT + "'" in pods
    worker = _compile(_doc(), worker=True)
    assert "MlpipeItemBashOperator.partial(" in worker
    assert ").expand(item_args=work__items.output)" in worker
    for target, line in (
        ("3", "from airflow.providers.standard.operators.python import PythonOperator"),
        ("2", "from airflow.operators.python import PythonOperator"),
    ):
        assert line in _compile(_doc(), target=target)


class _TI:
    """What the templates read of Airflow's task instance: the items task's XCom."""

    def __init__(self, items):
        self.items = items

    def xcom_pull(self, task_ids):
        assert task_ids == "work__items"
        return self.items


@pytest.mark.parametrize(
    "items, expected", [([["--item-index", "0"]] * 3, "work=3"), ([], "work=0"), (None, "work=")]
)
@pytest.mark.parametrize("worker", [False, True])
def test_the_downstream_is_told_how_many_items_there_were(worker, items, expected):
    """The join's --upstream-items carries the length of the items task's list, rendered by
    Jinja as Airflow renders the field (pods: one element of arguments; workers: the whole
    bash_command, each argument single-quoted); no XCom (the items task failed or was skipped):
    empty, the runner probes as before."""
    text = _compile(_doc(), worker=worker)
    (join,) = [
        c
        for c in ast.walk(ast.parse(text))
        if isinstance(c, ast.Call)
        and any(k.arg == "task_id" and ast.literal_eval(k.value) == "join" for k in c.keywords)
    ]
    kw = {k.arg: k.value for k in join.keywords if k.arg}
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)  # what Airflow uses
    if worker:
        command = env.from_string(ast.literal_eval(kw["bash_command"].right)).render(
            ti=_TI(items), run_id="r1"
        )
        args = shlex.split(command)
    else:
        args = [
            env.from_string(a).render(ti=_TI(items), run_id="r1")
            for a in ast.literal_eval(kw["arguments"])
        ]
    assert args[args.index("--upstream-items") + 1] == expected
    # pods: the store arguments are in the RUNNER constant
    store = ["--store", "local", "--root", "/r", "--run-prefix", "p"]
    assert parse_args(store + args[args.index("--kind") :]).upstream_items == [
        ("work", int(expected[5:]) if expected[5:] else None)
    ]


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
            branch(
                "b",
                ["w"],
                "b",
                value_from={"from": "result", "node": "w"},
                rules=[{"op": "is true", "run": ["c"]}],
            ),
            node("c", "c.py", parents=["b"], label="c"),
        ],
        mlpipe=PARAMS,
    )
    result = make_plan(Pipeline(doc, "fan.pipeline"), cc.CONFIG, cc.IMAGES)
    found = [(p.node_id, p.path, p.code) for p in result.errors]
    assert ("w", "mlpipe/for_each", "for-each") in found, found
