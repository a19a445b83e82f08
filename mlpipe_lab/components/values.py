"""A component's parameters as JSON Schema, and a node's stored values checked against them.

``component_schema`` is the one description of a component's properties: the editor's form, the
REST API and validation all use it. ``literal`` turns one stored value into the Python literal the
DAG gets (Elyra stored dicts and lists as text, numbers sometimes as text, "" for unset), or says
in plain words why it cannot.
"""

from __future__ import annotations

import ast
import json
import math
from typing import Any

from .model import AIRFLOW, ANY, NOT_LITERAL, Component, Param

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
# How a value can be given, besides typing it in (for the form's input selector).
FROM_PARENT = "parent-output"
FROM_PARAMETER = "pipeline-parameter"


def value_schema(param: Param) -> dict[str, Any]:
    """JSON Schema of the literal value a parameter takes."""
    if param.type in (ANY, NOT_LITERAL):
        schema: dict[str, Any] = {}
    else:
        types = param.type.split("|")
        if param.nullable:
            types.append("null")
        schema = {"type": types[0] if len(types) == 1 else types}
    if param.has_default and param.type != NOT_LITERAL:
        schema["default"] = param.default
    return schema


def component_schema(comp: Component) -> dict[str, Any]:
    """The properties of a node of this component: one property per parameter, typed, with its
    default and description; ``required`` lists what the node must give."""
    props: dict[str, Any] = {}
    required: list[str] = []
    for p in comp.params:
        if p.type == NOT_LITERAL and not p.required:
            continue  # only code can give it; the operator's own default applies
        prop = value_schema(p)
        prop["title"] = p.title or p.name
        description = p.description
        if p.type == NOT_LITERAL:
            description = (description + " " if description else "") + (
                f"(Takes a {p.type_text or 'Python object'}, which a pipeline cannot give.)"
            )
            prop["readOnly"] = True
        if description:
            prop["description"] = description
        if p.type_text:
            prop["x-mlpipe-type"] = p.type_text
        sources = [FROM_PARAMETER]
        if comp.kind == AIRFLOW:
            if p.templated:
                prop["x-mlpipe-templated"] = True
                sources.append(FROM_PARENT)  # an XCom pulled through a template
        elif p.path:
            prop["x-mlpipe-path"] = True
            sources.append(FROM_PARENT)  # an upstream output, as a file
        prop["x-mlpipe-sources"] = sources
        props[p.name] = prop
        if p.required:
            required.append(p.name)
    schema: dict[str, Any] = {
        "$schema": SCHEMA_DIALECT,
        "title": comp.name,
        "type": "object",
        "properties": props,
        "x-mlpipe-component": {"id": comp.id, "kind": comp.kind},
    }
    if comp.description:
        schema["description"] = comp.description
    if required:
        schema["required"] = required
    if comp.outputs:
        schema["x-mlpipe-outputs"] = [
            {"key": o.key, "title": o.name, "description": o.description} for o in comp.outputs
        ]
    return schema


class ValueProblem(ValueError):
    """Why a stored value cannot be given to the parameter (a plain sentence)."""


def _type_ok(value: Any, json_type: str) -> bool:
    if json_type == "string":
        return isinstance(value, str)
    if json_type == "boolean":
        return isinstance(value, bool)
    if json_type == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if json_type == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if json_type == "object":
        return isinstance(value, dict)
    if json_type == "array":
        return isinstance(value, list)
    return True


def _finite_json(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list):
        return all(_finite_json(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _finite_json(v) for k, v in value.items())
    return value is None or isinstance(value, (str, int, bool))


def _parse_text(text: str) -> Any:
    """Text that holds a dict or list, as JSON or as a Python literal (Elyra stored both)."""
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        raise ValueProblem("is not a valid JSON value") from None
    if isinstance(value, tuple):
        value = list(value)
    return value


UNSET = object()  # "" given for a parameter that is not text: Elyra's way of leaving it unset


def literal(param: Param, value: Any) -> Any:
    """The value for the DAG, converted to the parameter's type where Elyra stored text; returns
    ``UNSET`` for "" (Elyra's "not set") on a non-string parameter. Raises ValueProblem."""
    if param.type == NOT_LITERAL:
        raise ValueProblem(
            f"takes a {param.type_text or 'Python object'}, which cannot be given as a value "
            "in a pipeline"
        )
    types = [t for t in param.type.split("|") if t] if param.type != ANY else []
    if value is None:
        if param.nullable or not param.required:
            return None
        raise ValueProblem("must be set")
    if isinstance(value, str) and types and "string" not in types:
        text = value.strip()
        if not text:
            return UNSET
        if "boolean" in types and text.lower() in ("true", "false"):
            return text.lower() == "true"
        if ("integer" in types or "number" in types) and _is_number(text):
            number = float(text)
            return int(number) if "integer" in types and number.is_integer() else number
        if "object" in types or "array" in types:
            value = _parse_text(text)
    if not _finite_json(value):
        raise ValueProblem("is not a plain value (text, number, true/false, list or mapping)")
    if isinstance(value, float) and "integer" in types and value.is_integer():
        value = int(value)
    if types and not any(_type_ok(value, t) for t in types):
        wanted = " or ".join(_WORDS.get(t, t) for t in types)
        raise ValueProblem(f"must be {wanted}, not {_WORDS.get(_kind(value), _kind(value))}")
    return value


_WORDS = {
    "string": "text",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "object": "a mapping",
    "array": "a list",
}


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False
