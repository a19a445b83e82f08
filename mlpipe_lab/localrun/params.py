"""Pipeline parameter values for a run: defaults, given values checked against their declared
type, allowed values and range (what Airflow's Param validation does when a run is triggered)."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

from ..errors import MLPipeError
from ..pipeline.model import Parameter


class ParameterError(MLPipeError, ValueError):
    """A parameter value a person must fix; the message names the parameter."""

    def __init__(self, message: str):
        super().__init__(message, field="params")


_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def parse_assignments(items: Iterable[str]) -> dict[str, str]:
    """``["a=1", "b=x"]`` (command-line ``--param``) -> ``{"a": "1", "b": "x"}`` (text values)."""
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ParameterError(f"--param expects NAME=VALUE, got {item!r}")
        out[name] = value
    return out


def _from_text(p: Parameter, text: str) -> Any:
    """A command-line value (always text) as the parameter's type."""
    if p.type == "string":
        return text
    stripped = text.strip()
    if p.type == "list":
        try:
            value = json.loads(stripped)
        except ValueError:
            value = None
        if isinstance(value, list):
            return value
        if stripped.lower() in ("null", "none") and not p.required:
            return None
        raise ParameterError(
            f'parameter \'{p.name}\' is a list; {text!r} is not a JSON list such as ["a", "b"]'
        )
    if stripped.lower() in ("null", "none") and not p.required:
        return None
    if p.type == "boolean":
        if stripped.lower() in _TRUE:
            return True
        if stripped.lower() in _FALSE:
            return False
        raise ParameterError(f"parameter '{p.name}' is a boolean; {text!r} is not true or false")
    try:
        value = json.loads(stripped)
    except ValueError:
        value = None
    if p.type == "integer":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise ParameterError(f"parameter '{p.name}' is an integer; {text!r} is not one")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    raise ParameterError(f"parameter '{p.name}' is a number; {text!r} is not one")


def _check(p: Parameter, value: Any) -> Any:
    if value is None:
        if p.required:
            raise ParameterError(f"parameter '{p.name}' is required")
        return None
    kinds = {
        "string": lambda v: isinstance(v, str),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "number": lambda v: (
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
        ),
        "boolean": lambda v: isinstance(v, bool),
        "list": lambda v: isinstance(v, list),
    }
    check = kinds.get(p.type)
    if check is None:
        raise ParameterError(f"parameter '{p.name}' has an unknown type {p.type!r}")
    if p.type == "integer" and isinstance(value, float) and value.is_integer():
        value = int(value)
    if not check(value):
        raise ParameterError(f"parameter '{p.name}' must be a {p.type}, not {value!r}")
    if p.enum is not None and value not in p.enum:
        allowed = ", ".join(repr(v) for v in p.enum)
        raise ParameterError(f"parameter '{p.name}' must be one of {allowed}, not {value!r}")
    if p.type in ("integer", "number"):
        if isinstance(p.minimum, (int, float)) and value < p.minimum:
            raise ParameterError(f"parameter '{p.name}' must be at least {p.minimum}, not {value}")
        if isinstance(p.maximum, (int, float)) and value > p.maximum:
            raise ParameterError(f"parameter '{p.name}' must be at most {p.maximum}, not {value}")
    return value


def resolve_params(declared: list[Parameter], given: Mapping[str, Any] | None) -> dict[str, Any]:
    """Every declared parameter's value for a run: the given one (text from the command line is
    converted to the declared type) or the default. Unknown names and bad values raise
    ParameterError."""
    given = dict(given or {})
    by_name = {p.name: p for p in declared}
    unknown = sorted(set(given) - set(by_name))
    if unknown:
        known = ", ".join(sorted(by_name)) or "none"
        raise ParameterError(
            f"the pipeline has no parameter {', '.join(repr(u) for u in unknown)} "
            f"(its parameters: {known})"
        )
    out: dict[str, Any] = {}
    for p in declared:
        if p.name in given:
            value = given[p.name]
            if isinstance(value, str) and p.type != "string":
                value = _from_text(p, value)
        else:
            value = p.default
        out[p.name] = _check(p, value)
    return out
