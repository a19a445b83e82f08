"""``PREDICTIVE_UNIT_PARAMETERS``: a JSON list of ``{name, value, type}`` turned into keyword arguments."""

from __future__ import annotations

import json
from typing import Any


class ParameterError(ValueError):
    """A parameter list that cannot be turned into constructor arguments."""


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return bool(value)
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "y", "t", "on"):
        return True
    if text in ("false", "0", "no", "n", "f", "off", ""):
        return False
    raise ValueError(f"not a boolean: {value!r}")


_CONVERT = {
    "INT": int,
    "FLOAT": float,
    "DOUBLE": float,
    "STRING": str,
    "BOOL": _to_bool,
}


def parse_parameters(raw: str | list | None) -> dict[str, Any]:
    """Keyword arguments for ``Predictor(**kwargs)`` from the JSON text (or already-parsed list).

    Each item needs ``name``, ``value`` and ``type`` (INT, FLOAT, DOUBLE, STRING or BOOL; the type
    is case-insensitive). Anything else raises :class:`ParameterError` naming the item.
    """
    if raw is None:
        return {}
    if isinstance(raw, str):
        if not raw.strip():
            return {}
        try:
            items = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ParameterError(f"parameters are not valid JSON: {exc}") from None
    else:
        items = raw
    if not isinstance(items, list):
        raise ParameterError("parameters must be a JSON list of {name, value, type}")
    out: dict[str, Any] = {}
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not {"name", "value", "type"} <= item.keys():
            raise ParameterError(f"parameter {i} needs name, value and type: {item!r}")
        name, value, kind = item["name"], item["value"], str(item["type"]).upper()
        if not isinstance(name, str) or not name.isidentifier():
            raise ParameterError(f"parameter {i}: name must be a Python identifier: {name!r}")
        convert = _CONVERT.get(kind)
        if convert is None:
            raise ParameterError(
                f"parameter {name!r}: type must be one of {', '.join(_CONVERT)}, not {item['type']!r}"
            )
        try:
            out[name] = convert(value)
        except (TypeError, ValueError) as exc:
            raise ParameterError(
                f"parameter {name!r}: {value!r} is not a valid {kind}: {exc}"
            ) from None
    return out
