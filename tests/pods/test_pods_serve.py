"""A "Serve MLflow model" node's steps in emulated pods: the pipeline submitted with ``mlpipe
submit``, its pods built by the provider's own ``build_pod_request_obj`` (Airflow 3.3), run with the
runner image's init container and the node's image = python3 only (Debian's, nothing of ours, no
mlflow, no kubernetes client). Real services on 127.0.0.1: an MLflow tracking server (sqlite,
artifacts served by it, a registered scikit-learn model with alias ``champion``) and moto's S3.

Proven here: the registry step (alias -> version, compared with the recorded deployment) and the
package step (resolve, download through MLflow's REST API, build context with our runtime's
sources, upload to the store) run from the runner zipapp in that image; the deploy step's code
runs there too and prints the objects (``--dry-run``, its arguments rendered from the package
step's real result), which validate against the SeldonDeployment CRD of ../shared/contracts.
Not proven: applying them (no API server here: test_serve_tasks.py talks to a recording stand-in),
Kaniko's build, waiting on an operator, the smoke request to a served model in a cluster.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
import uuid
from pathlib import Path

import pytest

pytest.importorskip("boto3")
pytest.importorskip("moto")
pytest.importorskip("mlflow", reason="the serve-test extra (mlflow) is not installed")
pytest.importorskip("sklearn", reason="the serve-test extra (scikit-learn) is not installed")

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "serving"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "airflow"))

import boto3
import compile_corpus as cc
import crds
import harness
import serve_fixtures as sf
from conftest import BARE_IMAGE, PY_IMAGE, RUNNER_IMAGE
from emulator import PodEmulator
from s3server import S3Server
from test_serving_mlflow import tracking  # noqa: F401  (module fixture: the MLflow server)

from mlpipe_lab.pipeline import dumps

pytestmark = pytest.mark.pods

DAG_ID = "pods_serve"
SECRET_NAME = "store-creds"
RUN_ID = "manual__mlpipe_render"  # what harness renders run_id as
KEY_ID, SECRET = "pods-key", "pods-secret"  # moto's S3 takes any key
STEP = "Serve_churn_{}"


def mlpipe(*args: str) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, "-c", "import sys; from mlpipe_lab.cli import entry; sys.exit(entry())"]
        + list(args),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def no_sidecar(pod: dict) -> dict:
    """The pod without the provider's XCom sidecar (for steps whose XCom the test does not read;
    the package step runs with it)."""
    pod = json.loads(json.dumps(pod))
    pod["spec"]["containers"] = pod["spec"]["containers"][:1]
    return pod


@pytest.fixture(scope="module")
def served(tmp_path_factory, images, tracking):  # noqa: F811
    tmp = tmp_path_factory.mktemp("pods-serve")
    server = S3Server(max_seconds=1500)
    server.start()
    try:
        s3 = boto3.client(
            "s3",
            endpoint_url=server.endpoint,
            region_name="us-east-1",
            aws_access_key_id=KEY_ID,
            aws_secret_access_key=SECRET,
        )
        bucket = f"serve-{uuid.uuid4().hex[:8]}"
        s3.create_bucket(Bucket=bucket)
        bare = tmp / "dags.git"
        subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True)
        config = {
            "name": "pods-serve",
            "display_name": "Emulated cluster",
            "type": "airflow",
            "airflow": {"api_endpoint": "http://127.0.0.1:9"},
            "dag_repo": {"url": str(bare), "branch": "main", "subfolder": "dags"},
            "object_storage": {
                "endpoint": server.endpoint,
                "bucket": bucket,
                "region": "us-east-1",
                "prefix": "mlpipe",
                "pod_credentials_secret": SECRET_NAME,
                "auth": {
                    "type": "credentials",
                    "access_key_id": KEY_ID,
                    "secret_access_key": SECRET,
                },
            },
            "kubernetes": {"namespace": "ml", "runner_image": RUNNER_IMAGE},
        }
        (tmp / "config.json").write_text(json.dumps(config))
        mlpipe("catalog", "add", "runtime-configs", "--from-file", str(tmp / "config.json"))
        mlpipe("catalog", "add", "runtime-images", "--image", PY_IMAGE)
        node = sf.serve_node(
            "serve",
            image=PY_IMAGE,
            model_name="mlflowdemo",
            deployment_name="churn",
            tracking_uri=tracking,
            target="seldon-v1",
            model_alias="champion",
            deploy_on_alias_change=True,
            image_repository="models/mlflowdemo",
            registry_secret="push-creds",
            namespace="models",
        )
        doc = cc.pipeline("pods serve", [node], mlpipe={"dag_id": DAG_ID})
        project = tmp / "project"
        project.mkdir()
        path = project / "serve.pipeline"
        path.write_text(dumps(doc))
        mlpipe("submit", str(path), "--runtime-config", "pods-serve")
        clone = tmp / "clone"
        subprocess.run(["git", "clone", "-q", str(bare), str(clone)], check=True)
        yield {
            "dags": clone / "dags",
            "s3": s3,
            "bucket": bucket,
            "run": f"mlpipe/{DAG_ID}/runs/{RUN_ID}",
            "secrets": {
                SECRET_NAME: {"AWS_ACCESS_KEY_ID": KEY_ID, "AWS_SECRET_ACCESS_KEY": SECRET}
            },
            "tmp": tmp,
        }
    finally:
        server.stop()


def rendered(served, xcom=None) -> dict:
    info = harness.inspect_dags("3.3", served["dags"], render={}, xcom=xcom)
    assert not info["import_errors"], info["import_errors"]
    tasks = info["dags"][DAG_ID]["tasks"]
    return tasks


def test_serve_steps_run_from_the_runner_zipapp_in_a_python3_only_image(served, images):
    tasks = rendered(served)
    assert [t for t in tasks] and STEP.format("package") in tasks
    emulator = PodEmulator(images, served["tmp"], secrets=served["secrets"], timeout=300)
    s3, bucket, run = served["s3"], served["bucket"], served["run"]

    # the registry step: nothing recorded yet, so the alias has "moved" (exit 0: deploy)
    pod = tasks[STEP.format("registry")]["rendered_pod"]
    (init,) = pod["spec"]["initContainers"]
    assert init["image"] == RUNNER_IMAGE
    base = pod["spec"]["containers"][0]
    assert base["image"] == PY_IMAGE and base["command"][:2] == ["/bin/sh", "-c"]
    assert "--kind" in base["args"] and "mlpipe_lab.serving.tasks" not in json.dumps(pod)
    result = emulator.run(pod)
    assert result.phase == "Succeeded", result.describe()
    assert "models:/mlflowdemo@champion is version 1; nothing deployed by this node yet" in (
        result.main.log
    )

    # the package step: resolve, download (REST), context, upload
    pod = tasks[STEP.format("package")]["rendered_pod"]
    assert [c["name"] for c in pod["spec"]["containers"]][1:] == ["airflow-xcom-sidecar"]
    sidecar_image = pod["spec"]["containers"][1]["image"]  # debian-slim stands in for alpine
    with_sidecar = PodEmulator(
        {**images, sidecar_image: images[BARE_IMAGE]},
        served["tmp"],
        secrets=served["secrets"],
        timeout=300,
    )
    result = with_sidecar.run(pod)
    assert result.phase == "Succeeded", result.describe()
    assert "build context uploaded to" in result.main.log
    key = f"{run}/{STEP.format('package')}"
    resolved = json.loads(s3.get_object(Bucket=bucket, Key=f"{key}/resolved.json")["Body"].read())
    assert resolved["version"] == "1" and resolved["model_uri"] == "models:/mlflowdemo/1"
    assert resolved["image"] == "models/mlflowdemo:1"
    assert resolved["smoke_request"] == {"data": {"ndarray": [[0, 0]]}}  # the input example
    assert result.xcom == resolved  # what the XCom sidecar gives Airflow
    raw = s3.get_object(Bucket=bucket, Key=f"{key}/context.tar.gz")["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        names = set(tar.getnames())
    assert {"Dockerfile", "Predictor.py", "requirements.txt", "model/MLmodel"} <= names
    assert "model/model.skops" in names
    assert "runtime/mlpipe_lab/serving/runtime/server.py" in names  # from inside the zipapp

    # the deploy step, its arguments rendered from that result: the objects it would apply
    tasks = rendered(served, xcom={STEP.format("package"): result.xcom})
    pod = no_sidecar(tasks[STEP.format("deploy")]["rendered_pod"])
    base = pod["spec"]["containers"][0]
    assert base["image"] == PY_IMAGE
    base["args"] = [*base["args"], "--dry-run"]
    result = emulator.run(pod)
    assert result.phase == "Succeeded", result.describe()
    objects = json.loads(result.main.log[result.main.log.index("[") :])
    seldon = next(o for o in objects if o["kind"] == "SeldonDeployment")
    assert crds.errors(crds.for_kind("SeldonDeployment"), seldon) == []
    image = seldon["spec"]["predictors"][0]["componentSpecs"][0]["spec"]["containers"][0]["image"]
    assert image == "models/mlflowdemo:1"


def test_python3_only_image_without_a_reachable_registry_fails_in_one_line(served, images):
    """The tracking server cannot be reached from the pod: one line naming it, a failed task."""
    tasks = rendered(served)
    pod = no_sidecar(tasks[STEP.format("package")]["rendered_pod"])
    base = pod["spec"]["containers"][0]
    i = base["args"].index("--tracking-uri")
    base["args"][i + 1] = "http://127.0.0.1:9"
    result = PodEmulator(images, served["tmp"], secrets=served["secrets"], timeout=120).run(pod)
    assert result.phase == "Failed" and result.main.exit_code == 1
    last = result.main.log.strip().splitlines()[-1]
    assert last.startswith("package failed: cannot resolve models:/mlflowdemo@champion: ")
    assert "cannot reach the MLflow tracking server http://127.0.0.1:9" in last
