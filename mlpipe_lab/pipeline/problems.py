"""Problems found in a pipeline: what validation, compile and publish report to people."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, fields
from typing import Any

from ..errors import MLPipeError

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a pipeline, located as precisely as we can.

    ``path`` is a JSON-pointer-like location of the field in the node's or pipeline's
    properties (e.g. ``component_parameters/env_vars/0/value``), so the editor can mark it.
    """

    code: str
    message: str
    severity: str = ERROR
    pipeline: str = ""
    node_id: str | None = None
    node_label: str | None = None
    path: str = ""
    line: int | None = None
    column: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        # What dataclasses.asdict gives, without its deep copy (called once per warning, and a
        # large pipeline can have thousands).
        data = {k: getattr(self, k) for k in _FIELDS}
        if self.extra:
            data["extra"] = copy.deepcopy(self.extra)
        return {k: v for k, v in data.items() if v is not None}

    def describe(self) -> str:
        """One line for terminals and logs: where, then what."""
        where = [self.pipeline or "pipeline"]
        if self.node_label or self.node_id:
            where.append(f"node '{self.node_label or self.node_id}'")
        if self.path:
            where.append(self.path)
        if self.line is not None:
            where.append(f"line {self.line}, column {self.column}")
        return f"{self.severity}: {' › '.join(where)}: {self.message}"


_FIELDS = tuple(f.name for f in fields(Problem) if f.name != "extra")


class PipelineError(MLPipeError):
    """Raised when a pipeline cannot be used at all; carries the problems that say why."""

    default_status = 422

    def __init__(self, problems: list[Problem], message: str | None = None):
        super().__init__(message or "; ".join(p.describe() for p in problems), problems=problems)
        self.problems = problems


def has_errors(problems: list[Problem]) -> bool:
    return any(p.severity == ERROR for p in problems)
