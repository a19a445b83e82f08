"""One error root, one mapping to HTTP: every refusal reaches the client (and the CLI) with its
field, its located problems and, for a publish, the steps it went through."""

from __future__ import annotations

import json
import shutil

import pytest
from fixture_paths import ELYRA_FIXTURES
from openapi_check import check_response

from mlpipe_lab.catalog import CatalogError, NotFound
from mlpipe_lab.cli import main
from mlpipe_lab.errors import MLPipeError, exit_code, http_status
from mlpipe_lab.localrun import LocalRunError, ParameterError
from mlpipe_lab.pipeline import PipelineError, Problem
from mlpipe_lab.publish import PublishError


@pytest.fixture
def api(jp_fetch, jp_root_dir):
    shutil.copytree(ELYRA_FIXTURES / "hello_world", jp_root_dir / "hello_world")

    async def call(method, path, body=None, params=None):
        response = await jp_fetch(
            "mlpipe-lab",
            *path.split("/"),
            method=method,
            raise_error=False,
            params=params,
            body=json.dumps(body) if body is not None else None,
        )
        check_response(method, "/" + path, response.code, response.body)
        return response.code, json.loads(response.body) if response.body else None

    return call


def test_every_error_has_the_one_root_and_one_status_rule():
    problem = Problem(code="x", message="bad", pipeline="p", node_id="n", path="f")
    for exc, status in [
        (CatalogError("bad", field="name"), 400),
        (NotFound("none"), 404),
        (PipelineError([problem]), 422),
        (PublishError("git-push", "refused"), 502),
        (PublishError("config", "no url"), 400),
        (PublishError("something-new", "broke"), 502),  # an outside failure, never a 500
        (ParameterError("parameter 'k' must be an integer"), 400),
        (LocalRunError("cannot start"), 400),
        (MLPipeError("odd", 500), 502),
    ]:
        assert isinstance(exc, MLPipeError)
        assert http_status(exc) == status, exc
        body = exc.to_json()["error"]
        assert body["message"] == exc.message
    assert PublishError("config", "x").to_json()["error"]["field"] == "runtime_config"
    assert exit_code(PipelineError([problem])) == 1 and exit_code(NotFound("x")) == 2
    # a catalog entry's field problems are not a pipeline's: still a bad request (exit 2)
    assert exit_code(CatalogError("bad", field="name")) == 2


async def test_every_field_problem_of_a_catalog_entry_reaches_the_client(api):
    bad = {
        "name": "prod",
        "type": "airflow",
        "airflow": {"api_endpoint": "not a url", "version": "7"},
        "dag_repo": {"url": ""},
    }
    code, err = await api("POST", "catalogs/runtime-configs", bad)
    assert code == 400
    body = err["error"]
    fields = {p["path"] for p in body["problems"]}
    assert body["field"] in fields and len(fields) >= 2, body
    assert all(p["message"] and p["severity"] == "error" for p in body["problems"])


async def test_schema_lookup_is_the_same_for_rest_and_cli(api, capsys):
    cases = [
        ("node-properties", "execute-python-node", 200),
        ("node-properties", "no-such-node", 404),
        ("no-such-schema", None, 404),
        ("runtime-image", "execute-python-node", 400),  # only node-properties has node types
    ]
    for name, op, status in cases:
        code, rest = await api("GET", f"schemas/{name}", params={"op": op} if op else None)
        assert code == status, (name, op, rest)
        argv = ["schema", "--json", name] + (["--op", op] if op else [])
        assert main(argv) == (0 if status == 200 else 2)
        cli = json.loads(capsys.readouterr().out)
        assert cli == rest, (name, op)


async def test_validate_takes_a_runtime_configuration(api):
    config = {
        "name": "nostore",
        "type": "airflow",
        "airflow": {"api_endpoint": "http://127.0.0.1:9/airflow"},
        "dag_repo": {"url": "http://127.0.0.1:9/dags.git"},
    }
    assert (await api("POST", "catalogs/runtime-configs", config))[0] == 201
    path = "hello_world/hello_world.pipeline"
    code, local = await api("POST", "validate", {"path": path})
    assert code == 200 and local["valid"] and local["runtime_config"] == "local"
    code, remote = await api("POST", "validate", {"path": path, "runtime_config": "nostore"})
    assert code == 200 and not remote["valid"] and remote["runtime_config"] == "nostore"
    assert "object-storage" in {p["code"] for p in remote["problems"] if p["severity"] == "error"}
    code, exported = await api("POST", "export", {"path": path, "runtime_config": "nostore"})
    assert code == 422  # what validation said
    assert [p["code"] for p in exported["error"]["problems"]] == [
        p["code"] for p in remote["problems"] if p["severity"] == "error"
    ]
    code, err = await api("POST", "validate", {"path": path, "runtime_config": "nope"})
    assert code == 404 and err["error"]["field"] == "runtime_config"
    code, err = await api("POST", "validate", {"path": path, "runtime_config": 3})
    assert code == 400 and err["error"]["field"] == "runtime_config"
