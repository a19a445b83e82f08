"""Errors raised by the catalogs: a plain message, the offending field and an HTTP-like status."""

from __future__ import annotations

from typing import Any

from ..errors import MLPipeError


class CatalogError(MLPipeError):
    """A user-facing catalog problem.

    ``field`` is a dotted path into the entry (``"dag_repo.url"``) or ``None``; ``status`` is the
    HTTP status a REST handler should answer with; ``errors`` lists every problem found (``[{field,
    message}]``) when validation found several, the first of which is ``message``.
    """

    default_status = 400

    def __init__(
        self,
        message: str,
        field: str | None = None,
        status: int | None = None,
        errors: list[dict[str, Any]] | None = None,
    ) -> None:
        self.errors = errors if errors is not None else [{"field": field, "message": message}]
        # each field's problem, located by its dotted path (the editor marks the fields)
        problems = [
            {
                "code": "catalog",
                "message": e.get("message"),
                "severity": "error",
                "path": e["field"],
            }
            for e in self.errors
            if isinstance(e, dict) and e.get("field")
        ]
        super().__init__(message, status, field=field, problems=problems)

    def to_dict(self) -> dict[str, Any]:
        """The error's fields (``errors``: every field's problem)."""
        return {"message": self.message, "field": self.field, "errors": self.errors}

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.message!r}, field={self.field!r}, status={self.status})"
        )


class NotFound(CatalogError):
    default_status = 404


class Conflict(CatalogError):
    default_status = 409


class ReadOnly(CatalogError):
    default_status = 403
