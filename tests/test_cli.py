"""The mlpipe command line: validate, describe, schema and catalog commands, text and --json."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from mlpipe_lab.cli import main

CANARY = "canary-secret-77aa"


@pytest.fixture
def run(capsys, monkeypatch, elyra_copy):
    monkeypatch.chdir(elyra_copy["props_demo"].parent)

    def call(*argv):
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return call


def test_validate_text_and_json(run):
    code, out, _ = run("validate", "hello_world/hello_world.pipeline")
    assert code == 0
    assert "hello_world/hello_world.pipeline: valid (0 errors, 2 warnings)" in out
    assert "node 'hello.py'" in out and "not in the runtime image catalog" in out
    code, out, _ = run("validate", "--json", "hello_world/hello_world.pipeline")
    data = json.loads(out)
    assert code == 0 and data["valid"] is True and len(data["problems"]) == 2


def test_validate_strict_fails_on_warnings_and_errors_exit_1(run, elyra_copy):
    assert run("validate", "--strict", "hello_world/hello_world.pipeline")[0] == 1
    (elyra_copy["hello_world"] / "world.py").unlink()
    code, out, _ = run("validate", "hello_world/hello_world.pipeline")
    assert code == 1 and "File 'world.py' does not exist." in out


def test_validate_broken_json_names_line(run, elyra_copy):
    (elyra_copy["hello_world"] / "bad.pipeline").write_text('{\n "a": 1\n "b": 2}')
    code, out, _ = run("validate", "hello_world/bad.pipeline")
    assert code == 1 and "line 3, column 2" in out


def test_validate_missing_file_is_a_clear_error(run):
    code, _, err = run("validate", "nope.pipeline")
    assert code == 2 and "does not exist" in err and "Traceback" not in err


def test_describe(run):
    code, out, _ = run("describe", "props_demo/props_demo.pipeline")
    assert code == 0
    assert "DB_PASS <- db-creds:password (hello.py)" in out
    assert "/mnt/data <- data-pvc (hello.py)" in out
    code, out, _ = run("describe", "--json", "props_demo/props_demo.pipeline")
    info = json.loads(out)
    # relative to the project root: here the current folder (not in a git work tree)
    assert info["files"] == [
        "props_demo/data.csv",
        "props_demo/hello.py",
        "props_demo/sub/helper.py",
        "props_demo/world.py",
    ]


def test_catalog_add_list_show_remove_images(run):
    code, out, _ = run(
        "catalog",
        "add",
        "images",
        "--name",
        "pandas",
        "--image",
        "amancevice/pandas:jupyter-2.3.2",
        "--pull-policy",
        "Always",
        "--tag",
        "data",
    )
    assert code == 0 and "Added pandas" in out
    code, out, _ = run("catalog", "list", "images", "--json")
    entries = {e["name"]: e for e in json.loads(out)}
    assert entries["pandas"]["tags"] == ["data"]
    # now the fixture's image is known: one warning fewer
    code, out, _ = run("validate", "--json", "hello_world/hello_world.pipeline")
    assert json.loads(out)["problems"] == []
    code, out, _ = run("catalog", "remove", "images", "pandas")
    assert code == 0
    code, _, err = run("catalog", "show", "images", "pandas")
    assert code == 2 and "pandas" in err


def test_catalog_config_secret_from_env_is_masked_everywhere(run, monkeypatch, tmp_path):
    monkeypatch.setenv("GIT_TOKEN", CANARY)
    spec = tmp_path / "prod.json"
    spec.write_text(
        json.dumps(
            {
                "name": "prod",
                "type": "airflow",
                "airflow": {"api_endpoint": "https://airflow.example.com"},
                "dag_repo": {
                    "url": "https://git.example.com/org/dags.git",
                    "auth": {"type": "token"},
                },
                "object_storage": {
                    "bucket": "pipelines",
                    "auth": {"type": "kubernetes_secret"},
                    "pod_credentials_secret": "s3-creds",
                },
            }
        )
    )
    code, out, err = run(
        "catalog",
        "add",
        "configs",
        "--from-file",
        str(spec),
        "--secret-env",
        "dag_repo.auth.token=GIT_TOKEN",
        "--set",
        "dag_repo.branch=prod",
    )
    assert code == 0, err
    for argv in (
        ("catalog", "list", "--json"),
        ("catalog", "show", "configs", "prod"),
        ("catalog", "list"),
    ):
        code, out, _ = run(*argv)
        assert code == 0 and CANARY not in out
    shown = json.loads(run("catalog", "show", "configs", "prod")[1])
    assert shown["dag_repo"]["auth"]["token"] == "********"
    assert shown["dag_repo"]["branch"] == "prod"


def test_catalog_errors_are_plain(run):
    code, _, err = run("catalog", "add", "images", "--name", "Bad Name!", "--image", "x")
    assert code == 2 and "Traceback" not in err and err.startswith("mlpipe: ")
    code, out, _ = run("catalog", "add", "images", "--json", "--name", "x")
    assert code == 2 and json.loads(out)["error"]["message"]
    code, _, err = run("catalog", "list", "widgets")
    assert code == 2 and "Unknown catalog" in err


def test_schema_command(run):
    code, out, _ = run("schema", "--json")
    assert "runtime-config" in json.loads(out)
    code, out, _ = run("schema", "node-properties", "--op", "execute-r-node")
    assert json.loads(out)["title"] == "R script node"


def test_cli_start_up_loads_no_server_code():
    """The CLI must start quickly: importing it may not pull in tornado or jupyter_server."""
    code = (
        "import sys, mlpipe_lab.cli; "
        "print(sorted(m for m in ('tornado', 'jupyter_server', 'jsonschema') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert out.stdout.strip() == "[]"
