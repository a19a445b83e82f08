"""Branch nodes (``mlpipe:branch``, docs/control-flow.md) in the plan: a task of kind branch whose
``Branch`` names task ids; what cannot be decided is a located Problem; joins after a branch run
when one path was skipped; the evaluator (plan/branching.py) that the DAG and local runs share."""

from __future__ import annotations

import copy
import json

import compile_corpus as cc
import pytest
from pipeline_builder import branch, node, pipeline

from mlpipe_lab.pipeline import Pipeline, dumps
from mlpipe_lab.pipeline import document as pipeline_document
from mlpipe_lab.plan import check, plan
from mlpipe_lab.plan.branching import (
    mlpipe_branch,
    mlpipe_branch_choose,
    mlpipe_branch_match,
    mlpipe_branch_value,
)
from mlpipe_lab.plan.model import BRANCH, FROM_RESULT, Branch, BranchRule, ValueFrom

LOCAL = {"name": "local", "type": "local", "local": {"artifacts_path": "/srv/artifacts"}}
PARAMS = {"parameters": [{"name": "mode", "type": "string", "default": "fast"}]}


def branch_node(node_id, *, parents=(), label="Good enough?", **params):
    return branch(node_id, parents, label, **params)


def doc(rules=None, otherwise=("retrain",), value=None, extra=(), join_mlpipe=None):
    """train -> gate -> {deploy, retrain} -> report (a join)."""
    value = value or {"from": "result", "node": "train", "key": "metrics.accuracy"}
    rules = rules if rules is not None else [{"op": ">=", "value": 0.9, "run": ["deploy"]}]
    nodes = [
        node("train", "train.py", label="Train", outputs=["model.pkl"]),
        branch_node(
            "gate", parents=["train"], value_from=value, rules=rules, otherwise=list(otherwise)
        ),
        node("deploy", "deploy.py", parents=["gate"], label="Deploy"),
        node("retrain", "retrain.py", parents=["gate"], label="Retrain"),
        node(
            "report", "report.py", parents=["deploy", "retrain"], label="Report", mlpipe=join_mlpipe
        ),
        *extra,
    ]
    return pipeline("gated", nodes, mlpipe=copy.deepcopy(PARAMS))


def _plan(d, config=LOCAL):
    return plan(Pipeline(copy.deepcopy(d), "gated.pipeline"), copy.deepcopy(config), cc.IMAGES)


def _errors(p):
    return [(e.node_id, e.path, e.code) for e in p.errors]


def test_the_branch_is_a_task_that_decides_in_task_ids():
    p = _plan(doc())
    assert p.ok, [e.describe() for e in p.errors]
    gate = p.task("Good_enough")
    assert gate.kind == BRANCH and gate.command.argv == []
    assert gate.upstream == ["Train"]
    assert gate.branch == Branch(
        value=ValueFrom(FROM_RESULT, task_id="Train", node_id="train", key=("metrics", "accuracy")),
        rules=[BranchRule(op=">=", value=0.9, run=["Deploy"])],
        otherwise=["Retrain"],
        targets=["Deploy", "Retrain"],
    )
    assert p.task("Train").returns_result
    # the nodes after the branch receive what was before it (a branch has no outputs)
    assert p.task("Deploy").inputs == ["Train"] and p.task("Deploy").upstream == ["Good_enough"]
    # the join runs when one path was skipped; single-parent tasks keep all_success
    assert p.task("Report").trigger_rule == "none_failed_min_one_success"
    assert p.task("Deploy").trigger_rule is None
    # not a runner task: never cached, needs no image
    assert p.caching(gate, default=True) == (False, None)


def test_a_join_keeps_its_own_trigger_rule():
    p = _plan(doc(join_mlpipe={"trigger_rule": "all_done"}))
    assert p.task("Report").trigger_rule == "all_done"


def test_a_parameter_branch_needs_no_result_and_no_image():
    d = doc(
        value={"from": "parameter", "parameter": "mode"},
        rules=[{"op": "in", "value": ["fast", "quick"], "run": ["deploy"]}],
    )
    for config in (LOCAL, cc.CONFIG):
        p = _plan(d, config)
        assert p.ok, [e.describe() for e in p.errors]
        assert not any(t.returns_result for t in p.tasks)
        assert p.task("Good_enough").image is None


@pytest.mark.parametrize(
    "rules, otherwise, path, words",
    [
        ([], ["retrain"], "component_parameters/rules", "at least one rule"),
        (
            [{"op": "~", "value": 1, "run": ["deploy"]}],
            [],
            "component_parameters/rules/0/op",
            "not one of",
        ),
        (
            [{"op": "in", "value": 3, "run": ["deploy"]}],
            [],
            "component_parameters/rules/0/value",
            "a list of values",
        ),
        (
            [{"op": ">", "value": [1], "run": ["deploy"]}],
            [],
            "component_parameters/rules/0/value",
            "a number or a text",
        ),
        (
            [{"op": ">", "value": True, "run": ["deploy"]}],
            [],
            "component_parameters/rules/0/value",
            "a number or a text",
        ),
        (
            [{"op": "==", "run": ["deploy"]}],
            [],
            "component_parameters/rules/0/value",
            "give the value",
        ),
        (
            [{"op": "is true", "value": 1, "run": ["deploy"]}],
            [],
            "component_parameters/rules/0/value",
            "takes no value",
        ),
        (
            [{"op": "==", "value": 1, "run": ["report"]}],
            [],
            "component_parameters/rules/0/run/0",
            "node 'Report' is not",
        ),
        (
            [{"op": "==", "value": 1, "run": ["deploy", "nope"]}],
            [],
            "component_parameters/rules/0/run/1",
            "'nope' (no such node)",
        ),
        (
            [{"op": "==", "value": 1, "run": ["deploy"]}],
            ["train"],
            "component_parameters/otherwise/0",
            "node 'Train' is not",
        ),
    ],
)
def test_located_refusals(rules, otherwise, path, words):
    p = _plan(doc(rules=rules, otherwise=otherwise))
    errors = [e for e in p.errors if e.path == path]
    assert errors, [e.describe() for e in p.problems]
    assert errors[0].node_id == "gate" and errors[0].pipeline == "gated"
    assert errors[0].node_label == "Good enough?"
    assert words in errors[0].message
    assert p.task("Good_enough").branch is None


def test_value_from_refusals_name_the_branch_field():
    p = _plan(doc(value={"from": "result", "node": "deploy"}))
    assert ("gate", "component_parameters/value_from/node", "value-from") in _errors(p)


def test_validation_reports_schema_and_plan_problems_with_paths():
    d = doc(rules=[{"op": "~", "run": ["deploy"]}])
    checked = check(copy.deepcopy(d), config=LOCAL, images=cc.IMAGES, source="gated.pipeline")
    located = {(p.node_id, p.path) for p in checked.problems if p.severity == "error"}
    assert ("gate", "component_parameters/rules/0/op") in located


def test_a_node_linked_after_the_branch_that_nothing_names_is_a_warning():
    extra = [node("idle", "idle.py", parents=["gate"], label="Idle")]
    p = _plan(doc(extra=extra))
    assert p.ok
    warnings = [w for w in p.problems if w.code == "branch"]
    assert len(warnings) == 1 and "'Idle'" in warnings[0].message


def test_the_pipeline_file_round_trips_unchanged():
    d = doc()
    text = dumps(d)
    parsed = pipeline_document.parse(text, pipeline="gated.pipeline")
    assert parsed == d
    view = Pipeline(parsed, "gated.pipeline")
    gate = view.node_by_id["gate"]
    assert gate.is_branch and gate.is_task and not gate.is_component
    assert gate.parameters == d["pipelines"][0]["nodes"][1]["app_data"]["component_parameters"]
    _plan(d)  # planning reads, never writes
    assert dumps(parsed) == text and json.loads(text) == d


# -- the evaluator (the DAG's callable and the local engine) ------------------------------------

SPEC = {
    "task_id": "gate",
    "value_from": {"from": "result", "task_id": "train", "key": ["metrics", "accuracy"]},
    "parse": False,
    "rules": [
        {"op": ">=", "value": 0.9, "run": ["deploy"]},
        {"op": "in", "value": [0.5, 0.6], "run": ["retrain", "report"]},
    ],
    "otherwise": [],
}


@pytest.mark.parametrize(
    "op, value, operand, expected",
    [
        ("==", "a", "a", True),
        ("!=", 1, 1, False),
        ("<", 1, 2, True),
        ("<=", 2, 2, True),
        (">", "b", "a", True),
        (">=", 0.89, 0.9, False),
        ("in", 2, [1, 2], True),
        ("not in", 2, [1, 2], False),
        ("is true", True, None, True),
        ("is true", 1, None, False),
        ("is false", False, None, True),
        ("==", 1, 1.0, True),
    ],
)
def test_match(op, value, operand, expected):
    assert mlpipe_branch_match(op, value, operand) is expected


def test_unlike_values_are_an_error_not_a_silent_no():
    with pytest.raises(ValueError, match="compare numbers or texts"):
        mlpipe_branch_match("<", "0.9", 1)


def test_choose_first_match_wins_otherwise_may_be_empty():
    assert mlpipe_branch_choose(SPEC, 0.95) == (["deploy"], 0)
    assert mlpipe_branch_choose(SPEC, 0.5) == (["retrain", "report"], 1)
    assert mlpipe_branch_choose(SPEC, 0.7) == ([], None)


def test_value_from_a_result_or_its_json_text_or_a_parameter():
    result = {"metrics": {"accuracy": 0.93}, "runs": [{"ok": True}]}
    assert mlpipe_branch_value(SPEC, {}, lambda t: result) == 0.93
    parsed = {**SPEC, "parse": True}
    assert mlpipe_branch_value(parsed, {}, lambda t: json.dumps(result)) == 0.93
    listed = {**SPEC, "value_from": {"from": "result", "task_id": "t", "key": ["runs", "0", "ok"]}}
    assert mlpipe_branch_value(listed, {}, lambda t: result) is True
    param = {**SPEC, "value_from": {"from": "parameter", "parameter": "mode"}}
    assert mlpipe_branch_value(param, {"mode": "fast"}, None) == "fast"
    with pytest.raises(ValueError, match="has no key 'metrics.loss'"):
        missing = {**SPEC, "value_from": {**SPEC["value_from"], "key": ["metrics", "loss"]}}
        mlpipe_branch_value(missing, {}, lambda t: result)
    with pytest.raises(ValueError, match="returned no result"):
        mlpipe_branch_value(SPEC, {}, lambda t: None)


def test_the_operator_callable():
    class TI:
        def xcom_pull(self, task_ids):
            assert task_ids == "train"
            return {"metrics": {"accuracy": 0.91}}

    assert mlpipe_branch(SPEC)(ti=TI(), params={}) == ["deploy"]
