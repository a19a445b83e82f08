"""Approval gates in the plan: the task, its message and timeout, located problems, and the
Airflow 2 refusal (docs/control-flow.md)."""

from __future__ import annotations

import copy

import compile_corpus as cc
from approval_fixtures import gate, gated
from pipeline_builder import node, pipeline

from mlpipe_lab.plan import check
from mlpipe_lab.plan.model import APPROVAL, Approval
from mlpipe_lab.plan.values import Join, ParamRef

LOCAL = {"name": "local", "type": "local", "local": {"artifacts_path": "/srv/artifacts"}}
AIRFLOW_2 = {**copy.deepcopy(cc.CONFIG), "name": "old"}
AIRFLOW_2["airflow"]["version"] = "2"
AIRFLOW_3 = {**copy.deepcopy(cc.CONFIG), "name": "new"}
AIRFLOW_3["airflow"]["version"] = "3"


def checked(doc, config=LOCAL):
    return check(copy.deepcopy(doc), config=config, images=cc.IMAGES, source="p.pipeline")


def located(problems):
    return [(p.severity, p.node_label, p.path, p.code) for p in problems]


def test_gate_is_an_approval_task_between_its_neighbours():
    plan = checked(gated(timeout_seconds=600, on_timeout="approve")).plan
    assert [t.task_id for t in plan.tasks] == ["prepare", "approve", "deploy"]
    gate_task = plan.task("approve")
    assert gate_task.kind == APPROVAL
    assert gate_task.upstream == ["prepare"]
    assert gate_task.approval == Approval(
        message=Join(("Deploy model ", ParamRef("model"), "?")), timeout=600, on_timeout="approve"
    )
    assert gate_task.execution_timeout == 600
    assert gate_task.image is None and gate_task.command.argv == []
    # the node after the gate waits for it and receives the outputs of the node before it
    assert plan.task("deploy").upstream == ["approve"]
    assert plan.task("deploy").inputs == ["prepare"]
    assert "--upstream" in plan.task("deploy").command.args
    assert plan.caching(gate_task, default=True) == (False, None)


def test_defaults_reject_and_no_timeout():
    doc = gated()
    del doc["pipelines"][0]["nodes"][1]["app_data"]["component_parameters"]["message"]
    plan = checked(doc, AIRFLOW_3).plan
    assert plan.ok, plan.problems
    assert plan.task("approve").approval == Approval("Approve 'approve'?", None, "reject")
    assert plan.task("approve").execution_timeout is None  # never the DAG's default


def test_airflow_2_configuration_refuses_the_gate_naming_node_and_configuration():
    result = checked(gated(), AIRFLOW_2)
    errors = [p for p in result.errors if p.code == "approval-airflow-2"]
    assert len(errors) == 1
    assert errors[0].node_label == "approve" and errors[0].pipeline == "gated"
    assert errors[0].message.startswith("approval gates need Airflow 3.1 or newer (node 'approve')")
    assert "'old'" in errors[0].message
    # detect and 3 do not refuse; the local runtime does not either
    for config in (cc.CONFIG, AIRFLOW_3, LOCAL):
        assert not [p for p in checked(gated(), config).errors if p.code.startswith("approval")]


def test_bad_properties_are_located():
    doc = gated(timeout_seconds=0, on_timeout="maybe", message="Deploy {{ params.nope }}?")
    problems = located(checked(doc).errors)
    assert ("error", "approve", "component_parameters/timeout_seconds", "schema") in problems
    assert ("error", "approve", "component_parameters/on_timeout", "schema") in problems
    assert ("error", "approve", "component_parameters/message", "parameter") in problems
    extra = gated(colour="red")
    assert any(p[3] == "schema" and p[1] == "approve" for p in located(checked(extra).errors)), (
        checked(extra).errors
    )


def test_approve_on_timeout_without_timeout_is_a_warning():
    result = checked(gated(on_timeout="approve"))
    assert result.plan.ok
    assert ("warning", "approve", "component_parameters/on_timeout", "approval") in located(
        result.problems
    )


def test_message_text_that_cannot_be_protected_is_refused():
    doc = gated(message="{% raw %} endraw {{ params.model }}")
    assert ("error", "approve", "component_parameters/message", "template-text") in located(
        checked(doc, AIRFLOW_3).errors
    )


def test_a_gate_needs_no_runtime_image_even_for_pods():
    doc = pipeline(
        "only-gate",
        [node("a", "a.py", image="python:3.11"), gate("g", parents=["a"], message="ok?")],
    )
    result = checked(doc, AIRFLOW_3)
    assert not [p for p in result.errors if p.node_label == "g"], result.errors
