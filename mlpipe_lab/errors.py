"""The one error type services raise for things a person can fix; handlers and the CLI show it."""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    def __init__(
        self,
        message: str,
        status: int = 400,
        *,
        field: str | None = None,
        problems: list[Any] | None = None,
        code: str | None = None,
        details: dict[str, Any] | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.status = status
        self.field = field
        self.problems = problems or []
        self.code = code  # for clients that act on the kind of error (e.g. ask, then retry)
        self.details = details or {}

    def to_json(self) -> dict[str, Any]:
        err: dict[str, Any] = {"message": self.message}
        if self.code:
            err["code"] = self.code
        if self.field:
            err["field"] = self.field
        if self.details:
            err["details"] = self.details
        if self.problems:
            err["problems"] = [p.to_json() if hasattr(p, "to_json") else p for p in self.problems]
        return {"error": err}
