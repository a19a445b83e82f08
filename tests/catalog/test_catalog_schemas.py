"""The runtime-image and runtime-config JSON Schemas: well-formed, documented, consistent."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from mlpipe_lab.catalog import LOCAL_BUILTIN, NAME_PATTERN, secret_fields
from mlpipe_lab.catalog._schema import IF_KEYWORDS, _if_matches, apply_defaults, schema
from mlpipe_lab.schemas import load_schema

try:
    from catalog_fixtures import airflow_config, image
except ImportError:  # tests/ turned into a package
    from tests.catalog_fixtures import airflow_config, image

NAMES = ["runtime-image", "runtime-config"]


def walk(node: Any, path: str = "#"):
    """Yield (json pointer, subschema) for every subschema."""
    if not isinstance(node, dict):
        return
    yield path, node
    for key in ("properties", "$defs"):
        for name, sub in (node.get(key) or {}).items():
            yield from walk(sub, f"{path}/{key}/{name}")
    for key in ("allOf", "anyOf", "oneOf"):
        for i, sub in enumerate(node.get(key) or []):
            yield from walk(sub, f"{path}/{key}/{i}")
    for key in ("if", "then", "else", "not", "items"):
        yield from walk(node.get(key), f"{path}/{key}")


def resolve(root: dict, node: dict) -> dict:
    while "$ref" in node:
        target = root
        for part in node["$ref"][2:].split("/"):
            target = target[part]
        node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return node


@pytest.mark.parametrize("name", NAMES)
def test_schema_is_valid_draft_2020_12(name):
    doc = load_schema(name)
    assert doc["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(doc)


@pytest.mark.parametrize("name", NAMES)
def test_every_property_has_title_and_description(name):
    root = load_schema(name)
    missing = []
    for path, node in walk(root):
        for prop, sub in (node.get("properties") or {}).items():
            if "/if" in path:  # conditions, not fields
                continue
            merged = resolve(root, sub)
            if not merged.get("title") or not merged.get("description"):
                missing.append(f"{path}/properties/{prop}")
    assert missing == []


@pytest.mark.parametrize("name", NAMES)
def test_objects_are_closed(name):
    root = load_schema(name)
    open_objects = [
        path
        for path, node in walk(root)
        if node.get("type") == "object" and node.get("additionalProperties") is not False
    ]
    assert open_objects == []


@pytest.mark.parametrize("name", NAMES)
def test_enums_use_oneof_const_with_titles(name):
    root = load_schema(name)
    for path, node in walk(root):
        assert "enum" not in node, f"{path}: use oneOf [{{const, title}}]"
        if "oneOf" in node:
            assert all("const" in o and o.get("title") for o in node["oneOf"]), path


@pytest.mark.parametrize("name", NAMES)
def test_defaults_are_valid_for_their_subschema(name):
    root = load_schema(name)
    count = 0
    for path, node in walk(root):
        if "default" in node and "/if" not in path:
            sub = (
                {**resolve(root, node), "$defs": root["$defs"]}
                if "$defs" in root
                else resolve(root, node)
            )
            errors = list(Draft202012Validator(sub).iter_errors(node["default"]))
            assert errors == [], (path, errors[0].message)
            count += 1
    assert count >= (8 if name == "runtime-config" else 1)


@pytest.mark.parametrize("name", NAMES)
def test_if_conditions_use_supported_keywords(name):
    """apply_defaults evaluates `if` without jsonschema: keep conditions within what it handles."""
    root = load_schema(name)
    for path, node in walk(root):
        if "if" in node:
            for _, sub in walk(node["if"]):
                assert set(sub) <= IF_KEYWORDS, (path, set(sub) - IF_KEYWORDS)


def test_name_pattern_matches_brief():
    for name in NAMES:
        assert (
            load_schema(name)["properties"]["name"]["pattern"]
            == NAME_PATTERN
            == ("^[a-z0-9][a-z0-9._-]{0,62}$")
        )


def test_secret_fields_are_exactly_the_writeonly_ones():
    assert secret_fields("runtime-image") == []
    assert secret_fields("runtime-config") == [
        "airflow.auth.password",
        "airflow.auth.token",
        "dag_repo.auth.ssh_private_key",
        "dag_repo.auth.token",
        "object_storage.auth.secret_access_key",
    ]


def test_samples_and_builtin_are_valid():
    config = Draft202012Validator(load_schema("runtime-config"))
    images = Draft202012Validator(load_schema("runtime-image"))
    assert list(config.iter_errors(airflow_config())) == []
    assert list(config.iter_errors(LOCAL_BUILTIN)) == []
    assert list(images.iter_errors(image())) == []


def test_defaults_filled_for_minimal_entries_are_valid():
    config = {
        "type": "airflow",
        "airflow": {"api_endpoint": "http://localhost:8080"},
        "dag_repo": {"url": "/srv/dags.git"},
    }
    filled = apply_defaults("runtime-config", copy.deepcopy(config))
    assert filled["airflow"]["version"] == "auto"
    assert filled["airflow"]["auth"] == {"type": "none"}
    assert filled["airflow"]["execution_mode"] == "kubernetes"
    assert filled["dag_repo"]["branch"] == "main"
    assert filled["dag_repo"]["subfolder"] == "dags"
    assert filled["kubernetes"] == {"namespace": "default", "in_cluster": True}
    assert list(Draft202012Validator(load_schema("runtime-config")).iter_errors(filled)) == []

    local = apply_defaults("runtime-config", {"type": "local", "local": {}})
    assert local["local"] == LOCAL_BUILTIN["local"]
    assert "kubernetes" not in local

    img = apply_defaults("runtime-image", {"image": "python:3.11"})
    assert img == {"image": "python:3.11", "pull_policy": "IfNotPresent"}


@pytest.mark.parametrize(
    ("reference", "ok"),
    [
        ("python:3.11-slim", True),
        ("quay.io/org/image:1.2", True),
        ("localhost:5000/ml/runtime", True),
        ("registry.example/ml/runtime:1.4", True),
        ("ghcr.io/org/img@sha256:" + "a" * 64, True),
        ("continuumio/anaconda3:2024.02-1", True),
        ("Python:3.11", False),
        ("image with spaces", False),
        ("https://quay.io/org/image", False),
        ("", False),
    ],
)
def test_image_reference_pattern(reference, ok):
    errors = list(
        Draft202012Validator(load_schema("runtime-image")).iter_errors({"image": reference})
    )
    assert (errors == []) is ok


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://github.com/org/repo.git", True),
        ("http://gitea.local:3000/org/repo.git", True),
        ("ssh://git@github.com/org/repo.git", True),
        ("git@github.com:org/repo.git", True),
        ("file:///srv/git/dags.git", True),
        ("/srv/git/dags.git", True),
        ("ftp://x", False),
        ("https://user:token@github.com/org/repo.git", False),  # credentials in the URL
        ("relative/path.git", False),
        ("", False),
    ],
)
def test_git_url_pattern(url, ok):
    validator = Draft202012Validator(load_schema("runtime-config"))
    doc = {"type": "airflow", "airflow": {"api_endpoint": "http://a"}, "dag_repo": {"url": url}}
    assert (list(validator.iter_errors(doc)) == []) is ok


def test_type_discriminates_sections():
    validator = Draft202012Validator(load_schema("runtime-config"))
    local_with_airflow = {**LOCAL_BUILTIN, "airflow": {"api_endpoint": "http://a"}}
    airflow_with_local = {**airflow_config(), "local": {}}
    assert list(validator.iter_errors(local_with_airflow))
    assert list(validator.iter_errors(airflow_with_local))
    assert list(validator.iter_errors({"type": "airflow", "airflow": {"api_endpoint": "http://a"}}))


# ------------------------------------------------------------------ the `if` evaluator agrees


_types = st.sampled_from(["local", "airflow", "weird", None, 3])
_auth_types = st.sampled_from(["none", "basic", "token", "ssh", "credentials", "kubernetes_secret"])


@st.composite
def _instances(draw):
    doc: dict[str, Any] = {}
    t = draw(_types)
    if t is not None:
        doc["type"] = t
    if draw(st.booleans()):
        doc["auth"] = {"type": draw(_auth_types)} if draw(st.booleans()) else {}
    return doc


@settings(max_examples=200, deadline=None)
@given(st.one_of(_instances(), st.none(), st.text(max_size=3), st.integers()))
def test_if_evaluator_matches_jsonschema(instance):
    root = schema("runtime-config")
    conditions = [node["if"] for _, node in walk(root) if "if" in node]
    assert len(conditions) >= 6
    for condition in conditions:
        expected = Draft202012Validator(condition).is_valid(instance)
        assert _if_matches(condition, instance) is expected, (condition, instance)
