"""Why a node failed, in one line a person can act on."""

from __future__ import annotations


class NodeFailure(Exception):
    """The node cannot succeed. ``cause`` is a short sentence (no node name: the runner adds it);
    ``exit_code`` is what the runner exits with (the node's own status when it has one)."""

    def __init__(self, cause: str, exit_code: int = 1):
        super().__init__(cause)
        self.cause = cause
        self.exit_code = exit_code if exit_code else 1


class StoreError(NodeFailure):
    """The object store could not be read or written."""


class UnsafePath(NodeFailure):
    """A path (in a bundle, a manifest or an output glob) would leave the working folder."""


class S3Error(Exception):
    """``code`` is S3's error code (NoSuchKey, AccessDenied, ...) or ours; ``status`` the HTTP status.
    (Here, not in s3.py: a local store's run never imports the S3 client and its HTTP stack.)"""

    def __init__(self, message: str, code: str = "", status: int = 0):
        super().__init__(message)
        self.code = code
        self.status = status

    @property
    def missing(self) -> bool:
        return self.status == 404 or self.code in ("NoSuchKey", "NotFound")
