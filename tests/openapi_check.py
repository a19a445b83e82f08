"""Check handler responses against the OpenAPI description in mlpipe_lab/openapi.yaml."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

import yaml
from jsonschema import Draft202012Validator

SPEC_PATH = Path(__file__).parent.parent / "mlpipe_lab" / "openapi.yaml"


@cache
def spec() -> dict:
    return yaml.safe_load(SPEC_PATH.read_text())


def _match(path: str) -> str:
    """The spec's path template that a concrete path (below /mlpipe-lab) matches."""
    for template in spec()["paths"]:
        pattern = "^" + re.sub(r"\{[^}]+\}", r"[^/]+", template) + "$"
        if re.match(pattern, path):
            # prefer literal segments (e.g. _import-elyra) over parameters
            literal = [t for t in spec()["paths"] if t == path]
            return literal[0] if literal else template
    raise AssertionError(f"{path} is not described in openapi.yaml")


def check_response(method: str, path: str, status: int, body: bytes) -> None:
    path = path.split("?")[0]
    candidates = [
        t for t in spec()["paths"] if re.match("^" + re.sub(r"\{[^}]+\}", r"[^/]+", t) + "$", path)
    ]
    # the most literal template wins
    template = min(candidates, key=lambda t: t.count("{")) if candidates else _match(path)
    operation = spec()["paths"][template].get(method.lower())
    assert operation, f"{method} {template} is not described in openapi.yaml"
    responses = operation["responses"]
    assert str(status) in responses, f"{method} {template} answered {status}, not described"
    response = responses[str(status)]
    if "$ref" in response:
        response = spec()["components"]["responses"][response["$ref"].rsplit("/", 1)[-1]]
    content = response.get("content")
    if not content:
        assert not body, f"{method} {template} {status} should have no body"
        return
    schema = content["application/json"]["schema"]
    document = {"$ref": "#/x", "x": schema, "components": spec()["components"]}
    errors = list(Draft202012Validator(document).iter_errors(json.loads(body)))
    assert not errors, f"{method} {template} {status}: {[e.message for e in errors]}"
