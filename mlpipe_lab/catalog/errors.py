"""Errors raised by the catalogs: a plain message, the offending field and an HTTP-like status."""

from __future__ import annotations

from typing import Any


class CatalogError(Exception):
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
        super().__init__(message)
        self.message = message
        self.field = field
        self.status = self.default_status if status is None else status
        self.errors = errors if errors is not None else [{"field": field, "message": message}]

    def to_dict(self) -> dict[str, Any]:
        """JSON body for a REST error response."""
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
