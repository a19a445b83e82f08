"""The runs service: one API over local runs and Airflow runs, chosen by the runtime configuration's
type. REST handlers and the CLI call it; it raises only MLPipeError (a message for people).
Task and DAG ids come from the plan (``Pipelines.check``/``Pipelines.tasks``)."""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

from ..errors import MLPipeError as ServiceError
from .local import LocalRuns
from .model import safe_id

DEFAULT_LIMIT = 50
DECISIONS = ("approve", "reject")
MAX_COMMENT = 4000


class RunsService:
    def __init__(self, services: Any):
        # mlpipe_lab.services.Services: workspace, catalogs, pipelines, publishing
        self.services = services
        self.workspace = services.workspace
        self.catalogs = services.catalogs
        self.pipelines = services.pipelines
        self.local = LocalRuns(max_parallel=getattr(services, "local_run_parallelism", 2))
        self._airflow: dict[str, Any] = {}

    # -- helpers ---------------------------------------------------------------------------

    def display(self, path: str) -> str | None:
        """A pipeline path relative to the root, or None when it lies outside (never absolute)."""
        return self.workspace.display(path)

    def config(self, name: Any) -> dict[str, Any]:
        return self.catalogs.runtime_config(name)

    def _local_roots(self, only: str | None = None) -> list[tuple[str, Path]]:
        if only:
            config = self.config(only)
            if config.get("type") != "local":
                return []
            return [(only, Path(config["local"]["artifacts_path"]))]
        roots = []
        for entry in self.catalogs.list("runtime-configs"):
            if entry.get("type") == "local" and not entry.get("error"):
                config = self.catalogs.runtime_config(entry["name"])
                roots.append((entry["name"], Path(config["local"]["artifacts_path"])))
        return roots

    @staticmethod
    def _params(params: Any) -> dict[str, Any]:
        if params is None:
            return {}
        if not isinstance(params, dict):
            raise ServiceError(
                "'params' must be an object of parameter values by name.", 400, field="params"
            )
        return params

    def _prepare(
        self, path: Any, content: Any, params: dict[str, Any], runtime_config: str | None = None
    ):
        """The pipeline checked as a run on ``runtime_config`` would check it: 422 with its
        problems, 400 for bad values. Returns (file, pipeline, plan, values)."""
        if content is not None and not isinstance(content, str):
            raise ServiceError("'content' must be the pipeline file's text.", 400, field="content")
        file, checked = self.pipelines.check(path, content, runtime_config)
        if not checked.valid:
            raise ServiceError(
                f"Pipeline '{path}' has errors; fix them before running.",
                422,
                problems=checked.errors,
            )
        pipeline, plan = checked.pipeline, checked.plan
        values = self.resolve_params(path, pipeline, params)
        return file, pipeline, plan, values

    @staticmethod
    def partial(body: dict[str, Any], plan: Any) -> dict[str, Any]:
        """A partial run's choice from the request (``only``, ``from``, ``to``: node names, a
        name or a list), checked against the plan: 400 naming the field and the node."""
        from ..localrun.partial import SelectionError, select

        asked: dict[str, Any] = {}
        for name in ("only", "from", "to"):
            value = body.get(name)
            if value is None or value == [] or value == "":
                continue
            if isinstance(value, str):
                value = [value]
            if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
                raise ServiceError(
                    f"'{name}' must be a node (task id, node id or label) or a list of them.",
                    400,
                    field=name,
                )
            asked[name] = value
        if asked:
            try:
                select(plan, only=asked.get("only"), start=asked.get("from"), end=asked.get("to"))
            except SelectionError as exc:
                field = next((n for n in asked if f"{n}:" in str(exc)), next(iter(asked)))
                raise ServiceError(str(exc), 400, field=field) from None
        return asked

    @staticmethod
    def resolve_params(path: Any, pipeline: Any, params: dict[str, Any]) -> dict[str, Any]:
        """Every parameter's value for a run (400 naming the parameter when one is bad)."""
        from ..localrun.params import ParameterError, resolve_params

        try:
            return resolve_params(pipeline.parameters, params)
        except ParameterError as exc:
            raise ServiceError(f"Pipeline '{path}': {exc}", 400, field="params") from None

    # -- runs ------------------------------------------------------------------------------

    def start(self, body: dict[str, Any], *, require_partial: bool = False) -> dict[str, Any]:
        """``POST runs``: a local run in the background, or an Airflow run (publishing first if asked)."""
        name = body.get("runtime_config")
        config = self.config(name)
        params = self._params(body.get("params"))
        if config.get("type") == "local":
            if body.get("publish"):
                raise ServiceError(
                    "'publish' applies to Airflow runtime configurations only.",
                    400,
                    field="publish",
                )
            cache = body.get("cache", True)
            if not isinstance(cache, bool):
                raise ServiceError("'cache' must be true or false.", 400, field="cache")
            file, pipeline, plan, values = self._prepare(
                body.get("path"), body.get("content"), params, name
            )
            asked = self.partial(body, plan)
            if require_partial and not asked:
                raise ServiceError("Choose the nodes to run again (only, from or to).", 400)
            local = config["local"]
            python = (
                local.get("runner_python")
                or os.environ.get("MLPIPE_RUNNER_PYTHON")
                or sys.executable
            )
            return self.local.start(
                file=file,
                text=body.get("content"),
                params=values,
                runtime_config=name,
                artifacts_root=Path(local["artifacts_path"]),
                dag_id=plan.dag_id,
                pipeline=self.workspace.relative(file),
                tasks=plan.task_summaries(),
                images=self.catalogs.images(),
                python=python,
                root=self.services.root,
                cache=cache,
                partial=asked,
            )
        for key in ("only", "from", "to"):
            if body.get(key):
                raise ServiceError(
                    f"'{key}' starts a partial run on this machine; on Airflow, clear the chosen "
                    "tasks of a run instead (POST runs/<config>/<dag>/<run>/clear).",
                    400,
                    field=key,
                )
        return self._airflow_runs(name, config).start(self, body, params)

    def list(
        self,
        *,
        runtime_config: str | None = None,
        dag_id: str | None = None,
        path: str | None = None,
        limit: Any = None,
    ) -> dict[str, Any]:
        try:
            limit = DEFAULT_LIMIT if limit in (None, "") else int(limit)
        except (TypeError, ValueError):
            raise ServiceError("'limit' must be a whole number.", 400, field="limit") from None
        if limit < 1 or limit > 1000:
            raise ServiceError("'limit' must be between 1 and 1000.", 400, field="limit")
        if dag_id is not None and dag_id != "" and not safe_id(dag_id):
            raise ServiceError(f"'{dag_id}' is not a DAG id.", 400, field="dag_id")
        wanted_path = None
        if path:
            wanted_path = self.workspace.relative(self.workspace.resolve(path))
            if not dag_id:
                dag_id = self._dag_id_of(path)

        def match(run: dict[str, Any]) -> bool:
            return not wanted_path or (
                run["pipeline"] in (None, wanted_path) and run["dag_id"] == dag_id
            )

        runs: list[dict[str, Any]] = []
        runs += self.local.list(
            self._local_roots(runtime_config),
            display=self.display,
            dag_id=dag_id or None,
            limit=limit,
            match=match,
        )
        if runtime_config:
            config = self.config(runtime_config)
            if config.get("type") == "airflow":
                if not dag_id:
                    raise ServiceError(
                        "Listing Airflow runs needs a DAG id or a pipeline path.",
                        400,
                        field="dag_id",
                    )
                runs += self._airflow_runs(runtime_config, config).list(
                    dag_id, limit=limit, pipeline=wanted_path
                )
        runs = [r for r in runs if match(r)]
        runs.sort(key=lambda r: (r["started"] or "", r["id"]), reverse=True)
        return {"runs": runs[:limit]}

    def _dag_id_of(self, path: str) -> str:
        return self.pipelines.dag_id(path)

    def get(self, runtime_config: str, dag_id: str, run_id: str) -> dict[str, Any]:
        config = self.config(runtime_config)
        if config.get("type") == "local":
            return self.local.get(
                Path(config["local"]["artifacts_path"]),
                dag_id,
                run_id,
                runtime_config=runtime_config,
                display=self.display,
            )
        return self._airflow_runs(runtime_config, config).get(dag_id, run_id)

    def logs(
        self,
        runtime_config: str,
        dag_id: str,
        run_id: str,
        task_id: str,
        *,
        try_number: Any = None,
        offset: Any = None,
    ) -> dict[str, Any]:
        try:
            offset = int(offset or 0)
            try_number = None if try_number in (None, "") else int(try_number)
        except (TypeError, ValueError):
            raise ServiceError("'offset' and 'try_number' must be whole numbers.", 400) from None
        if offset < 0 or (try_number is not None and try_number < 0):
            raise ServiceError("'offset' and 'try_number' cannot be negative.", 400)
        config = self.config(runtime_config)
        if config.get("type") == "local":
            return self.local.logs(
                Path(config["local"]["artifacts_path"]),
                dag_id,
                run_id,
                task_id,
                offset=offset,
                runtime_config=runtime_config,
                display=self.display,
            )
        return self._airflow_runs(runtime_config, config).logs(
            dag_id, run_id, task_id, try_number=try_number, offset=offset
        )

    def cancel(self, runtime_config: str, dag_id: str, run_id: str) -> dict[str, Any]:
        config = self.config(runtime_config)
        if config.get("type") == "local":
            return self.local.cancel(
                Path(config["local"]["artifacts_path"]),
                dag_id,
                run_id,
                runtime_config=runtime_config,
                display=self.display,
            )
        return self._airflow_runs(runtime_config, config).cancel(dag_id, run_id)

    def clear(
        self, runtime_config: str, dag_id: str, run_id: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        """``POST runs/<config>/<dag>/<run>/clear``: run part of a finished run again (``only``,
        ``from``, ``to``). Airflow: its chosen tasks are cleared and run again in that run. Local:
        a new partial run of the same pipeline with the same parameters starts (the tasks not
        chosen reuse earlier results), answered like ``POST runs``."""
        config = self.config(runtime_config)
        if not isinstance(body, dict):
            raise ServiceError("The request body must be a JSON object.", 400)
        if config.get("type") == "local":
            run = self.get(runtime_config, dag_id, run_id)
            if not run.get("pipeline"):
                raise ServiceError(
                    f"Run '{run_id}' does not say which pipeline it ran (it lies outside the "
                    "server root); start a partial run of the pipeline instead.",
                    409,
                )
            return self.start(
                {
                    **{k: body[k] for k in ("only", "from", "to", "cache") if k in body},
                    "path": run["pipeline"],
                    "runtime_config": runtime_config,
                    "params": run.get("params") or {},
                },
                require_partial=True,
            )
        asked = {}
        for name in ("only", "from", "to"):
            value = body.get(name)
            if value in (None, "", []):
                continue
            value = [value] if isinstance(value, str) else value
            if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
                raise ServiceError(
                    f"'{name}' must be a task id (or node id, label) or a list of them.",
                    400,
                    field=name,
                )
            asked[name] = value
        return self._airflow_runs(runtime_config, config).clear(dag_id, run_id, asked)

    def decide(
        self,
        runtime_config: str,
        dag_id: str,
        run_id: str,
        task_id: str,
        decision: Any,
        comment: Any = None,
        *,
        by: str | None = None,
    ) -> dict[str, Any]:
        """An approval gate's decision ("approve" or "reject", with an optional comment): a local
        run's gate reads it from the decision file written here; on Airflow 3.1+ it is the
        gate's human-in-the-loop response. Returns the run (the gate decided when it saw it)."""
        if decision not in DECISIONS:
            raise ServiceError("'decision' must be 'approve' or 'reject'.", 400, field="decision")
        if comment is not None and not isinstance(comment, str):
            raise ServiceError("'comment' must be text.", 400, field="comment")
        if comment is not None and len(comment) > MAX_COMMENT:
            raise ServiceError(
                f"'comment' is longer than {MAX_COMMENT} characters.", 400, field="comment"
            )
        if not safe_id(task_id):
            raise ServiceError(f"Run '{run_id}' has no task '{task_id}'.", 404)
        config = self.config(runtime_config)
        if config.get("type") == "local":
            return self.local.decide(
                Path(config["local"]["artifacts_path"]),
                dag_id,
                run_id,
                task_id,
                decision,
                comment or None,
                by=by,
                runtime_config=runtime_config,
                display=self.display,
            )
        return self._airflow_runs(runtime_config, config).decide(
            dag_id, run_id, task_id, decision, comment or None
        )

    def publish_status(self, body: dict[str, Any]) -> dict[str, Any]:
        name = body.get("runtime_config")
        config = self.config(name)
        if config.get("type") != "airflow":
            raise ServiceError(
                f"Runtime configuration '{name}' is not an Airflow one; local runs need no import.",
                400,
                field="runtime_config",
            )
        dag_id = body.get("dag_id")
        if not safe_id(dag_id):
            raise ServiceError("Give the DAG id.", 400, field="dag_id")
        commit = body.get("commit")
        if commit is not None and not (
            isinstance(commit, str) and commit.isalnum() and 7 <= len(commit) <= 64
        ):
            raise ServiceError("'commit' must be a git commit id.", 400, field="commit")
        return self._airflow_runs(name, config).import_status(dag_id, commit)

    # -- Airflow ---------------------------------------------------------------------------

    def _airflow_runs(self, name: str, config: dict[str, Any]):
        from .airflow import AirflowRuns

        if config.get("type") != "airflow":
            raise ServiceError(
                f"Runtime configuration '{name}' has an unknown type.", 400, field="runtime_config"
            )
        secret_config = self.catalogs.runtime_config(name, with_secrets=True)
        # one client per configuration as long as it is unchanged: it keeps its token and the
        # detected API version (each costs a request to a possibly busy Airflow)
        key = hashlib.sha256(
            json.dumps(secret_config, sort_keys=True, default=str).encode()
        ).hexdigest()
        cached = self._airflow.get(name)
        if cached is None or cached[0] != key:
            cached = self._airflow[name] = (key, AirflowRuns(name, secret_config, self.services))
        return cached[1]
