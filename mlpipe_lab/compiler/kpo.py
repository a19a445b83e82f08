"""Node properties -> KubernetesPodOperator keyword arguments.

Every Elyra generic-node property and every mlpipe task setting is mapped here; the result is a
:class:`~.emit.Call` tree, so user text only ever lands inside literals. Values of Jinja-templated
operator fields go through ``ctx.tpl`` (``{% raw %}`` protection).
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from typing import Any

from ..pipeline.model import Node, Parameter, normalise_entries
from ..runner.contract import RUNNER_DIR, RUNNER_VOLUME, task_arguments
from . import delivery
from .context import Context
from .delivery import OTHER_RUNNER
from .emit import Args, Call, Name, Splat
from .plan import Task

CP = "component_parameters/"
PULL_POLICIES = ("Always", "IfNotPresent", "Never")
SHM_VOLUME = "dshm"
LABEL_DAG = "mlpipe-lab/dag"
LABEL_TASK = "mlpipe-lab/task"
# labels is a templated field: when the task id is a valid label value, every task can share one
# labels dict (module constant) and Airflow fills in the task id when it renders the task.
TASK_ID_TEMPLATE = "{{ task.task_id }}"
NOTEBOOK_PARAMS = "NOTEBOOK_PARAMS"
# What Elyra's palette puts in every new node's description: not worth a task doc.
ELYRA_DEFAULT_DESCRIPTIONS = {"Run notebook file", "Run Python script", "Run R script"}
_UNITLESS = re.compile(r"^[0-9]+(\.[0-9]+)?$")


def task_call(
    ctx: Context, task: Task, dag_id: str, params: list[Parameter], shared: set[str]
) -> Call:
    node = task.node
    props = ctx.pipeline.node_properties(node)
    extra = node.mlpipe
    kw: list[tuple[Any, Any]] = [("task_id", task.task_id)]
    if node.label != task.task_id:
        kw.append(("task_display_name", node.label))
    if node.description and node.description not in ELYRA_DEFAULT_DESCRIPTIONS:
        kw.append(("doc_md", doc_text(node.description)))
    kw += _image(ctx, node, props)

    used = _node_parameters(ctx, node, props, params)
    runner_mode = delivery.mode(ctx, node)
    if ctx.cmds_per_task:
        default = runner_mode == ctx.settings.runner_delivery
        kw.append(("cmds", Name("RUNNER" if default else OTHER_RUNNER[runner_mode])))
    kw.append(("arguments", _arguments(ctx, task, dag_id, props, used, all_params=params)))
    env = {**delivery.env(ctx, node), **_env(ctx, node, props, used)}
    if env:
        kw.append(("env_vars", env))
    secrets = _secrets(ctx, node, props, shared)
    if secrets is not None:
        kw.append(("secrets", secrets))
    resources = _resources(ctx, node, props)
    if resources is not None:
        kw.append(("container_resources", resources))
    volumes, mounts = _volumes(ctx, node, props)
    kw += delivery.task_kwargs(ctx, node)
    if volumes:
        kw.append(("volumes", volumes))
        kw.append(("volume_mounts", mounts))

    kw.append(("labels", _labels(ctx, node, props, dag_id, task.task_id)))
    annotations = _pairs(ctx, node, props, "kubernetes_pod_annotations")
    if annotations:
        kw.append(("annotations", annotations))
    selector = _node_selector(ctx, node, extra)
    if selector:
        kw.append(("node_selector", selector))
    tolerations = _tolerations(ctx, node, props)
    if tolerations:
        kw.append(("tolerations", tolerations))
    account = extra.get("service_account") or ctx.settings.service_account
    if isinstance(account, str) and account:
        kw.append(("service_account_name", account))
    kw += _airflow_settings(ctx, extra)
    kw.append((Splat("POD_SETTINGS"), None))
    return Call("KubernetesPodOperator", kwargs=kw, multiline=True)


def doc_text(text: str) -> str:
    """Airflow reads a doc_md that ends with '.md' as a file name; a trailing newline prevents it."""
    return text + "\n" if text.endswith(".md") else text


# -- image --------------------------------------------------------------------------------------


def _image(ctx: Context, node: Node, props: dict[str, Any]) -> list[tuple[str, Any]]:
    image = props.get("runtime_image")
    image = image if isinstance(image, str) else ""
    out: list[tuple[str, Any]] = [("image", ctx.tpl(image, node, CP + "runtime_image"))]
    entry = ctx.image_entry(image) or {}
    policy = entry.get("pull_policy")
    if policy in PULL_POLICIES:
        out.append(("image_pull_policy", policy))
    names = []
    for name in (entry.get("pull_secret"), ctx.settings.image_pull_secret):
        if isinstance(name, str) and name and name not in names:
            names.append(name)
    if names:
        ctx.uses.add("k8s")
        out.append(
            (
                "image_pull_secrets",
                [Call("k8s.V1LocalObjectReference", kwargs=[("name", n)]) for n in names],
            )
        )
    return out


# -- the runner's arguments and the environment --------------------------------------------------


def param_ref(name: str) -> str:
    """Jinja expression for a DAG param. Names that are also dict/ParamsDict attributes
    (items, keys, update, ...) need the subscript form."""
    if name.startswith("_") or hasattr(dict, name) or name in _PARAMSDICT_ATTRS:
        return f'params["{name}"]'
    return f"params.{name}"


_PARAMSDICT_ATTRS = {
    "validate",
    "dump",
    "get_param",
    "to_dict",
    "serialize",
    "deserialize",
    "suppress_exception",
    "filter_params_by_source",
}


def _node_parameters(
    ctx: Context, node: Node, props: dict[str, Any], params: list[Parameter]
) -> list[Parameter]:
    """The pipeline parameters a node receives: only those it selects (as in Elyra)."""
    return ctx.pipeline.node_parameters(node)


def _arguments(
    ctx: Context,
    task: Task,
    dag_id: str,
    props: dict[str, Any],
    used: list[Parameter],
    all_params: list[Parameter] | None = None,
) -> list[str]:
    """The task's runner arguments. With ``all_params``, a notebook that gets every pipeline
    parameter refers to the module constant NOTEBOOK_PARAMS (see notebook_param_args) instead of
    repeating the same ``--param`` arguments in each task."""
    node = task.node
    ref = (ctx.bundles or {}).get(node.id)
    key = getattr(ref, "key", None) or (ref.get("key") if isinstance(ref, dict) else None)
    if not key:
        key = f"{dag_id}/bundles/{task.task_id}.tar.gz"
        if ctx.bundles is not None:
            ctx.warn(
                "bundles",
                "No bundle was built for this node; the DAG refers to a placeholder key.",
                node=node,
            )
    outputs = [o for o in props.get("outputs") or [] if isinstance(o, str) and o]
    notebook_params = []
    shared = bool(all_params) and task.kind == "notebook" and used == all_params
    if task.kind == "notebook" and not shared:
        notebook_params = _notebook_params(used)
    args = Args(
        task_arguments(
            kind=task.kind,
            file=ctx.tpl(task.file, node, CP + "filename"),
            bundle=ctx.tpl(key, node),
            task_id=task.task_id,
            outputs=[ctx.tpl(o, node, CP + "outputs") for o in outputs],
            upstream=task.data_upstream,
            params=notebook_params,
        )
    )
    if shared:
        ctx.uses.add(NOTEBOOK_PARAMS)
        args.append(Splat(NOTEBOOK_PARAMS))  # the --param arguments come last, as above
    return args


def _notebook_params(used: list[Parameter]) -> list[tuple[str, str]]:
    return [(p.name, "{{ " + param_ref(p.name) + " | tojson }}") for p in used]


def notebook_param_args(params: list[Parameter]) -> Args:
    """The value of NOTEBOOK_PARAMS: ``--param NAME=JSON`` for every pipeline parameter."""
    args = Args()
    for name, value in _notebook_params(params):
        args += ["--param", f"{name}={value}"]
    return args


def store_env(ctx: Context) -> dict[str, str]:
    """Plain environment for the object store (the endpoint, never credentials)."""
    s = ctx.settings
    env = {}
    if s.store == "s3" and s.endpoint:
        env["AWS_ENDPOINT_URL"] = ctx.tpl(s.endpoint)
    if s.store == "s3" and s.region:
        env["AWS_DEFAULT_REGION"] = ctx.tpl(s.region)
    return env


def _env(ctx: Context, node: Node, props: dict[str, Any], used: list[Parameter]) -> dict[str, str]:
    """The task's plain environment, in order: object store, node (with defaults), parameters."""
    env = store_env(ctx)
    for entry in normalise_entries("env_vars", props.get("env_vars")):
        name = entry.get("env_var")
        if not isinstance(name, str) or not name:
            continue
        value = entry.get("value")
        value = "" if value is None else value if isinstance(value, str) else str(value)
        if "\r" in value:
            ctx.warn(
                "template-text",
                f"Environment variable '{name}': carriage returns become line "
                "feeds when Airflow renders the value.",
                node=node,
                path=CP + "env_vars",
            )
        env[name] = ctx.tpl(value, node, CP + "env_vars")
    for p in used:
        if p.name in env:
            ctx.warn(
                "env-conflict",
                f"Environment variable '{p.name}' is also a pipeline parameter; "
                "the parameter's value is used.",
                node=node,
                path=CP + "env_vars",
            )
        env[p.name] = "{{ " + param_ref(p.name) + " }}"
    return env


def _secrets(ctx: Context, node: Node, props: dict[str, Any], shared: set[str]) -> Any:
    own = []
    plain = {e.get("env_var") for e in normalise_entries("env_vars", props.get("env_vars"))}
    for entry in normalise_entries("kubernetes_secrets", props.get("kubernetes_secrets")):
        var, name, key = entry.get("env_var"), entry.get("name"), entry.get("key")
        if not (
            isinstance(var, str)
            and var
            and isinstance(name, str)
            and name
            and isinstance(key, str)
            and key
        ):
            continue
        if var in plain:
            ctx.warn(
                "env-conflict",
                f"Environment variable '{var}' is set both as plain text and from "
                "a secret; the secret wins.",
                node=node,
                path=CP + "kubernetes_secrets",
            )
        ctx.uses.add("Secret")
        own.append(Call("Secret", "env", var, name, key))
    if "STORE_SECRETS" in shared:
        return Name("STORE_SECRETS") if not own else [Splat("STORE_SECRETS"), *own]
    return own or None


# -- resources and volumes ----------------------------------------------------------------------


def _number_text(value: float) -> str:
    if float(value).is_integer():
        return str(int(value))
    return format(value, "f").rstrip("0").rstrip(".")


def cpu_quantity(value: Any) -> str | None:
    """Elyra CPU (cores, possibly fractional) -> Kubernetes quantity: 2 -> "2", 0.5 -> "500m"."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        if value <= 0:
            return None
        if float(value).is_integer():
            return str(int(value))
        return f"{max(1, round(value * 1000))}m"
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def memory_quantity(value: Any) -> str | None:
    """Elyra memory (a number = GB) -> quantity: 8 -> "8G", 0.5 -> "500M"; units pass through."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        if value <= 0:
            return None
        if float(value).is_integer():
            return f"{int(value)}G"
        return f"{max(1, round(value * 1000))}M"
    if isinstance(value, str) and value.strip():
        text = value.strip()
        return text + "G" if _UNITLESS.match(text) else text
    return None


def _resources(ctx: Context, node: Node, props: dict[str, Any]) -> Call | None:
    requests: dict[str, str] = {}
    limits: dict[str, str] = {}
    for key, target, name, conv in (
        ("cpu", requests, "cpu", cpu_quantity),
        ("memory", requests, "memory", memory_quantity),
        ("cpu_limit", limits, "cpu", cpu_quantity),
        ("memory_limit", limits, "memory", memory_quantity),
    ):
        if props.get(key) in (None, ""):
            continue
        quantity = conv(props[key])
        if quantity is None:
            ctx.error(
                "resources",
                f"{key}: {props[key]!r} is not a valid amount.",
                node=node,
                path=CP + key,
            )
        else:
            target[name] = ctx.tpl(quantity, node, CP + key)
    gpu = props.get("gpu")
    if isinstance(gpu, int) and not isinstance(gpu, bool) and gpu > 0:
        vendor = props.get("gpu_vendor")
        vendor = vendor if isinstance(vendor, str) and vendor else "nvidia.com/gpu"
        limits[vendor] = str(gpu)
    if not requests and not limits:
        return None
    ctx.uses.add("k8s")
    kw = []
    if requests:
        kw.append(("requests", dict(sorted(requests.items()))))
    if limits:
        kw.append(("limits", dict(sorted(limits.items()))))
    return Call("k8s.V1ResourceRequirements", kwargs=kw)


def _dns_label(text: str, used: set[str]) -> str:
    base = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")[:55].strip("-") or "vol"
    name, n = base, 1
    while name in used:
        n += 1
        name = f"{base}-{n}"
    used.add(name)
    return name


def _volumes(ctx: Context, node: Node, props: dict[str, Any]) -> tuple[list[Call], list[Call]]:
    volumes: list[Call] = []
    mounts: list[Call] = []
    used = {SHM_VOLUME, RUNNER_VOLUME}
    by_claim: dict[str, str] = {}
    for entry in normalise_entries("mounted_volumes", props.get("mounted_volumes")):
        path, claim = entry.get("path"), entry.get("pvc_name")
        if not (isinstance(path, str) and path and isinstance(claim, str) and claim):
            continue
        if path.rstrip("/") == RUNNER_DIR:
            ctx.error(
                "volume",
                f"{RUNNER_DIR} is where the node runner is copied into the pod; mount the volume "
                "elsewhere.",
                node=node,
                path=CP + "mounted_volumes",
            )
            continue
        if path.rstrip("/") == "/dev/shm":
            ctx.error(
                "volume",
                "/dev/shm is reserved for shared memory; set the shared memory size instead.",
                node=node,
                path=CP + "mounted_volumes",
            )
            continue
        if claim not in by_claim:
            by_claim[claim] = _dns_label("pvc-" + claim, used)
            volumes.append(
                Call(
                    "k8s.V1Volume",
                    kwargs=[
                        ("name", by_claim[claim]),
                        (
                            "persistent_volume_claim",
                            Call(
                                "k8s.V1PersistentVolumeClaimVolumeSource",
                                kwargs=[("claim_name", ctx.tpl(claim, node))],
                            ),
                        ),
                    ],
                )
            )
        mkw: list[tuple[str, Any]] = [("name", by_claim[claim]), ("mount_path", path)]
        sub_path = entry.get("sub_path")
        if isinstance(sub_path, str) and sub_path:
            mkw.append(("sub_path", ctx.tpl(sub_path, node, CP + "mounted_volumes")))
        if entry.get("read_only") is True:
            mkw.append(("read_only", True))
        mounts.append(Call("k8s.V1VolumeMount", kwargs=mkw))
    shm = props.get("kubernetes_shared_mem_size")
    if isinstance(shm, dict):
        size = shm.get("size")
        if isinstance(size, (int, float)) and not isinstance(size, bool) and size > 0:
            units = (
                shm.get("units") if isinstance(shm.get("units"), str) and shm.get("units") else "G"
            )
            volumes.append(
                Call(
                    "k8s.V1Volume",
                    kwargs=[
                        ("name", SHM_VOLUME),
                        (
                            "empty_dir",
                            Call(
                                "k8s.V1EmptyDirVolumeSource",
                                kwargs=[
                                    ("medium", "Memory"),
                                    ("size_limit", _number_text(size) + units),
                                ],
                            ),
                        ),
                    ],
                )
            )
            mounts.append(
                Call("k8s.V1VolumeMount", kwargs=[("name", SHM_VOLUME), ("mount_path", "/dev/shm")])
            )
    if volumes:
        ctx.uses.add("k8s")
    return volumes, mounts


# -- metadata and scheduling ---------------------------------------------------------------------


@lru_cache(maxsize=16384)  # the DAG's label is asked for once per task
def label_value(text: str) -> str:
    """A valid Kubernetes label value (<= 63 chars of [A-Za-z0-9._-], alphanumeric at both ends)
    that still identifies the text: a long value keeps a hash of the whole."""
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:10]
    value = re.sub(r"[^A-Za-z0-9._-]", "_", text)
    value = re.sub(r"^[^A-Za-z0-9]+|[^A-Za-z0-9]+$", "", value)
    if len(value) > 63:
        value = value[:52].rstrip("._-") + "-" + digest
    return value or digest


def _pairs(ctx: Context, node: Node, props: dict[str, Any], kind: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for entry in normalise_entries(kind, props.get(kind)):
        key, value = entry.get("key"), entry.get("value")
        if isinstance(key, str) and key:
            out[key] = ctx.tpl(
                value if isinstance(value, str) else "" if value is None else str(value),
                node,
                CP + kind,
            )
    return dict(sorted(out.items()))


def _labels(
    ctx: Context, node: Node, props: dict[str, Any], dag_id: str, task_id: str
) -> dict[str, str]:
    labels = _pairs(ctx, node, props, "kubernetes_pod_labels")
    for ours in (LABEL_DAG, LABEL_TASK):
        if ours in labels:
            ctx.warn(
                "label",
                f"Pod label '{ours}' is set by mlpipe-lab; your value is replaced.",
                node=node,
                path=CP + "kubernetes_pod_labels",
            )
    labels[LABEL_DAG] = label_value(dag_id)
    value = label_value(task_id)
    labels[LABEL_TASK] = TASK_ID_TEMPLATE if value == task_id else value
    return dict(sorted(labels.items()))


def _node_selector(ctx: Context, node: Node, extra: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for entry in extra.get("node_selector") or []:
        if isinstance(entry, dict) and isinstance(entry.get("key"), str) and entry["key"]:
            value = entry.get("value")
            out[entry["key"]] = ctx.tpl(
                value if isinstance(value, str) else "", node, "mlpipe/node_selector"
            )
    return dict(sorted(out.items()))


def _tolerations(ctx: Context, node: Node, props: dict[str, Any]) -> list[Call]:
    out = []
    for entry in normalise_entries("kubernetes_tolerations", props.get("kubernetes_tolerations")):
        kw = []
        operator = entry.get("operator") or "Equal"
        for field in ("key", "operator", "value", "effect"):
            value = operator if field == "operator" else entry.get(field)
            if field == "value" and operator == "Exists":
                if value:
                    ctx.warn(
                        "toleration",
                        "A toleration with operator Exists takes no value; the value is left out.",
                        node=node,
                        path=CP + "kubernetes_tolerations",
                    )
                continue
            if isinstance(value, str) and value:
                kw.append((field, value))
        ctx.uses.add("k8s")
        out.append(Call("k8s.V1Toleration", kwargs=kw))
    return out


def _seconds(value: Any) -> Call | None:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return Call("timedelta", kwargs=[("seconds", value)])
    return None


def _airflow_settings(ctx: Context, extra: dict[str, Any]) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    if isinstance(extra.get("retries"), int) and not isinstance(extra.get("retries"), bool):
        out.append(("retries", extra["retries"]))
    for key, arg in (
        ("retry_delay_seconds", "retry_delay"),
        ("execution_timeout_seconds", "execution_timeout"),
    ):
        delta = _seconds(extra.get(key))
        if delta is not None:
            ctx.uses.add("timedelta")
            out.append((arg, delta))
    for key in ("trigger_rule", "pool"):
        if isinstance(extra.get(key), str) and extra[key]:
            out.append((key, extra[key]))
    if isinstance(extra.get("priority_weight"), int) and not isinstance(
        extra.get("priority_weight"), bool
    ):
        out.append(("priority_weight", extra["priority_weight"]))
    return out
