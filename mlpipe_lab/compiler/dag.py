"""Pipeline-level parts of the generated module: imports, shared constants, the DAG() call, params."""

from __future__ import annotations

from typing import Any

from ..plan.model import WORKER, ParamSpec, Plan
from ..runner.contract import runner_command
from .context import RenderContext
from .delivery import OTHER_RUNNER
from .emit import Args, Call, Name

LOCAL_WORKER = "local-worker"


def imports(uses: set[str], target: str | None) -> list[str]:
    """Import lines that work on Airflow 3.x and 2.10+ (or only one of them for a fixed target)."""
    lines = []
    if "os" in uses:
        lines += ["import os"]
    if "timedelta" in uses:
        lines += ["from datetime import timedelta"]
    if "os" in uses or "timedelta" in uses:
        lines += [""]
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


def shared_constants(ctx: RenderContext) -> list[tuple[str, Any]]:
    """Module constants every task uses: the runner command, store secrets, pod settings."""
    plan = ctx.plan
    if plan.executor == WORKER:
        ctx.uses.add("BashOperator")
        return [
            (
                "TASK_SETTINGS",
                Call(
                    "dict", kwargs=[("append_env", True), ("do_xcom_push", False)], multiline=True
                ),
            )
        ]
    # RUNNER: the command of the configuration's delivery; tasks whose image says otherwise name
    # the other constant (see delivery.py)
    out: list[tuple[str, Any]] = [
        ("RUNNER", Args(ctx.argv([*plan.runner.program, *plan.runner.shared])))
    ]
    for other in sorted(ctx.delivery_modes - {plan.runner.delivery}):
        program = runner_command(delivery=other)
        out.append((OTHER_RUNNER[other], Args(ctx.argv([*program, *plan.runner.shared]))))
    if plan.store.secrets:
        ctx.uses.add("Secret")
        out.append(("STORE_SECRETS", [ctx.secret(s) for s in plan.store.secrets]))
    # Serve tasks run other commands (and Kaniko its own): then each runner task names RUNNER.
    pod: list[tuple[str, Any]] = [] if ctx.cmds_per_task else [("cmds", Name("RUNNER"))]
    cluster = plan.cluster
    if cluster.namespace:
        pod.append(("namespace", ctx.tpl(cluster.namespace)))
    if cluster.in_cluster is not None:
        pod.append(("in_cluster", cluster.in_cluster))
    if cluster.config_file:
        pod.append(("config_file", ctx.tpl(cluster.config_file)))
    if cluster.context:
        pod.append(("cluster_context", ctx.tpl(cluster.context)))
    pod += [("get_logs", True), ("on_finish_action", "delete_succeeded_pod")]
    out.append(("POD_SETTINGS", Call("dict", kwargs=pod, multiline=True)))
    return out


def doc_text(text: str) -> str:
    """Airflow reads a doc_md that ends with '.md' as a file name; a trailing newline prevents it."""
    return text + "\n" if text.endswith(".md") else text


def param_call(p: ParamSpec) -> Call:
    args: list[Any] = [p.default] if p.has_default else []
    kw: list[tuple[str, Any]] = [("type", ["null", p.type] if p.nullable else p.type)]
    if p.enum is not None:
        kw.append(("enum", list(p.enum)))
    for key in ("minimum", "maximum"):
        value = getattr(p, key)
        if value is not None:
            kw.append((key, value))
    if p.description:
        kw.append(("description", p.description))
    return Call("Param", *args, kwargs=kw)


def _seconds(value: int) -> Call:
    return Call("timedelta", kwargs=[("seconds", value)])


def dag_call(ctx: RenderContext, plan: Plan) -> Call:
    d = plan.dag
    kw: list[tuple[str, Any]] = [("dag_id", d.dag_id)]
    if d.display_name is not None:
        kw.append(("dag_display_name", d.display_name))
    if d.description:
        kw.append(("description", d.description))
    if d.doc_md:
        kw.append(("doc_md", doc_text(d.doc_md)))
    kw.append(("schedule", d.schedule))
    start = d.start_date
    kw.append(
        (
            "start_date",
            Call("pendulum.datetime", start.year, start.month, start.day, kwargs=[("tz", "UTC")]),
        )
    )
    kw.append(("catchup", d.catchup))
    kw.append(("max_active_runs", d.max_active_runs))
    if d.dagrun_timeout:
        ctx.uses.add("timedelta")
        kw.append(("dagrun_timeout", _seconds(d.dagrun_timeout)))
    kw.append(("is_paused_upon_creation", d.paused_on_creation))
    kw.append(("tags", list(d.tags)))
    ctx.uses.add("timedelta")
    default_args: dict[str, Any] = {"owner": d.owner, "retries": d.retries}
    default_args["retry_delay"] = _seconds(d.retry_delay)
    if d.execution_timeout:
        default_args["execution_timeout"] = _seconds(d.execution_timeout)
    kw.append(("default_args", dict(sorted(default_args.items()))))
    if d.params:
        ctx.uses.add("Param")
        kw.append(("params", {p.name: param_call(p) for p in d.params}))
    return Call("DAG", kwargs=kw, multiline=True)
