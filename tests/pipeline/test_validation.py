"""Validation: every kind of problem, located by pipeline, node, field, with a readable message."""

from __future__ import annotations

import json
import os

import pytest
from fixture_paths import ELYRA_FIXTURES
from pipeline_builder import node, pipeline

from mlpipe_lab.pipeline import validate
from mlpipe_lab.pipeline.files import LocalFiles
from mlpipe_lab.plan import check

LOCAL = {"name": "local", "type": "local", "local": {"artifacts_path": "/srv/artifacts"}}


def problems_of(doc, folder=None, images=None, source="p.pipeline", config=LOCAL):
    """What validation reports: the structural checks and the plan's, for a runtime config."""
    files = LocalFiles(folder) if folder is not None else None
    text = doc if isinstance(doc, str) else json.dumps(doc)
    catalog = None if images is None else [{"name": i, "image": i} for i in images]
    return check(text, source=source, files=files, images=catalog, config=config).problems


def codes(problems):
    return sorted({p.code for p in problems})


def write(folder, *names):
    for name in names:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("print(1)\n")


@pytest.mark.parametrize("name", ["hello_world", "props_demo"])
def test_elyra_fixtures_validate_clean_with_their_images_in_the_catalog(name):
    folder = ELYRA_FIXTURES / name
    images = {"amancevice/pandas:jupyter-2.3.2", "quay.io/example/private:1.0"}
    problems = validate(
        (folder / f"{name}.pipeline").read_text(),
        source=name,
        files=LocalFiles(folder),
        images=images,
    )
    assert problems == []


def test_json_error_has_line_and_column():
    (problem,) = problems_of('{\n  "doc_type": "pipeline",\n  "version": 3.0,,\n}')
    assert problem.code == "json"
    assert (problem.line, problem.column) == (3, 18)
    assert "not valid JSON" in problem.message
    assert "line 3, column 18" in problem.describe()


def test_envelope_schema_errors_stop_early_with_the_field():
    probs = problems_of(
        {"doc_type": "pipeline", "version": "2.0", "primary_pipeline": "x", "pipelines": []}
    )
    assert {p.path for p in probs} == {"version", "pipelines"}
    assert all(p.code == "schema" for p in probs)


def test_node_schema_errors_name_node_and_field(tmp_path):
    write(tmp_path, "a.py")
    doc = pipeline(
        "p",
        [
            node(
                "n1",
                "a.py",
                label="Train",
                cpu=-2,
                memory="lots",
                env_vars=[{"env_var": "1BAD", "value": "x"}],
                mlpipe={"retries": -1, "bogus": True},
            )
        ],
    )
    probs = problems_of(doc, tmp_path)
    by_path = {p.path: p for p in probs}
    assert set(by_path) >= {
        "component_parameters/cpu",
        "component_parameters/memory",
        "component_parameters/env_vars/0/env_var",
        "mlpipe/retries",
        "mlpipe",
    }
    for p in probs:
        assert p.node_id == "n1" and p.node_label == "Train" and p.pipeline == "p"
    assert "positive number" in by_path["component_parameters/cpu"].message
    assert "bogus" in by_path["mlpipe"].message


def test_filename_must_match_node_type(tmp_path):
    write(tmp_path, "a.py")
    doc = pipeline("p", [node("n1", "a.py")])
    doc["pipelines"][0]["nodes"][0]["op"] = "execute-notebook-node"
    (p,) = problems_of(doc, tmp_path)
    assert p.path == "component_parameters/filename"


def test_cycle_names_the_nodes_in_order(tmp_path):
    write(tmp_path, "a.py", "b.py", "c.py")
    doc = pipeline(
        "p",
        [
            node("a", "a.py", label="Load", parents=["c"]),
            node("b", "b.py", label="Train", parents=["a"]),
            node("c", "c.py", label="Score", parents=["b"]),
        ],
    )
    (p,) = problems_of(doc, tmp_path)
    assert p.code == "cycle"
    assert "Load → Train → Score → Load" in p.message
    assert p.extra["nodes"] == ["a", "b", "c"]


def test_self_link_is_a_cycle(tmp_path):
    write(tmp_path, "a.py")
    (p,) = problems_of(pipeline("p", [node("a", "a.py", parents=["a"])]), tmp_path)
    assert p.code == "cycle" and p.node_id == "a"


def test_link_to_missing_node(tmp_path):
    write(tmp_path, "a.py")
    (p,) = problems_of(pipeline("p", [node("a", "a.py", parents=["ghost"])]), tmp_path)
    assert p.code == "missing-link-target"
    assert "'ghost'" in p.message and p.node_id == "a"


def test_missing_file(tmp_path):
    (p,) = problems_of(pipeline("p", [node("a", "nope.py")]), tmp_path)
    assert (p.code, p.path) == ("file", "component_parameters/filename")
    assert "does not exist" in p.message


@pytest.mark.parametrize(
    "filename,words",
    [
        ("../secret.py", "outside"),
        ("sub/../../secret.py", "outside"),
        ("/etc/passwd.py", "absolute"),
        ("~/x.py", "absolute"),
    ],
)
def test_out_of_root_paths_are_refused(tmp_path, filename, words):
    root = tmp_path / "root"
    root.mkdir()
    write(tmp_path, "secret.py")
    probs = problems_of(pipeline("p", [node("a", filename)]), root)
    assert [p.code for p in probs] == ["file"]
    assert words in probs[0].message


def test_symlink_escaping_the_root_is_refused_and_inside_is_fine(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    write(tmp_path, "outside.py")
    write(root, "inside.py")
    os.symlink(tmp_path / "outside.py", root / "link.py")
    os.symlink(root / "inside.py", root / "ok.py")
    (p,) = problems_of(pipeline("p", [node("a", "link.py")]), root)
    assert "outside" in p.message
    assert problems_of(pipeline("p", [node("a", "ok.py")]), root) == []


def test_dependencies_outside_or_matching_nothing(tmp_path):
    write(tmp_path, "a.py", "data/x.csv")
    doc = pipeline("p", [node("a", "a.py", dependencies=["data/*.csv", "../up/*", "none/*.txt"])])
    probs = problems_of(doc, tmp_path)
    # a dependency that matches nothing would make a smaller bundle without a word: an error
    assert [(p.path, p.severity) for p in probs] == [
        ("component_parameters/dependencies/1", "error"),
        ("component_parameters/dependencies/2", "error"),
    ]
    assert "outside the node file's folder" in probs[0].message
    assert "matches no file" in probs[1].message


AIRFLOW = {
    "name": "prod",
    "type": "airflow",
    "object_storage": {"bucket": "b", "pod_credentials_secret": "s3-creds"},
}
WORKER = {**AIRFLOW, "airflow": {"execution_mode": "local-worker"}}


def test_runtime_image_needed_for_airflow_pods_not_for_a_local_run(tmp_path):
    write(tmp_path, "a.py", "b.py", "c.py")
    doc = pipeline(
        "p",
        [
            node("a", "a.py", image=None),
            node("b", "b.py", image="private/img:1"),
            node("c", "c.py", image=None),
        ],
    )
    # Airflow with pods: an error on each node without one, naming the field and the config
    probs = problems_of(doc, tmp_path, images={"python:3.11"}, config=AIRFLOW)
    found = [(p.node_id, p.code, p.severity, p.path) for p in probs if p.code == "runtime-image"]
    assert found == [
        ("b", "runtime-image", "warning", "component_parameters/runtime_image"),
        ("a", "runtime-image", "error", "component_parameters/runtime_image"),
        ("c", "runtime-image", "error", "component_parameters/runtime_image"),
    ]
    assert "not in the runtime image catalog" in probs[0].message
    assert "runtime configuration 'prod'" in probs[1].message
    assert "node 'a.py'" in probs[1].describe() and "runtime_image" in probs[1].describe()
    # the local runtime: no error, one warning that export to Airflow will need one
    probs = problems_of(doc, tmp_path, images={"python:3.11"})
    assert not [p for p in probs if p.severity == "error"]
    (said,) = [p for p in probs if p.code == "runtime-image" and p.node_id == "a"]
    assert said.severity == "warning" and said.extra["nodes"] == ["a", "c"]
    assert "local run does not need one" in said.message
    # as a DAG file (export, submit) the local runtime's pods need them too
    dag = check(json.dumps(doc), source="p.pipeline", config=LOCAL, dag=True)
    assert [p.node_id for p in dag.errors] == ["a", "c"]
    # Airflow's local-worker mode runs nodes on the worker: no image needed, none asked for
    probs = problems_of(doc, tmp_path, config=WORKER)
    assert not [p for p in probs if p.code == "runtime-image" and p.node_id != "b"]
    # a pipeline default satisfies every node
    doc["pipelines"][0]["app_data"]["properties"]["pipeline_defaults"] = {
        "runtime_image": "python:3.11"
    }
    probs = problems_of(doc, tmp_path, images={"python:3.11"}, config=AIRFLOW)
    assert [p.node_id for p in probs if p.code == "runtime-image"] == ["b"]


def test_duplicate_task_ids_after_sanitising(tmp_path):
    write(tmp_path, "a.py", "b.py", "c.py")
    doc = pipeline(
        "p",
        [
            node("a", "a.py", label="Train model"),
            node("b", "b.py", label="train-model!"),
            node("c", "c.py", label="Train model"),
        ],
    )
    probs = problems_of(doc, tmp_path)
    assert [(p.node_id, p.severity) for p in probs] == [("c", "warning")]
    assert (
        "'Train model' and 'Train model' both become task id 'Train_model', so this one is "
        "'Train_model_2'" in probs[0].message
    )
    # an explicit id wins: the nodes whose derived id it takes get the suffixes, as the DAG does
    doc["pipelines"][0]["nodes"][1]["app_data"]["mlpipe"] = {"task_id": "Train_model"}
    probs = problems_of(doc, tmp_path)
    assert [(p.node_id, p.severity, p.path) for p in probs] == [
        ("a", "warning", "label"),
        ("c", "warning", "label"),
    ]
    assert "so this one is 'Train_model_2'" in probs[0].message
    assert "so this one is 'Train_model_3'" in probs[1].message
    # two explicit ids that are the same (for pods: case-insensitively) cannot both be kept
    doc["pipelines"][0]["nodes"][2]["app_data"]["mlpipe"] = {"task_id": "train_MODEL"}
    probs = problems_of(doc, tmp_path)
    assert ("c", "error", "mlpipe/task_id") in [(p.node_id, p.severity, p.path) for p in probs]


def test_secret_looking_env_vars_warn(tmp_path):
    write(tmp_path, "a.py")
    doc = pipeline(
        "p",
        [
            node(
                "a",
                "a.py",
                env_vars=[
                    {"env_var": "DB_PASSWORD", "value": "hunter2"},
                    {"env_var": "GITHUB_TOKEN", "value": ""},
                    {"env_var": "STAGE", "value": "dev"},
                ],
            )
        ],
        defaults={"env_vars": [{"env_var": "AWS_SECRET_ACCESS_KEY", "value": "abc"}]},
    )
    probs = problems_of(doc, tmp_path)
    assert [(p.path, p.severity, p.node_id) for p in probs] == [
        ("properties/pipeline_defaults/env_vars/0/value", "warning", None),
        ("component_parameters/env_vars/0/value", "warning", "a"),
    ]
    assert "Kubernetes secret" in probs[1].message


def test_nodes_that_cannot_run_are_named(tmp_path):
    doc = pipeline("p", [])
    doc["pipelines"][0]["nodes"] = [
        {"id": "s", "type": "super_node", "app_data": {"label": "Group"}},
        {"id": "c", "type": "execution_node", "op": "local-file-catalog:abc:MyOp", "app_data": {}},
        {"id": "n", "type": "execution_node", "app_data": {}},
    ]
    probs = [p for p in problems_of(doc, tmp_path) if p.severity == "error"]
    assert [(p.node_id, p.code, p.path) for p in probs] == [
        ("s", "supernode", "subflow_ref"),  # its sub-pipeline is not in the file
        ("n", "unsupported-node", "op"),
        ("c", "component", "op"),  # in no component catalog
    ]
    assert "'local-file-catalog:abc:MyOp' is in none of the component catalogs" in probs[2].message


def test_parameters_typed_and_referenced(tmp_path):
    write(tmp_path, "a.py")
    doc = pipeline(
        "p",
        [node("a", "a.py", pipeline_parameters=["rate", "ghost"])],
        mlpipe={
            "parameters": [
                {"name": "rate", "type": "number", "default": "fast"},
                {"name": "rate", "type": "number", "default": 0.1},
            ]
        },
    )
    msgs = [p.message for p in problems_of(doc, tmp_path)]
    assert any("the default 'fast' is not a number" in m for m in msgs)
    assert any("defined twice" in m for m in msgs)
    assert any("parameter 'ghost'" in m for m in msgs)


def test_schema_messages_say_what_is_expected(tmp_path):
    """Issue 18: no quoted schema ("'x' is required", "-1 is less than the minimum of 0",
    "None is not of type 'string'", "has characters that are not allowed" without saying which)."""
    write(tmp_path, "a.py")
    doc = pipeline(
        "p",
        [
            node(
                "n1",
                "a.py",
                env_vars=[{"env_var": "1BAD", "value": "x"}],
                mlpipe={"retries": -1, "task_id": None},
            )
        ],
        mlpipe={"parameters": [{"type": "string"}, {"name": "", "type": "string"}]},
    )
    by_path = {p.path: p.message for p in problems_of(doc, tmp_path)}
    assert by_path["mlpipe/retries"] == "Retries must be 0 or more (it is -1)."
    assert by_path["mlpipe/task_id"].startswith("Task id is empty: enter text")
    env = by_path["component_parameters/env_vars/0/env_var"]
    assert env.startswith("Name: '1BAD' is not allowed here; use letters, digits")
    # a new parameter without a name: said on its name field, with what a name is
    assert by_path["mlpipe/parameters/0/name"].startswith("Name is required: enter a value")
    assert "Python identifier" in by_path["mlpipe/parameters/0/name"]
    assert "a Python-style name" in by_path["mlpipe/parameters/1/name"]
    for message in by_path.values():
        assert "is a required property" not in message
        assert "is less than the minimum" not in message
        assert "is not of type" not in message
        assert "characters that are not allowed" not in message


def test_pipeline_settings_schema(tmp_path):
    write(tmp_path, "a.py")
    doc = pipeline("p", [node("a", "a.py")], mlpipe={"dag_id": "has space", "max_active_runs": 0})
    paths = sorted(p.path for p in problems_of(doc, tmp_path))
    assert paths == ["mlpipe/dag_id", "mlpipe/max_active_runs"]


def test_every_problem_serialises(tmp_path):
    doc = pipeline("p", [node("a", "missing.py", parents=["ghost"])])
    for p in problems_of(doc, tmp_path):
        data = p.to_json()
        assert {"code", "message", "severity", "pipeline"} <= set(data)
        json.dumps(data)


def test_large_pipelines_take_the_quick_path_and_still_report_every_problem(tmp_path, monkeypatch):
    """Above the threshold generated validators say yes/no; the messages stay the same."""
    from mlpipe_lab.pipeline import validation

    write(tmp_path, "a.py")
    nodes = [node(f"n{i}", "a.py", label=f"n{i}") for i in range(6)]
    nodes[2]["app_data"]["component_parameters"]["cpu"] = -1
    nodes[4]["app_data"]["mlpipe"] = {"trigger_rule": "sometimes"}
    doc = pipeline("p", nodes)
    monkeypatch.setattr(validation, "quick_cached", lambda *args: False)
    slow = [p.to_json() for p in problems_of(doc, tmp_path)]
    monkeypatch.setattr(validation, "QUICK_CHECK_NODES", 1)
    quick = [p.to_json() for p in problems_of(doc, tmp_path)]
    assert quick == slow
    assert [(p["node_id"], p["path"]) for p in quick] == [
        ("n2", "component_parameters/cpu"),
        ("n4", "mlpipe/trigger_rule"),
    ]
    # and a clean pipeline has no problem on the quick path
    doc = pipeline("p", [node(f"n{i}", "a.py", label=f"n{i}") for i in range(6)])
    assert problems_of(doc, tmp_path) == []


def test_generated_validators_are_cached_on_disk(tmp_path, monkeypatch):
    """quick_check's generated code is kept in the cache folder and loaded from there later;
    a damaged cache file is regenerated, an unwritable cache folder only costs time."""
    import fastjsonschema

    from mlpipe_lab import schemas

    monkeypatch.setenv("MLPIPE_CACHE_DIR", str(tmp_path / "cache"))
    schemas.quick_check.cache_clear()
    assert not schemas.quick_cached("runtime-image")
    check = schemas.quick_check("runtime-image")
    files = list((tmp_path / "cache" / "validators").glob("*.marshal"))
    assert len(files) == 1 and schemas.quick_cached("runtime-image")
    good = {"name": "pandas", "display_name": "Pandas", "image": "amancevice/pandas:2.4"}
    assert check(good) and not check({"name": 3})

    def no_generation(*args, **kwargs):
        raise AssertionError("generated again instead of loaded")

    schemas.quick_check.cache_clear()
    monkeypatch.setattr(fastjsonschema, "compile_to_code", no_generation)
    assert schemas.quick_check("runtime-image")(good)

    monkeypatch.undo()
    monkeypatch.setenv("MLPIPE_CACHE_DIR", str(tmp_path / "cache"))
    files[0].write_bytes(b"not marshal data")
    schemas.quick_check.cache_clear()
    assert schemas.quick_check("runtime-image")(good)
    assert files[0].read_bytes() != b"not marshal data"

    (tmp_path / "blocked").write_text("a file where the cache folder should be")
    monkeypatch.setenv("MLPIPE_CACHE_DIR", str(tmp_path / "blocked"))
    schemas.quick_check.cache_clear()
    assert schemas.quick_check("runtime-image")(good)
    schemas.quick_check.cache_clear()
