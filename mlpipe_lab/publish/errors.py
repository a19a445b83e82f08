"""The one exception the publisher raises: which step failed and a plain, secret-free message."""

from __future__ import annotations

from typing import Any

from ..errors import MLPipeError

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


class PublishError(MLPipeError):
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
        # a step not listed is an outside system's failure (HTTP 502 by errors.http_status)
        super().__init__(
            message,
            status if status is not None else _STATUS_BY_STEP.get(step, 502),
            field="runtime_config" if step == "config" else None,
            steps=steps,
            # facts a client can act on (e.g. for "dag-id": the DAG id, path and the other source)
            details=details,
        )
        self.step = step
        self.args = (step, message)

    def __str__(self) -> str:
        return f"{self.step}: {self.message}"

    def __repr__(self) -> str:
        return f"PublishError({self.step!r}, {self.message!r})"

    def to_dict(self) -> dict[str, Any]:
        """The publisher's view of the failure (step, message, the steps before it)."""
        data = {"step": self.step, "message": self.message, "steps": list(self.steps)}
        if self.details:
            data["details"] = dict(self.details)
        return data
