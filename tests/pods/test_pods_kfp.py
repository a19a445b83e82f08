"""A Kubeflow Pipelines component node in emulated pods: the component (v1 YAML from a folder
catalog) runs in its own image — Debian without python3, nothing of ours in it — with its command
and arguments as the KubernetesPodOperator of Airflow 3.3 builds the pod (rendered with the run's
parameters). A value with Jinja markers, quotes and shell syntax reaches the command as typed."""

from __future__ import annotations

import sys
from pathlib import Path

import compile_corpus as cc
import pytest
from conftest import BARE_IMAGE, rootfs
from emulator import PodEmulator

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
