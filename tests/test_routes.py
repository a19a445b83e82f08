"""REST handlers through a real Jupyter server (jp_fetch): auth, 4xx on bad input, OpenAPI shapes."""

from __future__ import annotations

import json
import shutil

import pytest
from fixture_paths import ELYRA_FIXTURES
from openapi_check import check_response, spec

from mlpipe_lab.routes import route_table

CANARY = "canary-token-3f9c1e"


@pytest.fixture
def api(jp_fetch, jp_root_dir):
    for name in ("hello_world", "props_demo"):
        shutil.copytree(ELYRA_FIXTURES / name, jp_root_dir / name)

    async def call(method, path, body=None, headers=None, check=True):
        kwargs = {"method": method, "raise_error": False}
        if body is not None:
            kwargs["body"] = body if isinstance(body, (str, bytes)) else json.dumps(body)
        elif method in ("POST", "PUT"):
            kwargs["body"] = ""
        if headers is not None:
            kwargs["headers"] = headers
        parts = path.split("?")[0].split("/")
        params = (
            dict(p.split("=", 1) for p in path.split("?")[1].split("&")) if "?" in path else None
        )
        response = await jp_fetch("mlpipe-lab", *parts, params=params, **kwargs)
        if check:
            check_response(method, "/" + path, response.code, response.body)
        data = json.loads(response.body) if response.body else None
        return response.code, data

    return call


def test_every_route_is_in_the_openapi_description_and_back():
    handlers = route_table("/", services=None)
    described = set(spec()["paths"])
    assert len(handlers) == len(described)
    for pattern, handler, _ in handlers:
        template = pattern.removeprefix("/mlpipe-lab")
        import re

        template = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", template)
        assert template in described, template
        verbs = {m for m in ("get", "post", "put", "delete", "patch") if m in handler.__dict__}
        assert verbs == set(spec()["paths"][template]) - {"parameters"}, template


@pytest.mark.parametrize(
    "method,path",
    [
        ("GET", "schemas"),
        ("GET", "schemas/runtime-image"),
        ("GET", "catalogs/runtime-images"),
        ("POST", "catalogs/runtime-images"),
        ("GET", "catalogs/runtime-images/x"),
        ("PUT", "catalogs/runtime-images/x"),
        ("DELETE", "catalogs/runtime-images/x"),
        ("POST", "catalogs/runtime-configs/_import-elyra"),
        ("POST", "validate"),
        ("GET", "describe?path=hello_world/hello_world.pipeline"),
        ("GET", "mlflow/models?tracking_uri=http://127.0.0.1:9"),
        ("GET", "mlflow/models/x/versions"),
    ],
)
async def test_every_route_requires_authentication(api, method, path):
    code, _ = await api(
        method,
        path,
        body="{}" if method in ("POST", "PUT") else None,
        headers={"Authorization": ""},
        check=False,
    )
    assert code == 403


async def test_schemas_index_and_each_schema(api):
    code, index = await api("GET", "schemas")
    assert code == 200
    assert set(index["schemas"]) == {
        "node-properties",
        "pipeline-file",
        "pipeline-properties",
        "runtime-config",
        "runtime-image",
        "component-catalog",
    }
    assert set(index["node_types"]) == {
        "execute-notebook-node",
        "execute-python-node",
        "execute-r-node",
        "mlpipe:serve-mlflow-model",
        "mlpipe:branch",
        "mlpipe:approval",
    }
    assert index["node_types"]["mlpipe:branch"]["file"] is False
    for name in index["schemas"]:
        code, schema = await api("GET", f"schemas/{name}")
        assert code == 200 and "$ref" not in json.dumps(schema)
    code, node = await api("GET", "schemas/node-properties?op=execute-notebook-node")
    assert code == 200
    assert (
        node["properties"]["component_parameters"]["allOf"][1]["properties"]["filename"]["pattern"]
        == "\\.ipynb$"
    )


async def test_unknown_schema_and_node_type_are_404(api):
    assert (await api("GET", "schemas/nope"))[0] == 404
    code, err = await api("GET", "schemas/node-properties?op=nope")
    assert code == 404 and err["error"]["field"] == "op"


async def test_runtime_image_crud(api):
    code, created = await api(
        "POST",
        "catalogs/runtime-images",
        {
            "name": "pandas",
            "display_name": "Pandas",
            "image": "amancevice/pandas:jupyter-2.3.2",
            "pull_policy": "IfNotPresent",
            "tags": ["data"],
        },
    )
    assert code == 201 and created["source"] == "user" and created["read_only"] is False
    code, listed = await api("GET", "catalogs/runtime-images")
    assert [e["name"] for e in listed["items"] if e["source"] == "user"] == ["pandas"]
    code, again = await api("POST", "catalogs/runtime-images", {"name": "pandas", "image": "x:1"})
    assert code == 409
    code, updated = await api(
        "PUT",
        "catalogs/runtime-images/pandas",
        {"name": "pandas", "image": "amancevice/pandas:2.4", "pull_policy": "Always"},
    )
    assert code == 200 and updated["image"] == "amancevice/pandas:2.4"
    assert (await api("GET", "catalogs/runtime-images/pandas"))[1]["pull_policy"] == "Always"
    code, _ = await api("DELETE", "catalogs/runtime-images/pandas")
    assert code == 204
    assert (await api("GET", "catalogs/runtime-images/pandas"))[0] == 404


async def test_bad_catalog_input_is_4xx_with_the_field(api):
    code, err = await api(
        "POST", "catalogs/runtime-images", {"name": "x", "pull_policy": "Sometimes"}
    )
    assert code == 400 and err["error"]["message"]
    code, err = await api("POST", "catalogs/runtime-images", "{not json")
    assert code == 400 and "not valid JSON" in err["error"]["message"]
    code, err = await api("POST", "catalogs/runtime-images", "[1, 2]")
    assert code == 400
    code, err = await api("GET", "catalogs/widgets", check=False)
    assert code == 404 and "Unknown catalog" in err["error"]["message"]
    code, err = await api("GET", "catalogs/runtime-images/..%2F..%2Fetc", check=False)
    assert code in (400, 404)


async def test_runtime_config_secrets_are_write_only(api, jp_server_config):
    config = {
        "name": "prod",
        "display_name": "Prod",
        "type": "airflow",
        "airflow": {
            "api_endpoint": "https://airflow.example.com",
            "version": "3",
            "auth": {"type": "token", "token": CANARY},
        },
        "dag_repo": {
            "url": "https://git.example.com/org/dags.git",
            "branch": "main",
            "auth": {"type": "token", "token": CANARY},
        },
        "object_storage": {
            "endpoint": "https://minio.example.com",
            "bucket": "pipelines",
            "auth": {"type": "credentials", "access_key_id": "AKIA", "secret_access_key": CANARY},
        },
    }
    code, created = await api("POST", "catalogs/runtime-configs", config)
    assert code == 201
    assert CANARY not in json.dumps(created)
    assert created["dag_repo"]["auth"]["token"] == "********"
    code, listed = await api("GET", "catalogs/runtime-configs")
    assert CANARY not in json.dumps(listed)
    # the masked value sent back keeps the secret; the builtin local config is listed
    assert {"prod", "local"} <= {e["name"] for e in listed["items"]}
    code, updated = await api("PUT", "catalogs/runtime-configs/prod", created)
    assert code == 200 and updated["dag_repo"]["auth"]["token"] == "********"
    code, err = await api("DELETE", "catalogs/runtime-configs/local")
    assert code == 403


async def test_validate_saved_and_unsaved_pipelines(api):
    code, result = await api("POST", "validate", {"path": "hello_world/hello_world.pipeline"})
    assert code == 200 and result["valid"] is True
    # unknown image is a warning naming node and field
    assert {(p["code"], p["node_label"], p["severity"]) for p in result["problems"]} == {
        ("runtime-image", "hello.py", "warning"),
        ("runtime-image", "world.py", "warning"),
    }
    code, result = await api(
        "POST",
        "validate",
        {"path": "hello_world/hello_world.pipeline", "content": '{"doc_type": "pipeline",'},
    )
    assert code == 200 and result["valid"] is False
    assert result["problems"][0]["code"] == "json" and result["problems"][0]["line"] == 1


@pytest.mark.parametrize(
    "body,status",
    [
        ({"path": "../outside.pipeline"}, 403),
        ({"path": "/etc/passwd"}, 403),
        ({"path": "hello_world/hello.py"}, 400),
        ({"path": "nope.pipeline"}, 404),
        ({}, 400),
        ({"path": "hello_world/hello_world.pipeline", "content": 5}, 400),
    ],
)
async def test_validate_bad_input(api, body, status):
    code, err = await api("POST", "validate", body)
    assert code == status, err
    assert err["error"]["message"]


async def test_describe(api):
    await api(
        "POST",
        "catalogs/runtime-images",
        {"name": "private", "image": "quay.io/example/private:1.0", "pull_secret": "quay-creds"},
    )
    code, info = await api("GET", "describe?path=props_demo/props_demo.pipeline")
    assert code == 200
    assert info["dag_id"] == "props_demo"
    # relative to the server's root (dependencies are relative to their node's file)
    assert info["files"] == [
        "props_demo/data.csv",
        "props_demo/hello.py",
        "props_demo/sub/helper.py",
        "props_demo/world.py",
    ]
    assert info["secrets"] == [
        {"node": "hello.py", "env_var": "DB_PASS", "secret": "db-creds", "key": "password"}
    ]
    assert info["volumes"][0]["pvc_name"] == "data-pvc"
    by_image = {i["image"]: i for i in info["images"]}
    assert by_image["quay.io/example/private:1.0"]["pull_secret"] == "quay-creds"
    assert by_image["amancevice/pandas:jupyter-2.3.2"]["catalog_entry"] is None
    assert [n["task_id"] for n in info["nodes"]] == ["hello", "world"]
