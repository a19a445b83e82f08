"""A "Serve MLflow model" node -> the tasks it expands into (see plan.SERVE_STEPS).

With Kubernetes (execution mode ``kubernetes``) every step is a KubernetesPodOperator:

- ``<id>_package``: the runner image runs ``python3 -m mlpipe_lab.serving.tasks package``: resolve
  the version or alias, download the model, upload the build context to the object store, and
  return (XCom) the resolved version, the image reference and the model's storage URI;
- ``<id>_build`` (seldon-v1 only): Kaniko's executor builds the context from ``s3://…`` with the
  object store's pod-credentials Secret and pushes with the docker config of the registry Secret,
  mounted at ``/kaniko/.docker``;
- ``<id>_deploy``: server-side apply of the resources (the node's service account);
- ``<id>_wait``: until the resource's status says it is available, or its conditions in the error;
- ``<id>_smoke``: one request to the in-cluster endpoint, answer checked.

Without Kubernetes (the ``local`` runtime, execution mode ``local-worker``) the node becomes
``<id>_package`` and ``<id>_check`` (the package served on 127.0.0.1 for one request): nothing is
built or deployed. Settings pass to the tasks as JSON (``--spec``); secrets only by Secret name.
"""

from __future__ import annotations

import json
from typing import Any

from ..pipeline.model import Parameter
from ..pipeline.validation import serve_deployment_name
from . import bash
from .context import Context
from .dag import store_prefix
from .emit import Args, Call, Name, Splat
from .kpo import (
    CP,
    _airflow_settings,
    _image,
    _labels,
    _secrets,
    cpu_quantity,
    memory_quantity,
    store_env,
)
from .plan import Task

MODULE = "mlpipe_lab.serving.tasks"
# Kaniko's last release (the project is archived); pinned so builds are reproducible.
KANIKO_IMAGE = "gcr.io/kaniko-project/executor:v1.23.2"
XCOM_FILE = "/airflow/xcom/return.json"
DOCKER_CONFIG_VOLUME = "registry-auth"
DOCKER_CONFIG_DIR = "/kaniko/.docker"
DEFAULT_TIMEOUT = 600


def _props(ctx: Context, task: Task) -> dict[str, Any]:
    return ctx.pipeline.node_properties(task.node)


def xcom(task: Task, key: str, filters: str = "") -> str:
    """Jinja for a value the package task returned (task ids are [A-Za-z0-9_.-])."""
    return (
        "{{ ti.xcom_pull(task_ids='" + task.steps["package"] + "')['" + key + "']" + filters + " }}"
    )


def deployment_spec(ctx: Context, task: Task) -> dict[str, Any]:
    """The node's deployment settings for the deploy/wait/smoke tasks, checked by building the
    objects once with placeholder image and storage URI (errors name the node)."""
    # imported here: pipelines without serve nodes do not pay for the manifest module (~7 ms)
    from ..serving.tasks import spec as serve_spec

    node, props = task.node, _props(ctx, task)
    spec: dict[str, Any] = {
        "target": props.get("target") or "seldon-v1",
        "name": serve_deployment_name(props),
        "namespace": props.get("namespace") or ctx.settings.namespace or "default",
    }
    for key, conv in (
        ("cpu", cpu_quantity),
        ("memory", memory_quantity),
        ("cpu_limit", cpu_quantity),
        ("memory_limit", memory_quantity),
    ):
        if props.get(key) not in (None, ""):
            spec[key] = conv(props[key])
    for key in (
        "replicas",
        "min_replicas",
        "max_replicas",
        "cpu_target_percent",
        "logger_url",
        "logger_mode",
        "ingress_host",
        "ingress_class",
        "registry_secret",
    ):
        if props.get(key) not in (None, ""):
            spec[key] = props[key]
    if spec["target"] != "seldon-v1":
        for key in ("logger_url", "ingress_host", "registry_secret"):
            spec.pop(key, None)
    try:
        serve_spec.objects(
            serve_spec.load(spec), image="registry.invalid/model:1", storage_uri="s3://bucket/model"
        )
    except serve_spec.SpecError as exc:
        ctx.error(
            "serve",
            f"The deployment would be invalid: {exc}",
            node=node,
            path=CP + "deployment_name",
        )
    return spec


def _spec_text(ctx: Context, task: Task) -> str:
    text = json.dumps(deployment_spec(ctx, task), sort_keys=True, separators=(",", ":"))
    return ctx.tpl(text, task.node, CP + "deployment_name")


def _tracking_uri(ctx: Context, task: Task, props: dict[str, Any], local: bool) -> str | None:
    uri = props.get("tracking_uri") or ctx.settings.tracking_uri
    if not uri:
        if local:
            ctx.warn(
                "serve",
                "No MLflow tracking URI on the node or in the runtime configuration: the "
                "task uses MLFLOW_TRACKING_URI from its environment.",
                node=task.node,
                path=CP + "tracking_uri",
            )
            return None
        ctx.error(
            "serve",
            f"No MLflow tracking URI: set it on the node or in runtime configuration "
            f"'{ctx.settings.name}' (mlflow.tracking_uri).",
            node=task.node,
            path=CP + "tracking_uri",
        )
        return None
    return ctx.tpl(uri, task.node, CP + "tracking_uri")


def package_arguments(ctx: Context, task: Task, local: bool) -> list[str]:
    props = _props(ctx, task)
    node = task.node
    target = props.get("target") or "seldon-v1"
    args = [
        "package",
        *ctx.store_args,
        "--task-id",
        task.task_id,
        "--model",
        ctx.tpl(str(props.get("model_name") or ""), node, CP + "model_name"),
    ]
    if props.get("model_alias"):
        args += ["--alias", ctx.tpl(str(props["model_alias"]), node, CP + "model_alias")]
    else:
        args += ["--version", str(props.get("model_version") or "")]
    args += ["--target", target]
    uri = _tracking_uri(ctx, task, props, local)
    if uri:
        args += ["--tracking-uri", uri]
    if props.get("serving_runtime"):
        args += ["--runtime", str(props["serving_runtime"])]
    if target == "seldon-v1" and not local:
        for key in ("image_registry", "image_repository", "image_tag"):
            if props.get(key):
                args += ["--" + key.replace("_", "-"), ctx.tpl(str(props[key]), node, CP + key)]
    if isinstance(props.get("smoke_request"), str) and props["smoke_request"].strip():
        args += [
            "--smoke-request",
            ctx.tpl(props["smoke_request"].strip(), node, CP + "smoke_request"),
        ]
    if not local:
        args += ["--xcom-file", XCOM_FILE]
    return args


def check_arguments(ctx: Context, task: Task) -> list[str]:
    ctx.warn(
        "serve-local",
        "Without Kubernetes (local runtime or local-worker mode) this node packages "
        "the model and checks the package by serving it on 127.0.0.1 for one request; no image is "
        "built and nothing is deployed.",
        node=task.node,
    )
    return ["check", *ctx.store_args, "--package-task", task.steps["package"]]


def _step_arguments(ctx: Context, task: Task) -> list[str]:
    props = _props(ctx, task)
    spec = _spec_text(ctx, task)
    target = props.get("target") or "seldon-v1"
    if task.step == "deploy":
        if target == "seldon-v1":
            return ["deploy", "--spec", spec, "--image", xcom(task, "image")]
        return ["deploy", "--spec", spec, "--storage-uri", xcom(task, "storage_uri")]
    if task.step == "wait":
        timeout = props.get("wait_timeout_seconds") or DEFAULT_TIMEOUT
        return ["wait", "--spec", spec, "--timeout", str(timeout)]
    return ["smoke", "--spec", spec, "--request", xcom(task, "smoke_request", " | tojson")]


def _common(ctx: Context, task: Task) -> list[tuple[Any, Any]]:
    kw: list[tuple[Any, Any]] = [
        ("task_id", task.task_id),
        ("task_display_name", f"{task.node.label}: {task.step}"),
    ]
    return kw


def task_call(
    ctx: Context, task: Task, dag_id: str, params: list[Parameter], shared: set[str]
) -> Call:
    """A KubernetesPodOperator for one step of a serve node."""
    if task.step == "build":
        return _kaniko_call(ctx, task, dag_id, shared)
    node, props = task.node, _props(ctx, task)
    local = ctx.settings.type == "local"
    kw = _common(ctx, task)
    kw += _image(ctx, node, props)
    kw.append(("cmds", ["python3", "-m", MODULE]))
    if task.step == "package":
        kw.append(("arguments", Args(package_arguments(ctx, task, local))))
    elif task.step == "check":
        kw.append(("arguments", Args(check_arguments(ctx, task))))
    else:
        kw.append(("arguments", Args(_step_arguments(ctx, task))))
    if task.step in ("package", "check"):
        env = store_env(ctx)
        if env:
            kw.append(("env_vars", env))
        secrets = _secrets(ctx, node, props if task.step == "package" else {}, shared)
        if secrets is not None:
            kw.append(("secrets", secrets))
    kw.append(("labels", _labels(ctx, node, {}, dag_id, task.task_id)))
    account = props.get("service_account") if task.step in ("deploy", "wait") else None
    account = account or node.mlpipe.get("service_account") or ctx.settings.service_account
    if isinstance(account, str) and account:
        kw.append(("service_account_name", account))
    if task.step == "package" and not local:
        kw.append(("do_xcom_push", True))
    kw += _airflow_settings(ctx, node.mlpipe)
    kw.append((Splat("POD_SETTINGS"), None))
    return Call("KubernetesPodOperator", kwargs=kw, multiline=True)


def _kaniko_call(ctx: Context, task: Task, dag_id: str, shared: set[str]) -> Call:
    """Kaniko builds the context the package task uploaded and pushes the image."""
    node, props = task.node, _props(ctx, task)
    s = ctx.settings
    prefix = store_prefix(ctx)
    location = f"s3://{ctx.tpl(s.bucket or '')}/" + (ctx.tpl(prefix) + "/" if prefix else "")
    args = [
        "--context=" + location + xcom(task, "context_key"),
        "--dockerfile=Dockerfile",
        "--destination=" + xcom(task, "image"),
        "--digest-file=/dev/termination-log",
        "--push-retry=3",
    ]
    env: dict[str, str] = {}
    if s.endpoint:  # an S3-compatible store (MinIO, ...): Kaniko's own variables for it
        env["S3_ENDPOINT"] = ctx.tpl(s.endpoint)
        env["S3_FORCE_PATH_STYLE"] = "true"
    if s.region:
        env["AWS_REGION"] = ctx.tpl(s.region)
    ctx.uses.add("k8s")
    secret = str(props.get("registry_secret") or "")
    volume = Call(
        "k8s.V1Volume",
        kwargs=[
            ("name", DOCKER_CONFIG_VOLUME),
            (
                "secret",
                Call(
                    "k8s.V1SecretVolumeSource",
                    kwargs=[
                        ("secret_name", ctx.tpl(secret, node, CP + "registry_secret")),
                        (
                            "items",
                            [
                                Call(
                                    "k8s.V1KeyToPath",
                                    kwargs=[("key", ".dockerconfigjson"), ("path", "config.json")],
                                )
                            ],
                        ),
                    ],
                ),
            ),
        ],
    )
    mount = Call(
        "k8s.V1VolumeMount",
        kwargs=[
            ("name", DOCKER_CONFIG_VOLUME),
            ("mount_path", DOCKER_CONFIG_DIR),
            ("read_only", True),
        ],
    )
    kw = _common(ctx, task)
    kw += [("image", KANIKO_IMAGE), ("arguments", Args(args))]
    if env:
        kw.append(("env_vars", env))
    if "STORE_SECRETS" in shared:
        kw.append(("secrets", Name("STORE_SECRETS")))
    kw += [
        ("volumes", [volume]),
        ("volume_mounts", [mount]),
        ("labels", _labels(ctx, node, {}, dag_id, task.task_id)),
    ]
    account = node.mlpipe.get("service_account") or s.service_account
    if isinstance(account, str) and account:
        kw.append(("service_account_name", account))
    kw += _airflow_settings(ctx, node.mlpipe)
    kw.append((Splat("POD_SETTINGS"), None))
    return Call("KubernetesPodOperator", kwargs=kw, multiline=True)


def bash_task_call(
    ctx: Context, task: Task, dag_id: str, params: list[Parameter], shared: set[str]
) -> Call:
    """local-worker mode: package and check run on the Airflow worker."""
    args = (
        package_arguments(ctx, task, True) if task.step == "package" else check_arguments(ctx, task)
    )
    kw = _common(ctx, task)
    kw.append(("bash_command", bash.command([], args, module=MODULE)))
    env = store_env(ctx)
    if env:
        kw.append(("env", env))
    kw += _airflow_settings(ctx, task.node.mlpipe)
    kw.append((Splat(bash.SETTINGS), None))
    return Call("BashOperator", kwargs=kw, multiline=True)
