"""The tasks of a "Serve MLflow model" node (see ``plan/serve.py`` for what each step does) ->
KubernetesPodOperator keyword arguments (on the Airflow worker, bash.task_call renders them: the
runner zipapp beside the DAG, as for node tasks)."""

from __future__ import annotations

from typing import Any

from ..plan.model import Task
from . import delivery
from .context import RenderContext
from .emit import Args, Call, Name, Splat
from .kpo import airflow_settings, common, image, labels, secrets_of, volumes


def task_call(ctx: RenderContext, task: Task) -> Call:
    """A KubernetesPodOperator for one step of a serve node: the runner's ``--kind serve`` when
    the init container brings the runner (its command constant holds the store options), else
    ``python3 -m mlpipe_lab.serving.tasks`` with them (the runner in the image), or Kaniko."""
    kw: list[tuple[Any, Any]] = common(task)
    kw += image(ctx, task.image)
    if task.delivery == "init-container":
        kw.append(("cmds", Name(delivery.runner_name(ctx, task))))
        kw.append(("arguments", Args(ctx.argv(task.command.args))))
    else:
        if task.command.program:
            kw.append(("cmds", list(task.command.program)))
        kw.append(("arguments", Args(ctx.argv([*task.command.shared, *task.command.args]))))
    kw += delivery.task_kwargs(ctx, task)
    if task.skip_exit_code is not None:
        kw.append(("skip_on_exit_code", task.skip_exit_code))
    if task.env:
        kw.append(("env_vars", ctx.env(task.env)))
    secrets = secrets_of(ctx, task)
    if secrets is not None:
        kw.append(("secrets", secrets))
    if task.volumes:
        kw += volumes(ctx, task.volumes, task.mounts)
    kw.append(("labels", labels(ctx, task)))
    if task.service_account:
        kw.append(("service_account_name", task.service_account))
    if task.returns_result:
        kw.append(("do_xcom_push", True))
    kw += airflow_settings(ctx, task)
    kw.append((Splat("POD_SETTINGS"), None))
    return Call("KubernetesPodOperator", kwargs=kw, multiline=True)
