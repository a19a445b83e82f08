"""The root of every error a person can act on, and its one mapping to HTTP and to exit codes.

Every error the services raise is an :class:`MLPipeError` (catalog, pipeline, publish, parameter
and run errors subclass it): a plain message, an HTTP status, and where the problem is — the
``field`` of the request or entry, the pipeline's ``problems`` (located by node and field), the
``steps`` a failed publish went through. REST handlers answer with :func:`http_status` and
:meth:`MLPipeError.to_json`; the CLI prints the same and exits with :func:`exit_code`.
Anything else that escapes a handler is a bug: a logged 500 without details.
"""

from __future__ import annotations

from typing import Any


class MLPipeError(Exception):
    """A problem a person can fix (or an outside system's failure), in plain words."""

    default_status = 400

    def __init__(
        self,
        message: str,
        status: int | None = None,
        *,
        field: str | None = None,
        problems: list[Any] | None = None,
        steps: list[dict[str, Any]] | None = None,
        code: str | None = None,
        details: dict[str, Any] | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.status = self.default_status if status is None else status
        self.field = field
        self.problems = list(problems or [])
        self.steps = list(steps or [])
        self.code = code  # for clients that act on the kind of error (e.g. ask, then retry)
        self.details = dict(details or {})

    def __str__(self) -> str:
        return self.message

    def to_json(self) -> dict[str, Any]:
        """The REST error body: ``{"error": {message, code?, field?, details?, problems?,
        steps?}}``."""
        err: dict[str, Any] = {"message": self.message}
        if self.code:
            err["code"] = self.code
        if self.field:
            err["field"] = self.field
        if self.details:
            err["details"] = self.details
        if self.problems:
            err["problems"] = [p.to_json() if hasattr(p, "to_json") else p for p in self.problems]
        if self.steps:
            err["steps"] = [dict(s) for s in self.steps]
        return {"error": err}


# The name services and handlers have always raised; the same class.
ServiceError = MLPipeError


def http_status(exc: MLPipeError) -> int:
    """The HTTP status of an error: its own, kept within 4xx/5xx; 500 is reserved for bugs (an
    outside system's failure is a 502)."""
    status = exc.status if isinstance(exc.status, int) else 400
    if status == 500 or not 400 <= status < 600:
        return 502 if status >= 500 else 400
    return status


def exit_code(exc: MLPipeError) -> int:
    """The ``mlpipe`` exit status: 2 for a bad request (usage, a missing entry or file, a
    conflict) without pipeline problems, 1 for everything else that failed."""
    pipeline_problems = any(hasattr(p, "describe") for p in exc.problems)
    return 2 if http_status(exc) in (400, 404, 409) and not pipeline_problems else 1
