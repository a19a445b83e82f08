"""The whole compile corpus in real Airflow 3.3 and 2.10 (tests/airflow/harness.py): every DAG
imports, and what Airflow builds (tasks, links, schedule, params, rendered pods) is what the file says."""

from __future__ import annotations

import json
from types import SimpleNamespace

import compile_corpus as cc
import jinja2.sandbox
import pytest
from compile_corpus import C, read_dag
from fixture_paths import load_airflow_harness

from mlpipe_lab.compiler import compile_pipeline
from mlpipe_lab.pipeline import Pipeline

harness = load_airflow_harness()


pytestmark = pytest.mark.airflow

JINJA = jinja2.sandbox.SandboxedEnvironment(extensions=["jinja2.ext.do"], cache_size=0)


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dags")
    out = {}
    for name, doc in cc.corpus().items():
        result = compile_pipeline(
            Pipeline(doc, f"{name}.pipeline"),
            images=cc.IMAGES,
            config=cc.CONFIG,
            source_path=f"{name}.pipeline",
        )
        (folder / result.filename).write_text(result.text, encoding="utf-8")
        out[result.dag_id] = read_dag(result.text)
    local = compile_pipeline(
        Pipeline(cc.everything(), "local.pipeline"),
        images=cc.IMAGES,
        config=cc.LOCAL_CONFIG,
        source_path="local.pipeline",
    )
    text = local.text.replace('dag_id="everything"', 'dag_id="everything_local"')
    (folder / "everything_local.py").write_text(text, encoding="utf-8")
    out["everything_local"] = read_dag(text)
    return folder, out


@pytest.fixture(scope="module")
def reports(compiled):
    folder, _ = compiled
    return harness.inspect_both(folder, render={})


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)


def as_k8s(value, render):
    """Our C(...) tree as Kubernetes API JSON, with templated strings rendered."""
    if isinstance(value, C):
        return {camel(k): as_k8s(v, render) for k, v in value.kwargs.items()}
    if isinstance(value, list):
        return [as_k8s(v, render) for v in value]
    if isinstance(value, dict):
        return {k: as_k8s(v, render) for k, v in value.items()}
    return render(value) if isinstance(value, str) else value


def expected_container(task: dict, render) -> dict:
    env = [{"name": k, "value": render(v)} for k, v in task.get("env_vars", {}).items()]
    env += [
        {"name": s.args[1], "valueFrom": {"secretKeyRef": {"key": s.args[3], "name": s.args[2]}}}
        for s in task.get("secrets", [])
    ]
    out = {
        "image": render(task["image"]),
        "command": [render(a) for a in task["cmds"]],
        "args": [render(a) for a in task["arguments"]],
        "env": env,
        "volumeMounts": [
            {camel(k): (render(v) if k == "sub_path" else v) for k, v in m.kwargs.items()}
            for m in task.get("volume_mounts", [])
        ],
    }
    if "image_pull_policy" in task:
        out["imagePullPolicy"] = task["image_pull_policy"]
    if "container_resources" in task:
        out["resources"] = as_k8s(task["container_resources"], render)
    return out


def delivered(task: dict, render) -> dict:
    """What the runner's delivery adds through ``full_pod_spec`` (init-container mode): the init
    container, its emptyDir volume and the main container's read-only mount of it."""
    spec = task.get("full_pod_spec")
    if spec is None:
        return {"mounts": [], "volumes": [], "init": []}
    pod = as_k8s(spec, render)["spec"]
    return {
        "mounts": pod["containers"][0].get("volumeMounts", []),
        "volumes": pod.get("volumes", []),
        "init": pod.get("initContainers", []),
    }


def same_items(got: list, want: list) -> bool:
    """Equal as multisets: the provider merges ``full_pod_spec`` lists with the operator's own."""
    key = lambda x: json.dumps(x, sort_keys=True)  # noqa: E731
    return sorted(got, key=key) == sorted(want, key=key)


@pytest.mark.parametrize("version", harness.VERSIONS)
def test_corpus_in_real_airflow(version, compiled, reports):
    _, dags = compiled
    report = reports[version]
    assert report["import_errors"] == {}
    assert report["warnings"] == {} or version == "2.10"
    assert set(report["dags"]) == set(dags)
    for dag_id, ours in dags.items():
        got = report["dags"][dag_id]
        d = ours["dag"]
        assert got["serialization_error"] is None, dag_id
        assert got["schedule"] == d["schedule"] and got["catchup"] == d["catchup"]
        assert got["tags"] == d["tags"] and got["max_active_runs"] == d["max_active_runs"]
        assert got["is_paused_upon_creation"] == d["is_paused_upon_creation"]
        assert got["start_date"].startswith(
            f"{d['start_date'].args[0]:04d}-{d['start_date'].args[1]:02d}-"
        )
        params = d.get("params", {})
        assert {k: v["default"] for k, v in got["params"].items()} == {
            k: (p.args[0] if p.args else None) for k, p in params.items()
        }
        for name, p in params.items():
            assert got["params"][name]["schema"]["type"] == p.kwargs["type"]
        assert set(got["tasks"]) == set(ours["tasks"])
        run_params = got["render"]["params"]
        for task_id, task in ours["tasks"].items():
            gt = got["tasks"][task_id]
            assert sorted(gt["upstream"]) == sorted(ours["upstream"][task_id]), (dag_id, task_id)
            assert gt["operator"] == "KubernetesPodOperator"
            assert gt["render_error"] is None and gt["rendered_pod_error"] is None, gt[
                "render_error"
            ]
            prefix = gt["rendered"]["cmds"][gt["rendered"]["cmds"].index("--run-prefix") + 1]
            run_id = prefix.split("/runs/", 1)[1]

            def render(text, _p=run_params, _r=run_id, _t=SimpleNamespace(task_id=task_id)):  # noqa: B008 (bound per task on purpose)
                return JINJA.from_string(text).render(params=_p, run_id=_r, task=_t)

            pod = gt["rendered_pod"]
            container = pod["spec"]["containers"][0]
            runner = delivered(task, render)
            for key, value in expected_container(task, render).items():
                if key == "volumeMounts":
                    got_mounts = container.get(key, [])
                    assert same_items(got_mounts, value + runner["mounts"]), (dag_id, task_id)
                    continue
                assert container.get(key) == value, (dag_id, task_id, key)
            spec = pod["spec"]
            assert same_items(
                spec.get("volumes", []),
                as_k8s(task.get("volumes", []), render) + runner["volumes"],
            ), (dag_id, task_id)
            init = spec.get("initContainers") or []
            assert [
                {k: c.get(k) for k in ("name", "image", "command", "volumeMounts")} for c in init
            ] == [
                {k: c.get(k) for k in ("name", "image", "command", "volumeMounts")}
                for c in runner["init"]
            ], (dag_id, task_id)
            assert (spec.get("tolerations") or []) == as_k8s(
                task.get("tolerations", []), lambda s: s
            )
            assert spec.get("imagePullSecrets", []) == as_k8s(
                task.get("image_pull_secrets", []), lambda s: s
            )
            assert spec.get("serviceAccountName") == task.get("service_account_name")
            assert (spec.get("nodeSelector") or {}) == {
                k: render(v) for k, v in task.get("node_selector", {}).items()
            }
            labels = pod["metadata"]["labels"]
            for key, value in task["labels"].items():
                assert labels[key] == render(value)
            assert (pod["metadata"].get("annotations") or {}) == {
                k: render(v) for k, v in task.get("annotations", {}).items()
            }
            assert pod["metadata"]["namespace"] == task.get("namespace", "default")
            if any(m.kwargs.get("mount_path") == "/dev/shm" for m in task.get("volume_mounts", [])):
                shm = [v for v in spec["volumes"] if v["name"] == "dshm"][0]
                assert shm["emptyDir"]["medium"] == "Memory"


@pytest.mark.parametrize("version", harness.VERSIONS)
def test_hostile_text_reaches_the_pod_unchanged(version, reports):
    got = reports[version]["dags"]["hostile"]
    for i, text in enumerate(cc.HOSTILE):
        task = [t for t in got["tasks"].values() if f"_{i}.py" in " ".join(t["arguments"])][0]
        env = {
            e["name"]: e.get("value") for e in task["rendered_pod"]["spec"]["containers"][0]["env"]
        }
        seen = text.replace("\r\n", "\n").replace("\r", "\n")
        assert env["HOSTILE"] == seen
        assert task["rendered_pod"]["metadata"]["annotations"]["note"] == seen
    assert got["params"]["text"]["default"] == cc.HOSTILE[0] + cc.HOSTILE[4]
