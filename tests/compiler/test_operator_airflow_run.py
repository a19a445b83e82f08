"""Operator nodes run for real: a pipeline of BashOperator nodes (Elyra's op id forms, resolved from
the Airflow providers installed in the Airflow venv) exported and run by ``airflow dags test`` in
Airflow 3.3 and 2.10. One node's command holds Jinja markers that must reach bash as typed; the
next runs the return value (XCom) of the first; a third runs a pipeline parameter's value; the last
runs after a failure (trigger rule all_done). PythonOperator nodes run functions the workers import
(given by import path) with literal arguments."""

from __future__ import annotations

from pathlib import Path

import compile_corpus as cc
import pytest
from fixture_paths import load_airflow_harness

from mlpipe_lab.compiler.compile import render_plan
from mlpipe_lab.components import ComponentIndex
from mlpipe_lab.pipeline.model import Pipeline
from mlpipe_lab.plan import plan

harness = load_airflow_harness()

pytestmark = pytest.mark.airflow

DAG_ID = "operators_for_real"
HOSTILE = "{{ ds }} {% if x %} {#c#} %} }}"


def _node(nid, label, op, values, parents=(), mlpipe=None):
    node = {
        "id": nid,
        "type": "execution_node",
        "op": op,
        "app_data": {"label": label, "component_parameters": values, "mlpipe": mlpipe or {}},
    }
    if parents:
        node["inputs"] = [
            {
                "id": "inPort",
                "links": [
                    {"id": f"{p}-{nid}", "node_id_ref": p, "port_id_ref": "outPort"}
                    for p in parents
                ],
            }
        ]
    return node


def pipeline_doc() -> dict:
    bash = "bash-operator_BashOperator"  # Elyra 3.0-3.2's id
    nodes = [
        # prints a command (with the user's Jinja markers, as typed) for the next node to run
        _node("a", "Say hello", bash, {"bash_command": f"echo \"echo '{HOSTILE}' $((6*7))\""}),
        _node(
            "b",
            "Run it",
            "local-directory-catalog:3a55d015ea96",  # Elyra 3.3's id of bash_operator.py
            {"bash_command": {"widget": "inputpath", "value": {"value": "a", "option": ""}}},
            parents=["a"],
        ),
        _node(
            "c",
            "From parameter",
            bash,
            {"bash_command": {"widget": "parameter", "value": "command"}},
            parents=["a"],
        ),
        _node("d", "Fails", bash, {"bash_command": "exit 3"}, parents=["b"]),
        # PythonOperator (Elyra 3.3's id in an Airflow package catalog): a function the workers
        # import, given by its import path, with literal arguments (Elyra stored lists as text)
        _node(
            "f",
            "Adds",
            "airflow-package-catalog:ce4bcf4f74a0:PythonOperator",
            {"python_callable": "operator.add", "op_args": "[2, 40]"},
        ),
        _node(
            "g",
            "Quotes",
            "airflow-package-catalog:ce4bcf4f74a0:PythonOperator",
            {"python_callable": "textwrap.dedent", "op_args": [HOSTILE]},
            parents=["f"],
        ),
        _node(
            "e",
            "Cleans up",
            bash,
            {"bash_command": "echo cleaned", "env": '{"A": "1"}', "append_env": True},
            parents=["d", "c"],
            mlpipe={"trigger_rule": "all_done", "retries": 0},
        ),
    ]
    return {
        "doc_type": "pipeline",
        "version": "3.0",
        "primary_pipeline": "p",
        "pipelines": [
            {
                "id": "p",
                "nodes": nodes,
                "app_data": {
                    "version": 8,
                    "properties": {"name": DAG_ID},
                    "mlpipe": {
                        "parameters": [
                            {"name": "command", "type": "string", "default": "echo from-param"}
                        ]
                    },
                },
            }
        ],
    }


def export_dag(folder: Path, providers: Path) -> str:
    from test_components_corpus import elyra_catalogs

    site = elyra_catalogs()
    index = ComponentIndex(
        [
            {"name": "examples", "type": "elyra-airflow-examples-catalog", "environment": site},
            {"name": "airflow", "type": "airflow-providers", "environment": str(providers)},
        ]
    )
    result = plan(Pipeline(pipeline_doc()), cc.CONFIG, cc.IMAGES, bundles={}, components=index)
    assert result.ok, [p.message for p in result.errors]
    assert [t.kind for t in result.tasks] == ["operator"] * 7
    text = render_plan(result, source_path="ops.pipeline", source_sha256="0" * 64)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{DAG_ID}.py").write_text(text)
    return text


@pytest.mark.parametrize("version", ["3.3", "2.10"])
def test_bash_operator_nodes_run_in_airflow_dags_test(version, tmp_path):
    venv = harness.require_airflow(version)
    providers = harness.require_airflow("3.3")  # the catalog: the newest providers' operators
    dags = tmp_path / "dags"
    text = export_dag(dags, providers)
    assert "from airflow.providers.standard.operators.bash import BashOperator" in text
    assert "from operator import add" in text and "python_callable=add" in text
    run = harness.dags_test(venv, dags, DAG_ID, tmp_path, timeout=420)
    states, out = run.states, run.out
    assert states == {
        "Say_hello": "success",
        "Run_it": "success",
        "From_parameter": "success",
        "Fails": "failed",
        "Cleans_up": "success",
        "Adds": "success",
        "Quotes": "success",
    }, out[-4000:]
    xcoms = run.xcoms
    # the user's text went through two templated fields and reached bash exactly as typed
    assert xcoms["Say_hello"] == f"echo '{HOSTILE}' 42"
    assert xcoms["Run_it"] == f"{HOSTILE} 42"
    assert xcoms["From_parameter"] == "from-param"
    assert xcoms["Cleans_up"] == "cleaned"
    assert xcoms["Adds"] == 42
    assert xcoms["Quotes"] == HOSTILE
