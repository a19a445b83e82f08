"""A planned pod task -> KubernetesPodOperator keyword arguments (a :class:`~.emit.Call` tree, so
user text only ever lands inside literals; text of Jinja-templated fields is protected with
``{% raw %}``)."""

from __future__ import annotations

from typing import Any

from ..plan.model import Image, Mount, Resources, Task, Toleration, Volume
from ..plan.planner import (  # noqa: F401  (re-exported: tests and other renderers use them)
    ELYRA_DEFAULT_DESCRIPTIONS,
    LABEL_DAG,
    LABEL_TASK,
    cpu_quantity,
    label_value,
    memory_quantity,
)
from . import delivery
from .context import RenderContext, param_ref
from .dag import doc_text
from .emit import Args, Call, Name, Splat

# labels is a templated field: when the task id is a valid label value, every task can share one
# labels dict (module constant) and Airflow fills in the task id when it renders the task.
TASK_ID_TEMPLATE = "{{ task.task_id }}"
NOTEBOOK_PARAMS = "NOTEBOOK_PARAMS"


def task_call(ctx: RenderContext, task: Task) -> Call:
    kw = common(task)
    kw += image(ctx, task.image)
    if ctx.cmds_per_task:
        kw.append(("cmds", Name(delivery.runner_name(ctx, task))))
    kw.append(("arguments", arguments(ctx, task)))
    if task.env:
        kw.append(("env_vars", ctx.env(task.env)))
    secrets = secrets_of(ctx, task)
    if secrets is not None:
        kw.append(("secrets", secrets))
    resources = _resources(ctx, task.resources)
    if resources is not None:
        kw.append(("container_resources", resources))
    kw += delivery.task_kwargs(ctx, task)
    if task.volumes:
        kw += volumes(ctx, task.volumes, task.mounts)
    kw.append(("labels", labels(ctx, task)))
    if task.annotations:
        kw.append(("annotations", {k: ctx.tpl(v) for k, v in task.annotations.items()}))
    if task.node_selector:
        kw.append(("node_selector", {k: ctx.tpl(v) for k, v in task.node_selector.items()}))
    if task.tolerations:
        ctx.uses.add("k8s")
        kw.append(("tolerations", [_toleration(t) for t in task.tolerations]))
    if task.service_account:
        kw.append(("service_account_name", task.service_account))
    if task.returns_result:  # the runner wrote /airflow/xcom/return.json (--result)
        kw.append(("do_xcom_push", True))
    kw += airflow_settings(ctx, task)
    kw.append((Splat("POD_SETTINGS"), None))
    return Call("KubernetesPodOperator", kwargs=kw, multiline=True)


def common(task: Task) -> list[tuple[Any, Any]]:
    kw: list[tuple[Any, Any]] = [("task_id", task.task_id)]
    if task.display_name is not None:
        kw.append(("task_display_name", task.display_name))
    if task.doc:
        kw.append(("doc_md", doc_text(task.doc)))
    return kw


def image(ctx: RenderContext, img: Image | None) -> list[tuple[str, Any]]:
    assert img is not None, "a pod task without an image"
    out: list[tuple[str, Any]] = [("image", ctx.tpl(img.ref))]
    if img.pull_policy:
        out.append(("image_pull_policy", img.pull_policy))
    if img.pull_secrets:
        ctx.uses.add("k8s")
        out.append(
            (
                "image_pull_secrets",
                [
                    Call("k8s.V1LocalObjectReference", kwargs=[("name", n)])
                    for n in img.pull_secrets
                ],
            )
        )
    return out


def shares_notebook_params(ctx: RenderContext, task: Task) -> bool:
    """A notebook that receives every pipeline parameter refers to the module constant
    NOTEBOOK_PARAMS (see notebook_param_args) instead of repeating the ``--param`` arguments."""
    names = [p.name for p in ctx.plan.dag.params]
    return bool(names) and task.kind == "notebook" and task.params == names


def arguments(ctx: RenderContext, task: Task) -> Args:
    """The task's own runner arguments (the shared ones are in RUNNER)."""
    args = task.command.args
    if shares_notebook_params(ctx, task):
        ctx.uses.add(NOTEBOOK_PARAMS)
        # the --param arguments come last (runner contract): the constant takes their place
        own = Args(ctx.argv(args[: len(args) - 2 * len(task.params)]))
        own.append(Splat(NOTEBOOK_PARAMS))
        return own
    return Args(ctx.argv(args))


def notebook_param_args(ctx: RenderContext) -> Args:
    """The value of NOTEBOOK_PARAMS: ``--param NAME=JSON`` for every pipeline parameter."""
    args = Args()
    for p in ctx.plan.dag.params:
        args += ["--param", f"{p.name}=" + "{{ " + param_ref(p.name) + " | tojson }}"]
    return args


def secrets_of(ctx: RenderContext, task: Task) -> Any:
    own = [ctx.secret(s) for s in task.secrets]
    if own:
        ctx.uses.add("Secret")
    if task.store_credentials and "STORE_SECRETS" in ctx.shared:
        return Name("STORE_SECRETS") if not own else [Splat("STORE_SECRETS"), *own]
    return own or None


def _resources(ctx: RenderContext, res: Resources | None) -> Call | None:
    if res is None:
        return None
    ctx.uses.add("k8s")
    kw = []
    if res.requests:
        kw.append(("requests", {k: ctx.tpl(v) for k, v in res.requests.items()}))
    if res.limits:
        kw.append(("limits", {k: ctx.tpl(v) for k, v in res.limits.items()}))
    return Call("k8s.V1ResourceRequirements", kwargs=kw)


def volumes(ctx: RenderContext, vols: list[Volume], mounts: list[Mount]) -> list[tuple[str, Any]]:
    ctx.uses.add("k8s")
    return [
        ("volumes", [_volume(ctx, v) for v in vols]),
        ("volume_mounts", [_mount(ctx, m) for m in mounts]),
    ]


def _volume(ctx: RenderContext, v: Volume) -> Call:
    if v.claim is not None:
        source = (
            "persistent_volume_claim",
            Call(
                "k8s.V1PersistentVolumeClaimVolumeSource", kwargs=[("claim_name", ctx.tpl(v.claim))]
            ),
        )
    elif v.secret is not None:
        kw: list[tuple[str, Any]] = [("secret_name", ctx.tpl(v.secret))]
        if v.items:
            kw.append(
                (
                    "items",
                    [Call("k8s.V1KeyToPath", kwargs=[("key", k), ("path", p)]) for k, p in v.items],
                )
            )
        source = ("secret", Call("k8s.V1SecretVolumeSource", kwargs=kw))
    else:
        kw = [("medium", "Memory")] if v.memory_limit is not None else []
        if v.memory_limit is not None:
            kw.append(("size_limit", v.memory_limit))
        source = ("empty_dir", Call("k8s.V1EmptyDirVolumeSource", kwargs=kw))
    return Call("k8s.V1Volume", kwargs=[("name", v.name), source])


def _mount(ctx: RenderContext, m: Mount) -> Call:
    kw: list[tuple[str, Any]] = [("name", m.volume), ("mount_path", m.path)]
    if m.sub_path:
        kw.append(("sub_path", ctx.tpl(m.sub_path)))
    if m.read_only:
        kw.append(("read_only", True))
    return Call("k8s.V1VolumeMount", kwargs=kw)


def labels(ctx: RenderContext, task: Task) -> dict[str, str]:
    out = {}
    for key, value in task.labels.items():
        if key == LABEL_TASK and value == task.task_id:
            out[key] = TASK_ID_TEMPLATE
        elif key in (LABEL_DAG, LABEL_TASK):
            out[key] = value  # label values: [A-Za-z0-9._-] only
        else:
            out[key] = ctx.tpl(value)
    return out


def _toleration(t: Toleration) -> Call:
    kw = [
        (name, value)
        for name, value in (
            ("key", t.key),
            ("operator", t.operator),
            ("value", t.value),
            ("effect", t.effect),
        )
        if value is not None
    ]
    return Call("k8s.V1Toleration", kwargs=kw)


def _seconds(value: int) -> Call:
    return Call("timedelta", kwargs=[("seconds", value)])


def airflow_settings(ctx: RenderContext, task: Task) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    if task.retries is not None:
        out.append(("retries", task.retries))
    for arg, value in (
        ("retry_delay", task.retry_delay),
        ("execution_timeout", task.execution_timeout),
    ):
        if value is not None:
            ctx.uses.add("timedelta")
            out.append((arg, _seconds(value)))
    for key in ("trigger_rule", "pool"):
        if getattr(task, key):
            out.append((key, getattr(task, key)))
    if task.priority_weight is not None:
        out.append(("priority_weight", task.priority_weight))
    return out


def _airflow_settings(ctx: Any, extra: dict[str, Any]) -> list[tuple[str, Any]]:
    """A node's Airflow task settings as operator arguments, for emitters that do not go through
    the plan yet (operator.py): the planner's reading, rendered as here."""
    from ..plan.model import Command
    from ..plan.planner import read_airflow_settings

    task = Task(task_id="", node_id="", label="", kind="", command=Command([], [], []))
    read_airflow_settings(task, extra)
    return airflow_settings(ctx, task)
