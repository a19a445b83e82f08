"""Schema-driven helpers: secret paths (``writeOnly``), defaults, validation with plain messages.

``jsonschema`` is imported lazily (only when an entry is validated, i.e. on writes): importing it
costs over a second in some environments, and reading catalogs must stay fast for the CLI.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from typing import Any

from ..schemas import load_schema
from .errors import CatalogError

Path_ = tuple[str, ...]

#: Keywords this module understands inside ``if`` subschemas (see ``_if_matches``).
IF_KEYWORDS = frozenset({"properties", "required", "const"})


def schema(schema_name: str) -> dict[str, Any]:
    """The named schema (shared; do not mutate)."""
    return _cached_schema(schema_name)


@cache
def _cached_schema(schema_name: str) -> dict[str, Any]:
    return load_schema(schema_name)


def _resolve(root: dict[str, Any], ref: str) -> dict[str, Any]:
    if not ref.startswith("#/"):
        raise ValueError(f"only local $refs are supported, got {ref!r}")
    node: Any = root
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def _walk_secrets(
    root: dict[str, Any], node: Any, path: Path_, out: set[Path_], depth: int
) -> None:
    if not isinstance(node, dict) or depth > 64:
        return
    if node.get("writeOnly") is True and path:
        out.add(path)
    if isinstance(node.get("$ref"), str):
        _walk_secrets(root, _resolve(root, node["$ref"]), path, out, depth + 1)
    for key in ("allOf", "anyOf", "oneOf"):
        for sub in node.get(key, ()):
            _walk_secrets(root, sub, path, out, depth + 1)
    for key in ("then", "else"):
        _walk_secrets(root, node.get(key), path, out, depth + 1)
    for prop, sub in (node.get("properties") or {}).items():
        _walk_secrets(root, sub, (*path, prop), out, depth + 1)


@cache
def secret_paths(schema_name: str) -> tuple[Path_, ...]:
    """Every property path marked ``"writeOnly": true`` in the schema, sorted."""
    root = schema(schema_name)
    found: set[Path_] = set()
    _walk_secrets(root, root, (), found, 0)
    return tuple(sorted(found))


def secret_fields(schema_name: str) -> list[str]:
    """Dotted names of the secret fields, e.g. ``["dag_repo.auth.token", ...]``."""
    return [".".join(p) for p in secret_paths(schema_name)]


# ----------------------------------------------------------------------------- nested dict access


def get_path(doc: Any, path: Path_) -> tuple[bool, Any]:
    node = doc
    for part in path:
        if not isinstance(node, dict) or part not in node:
            return False, None
        node = node[part]
    return True, node


def set_path(doc: Any, path: Path_, value: Any) -> bool:
    """Set ``value`` at ``path`` if every parent object exists; report whether it was set."""
    found, parent = get_path(doc, path[:-1])
    if not found or not isinstance(parent, dict):
        return False
    parent[path[-1]] = value
    return True


def pop_path(doc: Any, path: Path_) -> tuple[bool, Any]:
    found, parent = get_path(doc, path[:-1])
    if not found or not isinstance(parent, dict) or path[-1] not in parent:
        return False, None
    return True, parent.pop(path[-1])


def drop_nulls(doc: Any) -> Any:
    """Copy of ``doc`` without object members whose value is ``null`` (null means "unset")."""
    if isinstance(doc, dict):
        return {k: drop_nulls(v) for k, v in doc.items() if v is not None}
    if isinstance(doc, list):
        return [drop_nulls(v) for v in doc]
    return doc


# ----------------------------------------------------------------------------- defaults


def _if_matches(sub: Any, instance: Any) -> bool:
    """Evaluate an ``if`` subschema built from properties/required/const only."""
    if not isinstance(sub, dict):
        return bool(sub)
    if "const" in sub and instance != sub["const"]:
        return False
    if not isinstance(instance, dict):
        return True
    for key in sub.get("required", ()):
        if key not in instance:
            return False
    for key, prop in (sub.get("properties") or {}).items():
        if key in instance and not _if_matches(prop, instance[key]):
            return False
    return True


def _default_of(root: dict[str, Any], node: Any) -> tuple[bool, Any]:
    depth = 0
    while isinstance(node, dict) and depth < 16:
        if "default" in node:
            return True, node["default"]
        if not isinstance(node.get("$ref"), str):
            break
        node = _resolve(root, node["$ref"])
        depth += 1
    return False, None


def _apply_defaults(root: dict[str, Any], node: Any, instance: Any, depth: int) -> None:
    if not isinstance(node, dict) or not isinstance(instance, dict) or depth > 64:
        return
    props = node.get("properties") or {}
    # 1. this level's own defaults, so that conditions below see them
    for key, sub in props.items():
        if key not in instance:
            has, value = _default_of(root, sub)
            if has:
                instance[key] = copy.deepcopy(value)
    # 2. referenced and conditional subschemas (may add more members)
    if isinstance(node.get("$ref"), str):
        _apply_defaults(root, _resolve(root, node["$ref"]), instance, depth + 1)
    for sub in node.get("allOf", ()):
        _apply_defaults(root, sub, instance, depth + 1)
    if "if" in node:
        branch = node.get("then") if _if_matches(node["if"], instance) else node.get("else")
        _apply_defaults(root, branch, instance, depth + 1)
    # 3. nested objects
    for key, sub in props.items():
        if key in instance:
            _apply_defaults(root, sub, instance[key], depth + 1)


def apply_defaults(schema_name: str, instance: dict[str, Any]) -> dict[str, Any]:
    """Fill schema defaults into ``instance`` (in place) and return it.

    Only members of objects that exist are filled, plus objects whose property schema has an object
    ``default`` (e.g. ``kubernetes`` for Airflow configurations). Conditional defaults follow
    ``if``/``then``, where ``if`` may only use properties/required/const.
    """
    root = schema(schema_name)
    _apply_defaults(root, root, instance, 0)
    return instance


# ----------------------------------------------------------------------------- validation


@cache
def _validator(schema_name: str) -> Any:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(schema(schema_name))


_JSON_TYPES = {
    dict: "an object",
    list: "a list",
    str: "a string",
    bool: "true or false",
    int: "a number",
    float: "a number",
    type(None): "null",
}
_TYPE_WORDS = {
    "object": "an object",
    "array": "a list",
    "string": "a string",
    "boolean": "true or false",
    "integer": "a whole number",
    "number": "a number",
    "null": "null",
}


def _json_type(value: Any) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _describe(error: Any, secrets: frozenset[Path_]) -> list[tuple[str | None, str]]:
    path = tuple(str(p) for p in error.absolute_path)
    instance = error.instance
    if error.validator == "required" and isinstance(instance, dict):
        missing = [r for r in error.validator_value if r not in instance] or [""]
        return [
            (".".join((*path, m)) if m else ".".join(path), "this field is required")
            for m in missing
        ]
    if error.validator == "additionalProperties" and isinstance(instance, dict):
        sub = error.schema if isinstance(error.schema, dict) else {}
        known = set(sub.get("properties") or {})
        extra = sorted(str(k) for k in instance if k not in known) or [""]
        return [(".".join((*path, e)) if e else ".".join(path), "unknown field") for e in extra]
    return [_describe_one(error, secrets)]


def _describe_one(error: Any, secrets: frozenset[Path_]) -> tuple[str | None, str]:
    path = tuple(str(p) for p in error.absolute_path)
    kind = error.validator
    sub = error.schema if isinstance(error.schema, dict) else {}
    instance = error.instance
    secret = any(path[: len(s)] == s for s in secrets)
    show = "the value" if secret else _show(instance)
    field = ".".join(path) or None
    if "x-error" in sub and kind in ("pattern", "not"):
        return field, sub["x-error"] if kind == "not" else f"{show} {sub['x-error']}"
    if kind == "pattern":
        return field, f"{show} does not have the expected format"
    if kind == "type":
        wanted = error.validator_value
        words = (
            " or ".join(_TYPE_WORDS.get(str(t), str(t)) for t in wanted)
            if isinstance(wanted, list)
            else _TYPE_WORDS.get(wanted, str(wanted))
        )
        return field, f"expected {words}, got {_json_type(instance)}"
    if kind == "oneOf" and all(isinstance(o, dict) and "const" in o for o in error.validator_value):
        allowed = ", ".join(_show(o["const"]) for o in error.validator_value)
        return field, f"{show} is not one of {allowed}"
    if kind == "enum":
        allowed = ", ".join(_show(v) for v in error.validator_value)
        return field, f"{show} is not one of {allowed}"
    if kind == "const":
        return field, f"must be {_show(error.validator_value)}"
    if kind == "minLength":
        if instance == "":
            return field, "must not be empty"
        return field, f"must be at least {error.validator_value} characters long"
    if kind == "maxLength":
        return field, f"must be at most {error.validator_value} characters long"
    if kind == "uniqueItems":
        return field, "contains duplicates"
    if kind == "minItems":
        return field, f"needs at least {error.validator_value} item(s)"
    if kind == "maxItems":
        return field, f"allows at most {error.validator_value} item(s)"
    if secret:
        return field, "is not valid"
    return field, error.message


def validation_problems(schema_name: str, instance: Any) -> list[dict[str, Any]]:
    """Every problem of ``instance`` as ``[{field, message}]``, most relevant first."""
    from jsonschema.exceptions import relevance

    errors = sorted(_validator(schema_name).iter_errors(instance), key=relevance, reverse=True)
    secrets = frozenset(secret_paths(schema_name))
    problems: list[dict[str, Any]] = []
    seen: set[tuple[str | None, str]] = set()
    for error in errors:
        for field, message in _describe(error, secrets):
            field = field or None
            if (field, message) in seen:
                continue
            seen.add((field, message))
            text = f"{field}: {message}" if field else message[:1].upper() + message[1:]
            problems.append({"field": field, "message": text})
    return problems


def validate(schema_name: str, instance: Any) -> None:
    """Raise ``CatalogError`` if ``instance`` is invalid: the first problem is its message, all
    problems are in its ``errors``."""
    problems = validation_problems(schema_name, instance)
    if problems:
        first = problems[0]
        message = first["message"]
        if len(problems) > 1:
            message += f" (and {len(problems) - 1} more problem{'s' if len(problems) > 2 else ''})"
        raise CatalogError(message, field=first["field"], errors=problems)
