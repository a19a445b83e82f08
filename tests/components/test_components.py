"""Components: operators read statically, KFP v1/v2 specs, Elyra ids and value formats, JSON
Schemas of components, and catalog sources (folders, files, URLs on a local HTTP server, wheels,
installed providers)."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from mlpipe_lab.components import ComponentIndex, component_schema
from mlpipe_lab.components.elyra import (
    PARAMETER,
    REF,
    UNSET,
    VALUE,
    component_source,
    elyra_id,
    node_values,
    parse_op,
    read_value,
)
from mlpipe_lab.components.kfp import parse_kfp
from mlpipe_lab.components.model import ANY, NOT_LITERAL, ComponentError
from mlpipe_lab.components.pyparse import map_type, parse_operators
from mlpipe_lab.components.sources import SourceError, read_catalog
from mlpipe_lab.components.values import UNSET as LITERAL_UNSET
from mlpipe_lab.components.values import ValueProblem, literal

OPERATOR_SOURCE = '''
from typing import Optional, Sequence
from airflow.models import BaseOperator
from airflow.providers.standard.operators.bash import BashOperator as _Bash


class Helper:
    """Not an operator."""


class GreetOperator(BaseOperator):
    """Greets someone.

    Second line of the summary.

    :param name: Who to greet
        (on two lines).
    :param times: How often.
    :type times: int
    :param loud: Shout it.
    :param extra: Anything.
    :param callback: Called after.
    """

    template_fields: Sequence[str] = ("name", "extra")

    def __init__(self, name: str, times=3, *, loud: bool = False,
                 extra: Optional[dict] = None, tags: list[str] | None = None,
                 callback=lambda: None, when=datetime.now(), **kwargs):
        super().__init__(**kwargs)


class LouderOperator(GreetOperator):
    def __init__(self, volume: float = 1.5, **kwargs):
        super().__init__(**kwargs)


class MyBash(_Bash):
    pass
'''


def test_operators_are_read_from_source_without_importing_it():
    ops = {o.name: o for o in parse_operators(OPERATOR_SOURCE, module="team.ops")}
    assert set(ops) == {"GreetOperator", "LouderOperator", "MyBash"}
    greet = ops["GreetOperator"]
    assert greet.module == "team.ops" and greet.import_path == "team.ops.GreetOperator"
    assert greet.description == "Greets someone."
    assert greet.template_fields == ("name", "extra")
    p = {x.name: x for x in greet.params}
    assert list(p) == ["name", "times", "loud", "extra", "tags", "callback", "when"]
    assert p["name"].required and p["name"].type == "string" and p["name"].templated
    assert p["name"].description == "Who to greet (on two lines)."
    assert (p["times"].type, p["times"].default, p["times"].required) == ("integer", 3, False)
    assert p["loud"].type == "boolean" and p["loud"].default is False
    assert p["extra"].type == "object" and p["extra"].nullable and p["extra"].templated
    assert p["tags"].type == "array" and p["tags"].nullable
    # a default that is code: optional, but no value we could write
    assert not p["callback"].required and not p["callback"].has_default
    assert not p["when"].has_default
    # a subclass in the same file inherits its parent's parameters through **kwargs
    louder = ops["LouderOperator"]
    assert [x.name for x in louder.params][:2] == ["volume", "name"]
    assert louder.param("name").templated
    # a subclass of an imported operator: no __init__, its base is recorded to follow later
    assert ops["MyBash"].params == ()
    assert ops["MyBash"].bases == ("airflow.providers.standard.operators.bash.BashOperator",)


def test_invalid_python_is_a_component_error():
    with pytest.raises(ComponentError, match=r"ops\.py is not valid Python \(line 1\)"):
        parse_operators("class (:", filename="ops.py")


@pytest.mark.parametrize(
    "text,expected",
    [
        ("str", ("string", False)),
        ("Optional[int]", ("integer", True)),
        ("dict[str, str] | None", ("object", True)),
        ("int | Container[int] | None", ("integer|array", True)),
        ("Callable[[str], Any]", (NOT_LITERAL, False)),
        ("str | Callable", ("string", False)),
        ("timedelta | None", (NOT_LITERAL, True)),
        ("Literal['a', 'b']", ("string", False)),
        ("list or None", ("array", True)),
        ("bool", ("boolean", False)),
        ("", (ANY, False)),
        ("Any", (ANY, False)),
    ],
)
def test_types_map_to_json_types(text, expected):
    assert map_type(text) == expected


KFP_V1 = """
name: Fetch page
description: |
  Fetches a page
  with curl.
inputs:
- {name: Url, type: URI}
- {name: curl options, type: String, default: '--location', description: Extra options}
- {name: Retries, type: Integer, default: '3', optional: true}
- {name: Config, type: JsonObject, default: '{}'}
outputs:
- {name: Data, description: The page}
implementation:
  container:
    image: alpine:3.19
    command: [sh, -exc, 'curl "$0" -o "$1" $2', {inputValue: Url}, {outputPath: Data}]
    args:
    - if:
        cond: {isPresent: Retries}
        then: [--retries, {inputValue: Retries}]
    - concat: [--config=, {inputValue: Config}]
"""

KFP_V2 = """
components:
  comp-train:
    executorLabel: exec-train
    inputDefinitions:
      parameters:
        epochs: {parameterType: NUMBER_INTEGER, defaultValue: 5, isOptional: true}
        rate: {parameterType: NUMBER_DOUBLE}
      artifacts:
        dataset: {artifactType: {schemaTitle: system.Dataset, schemaVersion: 0.0.1}}
    outputDefinitions:
      artifacts:
        model: {artifactType: {schemaTitle: system.Model, schemaVersion: 0.0.1}}
      parameters:
        accuracy: {parameterType: NUMBER_DOUBLE}
deploymentSpec:
  executors:
    exec-train:
      container:
        image: python:3.12
        command: [python, -c, "print(1)"]
        args: ["{{$.inputs.parameters['epochs']}}", "{{$.inputs.artifacts['dataset'].path}}",
               "{{$.outputs.artifacts['model'].path}}"]
pipelineInfo: {name: train}
root:
  dag:
    tasks:
      train: {componentRef: {name: comp-train}}
schemaVersion: 2.1.0
"""


def test_kfp_v1_component():
    comp = parse_kfp(KFP_V1, "fetch.yaml")
    assert comp.kind == "kfp-component" and comp.name == "Fetch page"
    assert comp.description == "Fetches a page with curl."
    p = {x.name: x for x in comp.params}
    assert list(p) == ["url", "curl_options", "retries", "config"]  # Elyra's keys
    assert p["url"].required and p["url"].title == "Url" and not p["url"].path
    assert p["curl_options"].default == "--location" and not p["curl_options"].required
    assert p["retries"].type == "integer" and p["retries"].default == 3
    assert p["config"].type == "object|string"
    assert [o.key for o in comp.outputs] == ["output_data"]
    assert comp.container.image == "alpine:3.19" and comp.container.version == 1
    assert comp.container.command[3] == {"inputValue": "Url"}


def test_kfp_v2_component():
    comp = parse_kfp(KFP_V2, "train.yaml")
    assert comp.name == "train" and comp.container.version == 2
    p = {x.name: x for x in comp.params}
    assert p["epochs"].type == "integer" and p["epochs"].default == 5 and not p["epochs"].required
    assert p["rate"].type == "number" and p["rate"].required
    assert p["dataset"].path and p["dataset"].required
    assert [(o.key, o.parameter) for o in comp.outputs] == [
        ("output_model", False),
        ("output_accuracy", True),
    ]


@pytest.mark.parametrize(
    "text,message",
    [
        ("a: [", "not valid YAML"),
        ("- 1", "not a YAML mapping"),
        ("name: x\nimplementation: {graph: {}}", "graph of components"),
        ("name: x\nimplementation: {container: {command: [a]}}", "image is missing"),
        (
            "name: x\nimplementation: {container: {image: a, command: [{inputValue: nope}]}}",
            "neither an input nor an output",
        ),
        ("root: {dag: {tasks: {a: {}, b: {}}}}\ndeploymentSpec: {}", "pipeline of 2 components"),
        ("name: x", "neither implementation.container"),
    ],
)
def test_kfp_errors_say_what_is_wrong(text, message):
    with pytest.raises(ComponentError, match=message):
        parse_kfp(text, "c.yaml")


# -- Elyra ids and values -------------------------------------------------------------------


@pytest.mark.parametrize(
    "catalog_type,reference,class_name,expected",
    [
        # ids found in real pipelines of the shared corpus
        ("airflow-package-catalog", {"file": "airflow/operators/python_operator.py"}, "PythonOperator",
         "airflow-package-catalog:ce4bcf4f74a0:PythonOperator"),
        ("local-directory-catalog", {"path": "bash_operator.py", "base_dir": "/x"}, "",
         "local-directory-catalog:3a55d015ea96"),
        ("local-file-catalog", {"path": "airflow_test_operator.py"}, "TestOperator",
         "local-file-catalog:8371f5970c7b:TestOperator"),
        ("elyra-kfp-examples-catalog", {"component-id": "download_data.yaml"}, "",
         "elyra-kfp-examples-catalog:a08014f9252f"),
        ("elyra-kfp-examples-catalog", {"component-id": "filter_text_using_shell_and_grep.yaml"},
         "", "elyra-kfp-examples-catalog:737915b826e9"),
    ],
)  # fmt: skip
def test_elyra_ids(catalog_type, reference, class_name, expected):
    assert elyra_id(catalog_type, reference, class_name) == expected


def test_elyra_provider_id_hashes_provider_and_file():
    ref = {"provider": "apache_airflow_providers_http", "file": "airflow/providers/http/x.py"}
    digest = hashlib.sha256(
        b"apache_airflow_providers_http:airflow/providers/http/x.py"
    ).hexdigest()[:12]
    assert elyra_id("airflow-provider-package-catalog", ref) == (
        f"airflow-provider-package-catalog:{digest}"
    )


def test_op_forms():
    assert parse_op("local-file-catalog:8371f5970c7b:TestOperator").class_name == "TestOperator"
    assert parse_op("local-directory-catalog:3a55d015ea96").hash == "3a55d015ea96"
    legacy = parse_op("bash-operator_BashOperator")
    assert (legacy.legacy_id, legacy.class_name) == ("bash-operator", "BashOperator")
    assert parse_op("spark_sql_operator_SparkSqlOperator").class_name == "SparkSqlOperator"
    assert parse_op("filter-text").legacy_id == "filter-text"


def test_component_source_forms():
    assert component_source(
        {
            "component_source": "{'catalog_type': 'local-file-catalog', 'component_ref': {'path': 'a.py'}}"
        }
    )["component_ref"] == {"path": "a.py"}
    assert component_source({"component_source": '{"catalog_type": "x", "component_ref": {}}'}) == {
        "catalog_type": "x",
        "component_ref": {},
    }
    assert component_source({"component_source": "https://h/x.yaml"}) == {"url": "https://h/x.yaml"}
    assert component_source({"component_source": "kfp/x.yaml"}) == {"path": "kfp/x.yaml"}
    assert component_source({}) == {}


@pytest.mark.parametrize(
    "raw,kind,value,node_id,output",
    [
        ({"widget": "string", "value": "echo hi"}, VALUE, "echo hi", "", ""),
        ({"widget": "number", "value": 3}, VALUE, 3, "", ""),
        ({"widget": "inputpath", "value": {"value": "n1", "option": "output_data"}}, REF, None,
         "n1", "output_data"),
        ({"widget": "parameter", "value": "param1"}, PARAMETER, "param1", "", ""),
        ({"activeControl": "StringControl", "StringControl": "--location"}, VALUE, "--location",
         "", ""),
        ({"activeControl": "NestedEnumControl", "NestedEnumControl": {"value": "n2", "option": ""}},
         REF, None, "n2", ""),
        ({"value": "n3", "option": "elyra_output_data", "label": "x"}, REF, None, "n3",
         "output_data"),
        ("plain", VALUE, "plain", "", ""),
        (None, UNSET, None, "", ""),
        ({"widget": "string"}, UNSET, None, "", ""),
    ],
)  # fmt: skip
def test_values_of_every_elyra_format(raw, kind, value, node_id, output):
    got = read_value(raw)
    assert (got.kind, got.value, got.node_id, got.output) == (kind, value, node_id, output)


def test_node_values_of_elyra_2_prefixed_keys():
    app = {
        "component_source": "x",
        "elyra_airflow_class_name": "BashOperator",
        "runtime_image": "img",
        "bashoperator_bash_command": "echo",
        "bashoperator_elyra_dict_env": '{"A": "1"}',
        "ui_data": {},
    }
    values = node_values(app)
    assert {k: v.value for k, v in values.items()} == {"bash_command": "echo", "env": '{"A": "1"}'}
    assert "mounted_volumes" not in node_values({"component_parameters": {"mounted_volumes": []}})


# -- values and schemas ---------------------------------------------------------------------


def test_literals_convert_what_elyra_stored_as_text():
    ops = {o.name: o for o in parse_operators(OPERATOR_SOURCE)}
    p = {x.name: x for x in ops["GreetOperator"].params}
    assert literal(p["extra"], '{"TEST_ENV": "Hello World"}') == {"TEST_ENV": "Hello World"}
    assert literal(p["extra"], "{'a': 1}") == {"a": 1}  # Python repr, as Elyra 3 wrote
    assert literal(p["extra"], "") is LITERAL_UNSET
    assert literal(p["times"], "4") == 4 and literal(p["times"], 4.0) == 4
    assert literal(p["loud"], "True") is True
    assert literal(p["tags"], "['a', 'b']") == ["a", "b"]
    with pytest.raises(ValueProblem, match="must be a whole number, not text"):
        literal(p["times"], "many")
    with pytest.raises(ValueProblem, match="must be a mapping, not a list"):
        literal(p["extra"], [1])
    with pytest.raises(ValueProblem, match="not a valid JSON value"):
        literal(p["extra"], "{oops")
    with pytest.raises(ValueProblem, match="cannot be given as a value"):
        literal(p["callback"], "print")
    with pytest.raises(ValueProblem, match="plain value"):
        literal(p["extra"], {"x": float("nan")})


def test_component_schema_is_the_form_and_validation_schema():
    from jsonschema import Draft202012Validator

    ops = {o.name: o for o in parse_operators(OPERATOR_SOURCE, module="m")}
    schema = component_schema(ops["GreetOperator"])
    Draft202012Validator.check_schema(schema)
    assert schema["required"] == ["name"]
    assert schema["properties"]["times"] == {
        "type": "integer",
        "default": 3,
        "title": "times",
        "description": "How often.",
        "x-mlpipe-type": "int",
        "x-mlpipe-sources": ["pipeline-parameter"],
    }
    assert schema["properties"]["extra"]["type"] == ["object", "null"]
    assert "parent-output" in schema["properties"]["name"]["x-mlpipe-sources"]  # templated
    assert "callback" not in schema["properties"]  # optional, and only code can give it
    validator = Draft202012Validator(schema)
    assert not list(validator.iter_errors({"name": "x", "times": 2}))
    assert [e.validator for e in validator.iter_errors({"times": "x"})] == ["type", "required"]

    kfp = component_schema(parse_kfp(KFP_V1))
    assert kfp["x-mlpipe-outputs"] == [
        {"key": "output_data", "title": "Data", "description": "The page"}
    ]
    assert kfp["properties"]["curl_options"]["title"] == "curl options"


# -- catalog sources ------------------------------------------------------------------------


def _provider_env(tmp_path: Path) -> Path:
    """A site-packages folder with one Airflow provider, as pip installs it."""
    sp = tmp_path / "venv" / "lib" / "python3.11" / "site-packages"
    pkg = sp / "airflow" / "providers" / "acme"
    (pkg / "operators").mkdir(parents=True)
    (sp / "airflow" / "__init__.py").write_text("")
    (pkg / "get_provider_info.py").write_text(
        "def get_provider_info():\n"
        "    return {'package-name': 'apache-airflow-providers-acme', 'name': 'Acme',\n"
        "            'operators': [{'integration-name': 'Acme',\n"
        "                           'python-modules': ['airflow.providers.acme.operators.run']}]}\n"
    )
    (pkg / "operators" / "run.py").write_text(
        "from airflow.models import BaseOperator\n"
        "class RunOperator(BaseOperator):\n"
        "    template_fields = ('cmd',)\n"
        "    def __init__(self, *, cmd: str, **kwargs):\n"
        "        super().__init__(**kwargs)\n"
        "class FastRunOperator(RunOperator):\n"
        "    def __init__(self, *, speed: int = 2, **kwargs):\n"
        "        super().__init__(**kwargs)\n"
    )
    dist = sp / "apache_airflow_providers_acme-1.0.0.dist-info"
    dist.mkdir()
    (dist / "entry_points.txt").write_text(
        "[apache_airflow_provider]\nprovider_info=airflow.providers.acme.get_provider_info:"
        "get_provider_info\n"
    )
    return tmp_path / "venv"


def test_installed_providers_are_listed_statically(tmp_path):
    env = _provider_env(tmp_path)
    listing = read_catalog({"name": "prov", "type": "airflow-providers", "environment": str(env)})
    assert listing.problems == []
    comps = {c.name: c for c in listing.components}
    run = comps["RunOperator"]
    assert run.module == "airflow.providers.acme.operators.run"
    assert run.id == "prov:airflow.providers.acme.operators.run.RunOperator"
    assert run.categories == ("Acme",) and run.catalog == "prov"
    digest = hashlib.sha256(
        b"apache_airflow_providers_acme:airflow/providers/acme/operators/run.py"
    ).hexdigest()[:12]
    assert run.elyra_ids == (f"airflow-provider-package-catalog:{digest}:RunOperator",)
    assert [p.name for p in comps["FastRunOperator"].params] == ["speed", "cmd"]
    with pytest.raises(SourceError, match="no site-packages folder in environment '/nowhere'"):
        read_catalog({"name": "x", "type": "airflow-providers", "environment": "/nowhere"})
    # the index keeps going and says why the catalog lists nothing
    index = ComponentIndex([{"name": "x", "type": "airflow-providers", "environment": "/nowhere"}])
    assert index.listings[0].problems == [
        "Component catalog 'x': no site-packages folder in environment '/nowhere'"
    ]


def test_installed_providers_never_import_the_code(tmp_path):
    env = _provider_env(tmp_path)
    marker = tmp_path / "imported"
    run = env / "lib/python3.11/site-packages/airflow/providers/acme/operators/run.py"
    run.write_text(f"open({str(marker)!r}, 'w').close()\n" + run.read_text())
    read_catalog({"name": "p", "type": "airflow-providers", "environment": str(env)})
    assert not marker.exists()


def test_folder_catalog_lists_operators_and_kfp_components(tmp_path):
    folder = tmp_path / "components"
    (folder / "sub").mkdir(parents=True)
    (folder / "ops.py").write_text(OPERATOR_SOURCE)
    (folder / "sub" / "fetch.yaml").write_text(KFP_V1)
    (folder / "broken.yaml").write_text("a: [")
    entry = {"name": "team", "type": "local-directory-catalog", "paths": ["components"]}
    listing = read_catalog(entry, root=tmp_path)
    assert sorted(c.id for c in listing.components) == [
        "team:ops.py:GreetOperator",
        "team:ops.py:LouderOperator",
        "team:ops.py:MyBash",
    ]
    assert listing.problems == ["broken.yaml is not valid YAML (line 1)"]
    listing = read_catalog(
        {**entry, "include_subdirs": True, "python_package": "acme"}, root=tmp_path
    )
    ids = {c.id: c for c in listing.components}
    assert ids["team:sub/fetch.yaml"].elyra_ids == (
        elyra_id("local-directory-catalog", {"path": "sub/fetch.yaml"}),
    )
    assert ids["team:ops.py:GreetOperator"].module == "acme.ops"


def test_file_catalog_reports_missing_files(tmp_path):
    (tmp_path / "a.yaml").write_text(KFP_V1)
    listing = read_catalog(
        {"name": "f", "type": "local-file-catalog", "base_path": str(tmp_path),
         "paths": ["a.yaml", "gone.yaml"]}
    )  # fmt: skip
    assert [c.name for c in listing.components] == ["Fetch page"]
    assert listing.problems == ["gone.yaml: no such file"]


class _Files(BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}
    auth = ""

    def do_GET(self):
        if self.auth and self.headers.get("Authorization") != "Basic " + self.auth:
            self.send_response(401)
            self.end_headers()
            return
        body = self.files.get(self.path)
        self.send_response(200 if body is not None else 404)
        self.end_headers()
        if body is not None:
            self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def http_files():
    handler = type("Handler", (_Files,), {"files": {}, "auth": ""})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield handler, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_url_catalog_reads_from_a_local_http_server_with_basic_auth(http_files):
    handler, base = http_files
    handler.files["/c/fetch.yaml"] = KFP_V1.encode()
    handler.auth = base64.b64encode(b"reader:s3cret").decode()
    entry = {
        "name": "web",
        "type": "url-catalog",
        "paths": [f"{base}/c/fetch.yaml", f"{base}/c/gone.yaml"],
        "auth_id": "reader",
        "auth_password": "s3cret",
    }
    listing = read_catalog(entry)
    assert [c.name for c in listing.components] == ["Fetch page"]
    assert listing.components[0].elyra_ids == (
        elyra_id("url-catalog", {"url": f"{base}/c/fetch.yaml"}),
    )
    assert listing.problems == [f"{base}/c/gone.yaml: cannot read '{base}/c/gone.yaml': Not Found"]
    denied = read_catalog({**entry, "auth_password": "wrong"})
    assert denied.components == [] and "Unauthorized" in denied.problems[0]
    assert all("s3cret" not in p and "wrong" not in p for p in denied.problems)


def _wheel(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    return buf.getvalue()


def test_airflow_and_provider_wheels(http_files, tmp_path):
    handler, base = http_files
    handler.files["/apache_airflow-1.10.15-py2.py3-none-any.whl"] = _wheel(
        {
            "airflow/operators/python_operator.py": (
                "from airflow.models import BaseOperator\n"
                "class PythonOperator(BaseOperator):\n"
                "    def __init__(self, python_callable, op_args=None, *args, **kwargs): pass\n"
                "class BranchPythonOperator(PythonOperator):\n    pass\n"
            ),
            "airflow/operators/__init__.py": "",
            "airflow/contrib/operators/x_operator.py": (
                "from airflow.models import BaseOperator\n"
                "class XOperator(BaseOperator):\n    def __init__(self, a): pass\n"
            ),
        }
    )
    entry = {
        "name": "af1",
        "type": "airflow-package-catalog",
        "airflow_package_download_url": f"{base}/apache_airflow-1.10.15-py2.py3-none-any.whl",
    }
    listing = read_catalog(entry)
    python_op = next(c for c in listing.components if c.name == "PythonOperator")
    # the id a real Elyra pipeline of the corpus uses (cBevilaqua/elyra, pipeline1.pipeline)
    assert python_op.elyra_ids == ("airflow-package-catalog:ce4bcf4f74a0:PythonOperator",)
    assert python_op.module == "airflow.operators.python_operator"
    assert {c.name for c in listing.components} == {"PythonOperator", "BranchPythonOperator"}
    with_contrib = read_catalog({**entry, "search_contrib": True})
    assert "XOperator" in {c.name for c in with_contrib.components}

    wheel = tmp_path / "apache_airflow_providers_acme-1.0.0-py3-none-any.whl"
    wheel.write_bytes(
        _wheel(
            {
                "airflow/providers/acme/get_provider_info.py": (
                    "def get_provider_info():\n    return {'name': 'Acme', 'operators': "
                    "[{'python-modules': ['airflow.providers.acme.operators.a']}]}\n"
                ),
                "airflow/providers/acme/operators/a.py": (
                    "from airflow.models import BaseOperator\n"
                    "class AOperator(BaseOperator):\n    def __init__(self, x: int = 1): pass\n"
                ),
            }
        )
    )
    listing = read_catalog(
        {"name": "acme", "type": "airflow-provider-package-catalog",
         "airflow_provider_package_download_url": wheel.as_uri()}
    )  # fmt: skip
    (comp,) = listing.components
    assert comp.elyra_ids[0] == elyra_id(
        "airflow-provider-package-catalog",
        {
            "provider": "apache_airflow_providers_acme",
            "file": "airflow/providers/acme/operators/a.py",
        },
    )
    not_a_wheel = tmp_path / "x.whl"
    not_a_wheel.write_text("no")
    with pytest.raises(SourceError, match="is not a wheel"):
        read_catalog(
            {"name": "b", "type": "airflow-package-catalog",
             "airflow_package_download_url": not_a_wheel.as_uri()}
        )  # fmt: skip


def test_unknown_catalog_type_is_refused():
    with pytest.raises(SourceError, match="unknown type 'nope'"):
        read_catalog({"name": "x", "type": "nope"})


# -- which component a node uses ---------------------------------------------------------------


def test_nodes_resolve_by_our_id_elyra_id_class_and_name(tmp_path):
    folder = tmp_path / "components"
    folder.mkdir()
    (folder / "ops.py").write_text(OPERATOR_SOURCE)
    (folder / "fetch.yaml").write_text(KFP_V1)
    index = ComponentIndex(
        [{"name": "team", "type": "local-directory-catalog", "paths": ["components"]}],
        root=tmp_path,
    )
    ours = index.resolve({"op": "team:fetch.yaml"})
    assert ours.how == "id" and ours.component.name == "Fetch page"
    elyra = index.resolve({"op": elyra_id("local-file-catalog", {"path": "fetch.yaml"})})
    assert elyra.how == "elyra-id" and elyra.component.name == "Fetch page"
    greet = index.resolve(
        {"op": elyra_id("local-directory-catalog", {"path": "ops.py"}, "GreetOperator")}
    )
    assert greet.component.name == "GreetOperator"
    by_class = index.resolve({"op": "greet-operator_GreetOperator"})
    assert by_class.how == "class-name"
    by_name = index.resolve(
        {"op": "component_Fetchpage", "app_data": {"ui_data": {"label": "Fetch page"}}}
    )
    assert by_name.how == "component-name"
    missing = index.resolve(
        {"op": "local-file-catalog:8371f5970c7b:TestOperator",
         "app_data": {"component_source": "{'catalog_type': 'local-file-catalog', "
                      "'component_ref': {'path': 'airflow_test_operator.py'}}"}}
    )  # fmt: skip
    assert missing.component is None
    assert missing.message.startswith(
        "The operator TestOperator from local-file-catalog (airflow_test_operator.py) is in none"
    )


def test_a_node_carries_its_own_definition(tmp_path):
    index = ComponentIndex([], root=tmp_path)
    node = {
        "op": "anything",
        "app_data": {"mlpipe": {"component": {"kind": "kfp-component", "definition": KFP_V1}}},
    }
    assert index.resolve(node).component.name == "Fetch page"
    # or names a file inside the project, next to the pipeline
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "ops.py").write_text(OPERATOR_SOURCE)
    node = {"op": "x:0123456789ab:GreetOperator", "app_data": {"component_source": "ops.py"}}
    resolved = index.resolve(node, pipeline_dir=tmp_path / "p")
    assert resolved.how == "node-definition" and resolved.component.name == "GreetOperator"
    # never a file outside the project
    node = {"op": "x", "app_data": {"component_source": "../../etc/passwd"}}
    assert index.resolve(node, pipeline_dir=tmp_path / "p").component is None


def test_listings_are_cached_until_files_change(tmp_path):
    folder = tmp_path / "c"
    folder.mkdir()
    (folder / "a.yaml").write_text(KFP_V1)
    entry = {"name": "c", "type": "local-directory-catalog", "paths": [str(folder)]}
    first = ComponentIndex([entry]).components
    assert ComponentIndex([entry]).listings[0] is ComponentIndex([entry]).listings[0]
    (folder / "b.yaml").write_text(KFP_V1.replace("Fetch page", "Other"))
    assert len(ComponentIndex([entry]).components) == len(first) + 1


def test_schema_file_is_registered():
    from mlpipe_lab.schemas import load_schema

    schema = load_schema("component-catalog")
    assert schema["properties"]["auth_password"]["writeOnly"] is True
    assert json.dumps(schema)  # plain JSON


def test_kfp_command_lines_with_inputs_substituted():
    from mlpipe_lab.components.kfp import resolve_command
    from mlpipe_lab.plan.values import Join, ParamRef

    v1 = parse_kfp(KFP_V1, "fetch.yaml")
    outputs = {"output_data": "/out/data"}
    command, args = resolve_command(
        v1, {"url": "https://x", "retries": "5", "config": ParamRef("cfg")}, {}, outputs
    )
    assert command == ["sh", "-exc", 'curl "$0" -o "$1" $2', "https://x", "/out/data"]
    assert args == ["--retries", "5", Join(("--config=", ParamRef("cfg")))]
    _, args = resolve_command(v1, {"url": "u", "config": "{}"}, {}, outputs)
    assert args == ["--config={}"]  # an absent optional input drops its branch
    v2 = parse_kfp(KFP_V2, "train.yaml")
    command, args = resolve_command(
        v2, {"epochs": "7"}, {"dataset": "/in/dataset"}, {"output_model": "/out/model"}
    )
    assert command == ["python", "-c", "print(1)"]
    assert args == ["7", "/in/dataset", "/out/model"]
    with pytest.raises(ValueError, match="'dataset' is read as a file"):
        resolve_command(v2, {"epochs": "7"}, {}, {})
