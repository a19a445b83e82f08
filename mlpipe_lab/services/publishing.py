"""Publishing: a pipeline's DAG and bundles to the DAG repository and object store (submit), and
its removal (retire). A failed publish raises PublishError with the steps it went through."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from ..errors import MLPipeError
from .catalogs import Catalogs
from .pipelines import Pipelines
from .workspace import Workspace


def _failed(exc: Any, what: str) -> Any:
    """The publisher's error with the operation named (its steps and status kept)."""
    exc.message = f"{what} failed at {exc.step}: {exc.message}"
    return exc


class Publishing:
    def __init__(self, workspace: Workspace, catalogs: Catalogs, pipelines: Pipelines):
        self.workspace = workspace
        self.catalogs = catalogs
        self.pipelines = pipelines

    def cache_dir(self) -> Path:
        from ..publish import cache_dir_for

        return cache_dir_for(self.catalogs.folder)

    def submit(
        self,
        path: str,
        runtime_config: str,
        replace: bool = False,
        allow_plain_secrets: bool = False,
    ) -> dict[str, Any]:
        """Export once into a scratch folder, then upload the bundles and commit the DAG (one
        commit). A DAG id published from another pipeline file is refused (409) unless
        ``replace``. Environment variables that look like secrets but have plain values would be
        committed in the DAG file: refused (409 plain-secrets) unless ``allow_plain_secrets``
        (the user said yes). The result also names the tasks of the published DAG."""
        from ..publish import PublishError, publish
        from ..publish.identity import identify

        file = self.workspace.existing(path)
        config = self.catalogs.runtime_config(runtime_config)
        source = self.workspace.relative(file)
        with tempfile.TemporaryDirectory(prefix="mlpipe-submit-") as scratch:
            exported = self.pipelines.export_to(
                path, config, Path(scratch) / "dag.py", scratch=True
            )
            plain = [p for p in exported.problems if p.code == "plain-secret"]
            if plain and not allow_plain_secrets:
                raise _plain_secrets(path, plain)
            bundles = [
                {"node_id": b.node_id, "key": b.key, "sha256": b.sha256, "path": b.path}
                for b in exported.bundles.values()
            ]
            try:
                result = publish(
                    dag_id=exported.dag_id,
                    dag_text=exported.dag_path.read_text(encoding="utf-8"),
                    source_path=source,
                    bundles=bundles,
                    config=self.catalogs.runtime_config(runtime_config, with_secrets=True),
                    cache_dir=self.cache_dir(),
                    identity=identify(file, source, self.catalogs.folder),
                    replace=bool(replace),
                    files=exported.worker_files,
                )
            except PublishError as exc:
                if exc.step == "dag-id":
                    raise _dag_id_taken(exc, source) from None
                raise _failed(exc, f"Publishing '{path}'") from None
        data = result.to_dict()
        data["problems"] = [p.to_json() for p in exported.problems]
        data["runtime_config"] = runtime_config
        data["tasks"] = exported.tasks
        return data

    def retire(self, dag_id: Any, runtime_config: str, path: str | None = None) -> dict[str, Any]:
        """Remove a DAG from the repository: by DAG id, or by the pipeline that publishes it
        (a ``.pipeline`` path: its plan's DAG id, the one export and submit use). With ``path``
        (the pipeline being retired), a DAG another pipeline file published is left alone (409)."""
        from ..publish import PublishError, retire
        from ..publish.identity import identify

        if isinstance(dag_id, str) and dag_id.endswith(".pipeline"):
            path = path or dag_id
            dag_id = self.pipelines.dag_id(dag_id)
        if not isinstance(dag_id, str) or not dag_id:
            raise MLPipeError("Give the DAG id to retire.", 400, field="dag_id")
        identity = None
        if path:
            file = self.workspace.resolve(path)
            identity = identify(file, self.workspace.relative(file), self.catalogs.folder)
        try:
            result = retire(
                dag_id=dag_id,
                config=self.catalogs.runtime_config(runtime_config, with_secrets=True),
                cache_dir=self.cache_dir(),
                identity=identity,
            )
        except PublishError as exc:
            if exc.step == "dag-id":
                raise _dag_id_taken(exc, path or dag_id) from None
            raise _failed(exc, f"Retiring '{dag_id}'") from None
        return result.to_dict() | {"runtime_config": runtime_config}


def _dag_id_taken(exc: Any, pipeline: str) -> MLPipeError:
    """A DAG id another pipeline file published: 409, with a problem on the DAG id field that
    names the other file (the Submit dialog shows it and offers the ways out)."""
    from ..pipeline.problems import Problem

    problem = Problem(
        code="dag-id-taken",
        message=exc.message,
        pipeline=pipeline,
        path="mlpipe/dag_id",
        extra=dict(exc.details),
    )
    other = exc.details.get("published_from")
    by = f"the pipeline file '{other}'" if other else "a DAG file mlpipe-lab did not publish"
    summary = f"DAG id '{exc.details.get('dag_id')}' is taken by {by}; nothing was changed."
    return MLPipeError(
        summary,
        409,
        field="dag_id",
        problems=[problem],
        code="dag-id-taken",
        details=dict(exc.details),
    )


def _plain_secrets(path: str, problems: list[Any]) -> MLPipeError:
    names = sorted({str(p.extra.get("env_var")) for p in problems if p.extra.get("env_var")})
    return MLPipeError(
        f"Pipeline '{path}' sets {', '.join(names) or 'variables that look like secrets'} as "
        "plain values, which would be committed to the DAG repository in the DAG file, readable "
        "by everyone who can read the repository. Make each a Kubernetes secret (node properties "
        "> Kubernetes secrets: the variable, the Secret's name and key), or submit anyway.",
        409,
        code="plain-secrets",
        problems=problems,
    )
