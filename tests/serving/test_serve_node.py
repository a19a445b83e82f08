"""The "Serve MLflow model" node: schema, validation, expansion into tasks, generated DAG text and
the objects its deploy task would apply (validated against the SeldonDeployment CRD and Kubernetes'
own schemas). Pure: no MLflow, Airflow or cluster here (see test_serve_tasks.py, test_serve_airflow.py
and test_serve_mlflow_node.py for those)."""

from __future__ import annotations

import copy
import json

import compile_corpus as cc
import crds
import pytest
import serve_fixtures as sf

from mlpipe_lab.compiler import compile_pipeline
from mlpipe_lab.compiler.compile import image_refs
from mlpipe_lab.pipeline import Pipeline, PipelineError
from mlpipe_lab.pipeline.validation import validate
from mlpipe_lab.plan import check, layout
from mlpipe_lab.schemas import validator
from mlpipe_lab.serving import manifests as m
from mlpipe_lab.serving.spec import ServeSpec
from mlpipe_lab.serving.tasks import resources

ARGS_OF = "arguments"


def problems(doc, images=True, config=None):
    """Structural problems; with a runtime ``config``, the plan's too (as export checks)."""
    if config is not None:
        found = check(doc, source="serve.pipeline", images=cc.IMAGES, config=config).problems
    else:
        refs = image_refs(cc.IMAGES) if images else None
        found = validate(doc, source="serve.pipeline", images=refs)
    return [(p.severity, p.node_label, p.path, p.message) for p in found]


def compiled(doc, config=cc.CONFIG):
    return compile_pipeline(
        Pipeline(doc, "serve.pipeline"),
        images=cc.IMAGES,
        config=config,
        source_path="serve.pipeline",
    )


# -- schema and validation --------------------------------------------------------------------


def test_node_type_is_in_the_schema_and_the_file_stays_pipeline_flow_v3():
    from mlpipe_lab.schemas import load_schema

    schema = load_schema("node-properties")
    assert schema["x-node-types"][sf.SERVE_OP]["file"] is False
    assert (
        schema["$defs"][sf.SERVE_OP]["properties"]["component_parameters"]["$ref"]
        == "#/$defs/serve_parameters"
    )
    for target in sf.TARGET_PROPS:
        doc = sf.serve_pipeline(target)
        assert list(validator("pipeline-file").iter_errors(doc)) == []
        assert problems(doc) == [], target


@pytest.mark.parametrize(
    "change, path, text",
    [
        ({"model_name": None}, "component_parameters/model_name", "Model name is required"),
        ({"model_version": "2"}, "component_parameters/model_alias", "not both"),
        ({"model_alias": None}, "component_parameters/model_version", "version or alias"),
        ({"model_alias": "no spaces"}, "component_parameters/model_alias", "not allowed"),
        ({"deployment_name": "Bad_Name"}, "component_parameters/deployment_name", "not allowed"),
        ({"namespace": "-ns"}, "component_parameters/namespace", "not allowed"),
        ({"ingress_host": "UPPER.example.com"}, "component_parameters/ingress_host", "not allowed"),
        ({"registry_secret": None}, "component_parameters/registry_secret", "dockerconfigjson"),
        ({"image_repository": None}, "component_parameters/image_repository", "image repository"),
        ({"target": "kubeflow"}, "component_parameters/target", "choose one of"),
        ({"password": "x"}, "component_parameters", "Unknown setting: 'password'"),
        (
            {"tracking_uri": "https://user:pw@mlflow.example.com"},
            "component_parameters/tracking_uri",
            "credentials",
        ),
        ({"min_replicas": 5, "max_replicas": 2}, "component_parameters/min_replicas", "above max"),
        ({"smoke_request": "[1"}, "component_parameters/smoke_request", "not JSON"),
        (
            {"model_name": "___"},
            "component_parameters/deployment_name",
            "no usable Kubernetes name",
        ),
        ({"runtime_image": None}, "component_parameters/runtime_image", "No runtime image"),
    ],
)
def test_bad_serve_nodes_name_node_and_field(change, path, text):
    doc = sf.serve_pipeline("seldon-v1")
    params = doc["pipelines"][0]["nodes"][1]["app_data"]["component_parameters"]
    for key, value in change.items():
        if value is None:
            params.pop(key, None)
        else:
            params[key] = value
    found = [p for p in problems(doc, config=cc.CONFIG) if p[0] == "error"]
    assert any(p[1] == "Serve churn" and p[2] == path and text in p[3] for p in found), found


def test_settings_another_target_ignores_are_warnings():
    doc = sf.serve_pipeline(
        "kserve-mlserver", registry_secret="push-creds", ingress_host="x.example.com"
    )
    found = problems(doc)
    assert {p[2] for p in found if p[0] == "warning"} == {
        "component_parameters/registry_secret",
        "component_parameters/ingress_host",
    }
    assert not [p for p in found if p[0] == "error"]


def test_compile_refuses_a_node_without_tracking_uri():
    doc = sf.serve_pipeline("seldon-v1")
    del doc["pipelines"][0]["nodes"][1]["app_data"]["component_parameters"]["tracking_uri"]
    with pytest.raises(PipelineError) as info:
        compiled(doc)
    (p,) = info.value.problems
    assert (p.node_label, p.path) == ("Serve churn", "component_parameters/tracking_uri")
    assert "mlflow.tracking_uri" in p.message
    # ... and takes the runtime configuration's tracking URI when the node has none
    config = {**cc.CONFIG, "mlflow": {"tracking_uri": "http://mlflow.other:5000"}}
    assert '--tracking-uri", "http://mlflow.other:5000"' in compiled(doc, config).text
    assert list(validator("runtime-config").iter_errors(config)) == []


# -- expansion ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "target, steps",
    [
        ("seldon-v1", ["package", "build", "deploy", "wait", "smoke"]),
        ("kserve", ["package", "build", "deploy", "wait", "smoke"]),
        ("kserve-mlserver", ["package", "deploy", "wait", "smoke"]),
        ("seldon-v2", ["package", "deploy", "wait", "smoke"]),
    ],
)
def test_expansion_per_target(target, steps):
    plan = layout(Pipeline(sf.serve_pipeline(target)))
    ids = [t.task_id for t in plan.slots]
    assert ids == ["train"] + [f"Serve_churn_{s}" for s in steps] + ["report"]
    by_id = {t.task_id: t for t in plan.slots}
    chain = ["train"] + [f"Serve_churn_{s}" for s in steps]
    for before, after in zip(chain, chain[1:]):
        assert by_id[after].upstream == [before]
    assert by_id["report"].upstream == [chain[-1]]
    # the report still receives train's outputs: serve tasks have none to pass on
    assert by_id["report"].inputs == ["train"]


def test_local_expansion_and_unique_ids():
    doc = sf.serve_pipeline("seldon-v1")
    nodes = doc["pipelines"][0]["nodes"]
    nodes[0]["app_data"]["label"] = "Serve churn_package"  # collides with a derived serve task id
    plan = layout(Pipeline(doc), local=True)
    ids = [t.task_id for t in plan.slots]
    assert ids == ["Serve_churn_package", "Serve_churn_package_2", "Serve_churn_check", "report"]
    assert len({i.lower() for i in ids}) == len(ids)
    nodes[1]["app_data"]["mlpipe"] = {"task_id": "deploy-churn"}
    plan = layout(Pipeline(doc))
    assert [t.task_id for t in plan.slots][1:4] == [
        "deploy-churn_package",
        "deploy-churn_build",
        "deploy-churn_deploy",
    ]


# -- the generated DAG -------------------------------------------------------------------------


def _tasks(text):
    return cc.read_dag(text)["tasks"]


def test_seldon_v1_dag():
    result = compiled(sf.serve_pipeline("seldon-v1"))
    tasks = _tasks(result.text)
    cc.check_dag_ast(result.text)
    package = tasks["Serve_churn_package"]
    args = package[ARGS_OF]
    # the runner's --kind serve, brought into the node's image by the runner's init container
    # (the launcher and store options are the node tasks' own)
    assert package["cmds"] == tasks["train"]["cmds"] and package["cmds"][0] == "/bin/sh"
    assert package["full_pod_spec"] is tasks["train"]["full_pod_spec"] is not None
    assert package["init_container_logs"] is True
    assert package["env_vars"]["MLPIPE_IMAGE"] == tasks["train"]["env_vars"]["MLPIPE_IMAGE"]
    assert args[:3] == ["--kind", "serve", "package"] and package["do_xcom_push"] is True
    assert args[args.index("--alias") + 1] == "champion" and "--version" not in args
    assert args[args.index("--xcom-file") + 1] == "/airflow/xcom/return.json"
    assert args[args.index("--image-repository") + 1] == "models/churn"
    assert "--image-tag" not in args  # the tag defaults to the resolved version, at run time
    assert [s.args for s in package["secrets"]][-1] == [
        "env",
        "MLFLOW_TRACKING_TOKEN",
        "mlflow-token",
        "token",
    ]

    build = tasks["Serve_churn_build"]
    assert build["image"] == "gcr.io/kaniko-project/executor:v1.23.2" and "cmds" not in build
    assert build[ARGS_OF][:3] == [
        "--context=s3://mlpipe/pipelines/{{ ti.xcom_pull(task_ids='Serve_churn_package')['context_key'] }}",
        "--dockerfile=Dockerfile",
        "--destination={{ ti.xcom_pull(task_ids='Serve_churn_package')['image'] }}",
    ]
    (volume,) = build["volumes"]
    assert volume.kwargs["secret"].kwargs["secret_name"] == "push-creds"
    assert volume.kwargs["secret"].kwargs["items"][0].kwargs == {
        "key": ".dockerconfigjson",
        "path": "config.json",
    }
    (mount,) = build["volume_mounts"]
    assert mount.kwargs == {
        "name": "registry-auth",
        "mount_path": "/kaniko/.docker",
        "read_only": True,
    }
    assert build["env_vars"] == {
        "S3_ENDPOINT": "http://minio.minio:9000",
        "S3_FORCE_PATH_STYLE": "true",
        "AWS_REGION": "eu-west-1",
    }
    assert [s.args[1] for s in build["secrets"]] == ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]

    deploy = tasks["Serve_churn_deploy"]
    spec = json.loads(deploy[ARGS_OF][deploy[ARGS_OF].index("--spec") + 1])
    # the typed spec's own JSON: the node's settings, defaults left out
    assert spec == {
        "model_name": "churn",
        "model_alias": "champion",
        "target": "seldon-v1",
        "name": "churn",
        "namespace": "models",
        "cpu": "1",
        "memory": "1Gi",
        "min_replicas": 1,
        "max_replicas": 4,
        "cpu_target_percent": 60,
        "logger_url": "http://logger.monitoring.svc/events",
        "image_registry": "registry.example.com:5000",
        "image_repository": "models/churn",
        "ingress_host": "churn.models.example.com",
        "registry_secret": "push-creds",
        "service_account": "model-deployer",
    }
    assert ServeSpec.from_json(spec).cpu_target_percent == 60
    xcom = "{{ ti.xcom_pull(task_ids='Serve_churn_package')['%s'] }}"
    assert deploy[ARGS_OF][:3] == ["--kind", "serve", "deploy"]
    assert deploy["full_pod_spec"] is package["full_pod_spec"]
    assert deploy[ARGS_OF][5:] == [
        "--version",
        xcom % "version",
        "--model-uri",
        xcom % "model_uri",
        "--image",
        xcom % "image",
    ]
    assert deploy["service_account_name"] == "model-deployer"
    assert tasks["Serve_churn_wait"]["service_account_name"] == "model-deployer"
    wait_args = tasks["Serve_churn_wait"][ARGS_OF]
    assert wait_args[wait_args.index("--timeout") + 1] == "600"
    smoke_args = tasks["Serve_churn_smoke"][ARGS_OF]
    assert (
        smoke_args[-1]
        == "{{ ti.xcom_pull(task_ids='Serve_churn_package')['smoke_request'] | tojson }}"
    )
    # notebook/script tasks keep the runner; the report receives train's outputs
    report = tasks["report"]
    assert report["cmds"] == tasks["train"]["cmds"]  # the runner's launcher
    assert report[ARGS_OF][report[ARGS_OF].index("--upstream") + 1] == "train"
    assert cc.read_dag(result.text)["upstream"]["report"] == ["Serve_churn_smoke"]


def test_targets_running_mlserver_deploy_the_storage_uri_and_ours_an_image():
    for target in ("kserve-mlserver", "seldon-v2"):
        tasks = _tasks(compiled(sf.serve_pipeline(target)).text)
        args = tasks["Serve_churn_deploy"][ARGS_OF]
        assert args[-2:] == [
            "--storage-uri",
            "{{ ti.xcom_pull(task_ids='Serve_churn_package')['storage_uri'] }}",
        ]
        package = tasks["Serve_churn_package"][ARGS_OF]
        assert (
            "--image-repository" not in package and package[package.index("--target") + 1] == target
        )
        assert "Serve_churn_build" not in tasks
    tasks = _tasks(compiled(sf.serve_pipeline("kserve")).text)
    assert tasks["Serve_churn_deploy"][ARGS_OF][-2:] == [
        "--image",
        "{{ ti.xcom_pull(task_ids='Serve_churn_package')['image'] }}",
    ]
    package = tasks["Serve_churn_package"][ARGS_OF]
    assert package[package.index("--image-repository") + 1] == "models/churn"
    # Kaniko builds the same context as for seldon-v1
    seldon = _tasks(compiled(sf.serve_pipeline("seldon-v1")).text)
    assert tasks["Serve_churn_build"][ARGS_OF] == seldon["Serve_churn_build"][ARGS_OF]


def test_local_runtime_and_local_worker_package_and_check():
    result = compiled(sf.serve_pipeline("seldon-v1"), cc.LOCAL_CONFIG)
    tasks = _tasks(result.text)
    assert list(tasks) == ["train", "Serve_churn_package", "Serve_churn_check", "report"]
    assert tasks["Serve_churn_check"][ARGS_OF][-2:] == ["--package-task", "Serve_churn_package"]
    assert "--xcom-file" not in tasks["Serve_churn_package"][ARGS_OF]
    assert "do_xcom_push" not in tasks["Serve_churn_package"]
    assert any(
        p.code == "serve-local" and "nothing is deployed" in p.message for p in result.problems
    )
    worker = copy.deepcopy(cc.CONFIG)
    worker["airflow"]["execution_mode"] = "local-worker"
    text = compiled(sf.serve_pipeline("kserve"), worker).text
    # the runner zipapp beside the DAG (written by export and submit), nothing installed
    assert "--kind serve package" in text and "--kind serve check" in text
    assert "mlpipe_lab.serving.tasks" not in text and "RUNNER_ZIPAPP" in text
    assert "KubernetesPodOperator" not in text and "kaniko" not in text
    # a DAG of serve nodes alone gets the zipapp beside it too (export and submit write it)
    from mlpipe_lab.compiler.export import worker_files
    from mlpipe_lab.runner.contract import WORKER_ZIPAPP

    alone = sf.serve_pipeline("kserve")
    alone["pipelines"][0]["nodes"] = [
        n for n in alone["pipelines"][0]["nodes"] if n["op"] == sf.SERVE_OP
    ]
    plan = check(alone, source="serve.pipeline", images=cc.IMAGES, config=worker).plan
    assert {t.kind for t in plan.tasks} == {"serve"}
    assert list(worker_files(plan)) == [WORKER_ZIPAPP]


def test_runner_in_the_image_runs_the_tasks_module():
    """Delivery 'image' (the runner baked into the node's image): the serve steps start
    python3 -m mlpipe_lab.serving.tasks with the same arguments, store options first."""
    config = copy.deepcopy(cc.CONFIG)
    config["kubernetes"]["runner_delivery"] = "image"
    tasks = _tasks(compiled(sf.serve_pipeline("seldon-v1"), config).text)
    package = tasks["Serve_churn_package"]
    assert package["cmds"] == ["python3", "-m", "mlpipe_lab.serving.tasks"]
    args = package[ARGS_OF]
    assert args[:2] == ["--contract", "1"] and "full_pod_spec" not in package
    i = args.index("--kind")
    assert args[i : i + 3] == ["--kind", "serve", "package"]
    assert args[:i] == tasks["train"]["cmds"][3:]  # RUNNER: python3 -m mlpipe_lab.runner + store


def test_no_secret_value_reaches_the_dag():
    for target in sf.TARGET_PROPS:
        for config in (cc.CONFIG, cc.LOCAL_CONFIG):
            text = compiled(sf.serve_pipeline(target), config).text
            assert cc.CANARY not in text
            assert "dockerconfigjson" not in text or target in (
                "seldon-v1",
                "kserve",
            )  # a key name, not a value


# -- what deploy applies -------------------------------------------------------------------------


def _spec_of(target):
    tasks = _tasks(compiled(sf.serve_pipeline(target)).text)
    args = tasks["Serve_churn_deploy"][ARGS_OF]
    return ServeSpec.from_json(args[args.index("--spec") + 1])


def test_seldon_v1_objects_validate():
    kv = pytest.importorskip("kubernetes_validate", reason="kubernetes-validate is not installed")
    from kubernetes_validate.utils import latest_version

    release = m.Release(version="1", image="registry.example.com:5000/models/churn:1")
    objs = m.objects(_spec_of("seldon-v1"), release)
    assert [o["kind"] for o in objs] == ["SeldonDeployment", "Service", "Ingress"]
    sdep = objs[0]
    assert crds.errors(crds.SELDON, sdep) == []
    predictor = sdep["spec"]["predictors"][0]
    assert predictor["componentSpecs"][0]["hpaSpec"]["maxReplicas"] == 4
    assert predictor["componentSpecs"][0]["spec"]["imagePullSecrets"] == [{"name": "push-creds"}]
    assert predictor["graph"]["logger"] == {
        "mode": "all",
        "url": "http://logger.monitoring.svc/events",
    }
    for obj in objs[1:]:
        kv.validate(obj, latest_version(), strict=True)
    assert (
        resources.resource_of(sdep).path
        == "/apis/machinelearning.seldon.io/v1/namespaces/models/seldondeployments/churn"
    )
    assert resources.resource_of(objs[1]).path == "/api/v1/namespaces/models/services/churn-http"
    url, headers, protocol = resources.endpoint(_spec_of("seldon-v1"))
    assert (
        url == "http://churn-http.models.svc.cluster.local:8000/api/v1.0/predictions"
        and protocol == "seldon"
    )


def test_kserve_and_seldon_v2_objects():
    (isvc,) = m.objects(_spec_of("kserve"), m.Release(version="3", image="r.example.com/churn:3"))
    assert crds.errors(crds.INFERENCE_SERVICE, isvc) == []
    assert isvc["spec"]["predictor"]["containers"][0]["image"] == "r.example.com/churn:3"
    assert isvc["spec"]["predictor"]["minReplicas"] == 2
    files = m.Release(version="3", storage_uri="s3://mlflow/1/models/m-1/artifacts")
    (isvc,) = m.objects(_spec_of("kserve-mlserver"), files)
    assert crds.errors(crds.INFERENCE_SERVICE, isvc) == []
    model = isvc["spec"]["predictor"]["model"]
    assert model["modelFormat"] == {"name": "mlflow"} and model["protocolVersion"] == "v2"
    assert model["storageUri"] == "s3://mlflow/1/models/m-1/artifacts"
    (m2,) = m.objects(_spec_of("seldon-v2"), m.Release(storage_uri="gs://b/m"))
    assert (
        m2["apiVersion"] == "mlops.seldon.io/v1alpha1" and m2["metadata"]["namespace"] == "ml-jobs"
    )
    assert resources.endpoint(_spec_of("seldon-v2"))[1] == {"Seldon-Model": "churn"}
    assert resources.endpoint(_spec_of("kserve"))[0] == (
        "http://churn-predictor.models.svc.cluster.local/v2/models/churn/infer"
    )
    with pytest.raises(m.ManifestError, match="physical location"):
        m.objects(_spec_of("kserve-mlserver"), m.Release(storage_uri="models:/churn/1"))
    with pytest.raises(m.ManifestError, match="invalid image"):
        m.objects(_spec_of("kserve"), m.Release(version="3"))


def test_describe_and_export_a_pipeline_with_a_serve_node(tmp_path):
    from mlpipe_lab.compiler.export import export
    from mlpipe_lab.services import Services

    doc = sf.serve_pipeline("kserve")
    for name in ("train.py", "report.py"):
        (tmp_path / name).write_text("print(1)\n")
    (tmp_path / "s.pipeline").write_text(json.dumps(doc))
    described = Services(tmp_path, tmp_path / "data").pipelines.describe("s.pipeline")
    serve = [n for n in described["nodes"] if n["op"] == sf.SERVE_OP][0]
    assert serve["file_status"] is None and serve["filename"] == ""
    assert described["files"] == ["report.py", "train.py"]
    result = export(
        tmp_path / "s.pipeline", config=cc.CONFIG, images=cc.IMAGES, output=tmp_path / "dag.py"
    )
    assert sorted(result.bundles) == ["report", "train"]  # serve tasks ship no files
    assert "Serve_churn_deploy" in (tmp_path / "dag.py").read_text()
