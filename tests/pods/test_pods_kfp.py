"""A Kubeflow Pipelines component node in emulated pods: the component (v1 YAML from a folder
catalog) runs in its own image — Debian without python3, nothing of ours in it — with its command
and arguments as the KubernetesPodOperator of Airflow 3.3 builds the pod (rendered with the run's
parameters). A value with Jinja markers, quotes and shell syntax reaches the command as typed.

Two components that pass a file (an ``outputPath`` read by the next one's ``inputPath``, and a
value given to an ``inputPath``) run through the runner's ``--kind command`` in images with only
python3, the file travelling through moto's S3 server; a component image without python3 that
would pass files says so in one line."""

from __future__ import annotations

import copy
import sys
import uuid
from pathlib import Path

import boto3
import compile_corpus as cc
import pytest
from conftest import BARE_IMAGE, PY_IMAGE, RUNNER_IMAGE, rootfs
from emulator import PodEmulator
from s3server import S3Server

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "airflow"))
import harness

from mlpipe_lab.compiler.compile import render_plan
from mlpipe_lab.components import ComponentIndex
from mlpipe_lab.pipeline.model import Pipeline
from mlpipe_lab.plan import plan

pytestmark = pytest.mark.pods

DAG_ID = "kfp_in_pods"
HOSTILE = "{{ ds }} {% if %} $(id) `id` 'q' \"dq\" ; exit 7"
COMPONENT = f"""
name: Shout
description: Prints its text in capitals and writes it to its output.
inputs:
- {{name: Text, type: String}}
- {{name: Times, type: Integer, default: '2'}}
outputs:
- {{name: Loud}}
implementation:
  container:
    image: {BARE_IMAGE}
    command:
    - sh
    - -c
    - |
      mkdir -p "$(dirname "$2")"
      i=0; while [ "$i" -lt "$1" ]; do printf '%s\\n' "$0" | tr a-z A-Z; i=$((i+1)); done
      printf '%s' "$0" > "$2" && echo "wrote $2"
    - {{inputValue: Text}}
    - {{inputValue: Times}}
    - {{outputPath: Loud}}
"""


def _node(nid: str, label: str, values: dict) -> dict:
    return {
        "id": nid,
        "type": "execution_node",
        "op": "team:shout.yaml",
        "app_data": {"label": label, "component_parameters": values},
    }


@pytest.fixture(scope="module")
def pods(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("kfp")
    (tmp / "components").mkdir()
    (tmp / "components" / "shout.yaml").write_text(COMPONENT)
    index = ComponentIndex(
        [{"name": "team", "type": "local-directory-catalog", "paths": ["components"]}], root=tmp
    )
    doc = {
        "doc_type": "pipeline",
        "version": "3.0",
        "primary_pipeline": "p",
        "pipelines": [
            {
                "id": "p",
                "nodes": [
                    _node("a", "Literal", {"text": HOSTILE, "times": "3"}),
                    _node(
                        "b", "From parameter", {"text": {"widget": "parameter", "value": "word"}}
                    ),
                ],
                "app_data": {
                    "version": 8,
                    "properties": {"name": DAG_ID},
                    "mlpipe": {"parameters": [{"name": "word", "type": "string", "default": "x"}]},
                },
            }
        ],
    }
    result = plan(Pipeline(doc), cc.CONFIG, cc.IMAGES, bundles={}, components=index)
    assert result.ok, [p.message for p in result.errors]
    assert [t.kind for t in result.tasks] == ["kfp", "kfp"]
    (tmp / "dags").mkdir()
    (tmp / "dags" / f"{DAG_ID}.py").write_text(
        render_plan(result, source_path="p.pipeline", source_sha256="0" * 64)
    )
    info = harness.inspect_dags("3.3", tmp / "dags", render={"word": "hello pods"})
    assert not info["import_errors"], info["import_errors"]
    tasks = info["dags"][DAG_ID]["tasks"]
    for task_id, task in tasks.items():
        assert task["rendered_pod_error"] is None, (task_id, task["rendered_pod_error"])
    emulator = PodEmulator({BARE_IMAGE: str(rootfs("bare"))}, tmp, timeout=120)
    return {tid: (task, emulator.run(task["rendered_pod"])) for tid, task in tasks.items()}


def test_a_kfp_component_runs_in_its_own_image(pods):
    task, result = pods["Literal"]
    container = task["rendered_pod"]["spec"]["containers"][0]
    assert container["image"] == BARE_IMAGE and container["command"][:2] == ["sh", "-c"]
    # the component's command holds its placeholders: they become the command's last items
    assert container["command"][3:] == [HOSTILE, "3", "/tmp/mlpipe/outputs/output_loud"]
    assert result.phase == "Succeeded", result.describe()
    lines = result.main.log.strip().splitlines()
    assert lines == [HOSTILE.upper()] * 3 + ["wrote /tmp/mlpipe/outputs/output_loud"]


def test_a_kfp_input_takes_a_pipeline_parameter_and_a_default(pods):
    task, result = pods["From_parameter"]
    assert result.phase == "Succeeded", result.describe()
    assert result.main.log.strip().splitlines() == ["HELLO PODS"] * 2 + [
        "wrote /tmp/mlpipe/outputs/output_loud"
    ]


# -- files between components, through the object store ---------------------------------------

WRITE = f"""
name: Write
inputs:
- {{name: Greeting, type: String}}
outputs:
- {{name: Words}}
implementation:
  container:
    image: {PY_IMAGE}
    command: [sh, -c, 'tr a-z A-Z < "$0" > "$1" && echo "wrote $1"', {{inputPath: Greeting}},
              {{outputPath: Words}}]
"""
READ = f"""
name: Read
inputs:
- {{name: Words}}
implementation:
  container:
    image: {PY_IMAGE}
    command: [sh, -c, 'echo "read: $(cat "$0")"', {{inputPath: Words}}]
"""
BARE_READ = READ.replace(PY_IMAGE, BARE_IMAGE).replace("name: Read", "name: Bare read")
FILES_DAG = "kfp_files_in_pods"
GREETING = "hello $(id) {{ ds }} 'files'"
SECRET_NAME = "store-creds"


@pytest.fixture(scope="module")
def file_pods(tmp_path_factory, images):
    tmp = tmp_path_factory.mktemp("kfp-files")
    (tmp / "components").mkdir()
    for name, text in (("write", WRITE), ("read", READ), ("bare", BARE_READ)):
        (tmp / "components" / f"{name}.yaml").write_text(text)
    index = ComponentIndex(
        [{"name": "team", "type": "local-directory-catalog", "paths": ["components"]}], root=tmp
    )
    server = S3Server(max_seconds=600)
    server.start()
    try:
        key_id, secret = "AKIAKFPFILES", f"kfp-{uuid.uuid4().hex}"
        s3 = boto3.client(
            "s3",
            endpoint_url=server.endpoint,
            region_name="us-east-1",
            aws_access_key_id=key_id,
            aws_secret_access_key=secret,
        )
        bucket = f"kfp-{uuid.uuid4().hex[:8]}"
        s3.create_bucket(Bucket=bucket)
        config = copy.deepcopy(cc.CONFIG)
        config["object_storage"].update(
            endpoint=server.endpoint,
            bucket=bucket,
            region="us-east-1",
            prefix="mlpipe",
            pod_credentials_secret=SECRET_NAME,
        )
        config["kubernetes"] = {"namespace": "ml", "runner_image": RUNNER_IMAGE}

        def ref(node_id: str) -> dict:
            return {"widget": "inputpath", "value": {"value": node_id, "option": "output_words"}}

        def linked(node: dict, parent: str) -> dict:
            node["inputs"] = [
                {"id": "in", "links": [{"id": "l", "node_id_ref": parent, "port_id_ref": "out"}]}
            ]
            return node

        nodes = [
            {**_node("w", "Write", {"greeting": GREETING}), "op": "team:write.yaml"},
            linked({**_node("r", "Read", {"words": ref("w")}), "op": "team:read.yaml"}, "w"),
            linked({**_node("b", "Bare", {"words": ref("w")}), "op": "team:bare.yaml"}, "w"),
        ]
        doc = {
            "doc_type": "pipeline",
            "version": "3.0",
            "primary_pipeline": "p",
            "pipelines": [
                {
                    "id": "p",
                    "nodes": nodes,
                    "app_data": {"version": 8, "properties": {"name": FILES_DAG}},
                }
            ],
        }
        result = plan(Pipeline(doc), config, cc.IMAGES, bundles={}, components=index)
        assert result.ok, [p.message for p in result.errors]
        (tmp / "dags").mkdir()
        text = render_plan(result, source_path="p.pipeline", source_sha256="0" * 64)
        assert secret not in text
        (tmp / "dags" / f"{FILES_DAG}.py").write_text(text)
        info = harness.inspect_dags("3.3", tmp / "dags", render={})
        assert not info["import_errors"], info["import_errors"]
        tasks = info["dags"][FILES_DAG]["tasks"]
        for task_id, task in tasks.items():
            assert task["rendered_pod_error"] is None, (task_id, task["rendered_pod_error"])
        secrets = {SECRET_NAME: {"AWS_ACCESS_KEY_ID": key_id, "AWS_SECRET_ACCESS_KEY": secret}}
        emulator = PodEmulator(images, tmp, secrets=secrets, timeout=300)
        results = {t: emulator.run(tasks[t]["rendered_pod"]) for t in ("Write", "Read", "Bare")}
        yield {"tasks": tasks, "results": results, "s3": s3, "bucket": bucket}
    finally:
        server.stop()


def test_a_file_flows_from_one_component_to_the_next_through_the_store(file_pods):
    tasks, results = file_pods["tasks"], file_pods["results"]
    pod = tasks["Write"]["rendered_pod"]
    (init,) = pod["spec"]["initContainers"]
    assert init["image"] == RUNNER_IMAGE  # the runner reaches the component's image
    base = pod["spec"]["containers"][0]
    assert base["image"] == PY_IMAGE and base["command"][:2] == ["/bin/sh", "-c"]
    write, read = results["Write"], results["Read"]
    assert write.phase == "Succeeded", write.describe()
    assert write.main.log.strip().splitlines() == [
        "wrote /tmp/mlpipe/outputs/output_words",
        "mlpipe-runner: node 'Write' succeeded",
    ]
    run = f"mlpipe/{FILES_DAG}/runs/manual__mlpipe_render"
    body = (
        file_pods["s3"]
        .get_object(Bucket=file_pods["bucket"], Key=f"{run}/Write/outputs/output_words")["Body"]
        .read()
    )
    assert body.decode() == GREETING.upper()  # the value, written to a file, as typed
    assert read.phase == "Succeeded", read.describe()
    assert read.main.log.strip().splitlines() == [
        f"read: {GREETING.upper()}",
        "mlpipe-runner: node 'Read' succeeded",
    ]


def test_a_component_image_without_python3_that_passes_files_says_so(file_pods):
    bare = file_pods["results"]["Bare"]
    assert bare.phase == "Failed" and bare.main.exit_code == 127
    assert bare.main.log.strip() == (
        f"mlpipe-runner: image {BARE_IMAGE} has no python3: nodes need python3 (3.9 or later) "
        "on PATH"
    )
