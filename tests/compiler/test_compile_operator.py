"""Operator nodes through the plan and the renderer: arguments as literals, Jinja protection of
templated fields, XCom and parameter references, refusals naming node and field, imports for
Airflow 3 and 2. The node carries its operator's definition (``app_data.mlpipe.component``), the
fallback when no catalog holds it."""

from __future__ import annotations

import ast
import json

import compile_corpus as cc
import jinja2.sandbox
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlpipe_lab.compiler.compile import render_plan
from mlpipe_lab.compiler.operator import import_lines, import_modules, safe_module
from mlpipe_lab.pipeline.model import Pipeline
from mlpipe_lab.plan import plan

BASH_LIKE = '''
from airflow.models import BaseOperator


class RunOperator(BaseOperator):
    """Runs a command.

    :param bash_command: The command.
    :param env: Environment.
    :param retries_text: Not templated.
    """

    template_fields = ("bash_command", "env")
    template_ext = (".sh", ".bash")

    def __init__(self, *, bash_command: str, env: dict[str, str] | None = None,
                 count: int = 1, note: str = "", **kwargs):
        super().__init__(**kwargs)
'''
DEFINITION = {"kind": "airflow-operator", "definition": BASH_LIKE, "module": "acme.ops"}
JINJA = jinja2.sandbox.SandboxedEnvironment(extensions=["jinja2.ext.do"], cache_size=0)


def _node(nid, label, values, mlpipe=None, inputs=()):
    node = {
        "id": nid,
        "type": "execution_node",
        "op": "acme:RunOperator",
        "app_data": {
            "label": label,
            "component_parameters": values,
            "mlpipe": {"component": DEFINITION, **(mlpipe or {})},
        },
    }
    if inputs:
        node["inputs"] = [
            {"id": "inPort", "links": [{"id": f"l{i}", "node_id_ref": src, "port_id_ref": "outPort"}
                                       for i, src in enumerate(inputs)]}
        ]  # fmt: skip
    return node


def make(values: dict, parents=None, xcom=(), mlpipe=None, label="Run it", params=()):
    """(problems of the plan, the text of the node's operator call or None when it has errors).
    ``parents``: node id -> label of a parent node, an operator when in ``xcom`` (it pushes its
    return value), else a notebook node."""
    nodes = []
    for pid, plabel in (parents or {}).items():
        if pid in xcom:
            nodes.append(_node(pid, plabel, {"bash_command": "true"}))
        else:
            nodes.append(
                {
                    "id": pid,
                    "type": "execution_node",
                    "op": "execute-notebook-node",
                    "app_data": {
                        "label": plabel,
                        "component_parameters": {
                            "filename": "a.ipynb",
                            "runtime_image": "amancevice/pandas:jupyter-2.3.2",
                        },
                    },
                }
            )
    nodes.append(_node("n1", label, values, mlpipe, inputs=list(parents or {})))
    app = {"version": 8, "properties": {"name": "ops"}}
    if params:
        app["mlpipe"] = {"parameters": [dict(p) for p in params]}
    doc = {
        "doc_type": "pipeline",
        "version": "3.0",
        "primary_pipeline": "p",
        "pipelines": [{"id": "p", "nodes": nodes, "app_data": app}],
    }
    pipeline = Pipeline(doc)
    result = plan(pipeline, cc.CONFIG, cc.IMAGES, bundles={})
    if not result.ok:
        return result.problems, None
    text = render_plan(result, source_path="ops.pipeline", source_sha256="0" * 64)
    tree = ast.parse(text)
    calls = [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.Assign)
        and isinstance(n.value, ast.Call)
        and ast.unparse(n.value.func) == "RunOperator"
        and any(k.arg == "task_id" and ast.literal_eval(k.value) == result.tasks[-1].task_id
                for k in n.value.keywords)
    ]  # fmt: skip
    (call,) = calls
    return result.problems, ast.unparse(call)


def kwargs_of(text: str) -> dict:
    """Every keyword argument of the one call, each a pure literal (or a timedelta)."""
    tree = ast.parse(text)
    (stmt,) = tree.body
    assert isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Call)
    assert isinstance(stmt.value.func, ast.Name) and stmt.value.func.id == "RunOperator"
    assert not stmt.value.args
    out = {}
    for kw in stmt.value.keywords:
        if isinstance(kw.value, ast.Call):
            assert ast.unparse(kw.value.func) == "timedelta"
            out[kw.arg] = ast.unparse(kw.value)
        else:
            out[kw.arg] = ast.literal_eval(kw.value)
    return out


def errors(problems):
    return [(p.path, p.message) for p in problems if p.severity == "error"]


def test_values_of_every_elyra_format_become_literal_arguments():
    problems, text = make(
        {
            "bash_command": {"widget": "string", "value": "echo {{ ds }} && run.sh"},
            "env": '{"TEST_ENV": "Hello {{ x }}"}',  # Elyra 3 stored dicts as text
            "count": {"activeControl": "NumberControl", "NumberControl": "3"},
            "note": "",
            "xcom_push": True,  # Airflow 1 name
            "provide_context": False,  # removed in Airflow 2
            "files": "",  # an empty field of an argument the operator no longer has
            "mounted_volumes": [],  # Elyra's own node property
        },
        mlpipe={"retries": 2, "trigger_rule": "all_done", "execution_timeout_seconds": 60},
    )
    assert errors(problems) == []
    kw = kwargs_of(text)
    assert kw["task_id"] == "Run_it" and kw["task_display_name"] == "Run it"
    assert kw["bash_command"] == "{% raw %}echo {{ ds }} && run.sh{% endraw %}"
    assert kw["env"] == {"TEST_ENV": "{% raw %}Hello {{ x }}{% endraw %}"}
    assert kw["count"] == 3 and kw["note"] == "" and kw["do_xcom_push"] is True
    assert "provide_context" not in kw and "files" not in kw
    assert kw["retries"] == 2 and kw["trigger_rule"] == "all_done"
    assert kw["execution_timeout"] == "timedelta(seconds=60)"


def test_a_command_ending_in_a_template_extension_is_not_read_as_a_file():
    _, text = make({"bash_command": "deploy.sh"})
    assert kwargs_of(text)["bash_command"] == "{% raw %}deploy.sh{% endraw %}"
    assert JINJA.from_string(kwargs_of(text)["bash_command"]).render() == "deploy.sh"


def test_parameters_and_xcom_become_the_only_templates():
    problems, text = make(
        {
            "bash_command": {"widget": "inputpath", "value": {"value": "p1", "option": ""}},
            "env": {"widget": "string", "value": "{}"},
            "note": {"widget": "parameter", "value": "rate"},  # not templated
        },
        parents={"p1": "upstream"},
        xcom={"p1"},
        params=[{"name": "rate", "type": "number", "default": 0.1}],
    )
    assert errors(problems) == [
        (
            "component_parameters/note",
            "'note' is not templated by RunOperator, so it cannot take a pipeline parameter; "
            "give a value.",
        )
    ]
    problems, text = make(
        {"bash_command": {"widget": "inputpath", "value": {"value": "p1", "option": ""}}},
        parents={"p1": "upstream"},
        xcom={"p1"},
    )
    assert kwargs_of(text)["bash_command"] == "{{ ti.xcom_pull(task_ids='upstream') }}"
    problems, text = make(
        {"bash_command": {"widget": "parameter", "value": "rate"}},
        params=[{"name": "rate", "type": "string", "default": "x"}],
    )
    assert errors(problems) == [] and kwargs_of(text)["bash_command"] == "{{ params.rate }}"


@pytest.mark.parametrize(
    "values,parents,xcom,expected",
    [
        ({}, {}, (), ("component_parameters/bash_command", "RunOperator needs 'bash_command' (The command).")),
        ({"bash_command": "x", "nope": 1}, {}, (),
         ("component_parameters/nope", "RunOperator has no argument 'nope'.")),
        ({"bash_command": "x", "count": "many"}, {}, (),
         ("component_parameters/count", "'count' must be a whole number, not text.")),
        ({"bash_command": "x", "env": "{broken"}, {}, (),
         ("component_parameters/env", "'env' is not a valid JSON value.")),
        ({"bash_command": {"widget": "inputpath", "value": {"value": "p1", "option": ""}}},
         {"p1": "nb"}, (),
         ("component_parameters/bash_command",
          "'bash_command' takes the return value of 'nb', which pushes none (only operator nodes "
          "with do_xcom_push do).")),
        ({"bash_command": {"widget": "inputpath", "value": {"value": "zz", "option": ""}}}, {}, (),
         ("component_parameters/bash_command",
          "'bash_command' takes the output of a node that is not linked to this one; link it or "
          "choose another input.")),
        ({"bash_command": {"widget": "parameter", "value": "missing"}}, {}, (),
         ("component_parameters/bash_command",
          "'bash_command' takes pipeline parameter 'missing', which the pipeline does not define.")),
        ({"bash_command": {"widget": "file", "value": "cmd.txt"}}, {}, (),
         ("component_parameters/bash_command",
          "'bash_command' is read from a file, which mlpipe-lab does not do at export; paste the "
          "value into the field.")),
    ],
)  # fmt: skip
def test_refusals_name_the_field(values, parents, xcom, expected):
    problems, _ = make(values, parents=parents, xcom=xcom)
    assert errors(problems) == [expected]
    assert all(p.node_id == "n1" for p in problems if p.severity == "error")


def test_imports_for_both_airflow_majors():
    assert import_modules("airflow.providers.standard.operators.bash", "BashOperator") == (
        "airflow.providers.standard.operators.bash",
        "airflow.operators.bash",
    )
    assert import_modules("airflow.operators.python", "PythonOperator") == (
        "airflow.providers.standard.operators.python",
        "airflow.operators.python",
    )
    assert import_modules("airflow.operators.email", "EmailOperator") == (
        "airflow.providers.smtp.operators.smtp",
        "airflow.operators.email",
    )
    assert import_modules("airflow.providers.http.operators.http", "HttpOperator")[1] == (
        "airflow.providers.http.operators.http"
    )
    lines = import_lines(
        {
            "BashOperator": ("airflow.providers.standard.operators.bash", "BashOperator"),
            "HttpOperator": ("airflow.providers.http.operators.http", "HttpOperator"),
            "DAG_2": ("team.ops", "DAG"),
        },
        None,
    )
    assert lines == [  # sorted by module
        "from airflow.providers.http.operators.http import HttpOperator",
        "try:",
        "    from airflow.providers.standard.operators.bash import BashOperator",
        "except ImportError:  # Airflow 2.10+",
        "    from airflow.operators.bash import BashOperator",
        "from team.ops import DAG as DAG_2",
    ]
    assert import_lines({"B": ("airflow.providers.standard.operators.bash", "B")}, "2") == [
        "from airflow.operators.bash import B"
    ]
    assert safe_module("a.b_c") and not safe_module("a.import") and not safe_module("a;b")


# -- hostile text ---------------------------------------------------------------------------------

ANY_CHAR = st.characters(exclude_categories=())
FRAGMENTS = ["{{", "}}", "{%", "%}", "{#", "raw", "endraw", "'", '"', "\\", "\n", "\r", "\x00",
             ")", "(", "#", "import os", ".sh", "$(id)", "\ud800", "__import__('os')"]  # fmt: skip
hostile = st.lists(
    st.one_of(st.sampled_from(FRAGMENTS), st.text(ANY_CHAR, max_size=4)), max_size=8
).map("".join)


@given(command=hostile, env=hostile, note=hostile, key=hostile, label=hostile)
@settings(max_examples=200, deadline=None)
def test_hostile_text_stays_literal_and_renders_to_itself(command, env, note, key, label):
    problems, text = make(
        {"bash_command": command, "env": {"widget": "string", "value": {key: env}}, "note": note},
        label=label or "x",
    )
    if errors(problems):
        assert {p.code for p in problems if p.severity == "error"} == {"template-text"}
        assert "endraw" in command + env
        return
    text.encode("utf-8", "surrogatepass")
    kw = kwargs_of(text)  # one call, every argument a literal: nothing else in code position
    assert kw["note"] == note  # not templated: exactly the user's text
    for given_text, emitted in ((command, kw["bash_command"]), (env, kw["env"][key])):
        # Jinja turns \r\n and \r into \n, nothing else
        assert JINJA.from_string(emitted).render() == given_text.replace("\r\n", "\n").replace(
            "\r", "\n"
        )


CALLING = """
from airflow.models import BaseOperator


class CallOperator(BaseOperator):
    template_fields = ("op_args",)

    def __init__(self, *, python_callable: Callable, op_args: list | None = None, **kwargs):
        super().__init__(**kwargs)
"""


@pytest.mark.parametrize(
    "given,ok",
    [
        ("team.jobs.run", True),
        ("team.jobs:run", True),
        ("run", False),  # no module
        ("os.system('id')", False),
        ("a.import.b", False),
        ("team.jobs.run\nimport os", False),
        ("", False),
    ],
)
def test_a_function_is_given_by_its_import_path(given, ok):
    node = {
        "id": "n1",
        "type": "execution_node",
        "op": "acme:CallOperator",
        "app_data": {
            "label": "Call",
            "component_parameters": {"python_callable": given, "op_args": "[1, 2]"},
            "mlpipe": {
                "component": {"kind": "airflow-operator", "definition": CALLING, "module": "acme"}
            },
        },
    }
    doc = {"primary_pipeline": "p", "pipelines": [{"id": "p", "nodes": [node]}]}
    result = plan(Pipeline(doc), cc.CONFIG, cc.IMAGES, bundles={})
    if not ok:
        assert [(p.path, p.severity) for p in result.errors] == [
            ("component_parameters/python_callable", "error")
        ]
        assert "import path" in result.errors[0].message or "needs" in result.errors[0].message
        return
    assert result.ok, result.errors
    text = render_plan(result, source_path="p.pipeline", source_sha256="0" * 64)
    cc.check_dag_ast(text, operators=[("acme", "CallOperator"), ("team.jobs", "run")])
    assert "from team.jobs import run\n" in text
    assert "python_callable=run," in text and "op_args=[1, 2]," in text


def test_a_local_run_refuses_operator_nodes_in_words(tmp_path):
    from mlpipe_lab.localrun.run import LocalRunError, run_pipeline

    node = {
        "id": "n1",
        "type": "execution_node",
        "op": "acme:RunOperator",
        "app_data": {
            "label": "Run it",
            "component_parameters": {"bash_command": "true"},
            "mlpipe": {"component": DEFINITION},
        },
    }
    doc = {
        "doc_type": "pipeline",
        "version": "3.0",
        "primary_pipeline": "p",
        "pipelines": [
            {"id": "p", "nodes": [node], "app_data": {"version": 8, "properties": {"name": "x"}}}
        ],
    }
    path = tmp_path / "x.pipeline"
    path.write_text(json.dumps(doc))
    with pytest.raises(LocalRunError) as refused:
        run_pipeline(path, artifacts_root=tmp_path / "artifacts")
    assert "Local runs do not run operator and component nodes yet (Run it)" in str(refused.value)
