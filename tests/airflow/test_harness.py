"""Proves the real-Airflow harness on hand-written DAG files, on Airflow 3.3 and 2.10."""

from __future__ import annotations

import os
import pathlib
import subprocess
import time

import harness
import pytest

GOOD_DAG = '''\
"""A hand-written stand-in for a compiled mlpipe-lab pipeline (airflow dag)."""
import datetime

import pendulum

try:  # Airflow 3.x
    from airflow.sdk import DAG, Param
except ImportError:  # Airflow 2.10
    from airflow import DAG
    from airflow.models.param import Param
from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
from airflow.providers.cncf.kubernetes.secret import Secret
from kubernetes.client import models as k8s

with DAG(
    dag_id="mlpipe__harness_demo",
    dag_display_name="Harness demo",
    description="Sample pipeline for the harness tests",
    doc_md="# Harness demo",
    schedule="0 3 * * *",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["mlpipe-lab", "demo"],
    is_paused_upon_creation=True,
    default_args={"owner": "alice", "retries": 1, "retry_delay": datetime.timedelta(minutes=5)},
    params={
        "sample_frac": Param(0.1, type="number", minimum=0, maximum=1, description="Fraction"),
        "label": "churn",
    },
):
    prepare = KubernetesPodOperator(
        task_id="prepare",
        task_display_name="Prepare data",
        namespace="ml",
        image="registry.example/ml/runtime:1.4",
        cmds=["bash", "-c"],
        arguments=["run-node prepare.ipynb --frac {{ params.sample_frac }}"],
        env_vars={"MODE": "train", "LABEL": "{{ params.label }}"},
        secrets=[Secret("env", "AWS_ACCESS_KEY_ID", "s3-creds", "access_key")],
        container_resources=k8s.V1ResourceRequirements(
            requests={"cpu": "0.5", "memory": "1Gi"},
            limits={"cpu": "1.5", "memory": "2Gi", "nvidia.com/gpu": "1"},
        ),
        volumes=[
            k8s.V1Volume(
                name="data",
                persistent_volume_claim=k8s.V1PersistentVolumeClaimVolumeSource(claim_name="ml-data"),
            ),
            k8s.V1Volume(name="dshm", empty_dir=k8s.V1EmptyDirVolumeSource(medium="Memory", size_limit="2Gi")),
        ],
        volume_mounts=[
            k8s.V1VolumeMount(name="data", mount_path="/data"),
            k8s.V1VolumeMount(name="dshm", mount_path="/dev/shm"),
        ],
        tolerations=[k8s.V1Toleration(key="nvidia.com/gpu", operator="Exists", effect="NoSchedule")],
        labels={"app": "mlpipe", "mlpipe/node": "prepare"},
        annotations={"mlpipe.io/source": "pipelines/demo.pipeline"},
        image_pull_secrets=[k8s.V1LocalObjectReference(name="regcred")],
        retries=3,
        retry_delay=datetime.timedelta(seconds=30),
        execution_timeout=datetime.timedelta(hours=1),
        trigger_rule="all_success",
        pool="default_pool",
        get_logs=True,
        on_finish_action="delete_succeeded_pod",
    )
    train = KubernetesPodOperator(
        task_id="train",
        namespace="ml",
        image="registry.example/ml/runtime:1.4",
        cmds=["python"],
        arguments=["train.py"],
    )
    evaluate = KubernetesPodOperator(
        task_id="evaluate",
        namespace="ml",
        image="registry.example/ml/runtime:1.4",
        cmds=["python"],
        arguments=["evaluate.py"],
        trigger_rule="all_done",
    )
    prepare >> train >> evaluate
    prepare >> evaluate
'''

# Fails on both versions: dag_id with spaces and parentheses (the DAG constructor raises).
BROKEN_DAG = """\
try:
    from airflow.sdk import DAG
except ImportError:
    from airflow import DAG

with DAG(dag_id="my pipeline (v2)", schedule=None):
    pass
"""

pytestmark = pytest.mark.airflow


@pytest.fixture(scope="module")
def dag_folder(tmp_path_factory) -> pathlib.Path:
    folder = tmp_path_factory.mktemp("dags")
    (folder / "good.py").write_text(GOOD_DAG)
    (folder / "broken.py").write_text(BROKEN_DAG)
    return folder


@pytest.fixture(scope="module")
def inspected(dag_folder) -> dict[str, dict]:
    """Both versions inspected once, in parallel (versions whose venv is missing are left out)."""
    versions = tuple(v for v, venv in harness.airflow_venvs().items() if venv is not None)
    if not versions:
        pytest.skip(harness.skip_message(harness.VERSIONS[0]))
    return harness.inspect_both(dag_folder, versions=versions)


@pytest.fixture
def doc(inspected, airflow_version) -> dict:
    return inspected[airflow_version]


@pytest.fixture
def dag(doc) -> dict:
    return doc["dags"]["mlpipe__harness_demo"]


def test_version_matches_lock(doc, airflow_version):
    assert doc["airflow_version"].startswith(airflow_version + ".")
    assert "cncf-kubernetes" in doc["providers"]


def test_import_errors(doc):
    assert set(doc["import_errors"]) == {"broken.py"}
    assert "my pipeline (v2)" in doc["import_errors"]["broken.py"]
    assert list(doc["dags"]) == ["mlpipe__harness_demo"]
    assert doc["warnings"].get("good.py", []) == []


def test_dag_attributes(dag):
    assert dag["fileloc"] == "good.py"
    assert dag["schedule"] == "0 3 * * *"
    assert dag["catchup"] is False
    assert dag["max_active_runs"] == 1
    assert dag["tags"] == ["demo", "mlpipe-lab"]
    assert dag["description"] == "Sample pipeline for the harness tests"
    assert dag["doc_md"] == "# Harness demo"
    assert dag["owner"] == "alice"
    assert dag["is_paused_upon_creation"] is True
    assert dag["dag_display_name"] == "Harness demo"
    assert dag["start_date"] == "2024-01-01T00:00:00+00:00"
    assert dag["default_args"] == {"owner": "alice", "retries": 1, "retry_delay": 300.0}
    assert dag["serialization_error"] is None
    assert dag["params"] == {
        "sample_frac": {
            "default": 0.1,
            "schema": {"type": "number", "minimum": 0, "maximum": 1},
            "description": "Fraction",
        },
        "label": {"default": "churn", "schema": {}, "description": None},
    }


def test_tasks_and_dependencies(dag):
    tasks = dag["tasks"]
    assert set(tasks) == {"prepare", "train", "evaluate"}
    assert {t: v["upstream"] for t, v in tasks.items()} == {
        "prepare": [],
        "train": ["prepare"],
        "evaluate": ["prepare", "train"],
    }
    assert tasks["prepare"]["downstream"] == ["evaluate", "train"]
    assert all(t["operator"] == "KubernetesPodOperator" for t in tasks.values())


def test_task_attributes(dag):
    prepare, train = dag["tasks"]["prepare"], dag["tasks"]["train"]
    assert prepare["retries"] == 3
    assert prepare["retry_delay_seconds"] == 30
    assert prepare["execution_timeout_seconds"] == 3600
    assert prepare["trigger_rule"] == "all_success"
    assert prepare["pool"] == "default_pool"
    assert prepare["task_display_name"] == "Prepare data"
    assert prepare["on_finish_action"] == "delete_succeeded_pod"
    # default_args apply where the task sets nothing
    assert (train["retries"], train["retry_delay_seconds"], train["execution_timeout_seconds"]) == (
        1,
        300,
        None,
    )
    assert train["task_display_name"] == "train"
    assert dag["tasks"]["evaluate"]["trigger_rule"] == "all_done"


def test_kpo_attributes(dag):
    prepare = dag["tasks"]["prepare"]
    assert prepare["image"] == "registry.example/ml/runtime:1.4"
    assert prepare["cmds"] == ["bash", "-c"]
    assert prepare["arguments"] == ["run-node prepare.ipynb --frac {{ params.sample_frac }}"]
    assert prepare["namespace"] == "ml"
    assert prepare["env_vars"] == {"MODE": "train", "LABEL": "{{ params.label }}"}
    assert prepare["pod_error"] is None


def test_pod_spec(dag, doc):
    pod = dag["tasks"]["prepare"]["pod"]
    meta, spec = pod["metadata"], pod["spec"]
    assert (pod["apiVersion"], pod["kind"]) == ("v1", "Pod")
    assert meta["name"].startswith("prepare-")  # random suffix added by the provider
    assert meta["namespace"] == "ml"
    assert meta["labels"] == {
        "app": "mlpipe",
        "mlpipe/node": "prepare",
        "airflow_version": doc["airflow_version"],
        "airflow_kpo_in_cluster": "False",
    }
    assert meta["annotations"] == {"mlpipe.io/source": "pipelines/demo.pipeline"}

    [container] = spec["containers"]
    assert container["name"] == "base"
    assert container["image"] == "registry.example/ml/runtime:1.4"
    assert container["command"] == ["bash", "-c"]
    assert container["args"] == ["run-node prepare.ipynb --frac {{ params.sample_frac }}"]
    assert container["resources"] == {
        "requests": {"cpu": "0.5", "memory": "1Gi"},
        "limits": {"cpu": "1.5", "memory": "2Gi", "nvidia.com/gpu": "1"},
    }
    assert container["env"] == [
        {"name": "MODE", "value": "train"},
        {"name": "LABEL", "value": "{{ params.label }}"},
        {
            "name": "AWS_ACCESS_KEY_ID",
            "valueFrom": {"secretKeyRef": {"name": "s3-creds", "key": "access_key"}},
        },
    ]
    assert container["volumeMounts"] == [
        {"name": "data", "mountPath": "/data"},
        {"name": "dshm", "mountPath": "/dev/shm"},
    ]
    assert spec["volumes"] == [
        {"name": "data", "persistentVolumeClaim": {"claimName": "ml-data"}},
        {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": "2Gi"}},
    ]
    assert spec["tolerations"] == [
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
    ]
    assert spec["imagePullSecrets"] == [{"name": "regcred"}]
    assert spec["restartPolicy"] == "Never"

    train_spec = dag["tasks"]["train"]["pod"]["spec"]
    assert train_spec["containers"][0]["args"] == ["train.py"]
    assert not train_spec.get("volumes")
    assert not train_spec.get("tolerations")


@pytest.fixture(scope="module")
def rendered(dag_folder, inspected) -> dict[str, dict]:
    return harness.inspect_both(dag_folder, versions=tuple(inspected), render={"sample_frac": 0.5})


def test_render_with_run_conf(rendered, airflow_version):
    dag = rendered[airflow_version]["dags"]["mlpipe__harness_demo"]
    assert dag["render"]["params_error"] is None
    assert dag["render"]["params"] == {"sample_frac": 0.5, "label": "churn"}
    prepare = dag["tasks"]["prepare"]
    assert prepare["render_error"] is None
    assert prepare["rendered"]["arguments"] == ["run-node prepare.ipynb --frac 0.5"]
    container = prepare["rendered_pod"]["spec"]["containers"][0]
    assert container["args"] == ["run-node prepare.ipynb --frac 0.5"]
    assert {"name": "LABEL", "value": "churn"} in container["env"]
    # the unrendered pod is still reported as written
    assert prepare["pod"]["spec"]["containers"][0]["args"] == [
        "run-node prepare.ipynb --frac {{ params.sample_frac }}"
    ]


@pytest.fixture(scope="module")
def rendered_invalid(dag_folder, inspected) -> dict[str, dict]:
    return harness.inspect_both(dag_folder, versions=tuple(inspected), render={"sample_frac": 7})


def test_render_rejects_invalid_conf(rendered_invalid, airflow_version):
    render = rendered_invalid[airflow_version]["dags"]["mlpipe__harness_demo"]["render"]
    assert render["params"] is None
    assert "ParamValidationError" in render["params_error"]
    assert "sample_frac" in render["params_error"]


def test_parse_time(dag_folder, airflow_version):
    result = harness.parse_time(airflow_version, dag_folder / "good.py")
    assert result["dags"] == ["mlpipe__harness_demo"]
    assert result["import_errors"] == 0
    assert 0 < result["parse_seconds"] < 60


def test_venv_lookup_is_cached_and_fast(airflow_version):
    venv = harness.airflow_venv(airflow_version)
    started = time.monotonic()
    proc = subprocess.run(
        ["bash", str(harness.VENV_SCRIPT), airflow_version],
        capture_output=True,
        text=True,
        check=True,
    )
    elapsed = time.monotonic() - started
    assert proc.stdout.splitlines() == [str(venv)]
    assert proc.stderr == ""
    assert elapsed < 1.0
    assert (venv / ".complete").is_file()


@pytest.mark.parametrize("version", ["3.3"])
def test_venv_script_fails_clearly(tmp_path, version):
    """No usable interpreter: non-zero exit, a clear message, no path on stdout, nothing half-built."""
    env = dict(
        os.environ, MLPIPE_CACHE_DIR=str(tmp_path), MLPIPE_AIRFLOW_PYTHON="no-such-python3.11"
    )
    proc = subprocess.run(
        ["bash", str(harness.VENV_SCRIPT), version],
        check=False,
        capture_output=True,
        text=True,
        env=env,
    )
    assert proc.returncode != 0
    assert proc.stdout == ""
    assert "no-such-python3.11" in proc.stderr
    assert not [p for p in (tmp_path / "venvs").iterdir() if p.is_dir()]


def test_venv_script_rejects_unknown_version():
    proc = subprocess.run(
        ["bash", str(harness.VENV_SCRIPT), "1.10"], check=False, capture_output=True, text=True
    )
    assert proc.returncode != 0
    assert "unsupported Airflow version" in proc.stderr
