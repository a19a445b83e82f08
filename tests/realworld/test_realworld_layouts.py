"""Layouts real repositories use: notebooks in a sibling folder of the pipeline (allowed anywhere
below the project root), dependencies and outputs relative to the node's file, and what escapes
the root refused. The run at the end executes the nodes for real (the runner, local store)."""

from __future__ import annotations

import gc
import json
import os
import subprocess

import pytest
from pipeline_builder import node, pipeline

from mlpipe_lab.cli import main
from mlpipe_lab.localrun.run import run_pipeline
from mlpipe_lab.pipeline.files import find_project_root


def write(root, rel, text=""):
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def project(tmp_path):
    """A project in git: the pipeline in pipelines/, its scripts in scripts/ (a sibling)."""
    root = tmp_path / "project"
    write(root, "scripts/util.py", "SCALE = 3\n")
    write(root, "scripts/inputs/rows.csv", "1\n2\n")
    write(
        root,
        "scripts/load.py",
        "import util, os\nos.makedirs('out', exist_ok=True)\n"
        "rows = [int(r) * util.SCALE for r in open('inputs/rows.csv').read().split()]\n"
        "open('out/rows.json', 'w').write(str(rows))\n",
    )
    write(
        root,
        "scripts/report/report.py",
        "rows = eval(open('out/rows.json').read())\nopen('total.txt', 'w').write(str(sum(rows)))\n",
    )
    doc = pipeline(
        "layout",
        [
            node(
                "load",
                "../scripts/load.py",
                dependencies=["util.py", "inputs"],
                outputs=["out/rows.json"],
            ),
            node("report", "../scripts/report/report.py", parents=["load"], outputs=["total.txt"]),
        ],
    )
    write(root, "pipelines/layout.pipeline", json.dumps(doc, indent=2))
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    return root


def cli(capsys, *argv):
    try:
        code = main([*argv, "--json"])
    finally:
        gc.enable()
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip() else {}


def test_the_cli_finds_the_project_root(project, tmp_path, monkeypatch):
    pipeline_file = project / "pipelines" / "layout.pipeline"
    monkeypatch.chdir(tmp_path)  # anywhere: the git work tree decides
    assert find_project_root(pipeline_file, tmp_path) == project.resolve()
    outside = tmp_path / "loose" / "p.pipeline"
    write(tmp_path, "loose/p.pipeline", "{}")
    assert find_project_root(outside, tmp_path) == tmp_path.resolve()  # the current folder
    assert find_project_root(outside, project) == outside.parent.resolve()  # not below: its own


def test_sibling_folders_export_and_run(project, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out = cli(capsys, "export", str(project / "pipelines/layout.pipeline"), "-o", "d.py")
    assert code == 0, out
    bundles = {b["node_id"]: b["files"] for b in out["bundles"]}
    # relative to the node file's folder, which is where the node runs
    assert bundles == {
        "load": ["inputs/rows.csv", "load.py", "util.py"],
        "report": ["report.py"],
    }
    result = run_pipeline(
        project / "pipelines" / "layout.pipeline",
        artifacts_root=tmp_path / "artifacts",
        project_root=project,
    )
    assert result.ok, [(n.task_id, n.status, n.message) for n in result.nodes]
    total = next(
        p for p in (tmp_path / "artifacts").rglob("total.txt") if "outputs" in p.parts
    ).read_text()
    assert total == "9"  # (1 + 2) * 3: util.py and inputs/ came along, out/rows.json flowed down


@pytest.mark.parametrize(
    "filename, field, words",
    [
        ("../../outside.py", "component_parameters/filename", "outside the project root"),
        ("/etc/passwd.py", "component_parameters/filename", "absolute path"),
        ("../scripts/link.py", "component_parameters/filename", "link to a place outside"),
    ],
)
def test_what_escapes_the_root_is_refused(project, capsys, tmp_path, filename, field, words):
    write(tmp_path, "outside.py", "print('secret')\n")
    os.symlink(tmp_path / "outside.py", project / "scripts" / "link.py")
    doc = pipeline("escape", [node("a", filename)])
    write(project, "pipelines/escape.pipeline", json.dumps(doc))
    code, out = cli(capsys, "validate", str(project / "pipelines/escape.pipeline"))
    (problem,) = [p for p in out["problems"] if p["severity"] == "error"]
    assert code == 1 and problem["path"] == field and words in problem["message"]
    assert problem["node_id"] == "a"


def test_a_dependency_outside_the_node_folder_is_refused(project, capsys):
    doc = pipeline("dep", [node("a", "../scripts/load.py", dependencies=["../pipelines/x"])])
    write(project, "pipelines/dep.pipeline", json.dumps(doc))
    code, out = cli(capsys, "validate", str(project / "pipelines/dep.pipeline"))
    (problem,) = [p for p in out["problems"] if p["severity"] == "error"]
    assert problem["path"] == "component_parameters/dependencies/0"
    assert "outside the node file's folder" in problem["message"]


def test_root_option_narrows_the_project(project, capsys):
    code, out = cli(
        capsys,
        "validate",
        "--root",
        str(project / "pipelines"),
        str(project / "pipelines/layout.pipeline"),
    )
    assert code == 1
    assert {p["path"] for p in out["problems"] if p["severity"] == "error"} == {
        "component_parameters/filename"
    }
