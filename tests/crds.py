"""Validators for the CustomResourceDefinitions in ../shared/contracts (test data, not shipped):
SeldonDeployment v1 and KServe's InferenceService v1beta1, strict: ``x-kubernetes-*`` keys are
dropped and every object schema with properties refuses unknown fields, as a server with
``fieldValidation=Strict`` would."""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path

import pytest


def _contracts() -> Path:
    """``$MLPIPE_CONTRACTS_DIR``, else the first ``shared/contracts`` above the repository (the
    integration checkout is /work/main, engineers' clones /work/h/NAME: both reach /work/shared)."""
    explicit = os.environ.get("MLPIPE_CONTRACTS_DIR")
    if explicit:
        return Path(explicit)
    for parent in Path(__file__).resolve().parents[1:]:
        if (parent / "shared" / "contracts").is_dir():
            return parent / "shared" / "contracts"
    return Path(__file__).resolve().parents[2] / "shared" / "contracts"


CONTRACTS = _contracts()
SELDON = ("seldondeployment-crd.yaml", "v1")
INFERENCE_SERVICE = ("kserve-serving.kserve.io_inferenceservices.yaml", "v1beta1")
SERVING_RUNTIME = ("kserve-serving.kserve.io_servingruntimes.yaml", "v1alpha1")


def strict(schema):
    """Drop x-kubernetes-* keys; objects with properties reject unknown fields."""
    if isinstance(schema, list):
        return [strict(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: strict(v) for k, v in schema.items() if not k.startswith("x-kubernetes-")}
    if "properties" in out and out.get("type", "object") == "object":
        out["additionalProperties"] = False
    return out


@cache
def _validator(filename: str, version: str):
    path = CONTRACTS / filename
    if not path.exists():
        pytest.skip(f"CRD not found at {path}: cannot validate against it")
    yaml = pytest.importorskip("yaml")
    from jsonschema import Draft7Validator

    with path.open() as fh:
        crd = yaml.load(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    (v,) = [v for v in crd["spec"]["versions"] if v["name"] == version]
    schema = strict(v["schema"]["openAPIV3Schema"])
    Draft7Validator.check_schema(schema)
    return Draft7Validator(schema)


def validator(crd: tuple[str, str]):
    return _validator(*crd)


def errors(crd_or_validator, doc) -> list[str]:
    """Every schema error of ``doc`` (a round trip through JSON first: what the API gets)."""
    v = validator(crd_or_validator) if isinstance(crd_or_validator, tuple) else crd_or_validator
    doc = json.loads(json.dumps(doc))
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in v.iter_errors(doc)]


def for_kind(kind: str):
    return validator(SELDON if kind == "SeldonDeployment" else INFERENCE_SERVICE)
