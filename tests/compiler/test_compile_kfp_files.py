"""KFP component nodes that pass files (plan/components.py ``finish``, compiler/operator.py): an
output a later component reads is uploaded after the command, a file input (that output, or a value
given to an ``inputPath``) is fetched or written before it — by the runner (``--kind command``),
which the init container brings into the component's image. Components that pass no files keep
running their command directly."""

from __future__ import annotations

import ast
import copy

import compile_corpus as cc
import pytest

from mlpipe_lab.compiler.compile import render_plan
from mlpipe_lab.components import ComponentIndex
from mlpipe_lab.pipeline.model import Pipeline
from mlpipe_lab.plan import plan
from mlpipe_lab.runner.command import parse
from mlpipe_lab.runner.contract import LAUNCH_SCRIPT

MAKE = """
name: Make
inputs:
- {name: Seed, type: String}
- {name: Note, type: String, default: quiet}
outputs:
- {name: Data}
- {name: Unused}
implementation:
  container:
    image: registry.local/make:1
    command: [sh, -c, 'cp "$0" "$1"', {inputPath: Seed}, {outputPath: Data}, {outputPath: Unused}]
    args: [--note, {inputValue: Note}]
"""
USE = """
name: Use
inputs:
- {name: Data}
implementation:
  container:
    image: registry.local/use:1
    command: [cat, {inputPath: Data}]
"""
ECHO = """
name: Echo
inputs:
- {name: Text, type: String}
outputs:
- {name: Out}
implementation:
  container:
    image: registry.local/echo:1
    command: [sh, -c, 'echo "$0" > "$1"', {inputValue: Text}, {outputPath: Out}]
"""


def _node(nid, op, values, inputs=()):
    node = {
        "id": nid,
        "type": "execution_node",
        "op": f"team:{op}.yaml",
        "app_data": {"label": nid.capitalize(), "component_parameters": values},
    }
    if inputs:
        node["inputs"] = [
            {
                "id": "inPort",
                "links": [
                    {"id": f"l{i}", "node_id_ref": s, "port_id_ref": "outPort"}
                    for i, s in enumerate(inputs)
                ],
            }
        ]
    return node


def _ref(node_id, output):
    return {"widget": "inputpath", "value": {"value": node_id, "option": output}}


@pytest.fixture
def index(tmp_path):
    (tmp_path / "components").mkdir()
    for name, text in (("make", MAKE), ("use", USE), ("echo", ECHO)):
        (tmp_path / "components" / f"{name}.yaml").write_text(text)
    return ComponentIndex(
        [{"name": "team", "type": "local-directory-catalog", "paths": ["components"]}],
        root=tmp_path,
    )


def _plan(index, nodes, config=cc.CONFIG):
    doc = {
        "doc_type": "pipeline",
        "version": "3.0",
        "primary_pipeline": "p",
        "pipelines": [
            {"id": "p", "nodes": nodes, "app_data": {"version": 8, "properties": {"name": "f"}}}
        ],
    }
    return plan(Pipeline(doc), config, cc.IMAGES, bundles={}, components=index)


def _kwargs(text: str) -> dict[str, dict[str, ast.expr]]:
    calls = {}
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "KubernetesPodOperator":
            kw = {k.arg: k.value for k in node.keywords if k.arg}
            calls[ast.literal_eval(kw["task_id"])] = kw
    return calls


def test_an_output_file_flows_to_the_next_component(index):
    result = _plan(
        index,
        [
            _node("make", "make", {"seed": "-- hello $(id) {{ ds }}"}),
            _node("use", "use", {"data": _ref("make", "output_data")}, inputs=["make"]),
        ],
    )
    assert result.ok, [p.message for p in result.errors]
    assert not [p for p in result.problems if p.code == "component-input"]  # no warning now
    make, use = result.tasks
    assert make.delivery == use.delivery == "init-container"
    assert make.store_credentials and make.env["MLPIPE_IMAGE"] == "registry.local/make:1"
    shared = [str(v) for v in make.command.shared]
    ns = parse([*shared[:-1], "r", *[str(a) for a in make.command.args]])
    assert ns.texts == [("/tmp/mlpipe/inputs/seed", "-- hello $(id) {{ ds }}")]
    # only the output a later component reads travels
    assert ns.outputs == [("/tmp/mlpipe/outputs/output_data", "output_data")]
    assert ns.argv == [
        "sh",
        "-c",
        'cp "$0" "$1"',
        "/tmp/mlpipe/inputs/seed",
        "/tmp/mlpipe/outputs/output_data",
        "/tmp/mlpipe/outputs/output_unused",
        "--note",
        "quiet",
    ]
    ns = parse([*shared[:-1], "r", *[str(a) for a in use.command.args]])
    assert ns.inputs == [("/tmp/mlpipe/inputs/Make/output_data", "Make/outputs/output_data")]
    assert ns.argv == ["cat", "/tmp/mlpipe/inputs/Make/output_data"]

    text = render_plan(result, source_path="p.pipeline", source_sha256="0" * 64)
    calls = _kwargs(text)
    for task_id in ("Make", "Use"):
        kw = calls[task_id]
        assert ast.unparse(kw["cmds"]) == "RUNNER"
        assert ast.unparse(kw["full_pod_spec"]) == "RUNNER_POD"
        assert ast.unparse(kw["secrets"]) == "STORE_SECRETS"
    args = ast.literal_eval(calls["Make"]["arguments"])
    # user text in a templated field is protected from Jinja
    assert "{% raw %}" in args[args.index("--input-text") + 2]
    assert LAUNCH_SCRIPT in text  # the runner starts through /bin/sh: "image X has no python3"


def test_components_that_pass_no_files_run_their_command_directly(index):
    result = _plan(
        index,
        [
            _node("echo", "echo", {"text": "hi"}),
            _node("again", "echo", {"text": "ho"}, inputs=["echo"]),
        ],
    )
    assert result.ok, [p.message for p in result.errors]
    for task in result.tasks:
        assert task.delivery is None and not task.store_credentials
        assert task.command.program[:2] == ["sh", "-c"]
    calls = _kwargs(render_plan(result, source_path="p.pipeline", source_sha256="0" * 64))
    assert ast.literal_eval(calls["Echo"]["cmds"])[:2] == ["sh", "-c"]
    assert "full_pod_spec" not in calls["Echo"]


def test_an_input_from_a_node_that_is_not_a_component_still_warns(index):
    result = _plan(
        index,
        [
            _node("echo", "echo", {"text": "hi"}),
            _node("use", "use", {"data": _ref("echo", "output_nothing")}, inputs=["echo"]),
        ],
    )
    (warning,) = [p for p in result.problems if p.code == "component-input"]
    assert "not an output file of a Kubeflow Pipelines component" in warning.message
    assert result.tasks[0].delivery is None  # nothing of echo's is read


def test_a_pipeline_parameter_given_to_an_input_path_is_written_to_a_file(index):
    nodes = [_node("make", "make", {"seed": {"widget": "parameter", "value": "seed"}})]
    doc_params = {"parameters": [{"name": "seed", "type": "string", "default": "x"}]}
    doc = {
        "doc_type": "pipeline",
        "version": "3.0",
        "primary_pipeline": "p",
        "pipelines": [
            {
                "id": "p",
                "nodes": nodes,
                "app_data": {"version": 8, "properties": {"name": "f"}, "mlpipe": doc_params},
            }
        ],
    }
    result = plan(Pipeline(doc), cc.CONFIG, cc.IMAGES, bundles={}, components=index)
    assert result.ok, [p.message for p in result.errors]
    (make,) = result.tasks
    assert make.delivery == "init-container"
    calls = _kwargs(render_plan(result, source_path="p.pipeline", source_sha256="0" * 64))
    args = ast.literal_eval(calls["Make"]["arguments"])
    at = args.index("--input-text")
    assert args[at + 1 : at + 3] == ["/tmp/mlpipe/inputs/seed", "{{ params.seed }}"]


def test_with_the_runner_in_node_images_a_component_still_gets_it_from_the_init_container(index):
    config = copy.deepcopy(cc.CONFIG)
    config["kubernetes"]["runner_delivery"] = "image"  # notebooks' images have mlpipe_lab
    result = _plan(
        index,
        [
            _node("make", "make", {"seed": "s"}),
            _node("use", "use", {"data": _ref("make", "output_data")}, inputs=["make"]),
        ],
        config,
    )
    assert result.ok, [p.message for p in result.errors]
    assert result.runner.delivery == "image"
    assert {t.delivery for t in result.tasks} == {"init-container"}
    text = render_plan(result, source_path="p.pipeline", source_sha256="0" * 64)
    calls = _kwargs(text)
    assert ast.unparse(calls["Make"]["cmds"]) == "RUNNER_COPIED"
    assert ast.unparse(calls["Make"]["full_pod_spec"]) == "RUNNER_POD"
    module = {
        t.id: n.value
        for n in ast.parse(text).body
        if isinstance(n, ast.Assign)
        for t in n.targets
        if isinstance(t, ast.Name)
    }
    assert ast.literal_eval(module["RUNNER_COPIED"])[:2] == ["/bin/sh", "-c"]
    assert "RUNNER_POD" in module


def test_a_notebook_or_script_downstream_receives_every_output(index):
    from pipeline_builder import node

    result = _plan(
        index,
        [
            _node("echo", "echo", {"text": "hi"}),
            node("s", "report.py", parents=["echo"], label="Report"),
        ],
    )
    assert result.ok, [p.message for p in result.errors]
    echo, report = result.tasks
    assert report.inputs == ["Echo"] and echo.delivery == "init-container"
    shared = [str(v) for v in echo.command.shared]
    ns = parse([*shared[:-1], "r", *[str(a) for a in echo.command.args]])
    assert ns.outputs == [("/tmp/mlpipe/outputs/output_out", "output_out")] and not ns.inputs
