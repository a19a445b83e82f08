"""The plan is the one truth: what validation reports is what export refuses, ids are the DAG's.

The generated DAG is read by the tests' own reader (compile_corpus.read_dag), never by code under
test; real Elyra pipelines come from ../shared/fixtures/elyra-realworld when it is there.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import compile_corpus as cc
import pytest
import serve_fixtures as sf
from pipeline_builder import node, pipeline

from mlpipe_lab.cli import main
from mlpipe_lab.compiler import compile_pipeline, export
from mlpipe_lab.pipeline import Pipeline, PipelineError, dumps
from mlpipe_lab.pipeline.files import LocalFiles
from mlpipe_lab.plan import check, layout_for, plan

LOCAL = {"name": "local", "type": "local", "local": {"artifacts_path": "/srv/artifacts"}}
NO_STORE = {**copy.deepcopy(cc.CONFIG), "object_storage": {}}


def _shared() -> Path:
    """../shared next to the checkout (or next to its parent folder, for /work/h/<name>)."""
    if os.environ.get("MLPIPE_SHARED_DIR"):
        return Path(os.environ["MLPIPE_SHARED_DIR"])
    from fixture_paths import SHARED

    return SHARED


REALWORLD = _shared() / "fixtures" / "elyra-realworld"


def located(problems):
    return [(p.severity, p.node_id, p.path, p.code) for p in problems]


def refused(doc, config, images=cc.IMAGES):
    """What compile refuses (PipelineError), as located problems; [] when it compiles."""
    try:
        compile_pipeline(
            Pipeline(copy.deepcopy(doc), "p.pipeline"),
            images=images,
            config=config,
            source_path="p.pipeline",
        )
    except PipelineError as exc:
        return located(exc.problems)
    return []


def reported(doc, config, images=cc.IMAGES):
    checked = check(copy.deepcopy(doc), config=config, images=images, source="p.pipeline")
    return located(checked.errors)


def _with(doc, **mlpipe):
    doc = copy.deepcopy(doc)
    doc["pipelines"][0]["app_data"].setdefault("mlpipe", {}).update(mlpipe)
    return doc


def _node_props(doc, index=0, **props):
    doc = copy.deepcopy(doc)
    doc["pipelines"][0]["nodes"][index]["app_data"]["component_parameters"].update(props)
    return doc


BASE = pipeline(
    "faults", [node("a", "a.py", image="python:3.11"), node("b", "b.py", parents=["a"])]
)
SERVE = sf.serve_pipeline("kserve")
SERVE_NO_URI = copy.deepcopy(SERVE)
SERVE_NO_URI["pipelines"][0]["nodes"][1]["app_data"]["component_parameters"].pop("tracking_uri")
SERVE_URI_SECRET = copy.deepcopy(SERVE)  # the URI is a task argument: the password in the DAG
SERVE_URI_SECRET["pipelines"][0]["nodes"][1]["app_data"]["component_parameters"]["tracking_uri"] = (
    "https://bob:hunter2@mlflow.example.com"
)

# Each fault the issue lists (valid in the editor, refused by export), with where it must be shown.
FAULTS = {
    "bad schedule": (
        _with(BASE, schedule="every day at 3"),
        LOCAL,
        ("error", None, "mlpipe/schedule", "schedule"),
    ),
    "unknown preset": (
        _with(BASE, schedule="@dayly"),
        LOCAL,
        ("error", None, "mlpipe/schedule", "schedule"),
    ),
    "bad start date": (
        _with(BASE, start_date="2024-02-30"),
        LOCAL,
        ("error", None, "mlpipe/start_date", "start-date"),
    ),
    "default below its minimum": (
        _with(BASE, parameters=[{"name": "k", "type": "integer", "default": 0, "minimum": 1}]),
        LOCAL,
        ("error", None, "mlpipe/parameters/0/default", "parameter"),
    ),
    "required parameter on a schedule": (
        _with(
            BASE, schedule="@daily", parameters=[{"name": "k", "type": "string", "required": True}]
        ),
        LOCAL,
        ("error", None, "mlpipe/parameters/0/default", "parameter"),
    ),
    "no node to run": (pipeline("empty", []), LOCAL, ("error", None, "", "empty-pipeline")),
    "a volume at /dev/shm": (
        _node_props(BASE, mounted_volumes=[{"path": "/dev/shm", "pvc_name": "shm"}]),
        LOCAL,
        ("error", "a", "component_parameters/mounted_volumes", "volume"),
    ),
    "no object storage": (BASE, NO_STORE, ("error", None, "", "object-storage")),
    "template text that cannot be protected": (
        _node_props(BASE, env_vars=[{"env_var": "X", "value": "{{ x }} endraw"}]),
        LOCAL,
        ("error", "a", "component_parameters/env_vars", "template-text"),
    ),
    "no tracking URI for a serve node": (
        SERVE_NO_URI,
        cc.CONFIG,
        ("error", "serve", "component_parameters/tracking_uri", "serve"),
    ),
    "credentials in the serve node's tracking URI": (
        SERVE_URI_SECRET,
        cc.CONFIG,
        ("error", "serve", "component_parameters/tracking_uri", "plain-secret"),
    ),
    "credentials in the runtime configuration's tracking URI": (
        SERVE_NO_URI,
        {**cc.CONFIG, "mlflow": {"tracking_uri": "http://bob:hunter2@mlflow:5000"}},
        ("error", "serve", "component_parameters/tracking_uri", "plain-secret"),
    ),
    "a deployment the serve node's dry-run refuses": (  # the namespace comes from the runtime
        sf.serve_pipeline("seldon-v2"),
        {**cc.CONFIG, "kubernetes": {**cc.CONFIG["kubernetes"], "namespace": "Not_A_Namespace"}},
        ("error", "serve", "component_parameters/deployment_name", "serve"),
    ),
    "two nodes with the same explicit task id": (
        pipeline(
            "ids",
            [
                node("a", "a.py", mlpipe={"task_id": "train"}),
                node("b", "b.py", mlpipe={"task_id": "Train"}),
            ],
        ),
        LOCAL,
        ("error", "b", "mlpipe/task_id", "duplicate-task-id"),
    ),
    "a name that gives no DAG id": (
        pipeline("???", [node("a", "a.py")]),
        LOCAL,
        ("error", None, "mlpipe/dag_id", "dag-id"),
    ),
}


@pytest.mark.parametrize("fault", FAULTS)
def test_validation_reports_what_export_refuses_located_by_node_and_field(fault):
    doc, config, where = FAULTS[fault]
    shown = reported(doc, config)
    assert where in shown, shown
    assert refused(doc, config) == shown  # the same problems, no more, no less


def test_credentials_in_the_runtime_tracking_uri_are_refused_where_a_dag_file_is_written():
    uri = {"mlflow": {"tracking_uri": "http://bob:hunter2@mlflow:5000"}}
    where = ("error", "serve", "component_parameters/tracking_uri", "plain-secret")
    worker = {**cc.CONFIG, "airflow": {"execution_mode": "local-worker"}, **uri}
    assert where in refused(SERVE_NO_URI, worker)  # the package step's argument
    local = {**LOCAL, **uri}  # a local run writes no DAG file
    assert where not in refused(SERVE_NO_URI, local)


def test_a_valid_pipeline_compiles_for_that_runtime_only():
    assert reported(BASE, LOCAL) == [] and refused(BASE, LOCAL) == []
    assert reported(BASE, NO_STORE) == refused(BASE, NO_STORE) != []


def test_runtime_images_are_needed_where_tasks_are_pods():
    """The plan alone says where a node needs an image: pods (Airflow 'kubernetes', any DAG file),
    not a local run nor Airflow's local-worker mode."""
    doc = pipeline("noimage", [node("a", "a.py", image=None), node("b", "b.py", parents=["a"])])
    where = ("error", "a", "component_parameters/runtime_image", "runtime-image")
    assert where in reported(doc, cc.CONFIG) and where in refused(doc, cc.CONFIG)
    assert reported(doc, LOCAL) == []  # validation for a local run: a warning only
    assert refused(doc, LOCAL) == [where]  # its DAG file runs pods
    worker = {**copy.deepcopy(cc.CONFIG), "airflow": {"execution_mode": "local-worker"}}
    assert reported(doc, worker) == [] and refused(doc, worker) == []
    local_plan = plan(Pipeline(copy.deepcopy(doc), "p.pipeline"), LOCAL)
    assert [t.image.ref for t in local_plan.tasks if t.image] == ["", "python:3.11"]


def _realworld_pipelines():
    if not REALWORLD.is_dir():
        return []
    return sorted(p for p in REALWORLD.rglob("*.pipeline") if "/." not in str(p))


@pytest.mark.skipif(not REALWORLD.is_dir(), reason="shared real-world fixtures not present")
@pytest.mark.parametrize("config", [LOCAL, cc.CONFIG], ids=["local", "airflow"])
def test_real_pipelines_validate_as_valid_exactly_when_they_export(config, tmp_path):
    """Every real pipeline (and every minimal reproduction): valid as a DAG <=> export writes one.
    (Checked for a local run, nodes need no runtime image: only that may differ.)"""
    mismatches, exports = [], 0
    pipelines = _realworld_pipelines()
    for index, path in enumerate(pipelines):
        text = path.read_text(encoding="utf-8")
        files = LocalFiles(path.parent)
        checked = check(
            text, config=config, images=cc.IMAGES, source=path.name, files=files, dag=True
        )
        here = check(text, config=config, images=cc.IMAGES, source=path.name, files=files)
        extra = {p.code for p in checked.errors} - {p.code for p in here.errors}
        if extra - {"runtime-image"} or (config is cc.CONFIG and extra):
            mismatches.append((str(path.relative_to(REALWORLD)), "run", sorted(extra)))
        out = tmp_path / f"{index}-{path.stem}" / "dag.py"
        try:
            export(path, config=config, images=cc.IMAGES, output=out)
            exported, why = True, []
        except PipelineError as exc:
            exported, why = False, located(exc.problems)
        exports += exported
        if checked.valid != exported or (not exported and located(checked.errors) != why):
            mismatches.append((str(path.relative_to(REALWORLD)), checked.valid, exported))
    assert mismatches == []
    assert len(pipelines) >= 70 and 0 < exports < len(pipelines)  # both kinds were seen


@pytest.mark.skipif(not REALWORLD.is_dir(), reason="shared real-world fixtures not present")
@pytest.mark.parametrize(
    "repro, where",
    [
        ("r5a_empty/r5a.pipeline", "no notebook, Python, R or Serve MLflow model node"),
        ("r5b_devshm/r5b.pipeline", "/dev/shm is reserved for shared memory"),
    ],
)
def test_repros_that_validated_but_did_not_export(repro, where, tmp_path, capsys, monkeypatch):
    path = REALWORLD / "_repro" / repro
    monkeypatch.chdir(tmp_path)
    assert main(["validate", str(path)]) == 1
    out = capsys.readouterr().out
    assert where in out and ": invalid (" in out
    assert main(["export", str(path), "-o", str(tmp_path / "dag.py")]) == 1
    assert where in capsys.readouterr().err
    assert not (tmp_path / "dag.py").exists()


# -- ids: one derivation, the DAG's ---------------------------------------------------------------


def test_describe_reports_the_task_ids_of_the_dag(tmp_path, capsys):
    doc = pipeline(
        "ids",
        [
            node("one", "one.py", label="b"),
            node("two", "two.py", label="Other", mlpipe={"task_id": "b"}),
            node("three", "three.py", label="b", parents=["one"]),
        ],
    )
    doc["pipelines"][0]["nodes"].append(
        {"id": "bind", "type": "binding_entry_node", "app_data": {"label": "b"}, "outputs": []}
    )
    for name in ("one.py", "two.py", "three.py"):
        (tmp_path / name).write_text("pass\n")
    (tmp_path / "ids.pipeline").write_text(dumps(doc))
    assert main(["export", str(tmp_path / "ids.pipeline"), "-o", str(tmp_path / "dag.py")]) == 0
    in_dag = cc.read_dag((tmp_path / "dag.py").read_text())["tasks"]
    capsys.readouterr()
    assert main(["describe", "--json", str(tmp_path / "ids.pipeline")]) == 0
    described = {n["id"]: n for n in json.loads(capsys.readouterr().out)["nodes"]}
    # every node's task in the DAG is the one describe names: its display name is the node's label
    assert {described[n]["task_id"] for n in ("one", "two", "three")} == set(in_dag)
    for node_id in ("one", "two", "three"):
        task = in_dag[described[node_id]["task_id"]]
        assert task.get("task_display_name", task["task_id"]) == described[node_id]["label"]
    assert described["two"]["task_id"] == "b"  # the explicit id wins, as in the DAG
    assert described["bind"]["task_id"] is None and described["bind"]["task_ids"] == []


def test_the_duplicate_id_warning_names_the_id_the_dag_has():
    doc = pipeline("p", [node("a", "a.py", label="Train"), node("b", "b.py", label="train")])
    checked = check(doc, config=LOCAL)
    (warning,) = [p for p in checked.problems if p.code == "duplicate-task-id"]
    assert warning.node_id == "b" and "so this one is 'train_2'" in warning.message
    text = compile_pipeline(Pipeline(doc), images=[], config=LOCAL, source_path="p").text
    assert set(cc.read_dag(text)["tasks"]) == {"Train", "train_2"}


def test_serve_tasks_follow_the_runtime():
    """Without Kubernetes a serve node packages and checks; it never announces _deploy etc."""
    doc = sf.serve_pipeline("seldon-v1")
    local_ids = [t.task_id for t in plan(Pipeline(doc), LOCAL).tasks]
    assert local_ids == ["train", "Serve_churn_package", "Serve_churn_check", "report"]
    worker = copy.deepcopy(cc.CONFIG)
    worker["airflow"]["execution_mode"] = "local-worker"
    assert [s.task_id for s in layout_for(Pipeline(doc), worker).slots] == local_ids
    pods = [t.task_id for t in plan(Pipeline(doc), cc.CONFIG).tasks]
    assert pods[1:6] == [
        f"Serve_churn_{s}" for s in ("package", "build", "deploy", "wait", "smoke")
    ]
    for config in (LOCAL, cc.CONFIG):
        text = compile_pipeline(
            Pipeline(doc), images=cc.IMAGES, config=config, source_path="s"
        ).text
        planned = [t.task_id for t in plan(Pipeline(doc), config, cc.IMAGES).tasks]
        assert cc.read_dag(text)["order"] == planned


def test_the_planner_never_raises_on_broken_documents():
    """Validation plans every document it can read; nothing in a broken one may crash it."""
    broken = [
        pipeline("p", [node("a", "a.py", cpu=True, memory=[1], gpu="x", outputs="o.csv")]),
        pipeline("p", [node("a", "a.py", env_vars="X=1", kubernetes_secrets=[{"env_var": 3}])]),
        _with(BASE, parameters=[{"name": "k", "type": ["x"], "default": {}, "enum": "ab"}]),
        _with(BASE, schedule=5, start_date=20240101, tags="abc", max_active_runs="many"),
        _with(BASE, node_selector="x", retries="3", doc_md=7),
        _node_props(SERVE, 1, target=5, smoke_request=[1], replicas="two", memory={}),
        _node_props(BASE, kubernetes_shared_mem_size={"size": float("inf")}, mounted_volumes=[5]),
    ]
    for doc in broken:
        for config in (LOCAL, cc.CONFIG, NO_STORE, {}):
            checked = check(json.loads(json.dumps(doc)), config=config, images=cc.IMAGES)
            assert checked.plan is not None and checked.problems is not None


# -- the services plan once --------------------------------------------------------------------


def _count_plans(monkeypatch):
    from mlpipe_lab.plan import planner

    calls = []
    real = planner.layout

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(planner, "layout", counted)
    return calls


def test_following_a_run_plans_once_per_content_of_the_file(tmp_path, monkeypatch):
    from mlpipe_lab.services import Services

    for name in ("a.py", "b.py"):
        (tmp_path / name).write_text("pass\n")
    doc = pipeline("poll", [node("a", "a.py"), node("b", "b.py", parents=["a"])])
    (tmp_path / "poll.pipeline").write_text(dumps(doc))
    services = Services(tmp_path, tmp_path / "data")
    calls = _count_plans(monkeypatch)
    first = services.pipelines.tasks("poll.pipeline", "local")
    for _ in range(5):  # a run followed in the UI: a poll every few seconds
        assert services.pipelines.tasks("poll.pipeline", "local") == first
    assert first[0] == "poll" and [t["task_id"] for t in first[1]] == ["a", "b"]
    assert len(calls) == 1
    doc["pipelines"][0]["nodes"][1]["app_data"]["label"] = "second"
    (tmp_path / "poll.pipeline").write_text(dumps(doc))
    assert [t["task_id"] for t in services.pipelines.tasks("poll.pipeline", "local")[1]] == [
        "a",
        "second",
    ]
    assert len(calls) == 2


def test_run_with_publish_plans_and_exports_once(tmp_path, monkeypatch):
    import importlib

    from mlpipe_lab.errors import MLPipeError
    from mlpipe_lab.services import Services

    for name in ("a.py",):
        (tmp_path / name).write_text("pass\n")
    (tmp_path / "once.pipeline").write_text(dumps(pipeline("once", [node("a", "a.py")])))
    services = Services(tmp_path, tmp_path / "data")
    services.catalogs.create(
        "runtime-configs",
        {
            "name": "af",
            "type": "airflow",
            "airflow": {"api_endpoint": "http://127.0.0.1:9/airflow"},
            "dag_repo": {"url": str(tmp_path / "missing" / "dags.git")},
            "object_storage": {"bucket": "pipelines", "endpoint": "http://127.0.0.1:9"},
        },
    )
    plans = _count_plans(monkeypatch)
    export_module = importlib.import_module("mlpipe_lab.compiler.export")
    exports = []
    real_export = export_module.export
    monkeypatch.setattr(
        export_module, "export", lambda *a, **k: exports.append(1) or real_export(*a, **k)
    )
    body = {"runtime_config": "af", "path": "once.pipeline", "publish": True}
    with pytest.raises(MLPipeError) as failed:  # no store credentials: the publish fails
        services.runs.start(body)
    assert "Publishing 'once.pipeline' failed" in failed.value.message
    assert (len(exports), len(plans)) == (1, 1)


def test_a_local_run_announces_the_tasks_it_runs(tmp_path):
    """The runs service lists a local run's tasks from the local plan: a serve node packages and
    checks there (no _deploy, _wait or _smoke that would never run)."""
    from mlpipe_lab.services import Services

    for name in ("train.py", "report.py"):
        (tmp_path / name).write_text("pass\n")
    (tmp_path / "s.pipeline").write_text(dumps(sf.serve_pipeline("seldon-v1")))
    services = Services(tmp_path, tmp_path / "data")
    _, _, plan, _ = services.runs._prepare("s.pipeline", None, {}, "local")
    tasks = plan.task_summaries()
    assert plan.dag_id == "serve_seldon_v1"
    assert [t["task_id"] for t in tasks] == [
        "train",
        "Serve_churn_package",
        "Serve_churn_check",
        "report",
    ]


def test_retire_by_pipeline_takes_the_dag_id_export_uses(tmp_path, capsys, monkeypatch):
    """No DAG id of its own: retire refuses like export, never retires a made-up id."""
    (tmp_path / "a.py").write_text("pass\n")
    (tmp_path / "odd.pipeline").write_text(dumps(pipeline("???", [node("a", "a.py")])))
    monkeypatch.chdir(tmp_path)
    assert main(["export", "odd.pipeline"]) == 1
    assert "gives no usable DAG id" in capsys.readouterr().err
    assert main(["retire", "odd.pipeline"]) == 2
    err = capsys.readouterr().err
    assert "gives no usable DAG id" in err and "'pipeline'" not in err
