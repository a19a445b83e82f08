"""Publishing never replaces another pipeline's DAG: two pipeline files with the same name (Elyra
keeps the name when a file is copied; new ones are all "untitled") against the embedded local
runtime, i.e. a real bare git repository, through the command line and the REST API."""

from __future__ import annotations

import gc
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from fixture_paths import FIXTURES
from openapi_check import check_response

from mlpipe_lab.cli import main
from mlpipe_lab.publish.identity import identify, parse_publish_message

COLLISION = FIXTURES / "elyra-repro" / "r13_dag_id_collision"


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
    ).stdout


@pytest.fixture
def project(tmp_path, monkeypatch):
    """The reproduction's two pipelines (a/training, b/scoring, both named "untitled")."""
    dst = tmp_path / "project"
    shutil.copytree(COLLISION, dst)
    monkeypatch.chdir(dst)
    return dst


@pytest.fixture
def mlpipe(capsys):
    def call(*argv: str) -> tuple[int, dict]:
        try:
            code = main([*argv, "--json"])
        finally:
            gc.enable()
        out = capsys.readouterr().out
        return code, json.loads(out) if out.strip() else {}

    return call


def dag_repo(isolated_data) -> Path:
    return isolated_data / "mlpipe-lab" / "local" / "dags.git"


def test_a_second_pipeline_with_the_same_name_is_refused(project, mlpipe, isolated_data):
    code, first = mlpipe("submit", "a/training.pipeline")
    assert code == 0 and first["dag_id"] == "untitled" and first["changed"]
    repo = dag_repo(isolated_data)
    before = git(repo, "rev-parse", "HEAD")
    message = git(repo, "log", "-1", "--format=%B")
    assert parse_publish_message(message)[:2] == ("untitled", "a/training.pipeline")
    assert "Pipeline-Id: " in message

    code, refused = mlpipe("submit", "b/scoring.pipeline")
    assert code == 1
    err = refused["error"]
    assert err["field"] == "dag_id" and "a/training.pipeline" in err["message"]
    assert err["code"] == "dag-id-taken" and err["details"]["published_from"] == (
        "a/training.pipeline"
    )
    (problem,) = err["problems"]
    assert problem["code"] == "dag-id-taken" and problem["path"] == "mlpipe/dag_id"
    assert problem["extra"]["published_from"] == "a/training.pipeline"
    assert problem["extra"]["source"] == "b/scoring.pipeline"
    for way_out in ("rename", "DAG id", "--replace"):
        assert way_out in problem["message"]
    # nothing changed: the DAG is still the first pipeline's
    assert git(repo, "rev-parse", "HEAD") == before
    assert "training.pipeline" in git(repo, "show", "HEAD:dags/untitled.py")

    # publishing the first one again is an update, not a collision
    code, again = mlpipe("submit", "a/training.pipeline")
    assert code == 0 and again["changed"] is False


def test_retire_by_pipeline_leaves_another_pipelines_dag(project, mlpipe, isolated_data):
    assert mlpipe("submit", "a/training.pipeline")[0] == 0
    repo = dag_repo(isolated_data)
    code, refused = mlpipe("retire", "b/scoring.pipeline")
    assert code == 1 and refused["error"]["problems"][0]["code"] == "dag-id-taken"
    assert "dags/untitled.py" in git(repo, "ls-tree", "-r", "--name-only", "HEAD")
    code, retired = mlpipe("retire", "a/training.pipeline")
    assert code == 0 and retired["changed"]
    assert "dags/untitled.py" not in git(repo, "ls-tree", "-r", "--name-only", "HEAD")


def test_replace_takes_the_dag_over_for_a_moved_pipeline(project, mlpipe, isolated_data):
    assert mlpipe("submit", "a/training.pipeline")[0] == 0
    (project / "a" / "training.pipeline").rename(project / "a" / "train.pipeline")
    code, refused = mlpipe("submit", "a/train.pipeline")
    assert code == 1 and refused["error"]["field"] == "dag_id"
    code, taken = mlpipe("submit", "a/train.pipeline", "--replace")
    assert code == 0 and taken["changed"]
    assert any(s["step"] == "dag-id" for s in taken["steps"])
    message = git(dag_repo(isolated_data), "log", "-1", "--format=%B")
    assert parse_publish_message(message)[1] == "a/train.pipeline"
    # from now on the moved file is the owner
    assert mlpipe("submit", "a/train.pipeline")[0] == 0


def test_a_hand_written_dag_file_is_not_replaced(project, mlpipe, isolated_data, tmp_path):
    assert mlpipe("submit", "a/training.pipeline")[0] == 0  # creates the repository
    repo = dag_repo(isolated_data)
    work = tmp_path / "work"
    subprocess.run(["git", "clone", "-q", str(repo), str(work)], check=True)
    (work / "dags" / "scoring.py").write_text("# my own DAG\n")
    git(work, "add", "dags/scoring.py")
    git(work, "-c", "user.name=me", "-c", "user.email=me@x", "commit", "-qm", "my scoring DAG")
    git(work, "push", "-q", "origin", "HEAD:main")
    doc = json.loads((project / "b" / "scoring.pipeline").read_text())
    doc["pipelines"][0]["app_data"]["properties"]["name"] = "scoring"
    (project / "b" / "scoring.pipeline").write_text(json.dumps(doc))
    code, refused = mlpipe("submit", "b/scoring.pipeline")
    assert code == 1 and "did not publish" in refused["error"]["message"]
    assert git(repo, "show", "HEAD:dags/scoring.py") == "# my own DAG\n"


def test_the_same_file_from_two_roots_is_the_same_pipeline(project, mlpipe, tmp_path):
    """A project kept in git: the CLI (root: the work tree) and a Jupyter server rooted higher
    up name the file differently, and it is still the same pipeline."""
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    git(project, "remote", "add", "origin", "https://user:secret@git.example.com/team/proj.git")
    file = project / "a" / "training.pipeline"
    data = tmp_path / "data"
    from_cli = identify(file, "a/training.pipeline", data)
    from_server = identify(file, "project/a/training.pipeline", data)
    assert from_cli.id == from_server.id
    # a clone of the same repository elsewhere (a colleague, a CI job) agrees too
    clone = tmp_path / "elsewhere" / "proj"
    shutil.copytree(project, clone, symlinks=True)
    git(clone, "remote", "set-url", "origin", "git@git.example.com:team/proj.git")
    assert identify(clone / "a" / "training.pipeline", "x", tmp_path / "other").id == from_cli.id
    # a copy of the file is another pipeline
    shutil.copy(file, project / "a" / "copy.pipeline")
    assert identify(project / "a" / "copy.pipeline", "a/copy.pipeline", data).id != from_cli.id
    assert "secret" not in from_cli.trailers()


def test_outside_git_each_workspace_is_its_own(tmp_path):
    file = tmp_path / "untitled.pipeline"
    file.write_text("{}")
    mine = identify(file, "untitled.pipeline", tmp_path / "alice")
    assert mine.id == identify(file, "untitled.pipeline", tmp_path / "alice").id
    # another user whose home has the same layout: another pipeline
    assert mine.id != identify(file, "untitled.pipeline", tmp_path / "bob").id


@pytest.fixture
def api(jp_fetch, jp_root_dir):
    shutil.copytree(COLLISION, jp_root_dir / "project")

    async def call(path, body):
        response = await jp_fetch(
            "mlpipe-lab", path, method="POST", raise_error=False, body=json.dumps(body)
        )
        check_response("POST", "/" + path, response.code, response.body)
        return response.code, json.loads(response.body)

    return call


async def test_rest_submit_answers_409_with_the_other_file(api):
    body = {"path": "project/a/training.pipeline", "runtime_config": "local"}
    code, first = await api("submit", body)
    assert code == 200, first
    code, err = await api(
        "submit", {"path": "project/b/scoring.pipeline", "runtime_config": "local"}
    )
    assert code == 409
    assert err["error"]["field"] == "dag_id"
    (problem,) = err["error"]["problems"]
    assert problem["code"] == "dag-id-taken"
    assert problem["extra"]["published_from"] == "project/a/training.pipeline"
    code, taken = await api(
        "submit",
        {"path": "project/b/scoring.pipeline", "runtime_config": "local", "replace": True},
    )
    assert code == 200 and taken["changed"]
    code, err = await api(
        "retire",
        {"dag_id": "untitled", "runtime_config": "local", "path": "project/a/training.pipeline"},
    )
    assert code == 409 and err["error"]["problems"][0]["extra"]["published_from"] == (
        "project/b/scoring.pipeline"
    )
