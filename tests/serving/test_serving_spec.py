"""The serve node's typed spec: one vocabulary with the node properties, defaults only from the
schema, a --spec round trip, the expansion into tasks, and nothing raised for bad values."""

from __future__ import annotations

import dataclasses
import json

import pytest

from mlpipe_lab.schemas import load_schema
from mlpipe_lab.serving.spec import (
    STEPS,
    TARGETS,
    ServeSpec,
    SpecError,
    defaults,
    problems,
)

PROPERTIES = load_schema("node-properties")["$defs"]["serve_parameters"]["properties"]
# node properties that are not deployment settings: where the tasks run, and their secrets
NOT_IN_SPEC = {"runtime_image", "kubernetes_secrets", "deployment_name"}


def test_one_vocabulary_with_the_node_properties():
    fields = {f.name for f in dataclasses.fields(ServeSpec)}
    assert fields - {"name"} == set(PROPERTIES) - NOT_IN_SPEC
    assert set(PROPERTIES["target"]["enum"]) == set(TARGETS)


def test_defaults_come_from_the_schema_only():
    schema_defaults = {k: v["default"] for k, v in PROPERTIES.items() if "default" in v}
    assert defaults() == schema_defaults
    spec = ServeSpec(model_name="m", name="m")
    for key, value in schema_defaults.items():
        assert getattr(spec, key) == value, key
    # fields without a schema default have none here either
    for f in dataclasses.fields(ServeSpec):
        if f.name not in schema_defaults and f.name not in ("model_name", "name", "namespace"):
            assert getattr(spec, f.name) is None, f.name


def test_from_properties_converts_and_falls_back():
    spec = ServeSpec.from_properties(
        {
            "model_name": "Churn Model",
            "model_version": 3,
            "cpu": 1.5,
            "memory": 2,
            "replicas": "three",  # wrong type: the default (the schema check reports it)
            "target": "kubeflow",  # unknown: the default target
            "canary_traffic_percent": 10,
            "canary_max_p99_ms": 250,
            "deploy_on_alias_change": "yes",
        },
        namespace="ml-jobs",
        tracking_uri="http://mlflow:5000",
    )
    assert (spec.name, spec.namespace, spec.model_version) == ("churn-model", "ml-jobs", "3")
    assert (spec.cpu, spec.memory, spec.replicas) == ("1500m", "2G", 1)
    assert spec.target == defaults()["target"] and spec.tracking_uri == "http://mlflow:5000"
    assert spec.canary_max_p99_ms == 250.0 and spec.deploy_on_alias_change is False
    assert ServeSpec.from_properties({}).model_name == ""  # never raises


def test_spec_json_round_trip_without_defaults_or_secrets():
    spec = ServeSpec.from_properties(
        {
            "model_name": "churn",
            "model_alias": "champion",
            "tracking_uri": "http://mlflow:5000",
            "smoke_request": '{"data": {"ndarray": [[1, 2]]}}',
            "max_replicas": 3,
        }
    )
    doc = spec.to_json()
    assert doc == {
        "model_name": "churn",
        "name": "churn",
        "namespace": "default",
        "target": "seldon-v1",
        "model_alias": "champion",
        "max_replicas": 3,
    }
    again = ServeSpec.from_json(spec.to_text())
    assert again == spec.replace(tracking_uri=None, smoke_request=None)
    with pytest.raises(SpecError, match="does not know: password"):
        ServeSpec.from_json({**doc, "password": "x"})
    with pytest.raises(SpecError, match="not JSON"):
        ServeSpec.from_json("{")
    with pytest.raises(SpecError, match="needs a target"):
        ServeSpec.from_json({"name": "x", "namespace": "y"})


@pytest.mark.parametrize(
    "props, local, steps",
    [
        ({"target": "seldon-v1"}, False, ["package", "build", "deploy", "wait", "smoke"]),
        ({"target": "kserve"}, False, ["package", "build", "deploy", "wait", "smoke"]),
        ({"target": "kserve-mlserver"}, False, ["package", "deploy", "wait", "smoke"]),
        ({"target": "seldon-v2"}, False, ["package", "deploy", "wait", "smoke"]),
        ({"canary_traffic_percent": 20}, False, ["package", "build", "deploy", "rollout"]),
        ({"target": "seldon-v2", "canary_traffic_percent": 20}, False, None),
        (
            {"model_alias": "champion", "deploy_on_alias_change": True},
            False,
            ["registry", "package", "build", "deploy", "wait", "smoke"],
        ),
        (
            {"model_alias": "champion", "deploy_on_alias_change": True},
            True,
            ["registry", "package", "check"],
        ),
        ({"deploy_on_alias_change": True, "model_version": "3"}, True, ["package", "check"]),
    ],
)
def test_steps(props, local, steps):
    spec = ServeSpec.from_properties({"model_name": "m", **props})
    got = list(spec.steps(local))
    if steps is None:  # a target without canaries rolls out at once
        steps = ["package", "deploy", "wait", "smoke"]
    assert got == steps and set(got) <= set(STEPS) | {"check"}


def test_problems_name_the_field():
    def fields(props):
        return {
            (f, s) for _c, _m, f, s in problems({"model_name": "m", "model_version": "1", **props})
        }

    assert ("canary_traffic_percent", "warning") in fields(
        {"target": "seldon-v2", "canary_traffic_percent": 10}
    )
    assert ("image_repository", "error") in fields({"target": "kserve"})
    assert ("registry_secret", "error") in fields({"target": "kserve"})
    assert ("image_repository", "warning") in fields(
        {"target": "kserve-mlserver", "image_repository": "r/m"}
    )
    assert ("logger_url", "warning") in fields({"target": "seldon-v2", "logger_url": "http://x"})
    # our runtime logs requests on KServe too; only seldon-v1 gets an Ingress
    kserve = {"target": "kserve", "image_repository": "r/m", "registry_secret": "s"}
    assert fields({**kserve, "logger_url": "http://x"}) == set()
    assert fields({**kserve, "ingress_host": "h.example.com"}) == {("ingress_host", "warning")}
    text = json.dumps(problems({"model_name": "m", "target": "kserve"}))
    assert "kserve-mlserver" in text  # the message names the way out
