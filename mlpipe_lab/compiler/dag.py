"""Pipeline-level parts of the generated module: imports, shared constants, the DAG() call, params."""

from __future__ import annotations

import datetime as _dt
import math
import re
from typing import Any

from ..pipeline.model import Parameter
from ..pipeline.schedule import ScheduleError
from ..pipeline.schedule import parse as parse_schedule
from ..runner.contract import runner_command, store_arguments
from .context import Context
from .delivery import OTHER_RUNNER
from .emit import Args, Call, Name
from .kpo import doc_text

_PARAM_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
PARAM_TYPES = ("string", "integer", "number", "boolean")
FIXED_TAG = "mlpipe-lab"
DEFAULT_START = "2024-01-01"
LOCAL_WORKER = "local-worker"


def imports(uses: set[str], target: str | None) -> list[str]:
    """Import lines that work on Airflow 3.x and 2.10+ (or only one of them for a fixed target)."""
    lines = []
    if "timedelta" in uses:
        lines += ["from datetime import timedelta", ""]
    lines.append("import pendulum")
    names = "DAG, Param" if "Param" in uses else "DAG"
    if target == "3":
        lines.append(f"from airflow.sdk import {names}")
    elif target == "2":
        lines.append("from airflow import DAG")
        if "Param" in uses:
            lines.append("from airflow.models.param import Param")
    else:
        lines += [
            "try:",
            f"    from airflow.sdk import {names}",
            "except ImportError:  # Airflow 2.10+",
            "    from airflow import DAG",
        ]
        if "Param" in uses:
            lines.append("    from airflow.models.param import Param")
    if "BashOperator" in uses:
        lines += _bash_import(target)
    else:
        lines.append(
            "from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator"
        )
    if "Secret" in uses:
        lines.append("from airflow.providers.cncf.kubernetes.secret import Secret")
    if "k8s" in uses:
        lines.append("from kubernetes.client import models as k8s")
    return lines


def _bash_import(target: str | None) -> list[str]:
    new = "from airflow.providers.standard.operators.bash import BashOperator"
    old = "from airflow.operators.bash import BashOperator"
    if target == "3":
        return [new]
    if target == "2":
        return [old]
    return [
        "try:",
        "    " + new,
        "except ImportError:  # Airflow 2.10+ without the standard provider",
        "    " + old,
    ]


def store_prefix(ctx: Context) -> str:
    """The config's key prefix joined with the pipeline's Elyra cos_object_prefix."""
    parts = [ctx.settings.prefix or "", ctx.pipeline.defaults.get("cos_object_prefix") or ""]
    return "/".join(p.strip("/") for p in parts if isinstance(p, str) and p.strip("/"))


def shared_constants(ctx: Context, dag_id: str) -> list[tuple[str, Any]]:
    """Module constants every task uses: the runner command, storage env and secrets, pod settings."""
    s = ctx.settings
    out: list[tuple[str, Any]] = []
    local_worker = s.type == "airflow" and s.execution_mode == LOCAL_WORKER
    if s.type == "airflow" and s.execution_mode not in ("kubernetes", LOCAL_WORKER):
        ctx.warn(
            "execution-mode",
            f"Execution mode '{s.execution_mode}' is not supported yet; "
            "tasks run as Kubernetes pods.",
        )
    if s.store is None:
        ctx.error(
            "object-storage",
            f"Runtime configuration '{s.name}' has no object storage, so node "
            "files cannot reach the task pods; add object storage (endpoint and bucket).",
        )
        store = {"store": "s3", "bucket": "unset"}
    elif s.store == "local":
        store = {"store": "local", "root": ctx.tpl(s.root or "")}
    else:
        store = {"store": "s3", "bucket": ctx.tpl(s.bucket or "")}
        for key in ("endpoint", "region"):
            if getattr(s, key):
                store[key] = ctx.tpl(getattr(s, key))
        prefix = store_prefix(ctx)
        if prefix:
            store["prefix"] = ctx.tpl(prefix, path="properties/pipeline_defaults/cos_object_prefix")
    shared_args = store_arguments(run_prefix=f"{dag_id}/runs/" + "{{ run_id }}", **store)
    ctx.store_args = shared_args
    if local_worker:
        return _local_worker_constants(ctx, shared_args)
    # RUNNER: the command of the configuration's delivery; tasks whose image says otherwise name
    # the other constant (see delivery.py)
    out.append(("RUNNER", Args(runner_command(delivery=s.runner_delivery) + shared_args)))
    for other in sorted(ctx.delivery_modes - {s.runner_delivery}):
        out.append((OTHER_RUNNER[other], Args(runner_command(delivery=other) + shared_args)))

    if s.store == "s3":
        if s.pod_secret:
            ctx.uses.add("Secret")
            out.append(
                (
                    "STORE_SECRETS",
                    [
                        Call("Secret", "env", var, s.pod_secret, var)
                        for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
                    ],
                )
            )
        elif s.auth_type != "irsa":
            ctx.warn(
                "object-storage",
                f"Runtime configuration '{s.name}' names no credentials Secret for "
                "task pods (object_storage.pod_credentials_secret), so pods reach the storage only "
                "with ambient credentials (e.g. IAM roles for service accounts).",
            )

    # Serve tasks run other commands (and Kaniko its own): then each runner task names RUNNER.
    pod: list[tuple[str, Any]] = [] if ctx.cmds_per_task else [("cmds", Name("RUNNER"))]
    if s.namespace:
        pod.append(("namespace", ctx.tpl(s.namespace)))
    if s.in_cluster is not None:
        pod.append(("in_cluster", s.in_cluster))
    if s.config_file:
        pod.append(("config_file", ctx.tpl(s.config_file)))
    if s.cluster_context:
        pod.append(("cluster_context", ctx.tpl(s.cluster_context)))
    pod += [("get_logs", True), ("on_finish_action", "delete_succeeded_pod")]
    out.append(("POD_SETTINGS", Call("dict", kwargs=pod, multiline=True)))
    return out


def _local_worker_constants(ctx: Context, shared_args: list[str]) -> list[tuple[str, Any]]:
    """local-worker mode: tasks are BashOperators; the runner's shared arguments go into each
    task's command, the worker's environment (credentials included) is passed on."""
    s = ctx.settings
    ctx.uses.add("BashOperator")
    ctx.runner_store_args = shared_args
    if s.pod_secret:
        ctx.warned.add("secrets")
        ctx.warn(
            "local-worker",
            f"Runtime configuration '{s.name}' names a Kubernetes Secret for the object "
            "storage credentials, which execution mode 'local-worker' cannot use: tasks reach the "
            "storage with the Airflow worker's own credentials (its environment).",
            kind="secrets",
        )
    return [
        (
            "TASK_SETTINGS",
            Call("dict", kwargs=[("append_env", True), ("do_xcom_push", False)], multiline=True),
        )
    ]


def _schedule(ctx: Context) -> str | None:
    """The schedule as it goes into the DAG (pipeline/schedule.py checks it), None for manual."""
    try:
        schedule = parse_schedule(ctx.pipeline.mlpipe.get("schedule"))
    except ScheduleError as exc:
        ctx.error("schedule", exc.message, path="mlpipe/schedule")
        return None
    return schedule.text if schedule else None


def _start_date(ctx: Context) -> Call:
    value = ctx.pipeline.mlpipe.get("start_date") or DEFAULT_START
    try:
        day = _dt.date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        day = None
    if day is None:
        ctx.error(
            "start-date",
            f"Start date {value!r} is not a date (YYYY-MM-DD).",
            path="mlpipe/start_date",
        )
        day = _dt.date.fromisoformat(DEFAULT_START)
    return Call("pendulum.datetime", day.year, day.month, day.day, kwargs=[("tz", "UTC")])


def _int(value: Any, default: int | None) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _finite(value: Any) -> bool:
    return not isinstance(value, float) or math.isfinite(value)


def param_call(ctx: Context, p: Parameter, index: int, scheduled: bool) -> Call | None:
    path = f"mlpipe/parameters/{index}"
    if not isinstance(p.name, str) or not _PARAM_NAME.match(p.name):
        ctx.error(
            "parameter",
            f"Parameter name {p.name!r} must be a Python identifier (letters, digits, _).",
            path=path + "/name",
        )
        return None
    if p.type not in PARAM_TYPES:
        ctx.error(
            "parameter",
            f"Parameter '{p.name}': type {p.type!r} is not one of {', '.join(PARAM_TYPES)}.",
            path=path + "/type",
        )
        return None
    for key in ("default", "minimum", "maximum"):
        if not _finite(getattr(p, key)):
            ctx.error(
                "parameter",
                f"Parameter '{p.name}': {key} must be a finite number.",
                path=f"{path}/{key}",
            )
            return None
    if p.enum is not None and not all(_finite(v) for v in p.enum):
        ctx.error(
            "parameter",
            f"Parameter '{p.name}': allowed values must be finite.",
            path=path + "/enum",
        )
        return None
    numeric = p.type in ("integer", "number")
    if p.default is not None:
        if p.enum is not None and p.default not in p.enum:
            ctx.error(
                "parameter",
                f"Parameter '{p.name}': default {p.default!r} is not an allowed value.",
                path=path + "/default",
            )
        if numeric and isinstance(p.default, (int, float)) and not isinstance(p.default, bool):
            if p.minimum is not None and p.default < p.minimum:
                ctx.error(
                    "parameter",
                    f"Parameter '{p.name}': default {p.default} is below the minimum {p.minimum}.",
                    path=path + "/default",
                )
            if p.maximum is not None and p.default > p.maximum:
                ctx.error(
                    "parameter",
                    f"Parameter '{p.name}': default {p.default} is above the maximum {p.maximum}.",
                    path=path + "/default",
                )
    elif p.required and scheduled:
        ctx.error(
            "parameter",
            f"Parameter '{p.name}' is required and has no default, which Airflow refuses "
            "for a scheduled DAG; give it a default or remove the schedule.",
            path=path + "/default",
        )
    args: list[Any] = []
    nullable = p.default is None and not p.required
    if p.default is not None or nullable:
        args.append(p.default)
    kw: list[tuple[str, Any]] = [("type", ["null", p.type] if nullable else p.type)]
    if p.enum is not None:
        enum = list(p.enum)
        kw.append(("enum", enum + [None] if nullable and None not in enum else enum))
    if numeric:
        for key in ("minimum", "maximum"):
            value = getattr(p, key)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                kw.append((key, value))
    if p.description:
        kw.append(("description", p.description))
    return Call("Param", *args, kwargs=kw)


def dag_call(ctx: Context, dag_id: str, params: list[Parameter]) -> Call:
    p = ctx.pipeline
    m = p.mlpipe
    kw: list[tuple[str, Any]] = [("dag_id", dag_id)]
    if p.name != dag_id:
        kw.append(("dag_display_name", p.name))
    if p.description:
        kw.append(("description", p.description))
    if isinstance(m.get("doc_md"), str) and m["doc_md"]:
        kw.append(("doc_md", doc_text(m["doc_md"])))
    schedule = _schedule(ctx)
    kw.append(("schedule", schedule))
    kw.append(("start_date", _start_date(ctx)))
    kw.append(("catchup", m.get("catchup") is True))
    max_runs = _int(m.get("max_active_runs"), 1)
    if schedule == "@continuous" and max_runs != 1:
        ctx.error(
            "schedule",
            "A continuous schedule needs at most 1 active run.",
            path="mlpipe/max_active_runs",
        )
    kw.append(("max_active_runs", max_runs))
    timeout = _int(m.get("dagrun_timeout_seconds"), None)
    if timeout:
        ctx.uses.add("timedelta")
        kw.append(("dagrun_timeout", Call("timedelta", kwargs=[("seconds", timeout)])))
    kw.append(("is_paused_upon_creation", m.get("is_paused_upon_creation") is not False))
    tags = {t for t in m.get("tags") or [] if isinstance(t, str) and t}
    kw.append(("tags", sorted(tags | {FIXED_TAG})))
    kw.append(("default_args", _default_args(ctx)))
    if params:
        entries = {}
        for i, param in enumerate(params):
            call = param_call(ctx, param, i, schedule is not None)
            if call is not None:
                entries[param.name] = call
        if entries:
            ctx.uses.add("Param")
            kw.append(("params", entries))
    return Call("DAG", kwargs=kw, multiline=True)


def _default_args(ctx: Context) -> dict[str, Any]:
    m = ctx.pipeline.mlpipe
    owner = m.get("owner") if isinstance(m.get("owner"), str) and m.get("owner") else "mlpipe"
    args: dict[str, Any] = {"owner": owner, "retries": _int(m.get("retries"), 0)}
    ctx.uses.add("timedelta")
    args["retry_delay"] = Call(
        "timedelta", kwargs=[("seconds", _int(m.get("retry_delay_seconds"), 300))]
    )
    timeout = _int(m.get("execution_timeout_seconds"), None)
    if timeout:
        args["execution_timeout"] = Call("timedelta", kwargs=[("seconds", timeout)])
    return dict(sorted(args.items()))
