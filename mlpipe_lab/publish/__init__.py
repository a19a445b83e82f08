"""Publishing compiled pipelines: node bundles to object storage, one DAG file per pipeline to the git
repository Airflow syncs (Airflow 3 GitDagBundle, Airflow 2 git-sync)."""

from __future__ import annotations

from .errors import PublishError
from .gitrepo import DEFAULT_AUTHOR, GitAuth, GitDagRepo, GitOutcome, init_bare_repo, ssh_command
from .objectstore import LocalStore, ObjectStore, S3Store
from .publisher import PublishResult, cache_dir_for, publish, retire

__all__ = [
    "DEFAULT_AUTHOR",
    "GitAuth",
    "GitDagRepo",
    "GitOutcome",
    "LocalStore",
    "ObjectStore",
    "PublishError",
    "PublishResult",
    "S3Store",
    "cache_dir_for",
    "init_bare_repo",
    "publish",
    "retire",
    "ssh_command",
]
