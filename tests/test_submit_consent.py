"""Submit asks before committing a plain-value secret, and says where the DAG will go: REST and CLI
against the embedded local runtime (a real bare git repository)."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from fixture_paths import ELYRA_FIXTURES
from openapi_check import check_response

from mlpipe_lab.cli import main


def with_password(folder):
    pipeline = folder / "hello_world.pipeline"
    doc = json.loads(pipeline.read_text())
    params = doc["pipelines"][0]["nodes"][0]["app_data"]["component_parameters"]
    params["env_vars"] = [{"env_var": "PASSWORD", "value": "hunter2"}]
    pipeline.write_text(json.dumps(doc))


@pytest.fixture
def api(jp_fetch, jp_root_dir, isolated_data):
    shutil.copytree(ELYRA_FIXTURES / "hello_world", jp_root_dir / "hello_world")

    async def call(path, body):
        response = await jp_fetch(
            "mlpipe-lab", path, method="POST", raise_error=False, body=json.dumps(body)
        )
        check_response("POST", "/" + path, response.code, response.body)
        return response.code, json.loads(response.body)

    return call


def commits(isolated_data) -> int:
    bare = isolated_data / "mlpipe-lab" / "local" / "dags.git"
    if not bare.exists():
        return 0
    out = subprocess.run(
        ["git", "-C", str(bare), "rev-list", "--all", "--count"], capture_output=True, text=True
    )
    return int(out.stdout.strip() or 0)


async def test_submit_refuses_a_plain_secret_until_the_user_agrees(api, jp_root_dir, isolated_data):
    with_password(jp_root_dir / "hello_world")
    body = {"path": "hello_world/hello_world.pipeline", "runtime_config": "local"}
    before = commits(isolated_data)
    code, err = await api("submit", body)
    assert code == 409 and err["error"]["code"] == "plain-secrets"
    message = err["error"]["message"]
    assert "PASSWORD" in message and "Kubernetes secret" in message
    assert "hunter2" not in json.dumps(err)
    assert [p["path"] for p in err["error"]["problems"]] == [
        "component_parameters/env_vars/0/value"
    ]
    assert commits(isolated_data) == before  # nothing committed, nothing uploaded
    code, result = await api("submit", body | {"allow_plain_secrets": True})
    assert code == 200 and len(result["commit"]) == 40


async def test_dry_run_says_where_a_submit_commits(api):
    code, target = await api(
        "export",
        {"path": "hello_world/hello_world.pipeline", "dry_run": True, "runtime_config": "local"},
    )
    assert code == 200
    assert target["submit"] == {"repo": "local", "branch": "main", "path": "dags/hello_world.py"}


def test_cli_submit_says_how_to_agree(elyra_copy, capsys, monkeypatch, isolated_data):
    with_password(elyra_copy["hello_world"])
    monkeypatch.chdir(elyra_copy["hello_world"].parent)
    assert main(["submit", "hello_world/hello_world.pipeline"]) == 1
    err = capsys.readouterr().err
    assert "PASSWORD" in err and "--allow-plain-secrets" in err
    assert main(["submit", "--allow-plain-secrets", "hello_world/hello_world.pipeline"]) == 0
