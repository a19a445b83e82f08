"""Generated serving manifests: SeldonDeployments validate against the shared CRD's v1 schema with
unknown fields as errors; Service/Ingress against Kubernetes' own schemas (kubernetes-validate,
strict); KServe and Seldon Core 2 objects against their documented structure; no secret values."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from mlpipe_lab.serving import manifests as m

CONTRACTS = Path(__file__).resolve().parents[2] / "shared" / "contracts"
CRD_PATH = CONTRACTS / "seldondeployment-crd.yaml"
SECRET_VALUE = "s3cr3t-Passw0rd-value"


def _strict(schema):
    """Drop x-kubernetes-* keys; objects with properties reject unknown fields."""
    if isinstance(schema, list):
        return [_strict(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _strict(v) for k, v in schema.items() if not k.startswith("x-kubernetes-")}
    if "properties" in out and out.get("type", "object") == "object":
        out["additionalProperties"] = False
    return out


@pytest.fixture(scope="module")
def crd_validator():
    if not CRD_PATH.exists():
        pytest.skip(f"SeldonDeployment CRD not found at {CRD_PATH}: cannot validate against it")
    yaml = pytest.importorskip("yaml")
    from jsonschema import Draft7Validator

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with CRD_PATH.open() as fh:
        crd = yaml.load(fh, Loader=loader)
    (v1,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    schema = _strict(v1["schema"]["openAPIV3Schema"])
    Draft7Validator.check_schema(schema)
    return Draft7Validator(schema)


def errors(validator, doc):
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(doc)
    ]


FULL = m.ServingSpec(
    name="mlflowdemo",
    namespace="models",
    image=m.image_reference("models/mlflowdemo", "1", "registry.example.com:5000"),
    model_name="classifier",
    cpu_request="1500m",
    memory_request="1Gi",
    cpu_limit="2",
    min_replicas=1,
    max_replicas=4,
    cpu_utilization=60,
    logger_url="http://logger.seldon-logs.svc.cluster.local",
    logger_mode="all",
    parameters=[
        {"name": "model_dir", "value": "/app/model", "type": "STRING"},
        {"name": "threshold", "value": 0.5, "type": "FLOAT"},
        {"name": "verbose", "value": True, "type": "bool"},
    ],
    env={"MODEL_DIR": "/app/model"},
    secret_env={"AWS_SECRET_ACCESS_KEY": ("s3-credentials", "secret-key")},
    image_pull_secret="regcred",
    service_account="model-runner",
    annotations={"seldon.io/engine-seldon-log-messages-externally": "true"},
    predictor_annotations={"seldon.io/rest-timeout": "60000"},
    labels={"app.kubernetes.io/part-of": "mlpipe", "team": "ds"},
    svc_orch_env={"SELDON_LOG_LEVEL": "INFO"},
    host="models.example.com",
    ingress_class="nginx",
    tls_secret="models-tls",
    ingress_annotations={"nginx.ingress.kubernetes.io/proxy-body-size": "64m"},
)

VARIANTS = {
    "full": FULL,
    "minimal": m.ServingSpec(name="m", image="m:1"),
    "fixed-replicas-no-logger": m.ServingSpec(
        name="demo", image="r/demo:2", replicas=3, memory_limit=None, predictor_annotations={}
    ),
    "logger-default-url": m.ServingSpec(name="demo", image="r/demo:2", logger_mode="request"),
}


@pytest.mark.parametrize("name", list(VARIANTS))
def test_seldon_deployment_validates_against_crd(crd_validator, name):
    doc = m.seldon_deployment(VARIANTS[name])
    assert errors(crd_validator, json.loads(json.dumps(doc))) == []


def test_validator_is_strict(crd_validator):
    doc = m.seldon_deployment(FULL)
    for path in (
        ("spec", "predictors", 0, "graph"),
        ("spec", "predictors", 0, "componentSpecs", 0, "hpaSpec"),
        ("spec", "predictors", 0, "componentSpecs", 0, "spec", "containers", 0),
    ):
        bad = copy.deepcopy(doc)
        node = bad
        for key in path:
            node = node[key]
        node["typo"] = 1
        assert errors(crd_validator, bad), path
    bad = copy.deepcopy(doc)
    bad["spec"]["predictors"][0]["componentSpecs"][0]["hpaSpec"]["maxReplicas"] = "4"
    assert errors(crd_validator, bad)


def test_seldon_deployment_fields():
    doc = m.seldon_deployment(FULL)
    assert doc["apiVersion"] == "machinelearning.seldon.io/v1" and doc["kind"] == "SeldonDeployment"
    (pred,) = doc["spec"]["predictors"]
    (comp,) = pred["componentSpecs"]
    (container,) = comp["spec"]["containers"]
    assert container["name"] == pred["graph"]["name"] == "classifier"
    assert container["image"] == "registry.example.com:5000/models/mlflowdemo:1"
    assert container["resources"] == {
        "requests": {"cpu": "1500m", "memory": "1Gi"},
        "limits": {"cpu": "2", "memory": "1Gi"},
    }
    env = {e["name"]: e for e in container["env"]}
    assert env["GUNICORN_WORKERS"]["value"] == "2"  # 1.5 cores -> 2 workers
    assert env["AWS_SECRET_ACCESS_KEY"] == {
        "name": "AWS_SECRET_ACCESS_KEY",
        "valueFrom": {"secretKeyRef": {"name": "s3-credentials", "key": "secret-key"}},
    }
    assert comp["hpaSpec"] == {
        "minReplicas": 1,
        "maxReplicas": 4,
        "metricsv2": [
            {
                "type": "Resource",
                "resource": {
                    "name": "cpu",
                    "target": {"type": "Utilization", "averageUtilization": 60},
                },
            }
        ],
    }
    assert "replicas" not in pred  # the HPA owns the replica count
    assert pred["graph"]["logger"] == {
        "url": "http://logger.seldon-logs.svc.cluster.local",
        "mode": "all",
    }
    assert pred["graph"]["type"] == "MODEL" and pred["graph"]["children"] == []
    assert pred["graph"]["parameters"] == [
        {"name": "model_dir", "type": "STRING", "value": "/app/model"},
        {"name": "threshold", "type": "FLOAT", "value": "0.5"},
        {"name": "verbose", "type": "BOOL", "value": "true"},
    ]
    assert pred["svcOrchSpec"]["resources"]["requests"] == {"cpu": "100m", "memory": "256Mi"}
    assert comp["spec"]["imagePullSecrets"] == [{"name": "regcred"}]
    assert pred["annotations"] == {"seldon.io/rest-timeout": "60000"}
    assert doc["spec"]["annotations"] == {"seldon.io/engine-seldon-log-messages-externally": "true"}
    assert doc["metadata"]["namespace"] == "models"
    minimal = m.seldon_deployment(VARIANTS["minimal"])
    assert "logger" not in minimal["spec"]["predictors"][0]["graph"]
    assert minimal["spec"]["predictors"][0]["replicas"] == 1
    assert m.seldon_deployment(VARIANTS["logger-default-url"])["spec"]["predictors"][0]["graph"][
        "logger"
    ] == {"mode": "request"}


@pytest.mark.parametrize(
    "kwargs",
    [
        {"name": "Bad_Name"},
        {"logger_mode": "everything"},
        {"cpu_request": "lots"},
        {"min_replicas": 3, "max_replicas": 2},
        {"image": "has space:1"},
        {"host": "not a host"},
        {"image_pull_secret": "Reg Cred"},
        {"labels": {"k": "bad value!"}},
        {"model_name": "a.b"},
        {"cpu_utilization": 150, "max_replicas": 2},
    ],
)
def test_invalid_specs_are_refused(kwargs):
    spec = m.ServingSpec(**{"name": "demo", "image": "r/demo:1", **kwargs})
    with pytest.raises(m.ManifestError):
        m.deployment_objects(spec)


def test_image_reference():
    assert m.image_reference("models/demo", "1.0", "ghcr.io") == "ghcr.io/models/demo:1.0"
    assert m.image_reference("demo") == "demo:latest"
    digest = "sha256:" + "a" * 64
    assert m.image_reference("demo", digest, "localhost:5000") == f"localhost:5000/demo@{digest}"
    for bad in (("Demo", "1"), ("demo", "bad tag"), ("demo", "sha256:xyz")):
        with pytest.raises(m.ManifestError):
            m.image_reference(*bad)
    assert (
        m.workers_for_cpu("500m") == 1
        and m.workers_for_cpu("2") == 2
        and m.workers_for_cpu("2001m") == 3
    )


def test_service_and_ingress_validate_against_kubernetes_schemas():
    kv = pytest.importorskip("kubernetes_validate", reason="kubernetes-validate is not installed")
    from kubernetes_validate.utils import latest_version

    version = latest_version()
    objs = m.deployment_objects(FULL)
    assert [o["kind"] for o in objs] == ["SeldonDeployment", "Service", "Ingress"]
    for obj in objs[1:]:
        kv.validate(obj, version, strict=True)
    bad = copy.deepcopy(objs[2])
    bad["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["port"]["nmber"] = 1
    with pytest.raises(kv.ValidationError):
        kv.validate(bad, version, strict=True)


def test_service_and_ingress_structure():
    svc, ing = m.service(FULL), m.ingress(FULL)
    assert svc["spec"]["selector"] == {"seldon-app": "mlflowdemo-default"}
    assert svc["spec"]["ports"] == [
        {"name": "http", "port": 8000, "protocol": "TCP", "targetPort": 8000}
    ]
    assert ing["apiVersion"] == "networking.k8s.io/v1"
    assert ing["spec"]["ingressClassName"] == "nginx"
    (rule,) = ing["spec"]["rules"]
    assert rule["host"] == "models.example.com"
    assert rule["http"]["paths"][0]["backend"] == {
        "service": {"name": svc["metadata"]["name"], "port": {"number": 8000}}
    }
    assert ing["spec"]["tls"] == [{"hosts": ["models.example.com"], "secretName": "models-tls"}]
    with pytest.raises(m.ManifestError):
        m.ingress(m.ServingSpec(name="demo", image="r/demo:1"))


def test_kserve_and_seldon_v2():
    isvc = m.kserve_inference_service(
        "mlflowdemo",
        "s3://models/mlflowdemo/1",
        namespace="models",
        service_account="s3-reader",
        max_replicas=3,
    )
    assert isvc["apiVersion"] == "serving.kserve.io/v1beta1" and isvc["kind"] == "InferenceService"
    model = isvc["spec"]["predictor"]["model"]
    assert model["modelFormat"] == {"name": "mlflow"} and model["protocolVersion"] == "v2"
    assert model["storageUri"] == "s3://models/mlflowdemo/1"
    assert isvc["spec"]["predictor"]["serviceAccountName"] == "s3-reader"
    assert isvc["spec"]["predictor"]["maxReplicas"] == 3
    v2 = m.seldon_v2_model("mlflowdemo", "gs://bucket/mlflowdemo/1", replicas=2)
    assert v2 == {
        "apiVersion": "mlops.seldon.io/v1alpha1",
        "kind": "Model",
        "metadata": {"name": "mlflowdemo"},
        "spec": {
            "storageUri": "gs://bucket/mlflowdemo/1",
            "requirements": ["mlflow"],
            "replicas": 2,
        },
    }
    for uri in (
        "models:/mlflowdemo/1",
        "models:/mlflowdemo@champion",
        "runs:/abc/model",
        "/tmp/model",
    ):
        with pytest.raises(m.ManifestError):
            m.kserve_inference_service("x", uri)
        with pytest.raises(m.ManifestError):
            m.seldon_v2_model("x", uri)


def test_no_secret_values_anywhere():
    """Credentials are only ever referenced by Secret name; nothing accepts a secret value."""
    objs = m.deployment_objects(FULL) + [
        m.kserve_inference_service("mlflowdemo", "s3://models/m/1", service_account="s3-reader"),
        m.seldon_v2_model("mlflowdemo", "s3://models/m/1"),
    ]
    text = m.to_yaml(objs)
    for word in ("password", "dockerconfigjson", "auth:", SECRET_VALUE):
        assert word not in text.lower()
    assert all(o["kind"] != "Secret" for o in objs)
    secret_refs = []

    def walk(node):
        if isinstance(node, dict):
            if "secretKeyRef" in node:
                secret_refs.append(node["secretKeyRef"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(objs)
    assert secret_refs == [{"name": "s3-credentials", "key": "secret-key"}]
    import inspect

    params = set(inspect.signature(m.ServingSpec).parameters)
    params |= set(inspect.signature(m.kserve_inference_service).parameters)
    assert not {p for p in params if any(w in p for w in ("password", "token", "credential"))}
