"""User text can never become code: hostile strings everywhere, checked on the AST, and
Jinja-templated fields render back to exactly the user's text."""

from __future__ import annotations

import ast
import io
import os
import posixpath
import tokenize

import compile_corpus as cc
import jinja2.sandbox
import pytest
from compile_corpus import node, pipeline, read_dag
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pipeline_builder import branch

from mlpipe_lab.compiler import compile_pipeline
from mlpipe_lab.compiler.emit import (
    Call,
    EmitError,
    Name,
    Splat,
    comment,
    jinja_safe,
    needs_raw,
    py_str,
)
from mlpipe_lab.compiler.kpo import ELYRA_DEFAULT_DESCRIPTIONS, doc_text
from mlpipe_lab.pipeline import Pipeline, PipelineError
from mlpipe_lab.plan.approval import default_message

IMG = "registry.example.com/ml/runtime:1.4"
EXAMPLES = int(os.environ.get("MLPIPE_HYPOTHESIS_EXAMPLES", "150"))  # raise it for a deeper search
# Airflow's template environment (DAG.get_template_env): sandboxed, jinja2.ext.do, defaults otherwise.
JINJA = jinja2.sandbox.SandboxedEnvironment(
    extensions=["jinja2.ext.do"], cache_size=0, undefined=jinja2.StrictUndefined
)


def render(text: str) -> str:
    """What Airflow makes of a templated string (every string of a templated field is rendered)."""
    return JINJA.from_string(text).render(params={}, run_id="manual__1")


def airflow_sees(text: str) -> str:
    """The user's text as it reaches the pod: Jinja turns \\r\\n and \\r into \\n, nothing else."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def compile_doc(doc, source="p.pipeline"):
    return compile_pipeline(
        Pipeline(doc, source), images=cc.IMAGES, config=cc.CONFIG, source_path=source
    )


# -- the emitter -----------------------------------------------------------------------------------

ANY_CHAR = st.characters(exclude_categories=())  # surrogates and control characters included


@given(st.text(ANY_CHAR))
@settings(max_examples=300)
def test_string_literals_round_trip(text):
    source = py_str(text)
    assert ast.literal_eval(source) == text
    assert "\n" not in source and "\r" not in source
    source.encode("utf-8")


@given(st.text(ANY_CHAR))
@settings(max_examples=300)
def test_comments_stay_comments(text):
    line = comment(text)
    line.encode("utf-8")
    assert ast.parse(line + "\n").body == []
    tokens = [
        t
        for t in tokenize.generate_tokens(io.StringIO(line + "\n").readline)
        if t.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.ENDMARKER)
    ]
    assert [t.type for t in tokens] == [tokenize.COMMENT]


@pytest.mark.parametrize(
    "name", ["os.system", "a b", "x)", "import", "1x", "a;b", "", "__import__('os')"]
)
def test_identifiers_are_checked(name):
    if name == "os.system":  # a dotted name is only allowed as a callee
        with pytest.raises(EmitError):
            Splat(name)
        return
    for make in (Name, Splat, lambda n: Call(n)):
        with pytest.raises(EmitError):
            make(name)


@given(st.text(ANY_CHAR.filter(lambda c: c not in "\r")))
@settings(max_examples=300)
def test_jinja_safe_renders_back(text):
    if needs_raw(text) and "endraw" in text:
        return
    assert render(jinja_safe(text)) == text


# -- the hostile corpus ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hostile():
    doc = cc.hostile()
    out = compile_doc(doc)
    return doc, Pipeline(doc, "p.pipeline"), out, read_dag(out.text)


def test_hostile_corpus_keeps_text_exact(hostile):
    doc, model, out, dag = hostile
    assert len(dag["tasks"]) == len(cc.HOSTILE)
    for entry, node_model, text in zip(out.tasks, model.nodes, cc.HOSTILE):
        task = dag["tasks"][entry["task_id"]]
        assert task.get("task_display_name", task["task_id"]) == node_model.label
        if text not in ELYRA_DEFAULT_DESCRIPTIONS:
            assert task["doc_md"] == doc_text(text)
        assert task["env_vars"]["HOSTILE"] == jinja_safe(text)
        assert task["annotations"]["note"] == jinja_safe(text)
        assert task["volume_mounts"][0].kwargs["sub_path"] == jinja_safe(text)
        file_arg = task["arguments"][task["arguments"].index("--file") + 1]
        # the file inside its bundle, whose root is the file's folder
        assert file_arg == jinja_safe(posixpath.basename(posixpath.normpath(node_model.filename)))
    props = doc["pipelines"][0]["app_data"]
    d = dag["dag"]
    assert d["dag_display_name"] == model.name
    assert d["description"] == props["properties"]["description"]
    assert d["doc_md"] == doc_text(props["mlpipe"]["doc_md"]) and d["doc_md"].endswith(".md\n")
    assert d["default_args"]["owner"] == props["mlpipe"]["owner"]
    assert d["tags"] == sorted(props["mlpipe"]["tags"] + ["mlpipe-lab"])
    text_param, choice = props["mlpipe"]["parameters"]
    assert d["params"]["text"].args == [text_param["default"]]
    assert d["params"]["text"].kwargs["description"] == text_param["description"]
    assert d["params"]["choice"].kwargs["enum"] == choice["enum"]


def test_hostile_templated_fields_render_to_the_users_text(hostile):
    _, _, _, dag = hostile
    for task, text in zip(dag["tasks"].values(), cc.HOSTILE):
        for value in (
            task["env_vars"]["HOSTILE"],
            task["annotations"]["note"],
            task["volume_mounts"][0].kwargs["sub_path"],
        ):
            assert render(value) == airflow_sees(text)
        # every string of every templated field renders without error
        for field in ("arguments", "cmds", "image"):
            values = task[field] if isinstance(task[field], list) else [task[field]]
            for value in values:
                render(
                    value.replace("{{ run_id }}", "")
                    .replace("{{ params.", "{{ ('")
                    .replace(" | tojson }}", "') }}")
                    if "params." in value or "run_id" in value
                    else value
                )


def test_hostile_text_never_in_code_position(hostile):
    _, _, out, _ = hostile
    tree = cc.check_dag_ast(out.text)
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    assert not names & {"os", "__import__", "eval", "exec", "open", "system", "id"}
    comments = [line for line in out.text.splitlines() if line.lstrip().startswith("#")]
    assert len(comments) == 3  # the two header lines and the shared-settings note


# -- hypothesis: anything anywhere ---------------------------------------------------------------

FRAGMENTS = [
    "{{",
    "}}",
    "{%",
    "%}",
    "{#",
    "#}",
    "raw",
    "endraw",
    "{% raw %}",
    "{% endraw %}",
    "'",
    '"',
    "'''",
    '"""',
    "\\",
    "\n",
    "\r",
    "\r\n",
    "\t",
    "\x00",
    "\x1b",
    "\u2028",
    "\x85",
    ")",
    "(",
    "#",
    "import os",
    "é",
    "🚀",
    ".md",
    ".sh",
    "${X}",
    "$(id)",
    "`",
    ",",
    ":",
    "=",
    " ",
    "\ud800",
]
hostile_text = st.lists(
    st.one_of(st.sampled_from(FRAGMENTS), st.text(ANY_CHAR, max_size=4)), max_size=8
).map("".join)
file_stem = st.text(ANY_CHAR.filter(lambda c: c not in "/\\*?[]"), max_size=20)


@st.composite
def hostile_pipelines(draw):
    values = {
        k: draw(hostile_text)
        for k in (
            "label",
            "name",
            "description",
            "node_description",
            "env",
            "annotation",
            "param_description",
            "param_default",
            "doc_md",
            "owner",
            "sub_path",
            "output",
            "source",
        )
    }
    values["label"] = values["label"][:250]
    values["tag"] = (draw(hostile_text) or "t")[:100]
    stem = draw(file_stem)
    n = node(
        "a",
        f"ff{stem}.ipynb",
        label=values["label"],
        description=values["node_description"],
        params={
            "env_vars": [{"env_var": "USER_VALUE", "value": values["env"]}],
            "kubernetes_pod_annotations": [{"key": "note", "value": values["annotation"]}],
            "mounted_volumes": [
                {"path": "/mnt/x", "pvc_name": "x", "sub_path": values["sub_path"]}
            ],
            "outputs": ["out/" + values["output"]],
        },
    )
    doc = pipeline(
        values["name"],
        [n, node("b", "b.py", parents=["a"])],
        description=values["description"],
        defaults={"runtime_image": IMG},
        mlpipe={
            "dag_id": "h",
            "doc_md": values["doc_md"],
            "owner": values["owner"] or "x",
            "tags": [values["tag"]],
            "parameters": [
                {
                    "name": "p",
                    "type": "string",
                    "default": values["param_default"],
                    "description": values["param_description"],
                }
            ],
        },
    )
    return doc, values


TEMPLATED = ("env", "annotation", "sub_path", "output")


@given(hostile_pipelines())
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_any_text_compiles_to_safe_exact_code(case):
    doc, values = case
    try:
        out = compile_pipeline(
            Pipeline(doc, values["source"]),
            images=cc.IMAGES,
            config=cc.CONFIG,
            source_path=values["source"],
        )
    except PipelineError as exc:
        # The only refusal: text with template markers and 'endraw' in a templated field.
        assert {p.code for p in exc.problems} == {"template-text"}, exc.problems
        assert any(needs_raw(values[k]) and "endraw" in values[k] for k in TEMPLATED) or (
            needs_raw(
                doc["pipelines"][0]["nodes"][0]["app_data"]["component_parameters"]["filename"]
            )
        )
        return
    out.text.encode("utf-8")
    dag = read_dag(out.text)  # parses, and holds only what the compiler emits
    model = Pipeline(doc, values["source"])
    task = dag["tasks"][out.tasks[0]["task_id"]]
    assert task.get("task_display_name", task["task_id"]) == model.nodes[0].label
    if values["node_description"] and values["node_description"] not in ELYRA_DEFAULT_DESCRIPTIONS:
        assert task["doc_md"] == doc_text(values["node_description"])
    assert task["env_vars"]["USER_VALUE"] == jinja_safe(values["env"])
    assert task["annotations"]["note"] == jinja_safe(values["annotation"])
    for key, value in (
        ("env", task["env_vars"]["USER_VALUE"]),
        ("annotation", task["annotations"]["note"]),
    ):
        assert render(value) == airflow_sees(values[key])
    if values["sub_path"]:
        assert render(task["volume_mounts"][0].kwargs["sub_path"]) == airflow_sees(
            values["sub_path"]
        )
    outputs = [task["arguments"][i + 1] for i, a in enumerate(task["arguments"]) if a == "--output"]
    assert outputs == [jinja_safe("out/" + values["output"])]
    d = dag["dag"]
    assert d.get("dag_display_name", "h") == (model.name if model.name != "h" else "h")
    assert d.get("description", "") == values["description"]
    if values["doc_md"]:
        assert d["doc_md"] == doc_text(values["doc_md"])
    assert d["default_args"]["owner"] == (values["owner"] or "x")
    assert values["tag"] in d["tags"]
    param = d["params"]["p"]
    assert param.args == [values["param_default"]]
    assert param.kwargs.get("description", "") == values["param_description"]
    header = out.text.splitlines()[:2]
    assert header[0].startswith("# Generated by mlpipe-lab ") and header[1].startswith(
        "# source-sha256: "
    )


# -- operator nodes: the same guarantees for operator arguments ---------------------------------

OPERATOR_SOURCE = '''
from airflow.models import BaseOperator


class RunOperator(BaseOperator):
    """Runs a command."""

    template_fields = ("command", "env", "items")
    template_ext = (".sh",)

    def __init__(self, *, command: str, env: dict | None = None, items: list | None = None,
                 note: str = "", count: int = 1, **kwargs):
        super().__init__(**kwargs)
'''
OPERATOR = {"kind": "airflow-operator", "definition": OPERATOR_SOURCE, "module": "acme.ops"}


@st.composite
def hostile_operator_pipelines(draw):
    values = {k: draw(hostile_text) for k in ("command", "env", "key", "item", "note", "label")}
    parent = {
        "id": "p",
        "type": "execution_node",
        "op": "acme:RunOperator",
        "app_data": {
            "label": (values["label"] or "p")[:200],
            "component_parameters": {"command": values["command"]},
            "mlpipe": {"component": OPERATOR},
        },
    }
    child = {
        "id": "c",
        "type": "execution_node",
        "op": "acme:RunOperator",
        "app_data": {
            "label": "child",
            "component_parameters": {
                # the parent's return value, and the user's text in every kind of value
                "command": {"widget": "inputpath", "value": {"value": "p", "option": ""}},
                "env": {"widget": "string", "value": {values["key"]: values["env"]}},
                "items": [values["item"], {"k": values["item"]}],
                "note": values["note"],
                "count": draw(st.integers(-(2**63), 2**63)),
            },
            "mlpipe": {"component": OPERATOR, "trigger_rule": "all_done"},
        },
        "inputs": [{"id": "in", "links": [{"id": "l", "node_id_ref": "p"}]}],
    }
    doc = pipeline("h", [], mlpipe={"dag_id": "h"})
    doc["pipelines"][0]["nodes"] = [parent, child]
    return doc, values


def _operator_kwargs(text: str, task_id: str) -> dict:
    tree = cc.check_dag_ast(text, operators=[("acme.ops", "RunOperator")])
    for n in ast.walk(tree):
        if isinstance(n, ast.Call) and ast.unparse(n.func) == "RunOperator":
            kw = {k.arg: k.value for k in n.keywords}
            if ast.literal_eval(kw["task_id"]) == task_id:
                return {
                    k: ast.literal_eval(v) for k, v in kw.items() if not isinstance(v, ast.Call)
                }
    raise AssertionError(f"no RunOperator call for {task_id}")


@given(hostile_operator_pipelines())
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_operator_arguments_stay_literal_and_render_to_the_users_text(case):
    """The AST allow-list holds with operator nodes (their class is the only new import and
    call), every argument is a literal, templated text renders back to exactly what was typed,
    text in other arguments is exactly what was typed, and the XCom is the only template."""
    doc, values = case
    try:
        out = compile_doc(doc)
    except PipelineError as exc:
        assert {p.code for p in exc.problems} == {"template-text"}, exc.problems
        assert any(
            "endraw" in values[k] and needs_raw(values[k]) for k in ("command", "env", "item")
        ) or any(values[k].endswith(".sh") and "endraw" in values[k] for k in ("command",))
        return
    parent_id = out.tasks[0]["task_id"]
    parent = _operator_kwargs(out.text, parent_id)
    child = _operator_kwargs(out.text, "child")
    if values["command"].endswith(".sh"):
        assert parent["command"] == "{% raw %}" + values["command"] + "{% endraw %}"
    assert render(parent["command"]) == airflow_sees(values["command"])
    assert child["command"] == "{{ ti.xcom_pull(task_ids='" + parent_id + "') }}"
    assert render(child["env"][values["key"]]) == airflow_sees(values["env"])
    assert [render(child["items"][0]), render(child["items"][1]["k"])] == [
        airflow_sees(values["item"])
    ] * 2
    assert child["note"] == values["note"]  # not templated: exactly the text
    assert child["trigger_rule"] == "all_done"


# -- branch nodes: rules and labels are data in one literal, never code or a template -------------


@st.composite
def hostile_branch_pipelines(draw):
    values = {k: draw(hostile_text) for k in ("label", "value", "item", "key", "default")}
    label = (values["label"] or "b")[:200]
    rules = [
        {"op": "==", "value": values["value"], "run": ["yes"]},
        {"op": "in", "value": [values["item"], values["value"]], "run": ["yes", "no"]},
        {"op": "==", "value": {values["key"]: [values["item"], 1.5, None]}, "run": ["no"]},
        {"op": ">=", "value": values["item"], "run": []},
    ]
    gate = branch(
        "g",
        ["a"],
        label,
        value_from={"from": "parameter", "parameter": "p"},
        rules=rules,
        otherwise=["no"],
    )
    doc = pipeline(
        "h",
        [
            node("a", "a.py"),
            node("yes", "yes.py", parents=["g"]),
            node("no", "no.py", parents=["g"]),
        ],
        defaults={"runtime_image": IMG},
        mlpipe={
            "dag_id": "h",
            "parameters": [{"name": "p", "type": "string", "default": values["default"]}],
        },
    )
    doc["pipelines"][0]["nodes"].insert(1, gate)
    return doc, values, label, rules


@given(hostile_branch_pipelines())
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_hostile_branch_rules_stay_literal(case):
    doc, values, label, rules = case
    out = compile_doc(doc)
    dag = read_dag(out.text)  # parses; the only functions are plan/branching.py's, verbatim
    gate = next(t for t in dag["tasks"].values() if "python_callable" in t)
    assert gate.get("task_display_name", gate["task_id"]) == Pipeline(doc, "p").nodes[1].label
    call = gate["python_callable"]
    assert call.func == "mlpipe_branch" and len(call.args) == 1 and not call.kwargs
    spec = call.args[0]
    assert [r["value"] for r in spec["rules"]] == [r["value"] for r in rules]
    assert spec["value_from"] == {"from": "parameter", "parameter": "p"}
    # the DAG's own evaluator decides on the user's text as data
    tree = cc.check_dag_ast(out.text)
    scope: dict = {}
    for stmt in tree.body:
        if isinstance(stmt, ast.FunctionDef):
            exec(compile(ast.Module([stmt], []), "dag", "exec"), scope)
    choose = scope["mlpipe_branch"](spec)
    yes, no = (dag["tasks"][t]["task_id"] for t in ("yes", "no"))
    assert choose(params={"p": values["value"]}, ti=None) == [yes]
    if values["item"] != values["value"]:
        assert choose(params={"p": values["item"]}, ti=None) == [yes, no]


# -- approval gates: the message is a templated field, the label reaches the Airflow 2 sentence ------


@st.composite
def hostile_gates(draw):
    label = draw(hostile_text)[:250] or "g"
    message = draw(hostile_text)
    gate = node("g", "x.py", label=label, parents=["a"])
    gate["op"] = "mlpipe:approval"
    gate["app_data"]["component_parameters"] = {"message": message, "timeout_seconds": 60}
    doc = pipeline(
        "gates",
        [node("a", "a.py"), gate, node("b", "b.py", parents=["g"])],
        defaults={"runtime_image": IMG},
        mlpipe={"parameters": [{"name": "p", "type": "string", "default": "v"}]},
    )
    return doc, label, message


@given(hostile_gates())
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_gate_message_and_label_stay_literal(case):
    doc, label, message = case
    try:
        out = compile_doc(doc)
    except PipelineError as exc:
        # refused only when the text cannot be protected (markers and 'endraw')
        assert {p.code for p in exc.problems} <= {"template-text", "parameter"}, exc.problems
        assert "endraw" in message or "params" in message
        return
    dag = read_dag(out.text)
    model = Pipeline(doc, "p.pipeline")
    gate = next(t for t in dag["tasks"].values() if "subject" in t)
    assert gate.get("task_display_name", gate["task_id"]) == model.nodes[1].label
    shown = message.strip() or default_message(model.nodes[1].label)
    assert render(gate["subject"]) == airflow_sees(shown)
    # the Airflow 2 refusal names the node with a string literal, never code
    tree = ast.parse(out.text)
    raised = [n for n in ast.walk(tree) if isinstance(n, ast.Raise)]
    assert len(raised) == 1
    assert raised[0].exc.args[0].value == (
        f"approval gates need Airflow 3.1 or newer (node '{model.nodes[1].label}')"
    )


def test_gate_message_names_parameters_as_templates():
    doc = pipeline(
        "gates",
        [node("a", "a.py"), node("g", "x.py", parents=["a"])],
        defaults={"runtime_image": IMG},
        mlpipe={"parameters": [{"name": "model", "type": "string", "default": "m"}]},
    )
    gate = doc["pipelines"][0]["nodes"][1]
    gate["op"] = "mlpipe:approval"
    gate["app_data"]["component_parameters"] = {
        "message": "Deploy {{ params.model }} ({{ params['model'] }}) {% not this %}?"
    }
    dag = read_dag(compile_doc(doc).text)
    subject = next(t for t in dag["tasks"].values() if "subject" in t)["subject"]
    assert JINJA.from_string(subject).render(params={"model": "churn"}) == (
        "Deploy churn (churn) {% not this %}?"
    )
