"""DAGs with a "Serve MLflow model" node in real Airflow 3.3 and 2.10: they import with no errors,
the tasks and links are the expansion's, and the pods the provider builds
(``KubernetesPodOperator.build_pod_request_obj``), rendered with the package task's XCom (a stand-in
``ti.xcom_pull``, see inspect_dags.py ``--xcom``), are what the cluster would get: Kaniko's
arguments, the registry Secret as a volume at /kaniko/.docker, store credentials only as Secret
references, the package task's XCom sidecar, the deploy pod's service account. No registry
password, token or other secret value appears in any DAG file or pod."""

from __future__ import annotations

import copy
import json

import compile_corpus as cc
import pytest
import serve_fixtures as sf
from fixture_paths import load_airflow_harness

from mlpipe_lab.compiler import compile_pipeline
from mlpipe_lab.pipeline import Pipeline

harness = load_airflow_harness()

pytestmark = pytest.mark.airflow

PACKAGE_RESULT = {
    "model": "churn",
    "version": "7",
    "alias": "champion",
    "model_uri": "models:/churn/7",
    "storage_uri": "s3://mlflow/5/models/m-1/artifacts",
    "image": "registry.example.com:5000/models/churn:7",
    "context_key": "serve_seldon_v1/runs/manual__mlpipe_render/Serve_churn_package/context.tar.gz",
    "smoke_request": {"data": {"ndarray": [[2, 1]]}},
}
REGISTRY_PASSWORD = cc.CANARY + "-registry-password"


def _config():
    config = copy.deepcopy(cc.CONFIG)
    config["mlflow"] = {"tracking_uri": "http://mlflow.mlflow.svc:5000"}
    # a registry password in the catalog must not reach anything generated
    config["kubernetes"]["registry_password"] = REGISTRY_PASSWORD
    return config


@pytest.fixture(scope="module")
def dags(tmp_path_factory):
    folder = tmp_path_factory.mktemp("serve-dags")
    texts = {}
    worker = copy.deepcopy(_config())
    worker["airflow"]["execution_mode"] = "local-worker"
    for target in sf.TARGET_PROPS:
        result = compile_pipeline(
            Pipeline(sf.serve_pipeline(target), "s.pipeline"),
            images=cc.IMAGES,
            config=_config(),
            source_path="s.pipeline",
        )
        texts[result.dag_id] = result.text
    local = compile_pipeline(
        Pipeline(sf.serve_pipeline("seldon-v1", name="serve_local_worker"), "w.pipeline"),
        images=cc.IMAGES,
        config=worker,
        source_path="w.pipeline",
    )
    texts[local.dag_id] = local.text
    # a canary rollout that also redeploys when @champion moves, on Kubernetes and on a worker
    for name, config in (("serve_canary", _config()), ("serve_registry_worker", worker)):
        doc = sf.serve_pipeline(
            "seldon-v1", name=name, canary_traffic_percent=10, deploy_on_alias_change=True
        )
        result = compile_pipeline(
            Pipeline(doc, f"{name}.pipeline"),
            images=cc.IMAGES,
            config=config,
            source_path=f"{name}.pipeline",
        )
        texts[result.dag_id] = result.text
    for dag_id, text in texts.items():
        (folder / f"{dag_id}.py").write_text(text, encoding="utf-8")
    return folder, texts


@pytest.fixture(scope="module")
def reports(dags):
    folder, _ = dags
    xcom = {"Serve_churn_package": PACKAGE_RESULT}
    return harness.inspect_both(folder, render={}, xcom=xcom)


def _container(pod, name=None):
    containers = pod["spec"]["containers"]
    return containers[0] if name is None else [c for c in containers if c["name"] == name][0]


@pytest.mark.parametrize("version", harness.VERSIONS)
def test_serve_dags_import_and_expand(version, dags, reports):
    report = reports[version]
    assert report["import_errors"] == {}
    _, texts = dags
    assert set(report["dags"]) == set(texts)
    v1 = report["dags"]["serve_seldon_v1"]["tasks"]
    assert set(v1) == {
        "train",
        "Serve_churn_package",
        "Serve_churn_build",
        "Serve_churn_deploy",
        "Serve_churn_wait",
        "Serve_churn_smoke",
        "report",
    }
    assert v1["Serve_churn_build"]["upstream"] == ["Serve_churn_package"]
    assert v1["report"]["upstream"] == ["Serve_churn_smoke"]
    for dag_id in ("serve_kserve_mlserver", "serve_seldon_v2"):
        tasks = report["dags"][dag_id]["tasks"]
        assert "Serve_churn_build" not in tasks
        assert tasks["Serve_churn_deploy"]["upstream"] == ["Serve_churn_package"]
    # our runtime on KServe: built like seldon-v1
    kserve = report["dags"]["serve_kserve"]["tasks"]
    assert kserve["Serve_churn_deploy"]["upstream"] == ["Serve_churn_build"]
    worker = report["dags"]["serve_local_worker"]["tasks"]
    assert set(worker) == {"train", "Serve_churn_package", "Serve_churn_check", "report"}
    assert {t["operator"] for t in worker.values()} == {"BashOperator"}
    for dag in report["dags"].values():
        for task in dag["tasks"].values():
            assert task["render_error"] is None, task["render_error"]
            assert task.get("rendered_pod_error") is None, task.get("rendered_pod_error")


@pytest.mark.parametrize("version", harness.VERSIONS)
def test_kaniko_pod(version, reports):
    task = reports[version]["dags"]["serve_seldon_v1"]["tasks"]["Serve_churn_build"]
    pod = task["rendered_pod"]
    c = _container(pod)
    assert c["image"] == "gcr.io/kaniko-project/executor:v1.23.2" and not c.get("command")
    assert c["args"] == [
        "--context=s3://mlpipe/pipelines/" + PACKAGE_RESULT["context_key"],
        "--dockerfile=Dockerfile",
        "--destination=registry.example.com:5000/models/churn:7",
        "--digest-file=/dev/termination-log",
        "--push-retry=3",
    ]
    env = {e["name"]: e for e in c["env"]}
    assert env["S3_ENDPOINT"]["value"] == "http://minio.minio:9000"
    assert env["S3_FORCE_PATH_STYLE"]["value"] == "true"
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        assert env[var] == {
            "name": var,
            "valueFrom": {"secretKeyRef": {"name": "mlpipe-s3", "key": var}},
        }
    assert c["volumeMounts"] == [
        {"name": "registry-auth", "mountPath": "/kaniko/.docker", "readOnly": True}
    ]
    (volume,) = pod["spec"]["volumes"]
    assert volume == {
        "name": "registry-auth",
        "secret": {
            "secretName": "push-creds",
            "items": [{"key": ".dockerconfigjson", "path": "config.json"}],
        },
    }
    assert pod["metadata"]["namespace"] == "ml-jobs"
    assert pod["metadata"]["labels"]["mlpipe-lab/task"] == "Serve_churn_build"


@pytest.mark.parametrize("version", harness.VERSIONS)
def test_package_deploy_wait_smoke_pods(version, reports):
    tasks = reports[version]["dags"]["serve_seldon_v1"]["tasks"]
    package = tasks["Serve_churn_package"]["rendered_pod"]
    assert [c["name"] for c in package["spec"]["containers"]] == ["base", "airflow-xcom-sidecar"]
    base = _container(package, "base")
    # the runner's --kind serve in the node's image, the runner copied in by the init container
    assert base["command"][:2] == ["/bin/sh", "-c"] and "--store" in base["command"]
    assert base["args"][:3] == ["--kind", "serve", "package"]
    assert "/airflow/xcom/return.json" in base["args"]
    assert {"name": "xcom", "mountPath": "/airflow/xcom"} in base["volumeMounts"]
    assert {"name": "mlpipe-runner", "mountPath": "/mlpipe", "readOnly": True} in base[
        "volumeMounts"
    ]
    (init,) = package["spec"]["initContainers"]
    assert init["command"] == ["python3", "-m", "mlpipe_lab.runner.install", "/mlpipe"]
    assert {"name": "mlpipe-runner", "emptyDir": {}} in package["spec"]["volumes"]
    env = {e["name"]: e for e in base["env"]}
    assert env["MLFLOW_TRACKING_TOKEN"]["valueFrom"]["secretKeyRef"] == {
        "name": "mlflow-token",
        "key": "token",
    }

    deploy = tasks["Serve_churn_deploy"]["rendered_pod"]
    args = _container(deploy)["args"]
    assert args[args.index("--image") + 1] == PACKAGE_RESULT["image"]
    assert json.loads(args[args.index("--spec") + 1])["registry_secret"] == "push-creds"
    assert deploy["spec"]["serviceAccountName"] == "model-deployer"
    assert (
        tasks["Serve_churn_wait"]["rendered_pod"]["spec"]["serviceAccountName"] == "model-deployer"
    )
    smoke = _container(tasks["Serve_churn_smoke"]["rendered_pod"])["args"]
    assert json.loads(smoke[smoke.index("--request") + 1]) == PACKAGE_RESULT["smoke_request"]
    assert args[args.index("--version") + 1] == PACKAGE_RESULT["version"]
    assert args[args.index("--model-uri") + 1] == PACKAGE_RESULT["model_uri"]
    dags = reports[version]["dags"]
    mlserver = dags["serve_kserve_mlserver"]["tasks"]["Serve_churn_deploy"]["rendered_pod"]
    kargs = _container(mlserver)["args"]
    assert kargs[kargs.index("--storage-uri") + 1] == PACKAGE_RESULT["storage_uri"]
    ours = _container(dags["serve_kserve"]["tasks"]["Serve_churn_deploy"]["rendered_pod"])["args"]
    assert ours[ours.index("--image") + 1] == PACKAGE_RESULT["image"]


@pytest.mark.parametrize("version", harness.VERSIONS)
def test_registry_check_and_canary_rollout_tasks(version, reports):
    """deploy_on_alias_change: the registry step comes first and skips the run (exit 99) when
    the alias has not moved; the rollout step records the version it promoted at the same key."""
    dags = reports[version]["dags"]
    tasks = dags["serve_canary"]["tasks"]
    assert set(tasks) == {
        "train",
        "Serve_churn_registry",
        "Serve_churn_package",
        "Serve_churn_build",
        "Serve_churn_deploy",
        "Serve_churn_rollout",
        "report",
    }
    assert tasks["Serve_churn_registry"]["upstream"] == ["train"]
    assert tasks["Serve_churn_package"]["upstream"] == ["Serve_churn_registry"]
    assert tasks["Serve_churn_rollout"]["upstream"] == ["Serve_churn_deploy"]
    assert tasks["report"]["upstream"] == ["Serve_churn_rollout"]
    registry = tasks["Serve_churn_registry"]
    assert registry["skip_on_exit_code"] == [99]
    base = _container(registry["rendered_pod"])
    args = base["args"]
    assert base["command"][:2] == ["/bin/sh", "-c"]
    assert args[:3] == ["--kind", "serve", "registry"]
    assert args[args.index("--alias") + 1] == "champion"
    key = args[args.index("--state-key") + 1]
    assert key == "serve_canary/serving/Serve_churn/deployed.json"
    env = {e["name"]: e for e in base["env"]}
    assert env["MLFLOW_TRACKING_TOKEN"]["valueFrom"]["secretKeyRef"]["name"] == "mlflow-token"
    rollout = tasks["Serve_churn_rollout"]
    rargs = _container(rollout["rendered_pod"])["args"]
    assert rargs[2] == "rollout" and rargs[rargs.index("--state-key") + 1] == key
    assert rargs[rargs.index("--version") + 1] == PACKAGE_RESULT["version"]
    assert json.loads(rargs[rargs.index("--spec") + 1])["canary_traffic_percent"] == 10
    assert rollout["rendered_pod"]["spec"]["serviceAccountName"] == "model-deployer"
    assert not rollout["skip_on_exit_code"]  # a rollback fails the task
    worker = dags["serve_registry_worker"]["tasks"]
    assert worker["Serve_churn_registry"]["operator"] == "BashOperator"
    assert worker["Serve_churn_registry"]["skip_on_exit_code"] == [99]
    assert worker["Serve_churn_package"]["upstream"] == ["Serve_churn_registry"]
    check = worker["Serve_churn_check"]["rendered"]["bash_command"]
    assert " --kind serve check " in check and "--state-key" in check
    assert "mlpipe_lab.serving.tasks" not in check  # the runner zipapp beside the DAG


@pytest.mark.parametrize("version", harness.VERSIONS)
def test_no_secret_value_in_dags_or_pods(version, dags, reports):
    _, texts = dags
    for text in texts.values():
        assert cc.CANARY not in text
    assert cc.CANARY not in json.dumps(reports[version])
