"""A pipeline submitted with ``mlpipe submit``, its pods built by the Kubernetes provider's own
``build_pod_request_obj`` (Airflow 3.3), then run as emulated pods (emulator.py): the runner's init
container from the runner image, then the node's container in its own image, which has python3 and
nothing of ours. The object store is moto's S3 server with IAM authentication on.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

pytest.importorskip("boto3")
pytest.importorskip("moto")

import boto3
from conftest import BARE_IMAGE, NB_IMAGE, PY_IMAGE, RUNNER_IMAGE
from emulator import PodEmulator
from pipeline_builder import node, pipeline
from s3server import S3Server
from test_runner import notebook

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "airflow"))
import harness

from mlpipe_lab.pipeline import dumps

pytestmark = pytest.mark.pods

DAG_ID = "pods_demo"
SECRET_NAME = "store-creds"
RUN_CONF = {"scale": 3.0}
RUN_ID = "manual__mlpipe_render"  # what harness renders run_id as


class AuthS3Server(S3Server):
    """moto that checks signatures: after the first IAM set-up calls, every request must be
    signed with a key it issued."""

    def environment(self):
        return {**super().environment(), "INITIAL_NO_AUTH_ACTION_COUNT": "3"}


def write_project(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "prepare.py").write_text(
        "import os, sys\nos.makedirs('data', exist_ok=True)\n"
        "open('data/raw.csv', 'w').write('x\\n1\\n2\\n3\\n')\n"
        "print('prepared with', sys.executable, sys.version.split()[0])\n"
    )
    (folder / "train.ipynb").write_text(
        notebook(
            ("parameters", "scale = 1.0"),
            "import json\nrows = [float(v) for v in open('data/raw.csv').read().split()[1:]]\n"
            "json.dump({'weights': [r * scale for r in rows]}, open('data/model.json', 'w'))\n"
            "print('trained with scale', scale)",
        )
    )
    (folder / "report.py").write_text(
        "import json\nmodel = json.load(open('data/model.json'))\n"
        "open('report.txt', 'w').write(json.dumps(model))\nprint('reported', model)\n"
    )
    (folder / "broken.py").write_text(
        "import sys\nprint('about to fail')\nsys.exit('no data today')\n"
    )
    (folder / "bare.py").write_text("print('never runs')\n")
    (folder / "kernelless.ipynb").write_text(notebook("print('never runs')"))
    doc = pipeline(
        "pods demo",
        [
            node("prepare", "prepare.py", image=PY_IMAGE, outputs=["data/raw.csv"]),
            node(
                "train",
                "train.ipynb",
                image=NB_IMAGE,
                parents=["prepare"],
                outputs=["data/model.json"],
                pipeline_parameters=["scale"],  # a node gets the parameters it selects
            ),
            node("report", "report.py", image=PY_IMAGE, parents=["train"], outputs=["report.txt"]),
            node("broken", "broken.py", image=PY_IMAGE),
            node("bare", "bare.py", image=BARE_IMAGE),
            node("kernelless", "kernelless.ipynb", image=PY_IMAGE),
        ],
        mlpipe={
            "dag_id": DAG_ID,
            "parameters": [{"name": "scale", "type": "number", "default": 1.0}],
        },
    )
    path = folder / "demo.pipeline"
    path.write_text(dumps(doc))
    return path


def mlpipe(*args: str) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from mlpipe_lab.cli import entry; sys.exit(entry())",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


@pytest.fixture(scope="module")
def submitted(tmp_path_factory, images):
    """The pipeline submitted to a bare git repo and moto; the pods Airflow builds from the DAG."""
    tmp = tmp_path_factory.mktemp("pods")
    server = AuthS3Server(max_seconds=1500)
    server.start()
    try:
        kw = {"endpoint_url": server.endpoint, "region_name": "us-east-1"}
        iam = boto3.client("iam", aws_access_key_id="setup", aws_secret_access_key="setup", **kw)
        iam.create_user(UserName="pods")
        policy = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
        }
        iam.put_user_policy(UserName="pods", PolicyName="s3", PolicyDocument=json.dumps(policy))
        key = iam.create_access_key(UserName="pods")["AccessKey"]
        key_id, secret = key["AccessKeyId"], key["SecretAccessKey"]
        s3 = boto3.client("s3", aws_access_key_id=key_id, aws_secret_access_key=secret, **kw)
        bucket = f"pods-{uuid.uuid4().hex[:8]}"
        s3.create_bucket(Bucket=bucket)

        bare = tmp / "dags.git"
        subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True)
        config = {
            "name": "pods",
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
                    "access_key_id": key_id,
                    "secret_access_key": secret,
                },
            },
            "kubernetes": {"namespace": "ml", "runner_image": RUNNER_IMAGE},
        }
        (tmp / "config.json").write_text(json.dumps(config))
        mlpipe("catalog", "add", "runtime-configs", "--from-file", str(tmp / "config.json"))
        for ref in (PY_IMAGE, NB_IMAGE, BARE_IMAGE):
            mlpipe("catalog", "add", "runtime-images", "--image", ref)
        path = write_project(tmp / "project")
        mlpipe("submit", str(path), "--runtime-config", "pods")

        clone = tmp / "clone"
        subprocess.run(["git", "clone", "-q", str(bare), str(clone)], check=True)
        dag_text = (clone / "dags" / f"{DAG_ID}.py").read_text()
        assert secret not in dag_text
        info = harness.inspect_dags("3.3", clone / "dags", render=RUN_CONF)
        assert not info["import_errors"], info["import_errors"]
        tasks = info["dags"][DAG_ID]["tasks"]
        for task_id, task in tasks.items():
            assert task["rendered_pod_error"] is None, (task_id, task["rendered_pod_error"])
        yield {
            "tasks": tasks,
            "s3": s3,
            "bucket": bucket,
            "run": f"mlpipe/{DAG_ID}/runs/{RUN_ID}",
            "secrets": {
                SECRET_NAME: {"AWS_ACCESS_KEY_ID": key_id, "AWS_SECRET_ACCESS_KEY": secret}
            },
            "tmp": tmp,
        }
    finally:
        server.stop()


def order(tasks: dict) -> list[str]:
    done: list[str] = []
    while len(done) < len(tasks):
        for task_id, task in sorted(tasks.items()):
            if task_id not in done and all(u in done for u in task["upstream"]):
                done.append(task_id)
    return done


def test_pipeline_runs_in_emulated_pods(submitted, images):
    tasks, s3, bucket, run = (submitted[k] for k in ("tasks", "s3", "bucket", "run"))
    emulator = PodEmulator(images, submitted["tmp"], secrets=submitted["secrets"], timeout=300)
    pod = tasks["prepare"]["rendered_pod"]
    # what the provider built: the init container from the runner image, the shared emptyDir
    (init,) = pod["spec"]["initContainers"]
    assert init["image"] == RUNNER_IMAGE
    assert init["command"] == ["python3", "-m", "mlpipe_lab.runner.install", "/mlpipe"]
    base = pod["spec"]["containers"][0]
    assert base["image"] == PY_IMAGE and base["command"][:2] == ["/bin/sh", "-c"]
    assert {"name": "mlpipe-runner", "mountPath": "/mlpipe", "readOnly": True} in base[
        "volumeMounts"
    ]
    assert {"name": "mlpipe-runner", "emptyDir": {}} in pod["spec"]["volumes"]

    results = {}
    t0 = time.monotonic()
    for task_id in order(tasks):
        results[task_id] = emulator.run(tasks[task_id]["rendered_pod"])
    print(f"[pods] {len(results)} pods in {time.monotonic() - t0:.1f} s")
    for task_id in ("prepare", "train", "report"):
        assert results[task_id].phase == "Succeeded", results[task_id].describe()
        init = results[task_id].containers[0]
        assert init.init and init.log.startswith("mlpipe-runner: runner copied to /mlpipe/")
    # the node ran with the image's own python3 (Debian's), not ours
    assert "prepared with /usr/bin/python3 3.11" in results["prepare"].main.log

    def get(key: str) -> bytes:
        return s3.get_object(Bucket=bucket, Key=f"{run}/{key}")["Body"].read()

    # outputs flow: prepare -> train (notebook, parameter 3.0 injected) -> report
    assert json.loads(get("report/outputs/report.txt")) == {"weights": [3.0, 6.0, 9.0]}
    executed = json.loads(get("train/train.ipynb"))
    sources = ["".join(c["source"]) for c in executed["cells"]]
    assert "scale = 3.0" in sources[1] and executed["cells"][1]["metadata"]["tags"] == [
        "injected-parameters"
    ]
    assert "trained with scale 3.0" in json.dumps(executed["cells"][2]["outputs"])
    manifest = json.loads(get("report/manifest.json"))
    assert {o["path"]: o["producer"] for o in manifest["outputs"]} == {
        "data/raw.csv": "prepare",
        "data/model.json": "train",
        "report.txt": "report",
    }

    broken = results["broken"]
    assert broken.phase == "Failed" and broken.main.exit_code == 1
    assert broken.main.log.strip().splitlines()[-1] == (
        "mlpipe-runner: node 'broken' failed: broken.py exited with status 1 (no data today)"
    )
    assert b"about to fail" in get("broken/broken.log")

    bare = results["bare"]
    assert bare.phase == "Failed" and bare.main.exit_code == 127
    assert bare.main.log.strip() == (
        f"mlpipe-runner: image {BARE_IMAGE} has no python3: nodes need python3 (3.9 or later) "
        "on PATH"
    )
    kernelless = results["kernelless"]
    assert kernelless.phase == "Failed" and kernelless.main.exit_code == 1
    assert kernelless.main.log.strip().splitlines()[-1] == (
        "mlpipe-runner: node 'kernelless' failed: no Jupyter kernel 'python3' in image "
        f"{PY_IMAGE}: add ipykernel"
    )


def test_bad_store_and_runner_image_fail_in_one_line(submitted, images):
    tasks, s3, bucket = submitted["tasks"], submitted["s3"], submitted["bucket"]
    pod = tasks["prepare"]["rendered_pod"]

    # the runner image cannot be pulled (not in the cluster's registry): the pod never starts
    no_runner = {k: v for k, v in images.items() if k != RUNNER_IMAGE}
    result = PodEmulator(no_runner, submitted["tmp"], secrets=submitted["secrets"]).run(pod)
    assert result.phase == "Pending" and result.containers[0].reason == "ErrImagePull"
    assert result.events == [
        f'Failed to pull image "{RUNNER_IMAGE}": failed to pull and unpack image '
        f'"{RUNNER_IMAGE}": not found in the emulator\'s registry'
    ]
    assert len(result.containers) == 1  # the node's container never ran

    # wrong credentials in the pod's Secret
    wrong = {SECRET_NAME: {**submitted["secrets"][SECRET_NAME], "AWS_SECRET_ACCESS_KEY": "nope"}}
    result = PodEmulator(images, submitted["tmp"], secrets=wrong).run(pod)
    assert result.phase == "Failed" and result.main.exit_code == 1
    assert result.main.log.strip().splitlines()[-1] == (
        "mlpipe-runner: node 'prepare' failed: cannot fetch its bundle: wrong object store "
        "credentials (environment): the secret access key does not match the access key id "
        "(SignatureDoesNotMatch)"
    )

    # the bundle is gone from the store
    args = pod["spec"]["containers"][0]["args"]
    key = "mlpipe/" + args[args.index("--bundle") + 1]
    s3.delete_object(Bucket=bucket, Key=key)
    result = PodEmulator(images, submitted["tmp"], secrets=submitted["secrets"]).run(pod)
    assert result.phase == "Failed" and result.main.exit_code == 1
    assert result.main.log.strip().splitlines()[-1] == (
        f"mlpipe-runner: node 'prepare' failed: cannot fetch its bundle: "
        f"{key.removeprefix('mlpipe/')} does not exist in bucket {bucket}"
    )


def test_runner_image_without_the_runner_fails_at_the_init_container(submitted, images):
    """The runner image names an image without mlpipe_lab (e.g. a plain python image typed into
    the field): the init container fails with Python's one line naming the missing module, and the
    node's container never starts (no hang: the pod fails)."""
    pod = submitted["tasks"]["prepare"]["rendered_pod"]
    wrong = {**images, RUNNER_IMAGE: images[PY_IMAGE]}
    result = PodEmulator(wrong, submitted["tmp"], secrets=submitted["secrets"]).run(pod)
    assert result.phase == "Failed" and len(result.containers) == 1
    init = result.containers[0]
    assert init.init and init.exit_code == 1
    assert init.log.strip().splitlines() == [
        "/usr/bin/python3: Error while finding module specification for "
        "'mlpipe_lab.runner.install' (ModuleNotFoundError: No module named 'mlpipe_lab')"
    ]
