"""Generated serving manifests for every target, from the typed serving spec: SeldonDeployments and
InferenceServices (our runtime's image, MLServer's, canary splits, promotions and rollbacks)
validate against the shared CRDs with unknown fields as errors; Service/Ingress against
Kubernetes' own schemas (kubernetes-validate, strict); no secret values anywhere."""

from __future__ import annotations

import copy

import crds
import pytest

from mlpipe_lab.serving import manifests as m
from mlpipe_lab.serving.spec import ServeSpec

SECRET_VALUE = "s3cr3t-Passw0rd-value"
IMAGE_3 = m.image_reference("models/mlflowdemo", "3", "registry.example.com:5000")
IMAGE_4 = m.image_reference("models/mlflowdemo", "4", "registry.example.com:5000")
V3 = m.Release(version="3", image=IMAGE_3, model_uri="models:/mlflowdemo/3")
V4 = m.Release(version="4", image=IMAGE_4, model_uri="models:/mlflowdemo/4")
FILES = m.Release(version="4", storage_uri="s3://mlflow/1/models/m-4/artifacts")

FULL = ServeSpec(
    model_name="mlflowdemo",
    name="mlflowdemo",
    namespace="models",
    cpu="1500m",
    memory="1Gi",
    cpu_limit="2",
    min_replicas=1,
    max_replicas=4,
    cpu_target_percent=60,
    logger_url="http://logger.seldon-logs.svc.cluster.local",
    registry_secret="regcred",
    service_account="model-runner",
    ingress_host="models.example.com",
    canary_traffic_percent=10,
)
MINIMAL = ServeSpec(model_name="m", name="m")
FIXED = ServeSpec(model_name="demo", name="demo", replicas=3, memory_limit=None)
LOGGER_MODE = ServeSpec(model_name="demo", name="demo", logger_mode="request")


def _objects(spec, release, **kw):
    return m.objects(spec.replace(target=kw.pop("target", spec.target)), release, **kw)


# (id, spec, target, release, stable, share)
CASES = [
    ("seldon-full", FULL, "seldon-v1", V4, None, None),
    ("seldon-minimal", MINIMAL, "seldon-v1", V4, None, None),
    ("seldon-fixed-replicas", FIXED, "seldon-v1", V4, None, None),
    ("seldon-logger-mode", LOGGER_MODE, "seldon-v1", V4, None, None),
    ("seldon-canary", FULL, "seldon-v1", V4, V3, None),
    ("seldon-rollback", FULL, "seldon-v1", V4, V3, 0),
    ("kserve-full", FULL, "kserve", V4, None, None),
    ("kserve-minimal", MINIMAL, "kserve", V4, None, None),
    ("kserve-canary", FULL, "kserve", V4, V3, None),
    ("kserve-rollback", FULL, "kserve", V4, V3, 0),
    ("kserve-mlserver", FULL, "kserve-mlserver", FILES, None, None),
    ("kserve-mlserver-minimal", MINIMAL, "kserve-mlserver", FILES, None, None),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_objects_validate_against_the_crds(case):
    _id, spec, target, release, stable, share = case
    main = _objects(spec, release, target=target, stable=stable, share=share)[0]
    assert crds.errors(crds.for_kind(main["kind"]), main) == []


def test_validators_are_strict():
    sdep = _objects(FULL, V4, target="seldon-v1")[0]
    for path in (
        ("spec", "predictors", 0, "graph"),
        ("spec", "predictors", 0, "componentSpecs", 0, "hpaSpec"),
        ("spec", "predictors", 0, "componentSpecs", 0, "spec", "containers", 0),
    ):
        bad = copy.deepcopy(sdep)
        node = bad
        for key in path:
            node = node[key]
        node["typo"] = 1
        assert crds.errors(crds.SELDON, bad), path
    bad = copy.deepcopy(sdep)
    bad["spec"]["predictors"][0]["componentSpecs"][0]["hpaSpec"]["maxReplicas"] = "4"
    assert crds.errors(crds.SELDON, bad)
    isvc = _objects(FULL, V4, target="kserve", stable=V3)[0]
    for path in (("spec", "predictor"), ("spec", "predictor", "containers", 0)):
        bad = copy.deepcopy(isvc)
        node = bad
        for key in path:
            node = node[key]
        node["canaryTraficPercent"] = 10
        assert crds.errors(crds.INFERENCE_SERVICE, bad), path
    bad = copy.deepcopy(isvc)
    bad["spec"]["predictor"]["canaryTrafficPercent"] = "10"
    assert crds.errors(crds.INFERENCE_SERVICE, bad)


def test_seldon_deployment_runs_our_runtime_image():
    doc = _objects(FULL, V4, target="seldon-v1")[0]
    assert doc["apiVersion"] == "machinelearning.seldon.io/v1" and doc["kind"] == "SeldonDeployment"
    (pred,) = doc["spec"]["predictors"]
    assert pred["name"] == "v4" and pred["traffic"] == 100
    (comp,) = pred["componentSpecs"]
    (container,) = comp["spec"]["containers"]
    assert container["name"] == pred["graph"]["name"] == "model"
    assert container["image"] == IMAGE_4
    assert container["resources"] == {
        "requests": {"cpu": "1500m", "memory": "1Gi"},
        "limits": {"cpu": "2", "memory": "1Gi"},
    }
    assert {e["name"]: e["value"] for e in container["env"]} == {"GUNICORN_WORKERS": "2"}
    assert container["readinessProbe"]["httpGet"] == {
        "path": "/health/ping",
        "port": 9000,
        "scheme": "HTTP",
    }
    assert comp["metadata"]["labels"] == {
        "mlpipe-lab/deployment": "mlflowdemo",
        "mlpipe-lab/model-version": "4",
    }
    assert comp["hpaSpec"]["maxReplicas"] == 4 and "replicas" not in pred
    assert comp["hpaSpec"]["metricsv2"][0]["resource"]["target"]["averageUtilization"] == 60
    assert pred["graph"]["logger"] == {
        "url": "http://logger.seldon-logs.svc.cluster.local",
        "mode": "all",
    }
    assert comp["spec"]["imagePullSecrets"] == [{"name": "regcred"}]
    assert doc["metadata"]["annotations"] == {
        "mlpipe-lab/model-version": "4",
        "mlpipe-lab/model-uri": "models:/mlflowdemo/4",
    }
    minimal = _objects(MINIMAL, V4, target="seldon-v1")[0]["spec"]["predictors"][0]
    assert "logger" not in minimal["graph"] and minimal["replicas"] == 1
    assert minimal["componentSpecs"][0]["spec"]["containers"][0]["resources"] == {
        "requests": {"cpu": "500m", "memory": "512Mi"},  # the schema's defaults
        "limits": {"memory": "1Gi"},
    }
    mode = _objects(LOGGER_MODE, V4, target="seldon-v1")[0]["spec"]["predictors"][0]
    assert mode["graph"]["logger"] == {"mode": "request"}


def test_seldon_canary_promotion_and_rollback_are_predictor_sets():
    canary = _objects(FULL, V4, target="seldon-v1", stable=V3)[0]
    assert [(p["name"], p["traffic"]) for p in canary["spec"]["predictors"]] == [
        ("v3", 90),
        ("v4", 10),
    ]
    images = [
        p["componentSpecs"][0]["spec"]["containers"][0]["image"]
        for p in canary["spec"]["predictors"]
    ]
    assert images == [IMAGE_3, IMAGE_4]
    assert canary["metadata"]["annotations"]["mlpipe-lab/previous-model-version"] == "3"
    # promotion: the new predictor alone, unchanged (its pods are not restarted)
    promoted = _objects(FULL, V4, target="seldon-v1")[0]
    assert promoted["spec"]["predictors"] == [{**canary["spec"]["predictors"][1], "traffic": 100}]
    # rollback: the old predictor alone, unchanged
    back = _objects(FULL, V4, target="seldon-v1", stable=V3, share=0)[0]
    assert back["spec"]["predictors"] == [{**canary["spec"]["predictors"][0], "traffic": 100}]
    assert back["metadata"]["annotations"]["mlpipe-lab/model-version"] == "3"
    # the same version again is a plain re-deploy, not a canary
    again = _objects(FULL, V4, target="seldon-v1", stable=m.Release(version="4", image=IMAGE_4))
    assert len(again[0]["spec"]["predictors"]) == 1
    # what a live object says runs, for the next deploy
    assert m.releases_of(canary) == [
        (m.Release(version="3", image=IMAGE_3), 90),
        (m.Release(version="4", image=IMAGE_4), 10),
    ]


def test_kserve_runs_our_runtime_image_with_a_canary_share():
    isvc = _objects(FULL, V4, target="kserve")[0]
    assert isvc["apiVersion"] == "serving.kserve.io/v1beta1"
    predictor = isvc["spec"]["predictor"]
    assert "model" not in predictor and "canaryTrafficPercent" not in predictor
    (container,) = predictor["containers"]
    assert container["name"] == "kserve-container" and container["image"] == IMAGE_4
    assert container["ports"] == [{"containerPort": 8080, "protocol": "TCP"}]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["PREDICTIVE_UNIT_HTTP_SERVICE_PORT"] == "8080"
    assert env["MLPIPE_MODEL_NAME"] == "mlflowdemo" and env["GUNICORN_WORKERS"] == "2"
    assert env["SELDON_LOGGER_URL"] == "http://logger.seldon-logs.svc.cluster.local"
    assert container["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
    assert predictor["imagePullSecrets"] == [{"name": "regcred"}]
    assert predictor["serviceAccountName"] == "model-runner"
    assert predictor["labels"] == {
        "mlpipe-lab/deployment": "mlflowdemo",
        "mlpipe-lab/model-version": "4",
    }
    assert (predictor["minReplicas"], predictor["maxReplicas"]) == (1, 4)
    assert isvc["metadata"]["annotations"]["prometheus.kserve.io/path"] == "/prometheus"
    canary = _objects(FULL, V4, target="kserve", stable=V3)[0]
    assert canary["spec"]["predictor"]["canaryTrafficPercent"] == 10
    assert canary["metadata"]["annotations"]["mlpipe-lab/previous-model-version"] == "3"
    assert m.releases_of(canary) == [
        (m.Release(version="3"), 90),
        (m.Release(version="4", image=IMAGE_4, model_uri="models:/mlflowdemo/4"), 10),
    ]
    back = _objects(FULL, V4, target="kserve", stable=V3, share=0)[0]
    assert back["spec"]["predictor"]["canaryTrafficPercent"] == 0
    assert m.releases_of(back)[0] == (m.Release(version="3"), 100)


def test_kserve_mlserver_and_seldon_v2_load_the_files():
    (isvc,) = _objects(FULL, FILES, target="kserve-mlserver")
    model = isvc["spec"]["predictor"]["model"]
    assert model["modelFormat"] == {"name": "mlflow"} and model["protocolVersion"] == "v2"
    assert model["storageUri"] == "s3://mlflow/1/models/m-4/artifacts"
    assert "containers" not in isvc["spec"]["predictor"]
    (v2,) = _objects(MINIMAL.replace(replicas=2), FILES, target="seldon-v2")
    assert v2["apiVersion"] == "mlops.seldon.io/v1alpha1" and v2["kind"] == "Model"
    assert v2["spec"] == {
        "storageUri": FILES.storage_uri,
        "requirements": ["mlflow"],
        "replicas": 2,
        "memory": "512Mi",
    }
    for uri in (
        "models:/mlflowdemo/1",
        "models:/mlflowdemo@champion",
        "runs:/abc/model",
        "/tmp/model",
    ):
        for target in ("kserve-mlserver", "seldon-v2"):
            with pytest.raises(m.ManifestError):
                _objects(MINIMAL, m.Release(storage_uri=uri), target=target)


@pytest.mark.parametrize(
    "changes",
    [
        {"name": "Bad_Name"},
        {"namespace": "Bad NS"},
        {"logger_mode": "everything"},
        {"cpu": "lots"},
        {"min_replicas": 3, "max_replicas": 2},
        {"ingress_host": "not a host"},
        {"registry_secret": "Reg Cred"},
        {"cpu_target_percent": 150, "max_replicas": 2},
        {"canary_traffic_percent": 100},
        {"name": "x" * 50},
    ],
)
def test_invalid_specs_are_refused(changes):
    with pytest.raises(m.ManifestError):
        m.objects(MINIMAL.replace(**changes), V4)
    with pytest.raises(m.ManifestError):
        m.objects(MINIMAL, m.Release(version="4", image="has space:1"))


def test_image_reference_and_workers():
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
    objs = _objects(FULL, V4, target="seldon-v1")
    assert [o["kind"] for o in objs] == ["SeldonDeployment", "Service", "Ingress"]
    for obj in objs[1:]:
        kv.validate(obj, version, strict=True)
    bad = copy.deepcopy(objs[2])
    bad["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["port"]["nmber"] = 1
    with pytest.raises(kv.ValidationError):
        kv.validate(bad, version, strict=True)
    svc, ing = objs[1], objs[2]
    # every predictor's pods (a canary's too) carry this label
    assert svc["spec"]["selector"] == {"mlpipe-lab/deployment": "mlflowdemo"}
    assert svc["spec"]["ports"] == [
        {"name": "http", "port": 8000, "protocol": "TCP", "targetPort": 8000}
    ]
    assert ing["spec"]["ingressClassName"] == "nginx"
    (rule,) = ing["spec"]["rules"]
    assert rule["host"] == "models.example.com"
    assert rule["http"]["paths"][0]["backend"] == {
        "service": {"name": svc["metadata"]["name"], "port": {"number": 8000}}
    }
    with pytest.raises(m.ManifestError):
        m.ingress(MINIMAL)


def test_no_secret_values_anywhere():
    """Credentials are only ever referenced by Secret name; nothing accepts a secret value."""
    objs = []
    for case in CASES:
        _id, spec, target, release, stable, share = case
        objs += _objects(spec, release, target=target, stable=stable, share=share)
    text = m.to_yaml(objs)
    for word in ("password", "dockerconfigjson", "auth:", "token", SECRET_VALUE):
        assert word not in text.lower()
    assert all(o["kind"] != "Secret" for o in objs)
    import dataclasses

    names = {f.name for f in dataclasses.fields(ServeSpec)}
    names |= {f.name for f in dataclasses.fields(m.Release)}
    assert not {n for n in names if any(w in n for w in ("password", "token", "credential"))}
