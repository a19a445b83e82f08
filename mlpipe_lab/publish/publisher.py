"""Publish a compiled pipeline: upload its node bundles, then commit its DAG file to the DAG repository
in one commit; retire it by deleting the file.

Order of a publish: validate (including a refusal to publish any text that contains a secret of the
runtime configuration), lock the cached clone and fetch (an authentication or network problem fails here,
before anything is uploaded), upload bundles, commit and push. If anything after the first upload fails,
the objects *this* publish created are deleted again, so no archive is left behind without a commit
that uses it; objects that were already there are left alone.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from .errors import PublishError
from .gitrepo import (
    DEFAULT_AUTHOR,
    GitAuth,
    GitDagRepo,
    GitOutcome,
    GitSession,
    check_dag_id,
    init_bare_repo,
)
from .identity import Owner, PipelineIdentity
from .objectstore import LocalStore, ObjectStore, S3Store, verify_bundles
from .redact import collect_secrets, find_leak, redact_url, scrub

log = logging.getLogger("mlpipe_lab.publish")

_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]+")


@dataclass
class PublishResult:
    """What a publish or retire did. Holds no secret; ``to_json()`` is what a REST handler returns."""

    dag_id: str
    action: str  # "publish" | "retire"
    commit: str | None
    changed: bool
    branch: str
    path: str
    repo: str
    links: dict[str, str] = field(default_factory=dict)
    uploaded: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    retries: int = 0
    steps: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)


@dataclass
class _Target:
    repo: GitDagRepo
    store_factory: Any  # () -> ObjectStore | None
    web_url_template: str | None
    airflow_endpoint: str | None


def _step(steps: list[dict[str, Any]], step: str, status: str, message: str) -> None:
    steps.append({"step": step, "status": status, "message": message})
    log.info("%s: %s", step, message)


def _one_line(text: str, limit: int = 300) -> str:
    return _CONTROL_RE.sub(" ", text).strip()[:limit]


def where(config: Mapping[str, Any], dag_id: str) -> dict[str, str]:
    """Where a submit with ``config`` commits the DAG of ``dag_id``: the repository (credentials
    left out; "local" for the built-in one), branch and path in it. Reads only the configuration:
    the same defaults as the publish itself (``_target``)."""
    kind = config.get("type") or "airflow"
    repo = (config.get("local") if kind == "local" else config.get("dag_repo")) or {}
    subfolder = repo.get("subfolder", "dags")
    return {
        "repo": "local" if kind == "local" else redact_url(str(repo.get("url") or "")),
        "branch": repo.get("branch") or "main",
        "path": f"{subfolder}/{dag_id}.py" if subfolder else f"{dag_id}.py",
    }


def _target(
    config: Mapping[str, Any],
    cache_dir: os.PathLike[str] | str,
    *,
    author: str,
    secrets: Sequence[str],
    timeout: float,
    max_attempts: int,
) -> _Target:
    if not isinstance(config, Mapping):
        raise PublishError("config", "the runtime configuration must be an object")
    kind = config.get("type") or "airflow"
    common = {
        "cache_dir": cache_dir,
        "author": author,
        "extra_secrets": secrets,
        "timeout": timeout,
        "max_attempts": max_attempts,
    }
    if kind == "local":
        local = config.get("local") or {}
        repo_path = local.get("dag_repo_path")
        artifacts = local.get("artifacts_path")
        if not repo_path or not artifacts:
            raise PublishError("config", "the local runtime needs dag_repo_path and artifacts_path")
        if not os.path.isabs(repo_path) or not os.path.isabs(artifacts):
            raise PublishError(
                "config",
                "local dag_repo_path and artifacts_path must be absolute (resolve them first)",
            )
        branch = local.get("branch") or "main"
        init_bare_repo(repo_path, branch)
        repo = GitDagRepo(
            repo_path, branch=branch, subfolder=local.get("subfolder", "dags"), **common
        )
        return _Target(repo, lambda: LocalStore(artifacts), None, None)
    if kind != "airflow":
        raise PublishError("config", f"unknown runtime type {kind!r}")
    dag_repo = config.get("dag_repo") or {}
    url = dag_repo.get("url")
    if not url:
        raise PublishError("config", "the runtime configuration has no dag_repo.url")
    repo = GitDagRepo(
        url,
        branch=dag_repo.get("branch") or "main",
        subfolder=dag_repo.get("subfolder", "dags"),
        auth=GitAuth.from_config(dag_repo.get("auth")),
        **common,
    )
    storage = config.get("object_storage")
    store_factory = (lambda: S3Store.from_config(storage)) if storage else (lambda: None)
    endpoint = ((config.get("airflow") or {}).get("api_endpoint") or "").rstrip("/") or None
    return _Target(repo, store_factory, dag_repo.get("web_url_template") or None, endpoint)


def _links(target: _Target, dag_id: str, sha: str | None) -> dict[str, str]:
    links: dict[str, str] = {}
    if sha and target.web_url_template:
        links["commit"] = target.web_url_template.replace("{sha}", sha).replace(
            "{branch}", quote(target.repo.branch, safe="")
        )
    if target.airflow_endpoint:
        links["dag"] = f"{target.airflow_endpoint}/dags/{quote(dag_id, safe='')}"
    return links


def _result(
    target: _Target,
    action: str,
    dag_id: str,
    outcome: GitOutcome,
    steps: list[dict[str, Any]],
    uploaded: list[str],
    reused: list[str],
    secrets: Sequence[str],
) -> PublishResult:
    result = PublishResult(
        dag_id=dag_id,
        action=action,
        commit=outcome.sha,
        changed=outcome.changed,
        branch=outcome.branch,
        path=outcome.path,
        repo=redact_url(target.repo.url),
        links=_links(target, dag_id, outcome.sha),
        uploaded=uploaded,
        reused=reused,
        retries=outcome.retries,
        steps=steps,
    )
    if find_leak(result.to_json(), secrets):  # belt and braces: never hand a secret back
        log.warning("a publish result mentioned a secret; it was redacted")
        return PublishResult(**_scrub_tree(result.to_dict(), secrets))
    return result


def _scrub_tree(node: Any, secrets: Sequence[str]) -> Any:
    if isinstance(node, str):
        return scrub(node, secrets)
    if isinstance(node, dict):
        return {k: _scrub_tree(v, secrets) for k, v in node.items()}
    if isinstance(node, list):
        return [_scrub_tree(v, secrets) for v in node]
    return node


def _guard(label: str, text: str, secrets: Sequence[str]) -> None:
    if find_leak(text, secrets):
        raise PublishError(
            "validate",
            f"the {label} contains a secret value of the runtime configuration; refusing to publish it. "
            "Reference secrets (Airflow connections, Kubernetes secrets) instead of embedding them.",
        )


def publish(
    *,
    dag_id: str,
    dag_text: str,
    source_path: str,
    bundles: Sequence[Mapping[str, Any]],
    config: Mapping[str, Any],
    cache_dir: os.PathLike[str] | str,
    message_extra: str = "",
    author: str = DEFAULT_AUTHOR,
    generator: str | None = None,
    timeout: float = 120.0,
    max_attempts: int = 5,
    identity: PipelineIdentity | None = None,
    replace: bool = False,
    files: Mapping[str, bytes] | None = None,
) -> PublishResult:
    """Upload ``bundles`` and commit ``dag_text`` as ``<subfolder>/<dag_id>.py`` (one commit).

    ``files``: what the DAG needs beside it on the worker (``ExportResult.worker_files``: the
    runner zipapp in local-worker mode), paths relative to the DAG's folder, committed with it;
    their top folders are listed in ``.airflowignore``.

    ``config`` is a runtime configuration with its secrets; ``cache_dir`` the root of the git cache
    (e.g. ``<data_dir>/git-cache``). ``bundles`` are ``{node_id, key, sha256, path}`` (key relative
    to the storage prefix). The commit message is
    ``pipelines: publish <dag_id> (<source_path>) hash=<sha256 of the DAG, 12> gen=<generator>``,
    followed by ``message_extra`` as its body and the ``Pipeline-Source``/``Pipeline-Id``
    trailers of ``identity`` (default: the source path alone).

    A DAG file of this id that another pipeline file published is not replaced (step ``dag-id``,
    status 409, ``details`` naming it) unless ``replace`` (the same pipeline, moved or renamed).
    Raises :class:`PublishError`; on failure nothing this call uploaded remains.
    """
    steps: list[dict[str, Any]] = []
    secrets = collect_secrets(config)
    check_dag_id(dag_id)
    if not isinstance(dag_text, str) or not dag_text.strip():
        raise PublishError("validate", "the DAG text is empty")
    lowered = dag_text.lower()
    if "airflow" not in lowered or "dag" not in lowered:
        raise PublishError(
            "validate",
            "the DAG file must contain the words 'airflow' and 'dag' or Airflow will skip it",
        )
    _guard("DAG text", dag_text, secrets)
    _guard("commit message", f"{source_path}\n{message_extra}", secrets)
    checked = verify_bundles(bundles)
    if generator is None:
        from mlpipe_lab import __version__ as generator

    digest = hashlib.sha256(dag_text.encode("utf-8")).hexdigest()[:12]
    message = (
        f"pipelines: publish {dag_id} ({_one_line(str(source_path))}) hash={digest} "
        f"gen={_one_line(str(generator), 60)}"
    )
    if identity is None:
        identity = PipelineIdentity(source=_one_line(str(source_path)), id="")
    extra = (message_extra or "").strip()
    if extra:
        message += "\n\n" + extra
    message += "\n\n" + identity.trailers() + "\n"
    _step(
        steps, "validate", "ok", f"{dag_id}: DAG {len(dag_text)} characters, {len(checked)} bundles"
    )

    target = _target(
        config,
        cache_dir,
        author=author,
        secrets=secrets,
        timeout=timeout,
        max_attempts=max_attempts,
    )
    store: ObjectStore | None = target.store_factory() if checked else None
    if checked and store is None:
        raise PublishError(
            "config", "this pipeline has bundles to upload but no object storage is configured"
        )

    created: list[str] = []
    uploaded: list[str] = []
    reused: list[str] = []
    try:
        with target.repo.session() as session:
            _record_fetch(steps, target, session.remote_head)
            _check_owner(steps, session, dag_id, identity, replace, "publish")
            for bundle in checked:
                status = store.put(bundle["key"], bundle["path"], bundle["sha256"])  # type: ignore[union-attr]
                if status == "created":
                    created.append(bundle["key"])
                if status == "reused":
                    reused.append(bundle["key"])
                else:
                    uploaded.append(bundle["key"])
            if checked:
                _step(
                    steps,
                    "upload",
                    "ok",
                    f"uploaded {len(uploaded)} bundles, reused {len(reused)} ({store.describe()})",  # type: ignore[union-attr]
                )
            else:
                _step(steps, "upload", "skipped", "no bundles")
            outcome = session.write(dag_id, dag_text, message, files=files)
    except BaseException as exc:
        removed, left = _rollback(store, created, secrets)
        if isinstance(exc, PublishError):
            note = ""
            if removed:
                note += f" Removed the {len(removed)} bundles this publish had uploaded."
            if left:
                note += f" Could not remove {len(left)} uploaded bundles: {', '.join(left)}."
            exc.message = scrub(exc.message + note, secrets)
            exc.steps = steps + [{"step": exc.step, "status": "failed", "message": exc.message}]
            level = logging.INFO if exc.step == "dag-id" else logging.WARNING  # a refusal
            log.log(level, "publish of %s failed at %s: %s", dag_id, exc.step, exc.message)
        raise
    _record_git(steps, outcome, target)
    return _result(target, "publish", dag_id, outcome, steps, uploaded, reused, secrets)


def retire(
    *,
    dag_id: str,
    config: Mapping[str, Any],
    cache_dir: os.PathLike[str] | str,
    author: str = DEFAULT_AUTHOR,
    timeout: float = 120.0,
    max_attempts: int = 5,
    identity: PipelineIdentity | None = None,
) -> PublishResult:
    """Delete ``<subfolder>/<dag_id>.py`` in one commit (``pipelines: retire <dag_id>``). Bundles stay
    in object storage: earlier DAG runs may still reference them.

    ``identity``: the pipeline being retired. Given, a DAG file another pipeline file published
    is left alone (step ``dag-id``, status 409); without it the DAG id alone says what to delete."""
    steps: list[dict[str, Any]] = []
    secrets = collect_secrets(config)
    check_dag_id(dag_id)
    target = _target(
        config,
        cache_dir,
        author=author,
        secrets=secrets,
        timeout=timeout,
        max_attempts=max_attempts,
    )
    try:
        with target.repo.session() as session:
            _record_fetch(steps, target, session.remote_head)
            if identity is not None:
                _check_owner(steps, session, dag_id, identity, False, "retire")
            outcome = session.delete(dag_id, f"pipelines: retire {dag_id}")
    except PublishError as exc:
        exc.message = scrub(exc.message, secrets)
        exc.steps = steps + [{"step": exc.step, "status": "failed", "message": exc.message}]
        level = logging.INFO if exc.step == "dag-id" else logging.WARNING  # a refusal
        log.log(level, "retire of %s failed at %s: %s", dag_id, exc.step, exc.message)
        raise
    _record_git(steps, outcome, target)
    return _result(target, "retire", dag_id, outcome, steps, [], [], secrets)


def _check_owner(
    steps: list[dict[str, Any]],
    session: GitSession,
    dag_id: str,
    identity: PipelineIdentity,
    replace: bool,
    action: str,
) -> None:
    """Refuse to replace (or delete) a DAG file another pipeline file published."""
    owner = session.owner(dag_id)
    if owner is None or owner.same_pipeline(identity):
        return
    path = session.repo.path_for(dag_id)
    where = f"{path} in {session.repo.display_url} ({session.repo.branch})"
    if replace:
        _step(steps, "dag-id", "ok", f"replacing {where}, {_published_from(owner)}, as asked")
        return
    message = _owner_conflict(dag_id, where, owner, identity, action)
    raise PublishError(
        "dag-id",
        message,
        details={
            "dag_id": dag_id,
            "path": path,
            "published_from": owner.source,
            "commit": owner.commit,
            "source": identity.source,
            "action": action,
        },
    )


def _published_from(owner: Owner) -> str:
    if owner.source is None:
        return f"which mlpipe-lab did not publish (last changed in commit {owner.commit[:12]})"
    return f"published from '{owner.source}' (commit {owner.commit[:12]})"


def _owner_conflict(
    dag_id: str, where: str, owner: Owner, identity: PipelineIdentity, action: str
) -> str:
    other = _published_from(owner)
    if owner.source is not None and owner.source == identity.source:
        # same path, another file: another workspace or clone with the same layout
        other = (
            f"published from a file '{owner.source}' in another workspace or repository "
            f"(commit {owner.commit[:12]})"
        )
    if action == "retire":
        return (
            f"DAG '{dag_id}' ({where}) was {other}, not from '{identity.source}'; retiring "
            f"'{identity.source}' leaves it alone. Nothing was changed. To remove that DAG on "
            "purpose, retire it by its DAG id."
        )
    return (
        f"DAG id '{dag_id}' is taken: {where} was {other}, not from '{identity.source}', and "
        "publishing would replace it. Give this pipeline its own DAG id: rename it (pipeline "
        "properties › Name) or set its DAG id (Airflow settings › DAG id). If it is the same "
        "pipeline, moved or renamed, publish again with replace (mlpipe submit --replace, or "
        "Replace in the Submit dialog) to take the DAG over. Nothing was uploaded or committed."
    )


def _record_fetch(steps: list[dict[str, Any]], target: _Target, head: str | None) -> None:
    _step(
        steps,
        "fetch",
        "ok",
        f"fetched {target.repo.branch} of {redact_url(target.repo.url)}"
        + (f" at {head[:12]}" if head else " (empty)"),
    )


def _record_git(steps: list[dict[str, Any]], outcome: GitOutcome, target: _Target) -> None:
    if outcome.changed:
        _step(steps, "commit", "ok", f"committed {outcome.path} as {(outcome.sha or '')[:12]}")
        retries = f" after {outcome.retries} retries" if outcome.retries else ""
        _step(steps, "push", "ok", f"pushed to {outcome.branch}{retries}")
    else:
        _step(steps, "commit", "skipped", f"no change to {outcome.path}")
        _step(steps, "push", "skipped", "nothing to push")


def _rollback(
    store: ObjectStore | None, created: list[str], secrets: Sequence[str]
) -> tuple[list[str], list[str]]:
    removed: list[str] = []
    left: list[str] = []
    if store is None:
        return removed, left
    for key in created:
        try:
            store.delete(key)
            removed.append(key)
        except PublishError as exc:
            left.append(key)
            log.warning("could not remove orphan bundle %s: %s", key, scrub(exc.message, secrets))
        except Exception:
            left.append(key)
            log.warning("could not remove orphan bundle %s", key)
    if removed:
        log.info("removed %d bundles uploaded by the failed publish", len(removed))
    return removed, left


def cache_dir_for(data_dir: os.PathLike[str] | str) -> Path:
    """The conventional git cache root under the mlpipe-lab data directory."""
    return Path(data_dir) / "git-cache"
