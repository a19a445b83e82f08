"""Values of a plan that are known only when a run starts, kept typed so that every consumer can
resolve them its own way: the DAG renderer writes them as Airflow templates (``{{ run_id }}``,
``{{ params.x | tojson }}``), a local run substitutes the run id and the parameter values.

Anything else in a plan is plain text, exactly as the user wrote it (never pre-escaped for Jinja:
protecting user text is the renderer's job, for the fields Airflow renders).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


class _Concat:
    """``text + ref`` and ``ref + text`` make a :class:`Join` (how the runner contract's string
    building keeps run-time values typed)."""

    def __add__(self, other: Any) -> Join:
        return Join.of(self, other)

    def __radd__(self, other: Any) -> Join:
        return Join.of(other, self)


@dataclass(frozen=True)
class RunId(_Concat):
    """The id of the run (Airflow's ``run_id``, a local run's id)."""


@dataclass(frozen=True)
class ParamRef(_Concat):
    """A pipeline parameter's value for this run: as text (``str(value)``, what Jinja prints), or
    as JSON (``json=True``, what the runner's ``--param NAME=JSON`` reads)."""

    name: str
    json: bool = False


@dataclass(frozen=True)
class XComRef(_Concat):
    """A value an earlier task of the same run returned (``key`` of its JSON result)."""

    task_id: str
    key: str
    json: bool = False


@dataclass(frozen=True)
class ItemCount(_Concat):
    """How many items a fan-out task (``task_id``) ran over in this run, as decimal text; empty
    text when that is not known (the runner's ``--upstream-items TASK=COUNT`` then looks for
    itself). On Airflow it is the length of the list ``items_task`` returned."""

    task_id: str
    items_task: str


Ref = RunId | ParamRef | XComRef | ItemCount


@dataclass(frozen=True)
class Join(_Concat):
    """Text made of literal parts and run-time values, in order."""

    parts: tuple[str | Ref, ...]

    @staticmethod
    def of(*items: Any) -> Join:
        parts: list[str | Ref] = []
        for item in items:
            for part in item.parts if isinstance(item, Join) else (item,):
                if isinstance(part, str):
                    if not part:
                        continue
                    if parts and isinstance(parts[-1], str):
                        parts[-1] += part
                        continue
                elif not isinstance(part, (RunId, ParamRef, XComRef, ItemCount)):
                    raise TypeError(f"cannot join a {type(part).__name__}")
                parts.append(part)
        return Join(tuple(parts))


RUN_ID = RunId()
Value = str | RunId | ParamRef | XComRef | ItemCount | Join


def is_plain(value: Any) -> bool:
    return isinstance(value, str)


def resolve(value: Value, ref: Callable[[Ref], str]) -> str:
    """The text of a value, each run-time part replaced by ``ref(part)``."""
    if isinstance(value, str):
        return value
    if isinstance(value, Join):
        return "".join(p if isinstance(p, str) else ref(p) for p in value.parts)
    return ref(value)


def tojson(value: Any) -> str:
    """Jinja's ``tojson`` filter, as Airflow renders it: sorted keys, and the HTML-sensitive
    characters escaped (``'`` becomes ``\\u0027``), which JSON readers decode back."""
    text = json.dumps(value, sort_keys=True)
    for char, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("'", "\\u0027")):
        text = text.replace(char, escape)
    return text


def local_resolver(
    run_id: str,
    params: Mapping[str, Any],
    xcom: Mapping[str, Mapping[str, Any]] | None = None,
    items: Mapping[str, int] | None = None,
) -> Callable[[Ref], str]:
    """How a run on this machine fills in run-time values: what Airflow's rendering would give
    (``{{ params.x }}`` prints ``str(value)``; ``| tojson`` is JSON). ``items``: fan-out task ->
    how many items it ran over (a task not in it: unknown, empty text)."""

    def ref(part: Ref) -> str:
        if isinstance(part, RunId):
            return run_id
        if isinstance(part, ItemCount):
            count = (items or {}).get(part.task_id)
            return "" if count is None else str(count)
        if isinstance(part, ParamRef):
            value = params[part.name]
            return tojson(value) if part.json else str(value)
        result = (xcom or {})[part.task_id][part.key]
        return tojson(result) if part.json else str(result)

    return ref


# -- Airflow's template rendering of plain text ----------------------------------------------------

_TEMPLATE_START = ("{{", "{%", "{#")


def needs_raw(text: str) -> bool:
    """True when Airflow's Jinja rendering would change the text: template markers, or a
    trailing line break (Jinja drops one unless keep_trailing_newline is set)."""
    return ("{" in text and any(m in text for m in _TEMPLATE_START)) or text.endswith(("\n", "\r"))


class TemplateTextError(ValueError):
    """User text that cannot be protected from Jinja (it contains 'endraw')."""


def jinja_safe(text: str) -> str:
    """Text for a Jinja-templated operator field that renders back to itself exactly."""
    if not needs_raw(text):
        return text
    if "endraw" in text:
        raise TemplateTextError(text)
    return "{% raw %}" + text + "{% endraw %}"
