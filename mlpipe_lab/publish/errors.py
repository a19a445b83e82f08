"""The one exception the publisher raises: which step failed and a plain, secret-free message."""

from __future__ import annotations

from typing import Any

# HTTP-like status a REST handler can answer with, per failing step.
_STATUS_BY_STEP = {
    "validate": 400,
    "config": 400,
    "dag-id": 409,
    "git-lock": 409,
    "git-rebase": 409,
    "upload": 502,
    "git-fetch": 502,
    "git-push": 502,
}


class PublishError(Exception):
    """A publish or retire failed at ``step`` (``validate``, ``config``, ``dag-id``, ``upload``,
    ``git-fetch``, ``git-commit``, ``git-push``, ``git-rebase``, ``git-lock``...).

    ``message`` is meant for people: it never contains a secret from the runtime configuration (git
    output is scrubbed before it gets here). ``steps`` lists what had happened before the failure, in
    the same shape as :attr:`PublishResult.steps`.
    """

    def __init__(
        self,
        step: str,
        message: str,
        *,
        status: int | None = None,
        steps: list[dict[str, Any]] | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(step, message)
        self.step = step
        self.message = message
        # facts a client can act on (e.g. for "dag-id": the DAG id, path and the other source)
        self.details: dict[str, Any] = dict(details or {})
        self.status = status if status is not None else _STATUS_BY_STEP.get(step, 500)
        self.steps: list[dict[str, Any]] = list(steps or [])

    def __str__(self) -> str:
        return f"{self.step}: {self.message}"

    def __repr__(self) -> str:
        return f"PublishError({self.step!r}, {self.message!r})"

    def to_dict(self) -> dict[str, Any]:
        """JSON body for a REST error response."""
        data = {"step": self.step, "message": self.message, "steps": list(self.steps)}
        if self.details:
            data["details"] = dict(self.details)
        return data
