"""A "Serve MLflow model" node -> the tasks it expands into (``ServeSpec.steps``).

The node's typed serving spec (:class:`mlpipe_lab.serving.spec.ServeSpec`) is the single source of
its settings; its ``--spec`` JSON is what the deploy, wait, smoke and rollout tasks receive.

With Kubernetes (execution mode ``kubernetes``) every step is a KubernetesPodOperator:

- ``<id>_registry`` (``deploy_on_alias_change``): asks the MLflow registry where the alias points
  and ends the run as skipped (exit code 99) when that version is the one this node last deployed;
- ``<id>_package``: the runner image runs ``python3 -m mlpipe_lab.serving.tasks package``: resolve
  the version or alias, download the model, upload the build context to the object store, and
  return (XCom) the resolved version, the image reference and the model's storage URI;
- ``<id>_build`` (targets running our runtime: seldon-v1, kserve): Kaniko's executor builds the
  context from ``s3://…`` with the object store's pod-credentials Secret and pushes with the docker
  config of the registry Secret, mounted at ``/kaniko/.docker``;
- ``<id>_deploy``: server-side apply of the resources (the node's service account); with a canary
  share, the new version next to the running one;
- ``<id>_wait`` and ``<id>_smoke``: until the resource is available, then one request; or, with a
  canary, ``<id>_rollout``: wait, watch the new version's metrics and smoke tests, then promote it
  or roll back and fail with the numbers that decided.

Without Kubernetes (the ``local`` runtime, execution mode ``local-worker``) the node becomes
``<id>_package`` and ``<id>_check`` (the package served on 127.0.0.1 for one request): nothing is
built or deployed. Secrets only by Secret name.
"""

from __future__ import annotations

from typing import Any

from ..pipeline.model import Parameter
from ..serving.spec import ServeSpec
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
    store_env,
)
from .plan import Task

MODULE = "mlpipe_lab.serving.tasks"
# Kaniko's last release (the project is archived); pinned so builds are reproducible.
KANIKO_IMAGE = "gcr.io/kaniko-project/executor:v1.23.2"
XCOM_FILE = "/airflow/xcom/return.json"
DOCKER_CONFIG_VOLUME = "registry-auth"
DOCKER_CONFIG_DIR = "/kaniko/.docker"
SKIP_EXIT_CODE = 99  # the registry step: nothing new to deploy


def _props(ctx: Context, task: Task) -> dict[str, Any]:
    return ctx.pipeline.node_properties(task.node)


def serve_spec(ctx: Context, task: Task) -> ServeSpec:
    """The node's typed serving spec, with the runtime configuration's fallbacks."""
    return ServeSpec.from_properties(
        _props(ctx, task),
        namespace=ctx.settings.namespace or None,
        tracking_uri=ctx.settings.tracking_uri or None,
    )


def xcom(task: Task, key: str, filters: str = "") -> str:
    """Jinja for a value the package task returned (task ids are [A-Za-z0-9_.-])."""
    return (
        "{{ ti.xcom_pull(task_ids='" + task.steps["package"] + "')['" + key + "']" + filters + " }}"
    )


def deployment_spec(ctx: Context, task: Task) -> ServeSpec:
    """The spec, checked once by building its objects with a placeholder release (errors name
    the node)."""
    from ..serving.spec import manifest_problems

    spec = serve_spec(ctx, task)
    for _code, message, field, _severity in manifest_problems(spec):
        ctx.error("serve", message, node=task.node, path=CP + field)
    return spec


def state_key(ctx: Context, task: Task) -> str:
    """Where the node records the version it last deployed (run-independent): the registry step
    compares the alias with it."""
    from .plan import dag_id_of

    return f"{dag_id_of(ctx.pipeline)}/serving/{task.steps['package'].removesuffix('_package')}/deployed.json"


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


def _model_arguments(ctx: Context, task: Task, spec: ServeSpec) -> list[str]:
    node = task.node
    args = ["--model", ctx.tpl(spec.model_name, node, CP + "model_name")]
    if spec.model_alias:
        args += ["--alias", ctx.tpl(spec.model_alias, node, CP + "model_alias")]
    else:
        args += ["--version", str(spec.model_version or "")]
    return args


def _state_arguments(ctx: Context, task: Task, spec: ServeSpec, store: bool = True) -> list[str]:
    """What the last step needs to record the deployed version (only when the registry step
    compares with it)."""
    if not spec.registry_check:
        return []
    return [*(ctx.store_args if store else []), "--state-key", state_key(ctx, task)]


def registry_arguments(ctx: Context, task: Task, local: bool) -> list[str]:
    spec = serve_spec(ctx, task)
    args = ["registry", *ctx.store_args, "--state-key", state_key(ctx, task)]
    args += ["--model", ctx.tpl(spec.model_name, task.node, CP + "model_name")]
    args += ["--alias", ctx.tpl(spec.model_alias or "", task.node, CP + "model_alias")]
    uri = _tracking_uri(ctx, task, _props(ctx, task), local)
    return args + (["--tracking-uri", uri] if uri else [])


def package_arguments(ctx: Context, task: Task, local: bool) -> list[str]:
    props = _props(ctx, task)
    spec = serve_spec(ctx, task)
    node = task.node
    args = ["package", *ctx.store_args, "--task-id", task.task_id]
    args += _model_arguments(ctx, task, spec)
    args += ["--target", spec.target]
    uri = _tracking_uri(ctx, task, props, local)
    if uri:
        args += ["--tracking-uri", uri]
    if props.get("serving_runtime"):
        args += ["--runtime", spec.serving_runtime]
    if spec.builds_image and not local:
        for key in ("image_registry", "image_repository", "image_tag"):
            if getattr(spec, key):
                args += ["--" + key.replace("_", "-"), ctx.tpl(getattr(spec, key), node, CP + key)]
    if spec.smoke_request and spec.smoke_request.strip():
        args += [
            "--smoke-request",
            ctx.tpl(spec.smoke_request.strip(), node, CP + "smoke_request"),
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
    spec = serve_spec(ctx, task)
    args = ["check", *ctx.store_args, "--package-task", task.steps["package"]]
    return args + _state_arguments(ctx, task, spec, store=False)


def _release_arguments(task: Task, spec: ServeSpec) -> list[str]:
    args = ["--version", xcom(task, "version"), "--model-uri", xcom(task, "model_uri")]
    if spec.builds_image:
        return args + ["--image", xcom(task, "image")]
    return args + ["--storage-uri", xcom(task, "storage_uri")]


def _step_arguments(ctx: Context, task: Task) -> list[str]:
    spec = deployment_spec(ctx, task)
    text = ctx.tpl(spec.to_text(), task.node, CP + "deployment_name")
    request = ["--request", xcom(task, "smoke_request", " | tojson")]
    if task.step == "deploy":
        return ["deploy", "--spec", text, *_release_arguments(task, spec)]
    if task.step == "wait":
        return ["wait", "--spec", text, "--timeout", str(spec.wait_timeout_seconds)]
    if task.step == "rollout":
        args = ["rollout", "--spec", text, *_release_arguments(task, spec), *request]
        return (
            args + ["--timeout", str(spec.wait_timeout_seconds)] + _state_arguments(ctx, task, spec)
        )
    args = ["smoke", "--spec", text, *request]
    if spec.registry_check:
        args += ["--version", xcom(task, "version"), *_state_arguments(ctx, task, spec)]
    return args


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
    elif task.step == "registry":
        kw.append(("arguments", Args(registry_arguments(ctx, task, local))))
        kw.append(("skip_on_exit_code", SKIP_EXIT_CODE))
    elif task.step == "check":
        kw.append(("arguments", Args(check_arguments(ctx, task))))
    else:
        kw.append(("arguments", Args(_step_arguments(ctx, task))))
    spec = serve_spec(ctx, task)
    if task.step in ("registry", "package", "check") or (
        task.step in ("smoke", "rollout") and spec.registry_check
    ):  # the steps that reach the object store (and, registry/package, MLflow)
        env = store_env(ctx)
        if env:
            kw.append(("env_vars", env))
        mlflow = task.step in ("registry", "package")
        secrets = _secrets(ctx, node, props if mlflow else {}, shared)
        if secrets is not None:
            kw.append(("secrets", secrets))
    kw.append(("labels", _labels(ctx, node, {}, dag_id, task.task_id)))
    account = props.get("service_account") if task.step in ("deploy", "wait", "rollout") else None
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
    """local-worker mode: registry, package and check run on the Airflow worker."""
    if task.step == "registry":
        args = registry_arguments(ctx, task, True)
    elif task.step == "package":
        args = package_arguments(ctx, task, True)
    else:
        args = check_arguments(ctx, task)
    kw = _common(ctx, task)
    kw.append(("bash_command", bash.command([], args, module=MODULE)))
    env = store_env(ctx)
    if env:
        kw.append(("env", env))
    if task.step == "registry":  # BashOperator's own default too; said for the reader
        kw.append(("skip_on_exit_code", SKIP_EXIT_CODE))
    kw += _airflow_settings(ctx, task.node.mlpipe)
    kw.append((Splat(bash.SETTINGS), None))
    return Call("BashOperator", kwargs=kw, multiline=True)
