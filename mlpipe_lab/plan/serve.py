"""A "Serve MLflow model" node -> the tasks it expands into (``ServeSpec.steps``).

The node's typed serving spec (:class:`mlpipe_lab.serving.spec.ServeSpec`) is the single source of
its settings; its ``--spec`` JSON is what the deploy, wait, smoke and rollout tasks receive.

With Kubernetes every step is a pod:

- ``<id>_registry`` (``deploy_on_alias_change``): asks the MLflow registry where the alias points
  and ends the run as skipped (exit code 99) when that version is the one this node last deployed;
- ``<id>_package``: ``python3 -m mlpipe_lab.serving.tasks package``: resolve the version or alias,
  download the model, upload the build context to the object store, and return (XCom) the
  resolved version, the image reference and the model's storage URI;
- ``<id>_build`` (targets running our runtime: seldon-v1, kserve): Kaniko's executor builds the
  context from ``s3://…`` with the object store's pod-credentials Secret and pushes with the docker
  config of the registry Secret, mounted at ``/kaniko/.docker``;
- ``<id>_deploy``: server-side apply of the resources (the node's service account); with a canary
  share, the new version next to the running one;
- ``<id>_wait`` and ``<id>_smoke``: until the resource is available, then one request; or, with a
  canary, ``<id>_rollout``: wait, watch the new version's metrics and smoke tests, then promote it
  or roll back and fail with the numbers that decided.

The steps that run our code (all but ``build``) are the runner's ``--kind serve`` (their command
is ``RUNNER --kind serve STEP …``, the store options in the DAG's runner command): they reach
pods as the node runner does (:attr:`Task.delivery`; by default the init container copies the
runner zipapp, which carries them, into the pod, so the node's image needs only python3), and on
Airflow workers they run the zipapp beside the DAG. With the runner already in the image they
run ``python3 -m mlpipe_lab.serving.tasks`` with the same arguments.

Without Kubernetes (the ``local`` runtime, execution mode ``local-worker``) the node becomes
``<id>_package`` and ``<id>_check`` (the package served on 127.0.0.1 for one request), after
``<id>_registry`` when it checks the registry: nothing is built or deployed. Secrets only by
Secret name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..pipeline.model import Node
from ..runner.contract import IMAGE_ENV
from .layout import Slot
from .model import PODS, Command, Image, Mount, Task, Volume
from .planner import CP
from .values import Value, XComRef

if TYPE_CHECKING:
    from ..serving.spec import ServeSpec
    from .planner import Planner

MODULE = "mlpipe_lab.serving.tasks"
SERVE_PROGRAM = ["python3", "-m", MODULE]  # the runner in the image (delivery "image"), local runs
SERVE_KIND = ["--kind", "serve"]  # after the store options: the runner's entry to the steps
# Kaniko's last release (the project is archived); pinned so builds are reproducible.
KANIKO_IMAGE = "gcr.io/kaniko-project/executor:v1.23.2"
XCOM_FILE = "/airflow/xcom/return.json"
DOCKER_CONFIG_VOLUME = "registry-auth"
DOCKER_CONFIG_DIR = "/kaniko/.docker"
SKIP_EXIT_CODE = 99  # the registry step: nothing new to deploy


class ServePlanner:
    def __init__(self, planner: Planner):
        self.pl = planner
        self._specs: dict[str, ServeSpec] = {}  # node id -> its spec
        self._checked: dict[str, str] = {}  # node id -> the deployment spec's JSON (checked once)
        self._uris: dict[tuple[str, bool], str | None] = {}  # (node id, local) -> tracking URI

    def spec(self, node: Node) -> ServeSpec:
        """The node's typed serving spec, with the runtime configuration's fallbacks."""
        if node.id not in self._specs:
            from ..serving.spec import ServeSpec

            self._specs[node.id] = ServeSpec.from_properties(
                self.pl.p.node_properties(node),
                namespace=self.pl.s.namespace or None,
                tracking_uri=self.pl.s.tracking_uri or None,
            )
        return self._specs[node.id]

    def task(self, slot: Slot) -> Task:
        pl, node = self.pl, slot.node
        props = pl.p.node_properties(node)
        spec = self.spec(node)
        step = slot.step
        task = Task(
            task_id=slot.task_id,
            node_id=node.id,
            label=node.label,
            kind="serve",
            command=Command(list(SERVE_PROGRAM), list(pl.runner.shared), []),
            step=step,
            steps=slot.steps,
            display_name=f"{node.label}: {step}",
            upstream=slot.upstream,
        )
        if step == "registry":
            task.skip_exit_code = SKIP_EXIT_CODE
        if pl.executor != PODS:  # on the Airflow worker: registry, package and check only
            if step == "registry":
                task.command.args = self.registry_arguments(task, node, props, spec, local=True)
            elif step == "package":
                task.command.args = self.package_arguments(task, node, props, spec, local=True)
            else:
                task.command.args = self.check_arguments(task, node, spec)
            task.command.args = [*SERVE_KIND, *task.command.args]
            task.env = dict(pl.store.env)
            pl.airflow_settings(task, node.mlpipe)
            return task
        if step == "build":
            self._kaniko(task, node, props)
            pl.airflow_settings(task, node.mlpipe)
            return task
        task.image = pl.image(node, props)
        if not pl.local:  # as the runner reaches a node's pod (the runner zipapp has the steps)
            task.delivery = pl.delivery(task.image)
        if step == "package":
            task.command.args = self.package_arguments(task, node, props, spec, local=pl.local)
        elif step == "registry":
            task.command.args = self.registry_arguments(task, node, props, spec, local=pl.local)
        elif step == "check":
            task.command.args = self.check_arguments(task, node, spec)
        else:
            task.command.args = self.step_arguments(task, node, spec)
        task.command.args = [*SERVE_KIND, *task.command.args]
        if not pl.local:
            task.env[IMAGE_ENV] = task.image.ref  # the launcher's "image X has no python3"
        if step in ("registry", "package", "check") or (
            step in ("smoke", "rollout") and spec.registry_check
        ):  # the steps that reach the object store (and, registry/package, MLflow)
            task.env = {**task.env, **pl.store.env}
            task.secrets = pl.secrets(node, props) if step in ("registry", "package") else []
            task.store_credentials = bool(pl.store.secrets)
        task.labels = pl.labels(node, {}, task.task_id)
        account = props.get("service_account") if step in ("deploy", "wait", "rollout") else None
        account = account or node.mlpipe.get("service_account") or pl.s.service_account
        task.service_account = account if isinstance(account, str) and account else None
        task.returns_result = step == "package" and not pl.local
        pl.airflow_settings(task, node.mlpipe)
        return task

    # -- arguments -----------------------------------------------------------------------------

    def _tracking_uri(self, node: Node, props: dict[str, Any], local: bool) -> str | None:
        """The tracking URI the tasks reach MLflow with (its problem reported once per node)."""
        key = (node.id, local)
        if key in self._uris:
            return self._uris[key]
        pl = self.pl
        uri = props.get("tracking_uri") or pl.s.tracking_uri
        result = None
        if not uri:
            if local:
                pl.warn(
                    "serve",
                    "No MLflow tracking URI on the node or in the runtime configuration: the "
                    "task uses MLFLOW_TRACKING_URI from its environment.",
                    node=node,
                    path=CP + "tracking_uri",
                )
            else:
                pl.error(
                    "serve",
                    f"No MLflow tracking URI: set it on the node or in runtime configuration "
                    f"'{pl.s.name}' (mlflow.tracking_uri).",
                    node=node,
                    path=CP + "tracking_uri",
                )
        else:
            result = pl.text(str(uri), node, CP + "tracking_uri")
            from ..serving.spec import _CREDENTIALS_IN_URL

            if (
                pl.s.type != "local"
                and not props.get("tracking_uri")
                and _CREDENTIALS_IN_URL.match(str(uri))
            ):
                # the node's own URI is checked with its spec; this one is a task argument too
                pl.error(
                    "plain-secret",
                    f"The MLflow tracking URI of runtime configuration '{pl.s.name}' contains "
                    "credentials, which would be written into the DAG file; remove them and give "
                    "them as MLFLOW_TRACKING_USERNAME/MLFLOW_TRACKING_PASSWORD (or "
                    "MLFLOW_TRACKING_TOKEN) from a Kubernetes secret.",
                    node=node,
                    path=CP + "tracking_uri",
                )
        self._uris[key] = result
        return result

    def state_key(self, task: Task) -> str:
        """Where the node records the version it last deployed (run-independent): the registry
        step compares the alias with it."""
        name = task.steps["package"].removesuffix("_package")
        return f"{self.pl.layout.dag_id}/serving/{name}/deployed.json"  # type: ignore[union-attr]

    def _model_arguments(self, node: Node, spec: ServeSpec) -> list[Value]:
        text = self.pl.text
        args: list[Value] = ["--model", text(spec.model_name, node, CP + "model_name")]
        if spec.model_alias:
            args += ["--alias", text(spec.model_alias, node, CP + "model_alias")]
        else:
            args += ["--version", str(spec.model_version or "")]
        return args

    def _state_arguments(self, task: Task, spec: ServeSpec) -> list[Value]:
        """What the last step needs to record the deployed version (only when the registry step
        compares with it)."""
        if not spec.registry_check:
            return []
        return ["--state-key", self.state_key(task)]  # the store: in the command's shared part

    def registry_arguments(
        self, task: Task, node: Node, props: dict[str, Any], spec: ServeSpec, local: bool
    ) -> list[Value]:
        text = self.pl.text
        args: list[Value] = ["registry", "--state-key"]
        args += [self.state_key(task)]
        args += ["--model", text(spec.model_name, node, CP + "model_name")]
        args += ["--alias", text(spec.model_alias or "", node, CP + "model_alias")]
        uri = self._tracking_uri(node, props, local)
        return args + (["--tracking-uri", uri] if uri else [])

    def package_arguments(
        self, task: Task, node: Node, props: dict[str, Any], spec: ServeSpec, local: bool
    ) -> list[Value]:
        text = self.pl.text
        args: list[Value] = ["package", "--task-id", task.task_id]
        args += self._model_arguments(node, spec)
        args += ["--target", spec.target]
        uri = self._tracking_uri(node, props, local)
        if uri:
            args += ["--tracking-uri", uri]
        if props.get("serving_runtime"):
            args += ["--runtime", spec.serving_runtime]
        if spec.builds_image and not local:
            for key in ("image_registry", "image_repository", "image_tag"):
                if getattr(spec, key):
                    args += ["--" + key.replace("_", "-"), text(getattr(spec, key), node, CP + key)]
        if spec.smoke_request and spec.smoke_request.strip():
            args += [
                "--smoke-request",
                text(spec.smoke_request.strip(), node, CP + "smoke_request"),
            ]
        if not local:
            args += ["--xcom-file", XCOM_FILE]
        return args

    def check_arguments(self, task: Task, node: Node, spec: ServeSpec) -> list[Value]:
        self.pl.warn(
            "serve-local",
            "Without Kubernetes (local runtime or local-worker mode) this node packages "
            "the model and checks the package by serving it on 127.0.0.1 for one request; no image "
            "is built and nothing is deployed.",
            node=node,
        )
        args: list[Value] = ["check", "--package-task"]
        args += [task.steps["package"]]
        return args + self._state_arguments(task, spec)

    def _release_arguments(self, task: Task, spec: ServeSpec) -> list[Value]:
        args: list[Value] = ["--version", xcom(task, "version")]
        args += ["--model-uri", xcom(task, "model_uri")]
        if spec.builds_image:
            return args + ["--image", xcom(task, "image")]
        return args + ["--storage-uri", xcom(task, "storage_uri")]

    def step_arguments(self, task: Task, node: Node, spec: ServeSpec) -> list[Value]:
        text = self.spec_text(node, spec)
        request: list[Value] = ["--request", xcom(task, "smoke_request", json=True)]
        if task.step == "deploy":
            return ["deploy", "--spec", text, *self._release_arguments(task, spec)]
        if task.step == "wait":
            return ["wait", "--spec", text, "--timeout", str(spec.wait_timeout_seconds)]
        if task.step == "rollout":
            args: list[Value] = ["rollout", "--spec", text, *self._release_arguments(task, spec)]
            args += [*request, "--timeout", str(spec.wait_timeout_seconds)]
            return args + self._state_arguments(task, spec)
        args = ["smoke", "--spec", text, *request]
        if spec.registry_check:
            args += ["--version", xcom(task, "version"), *self._state_arguments(task, spec)]
        return args

    # -- the deployment --------------------------------------------------------------------------

    def spec_text(self, node: Node, spec: ServeSpec) -> str:
        """The ``--spec`` JSON of the deploy, wait, smoke and rollout tasks; the deployment it
        describes is built once with a placeholder release (what the cluster would refuse is a
        problem of the node)."""
        if node.id not in self._checked:
            from ..serving.spec import manifest_problems

            for _code, message, field, _severity in manifest_problems(spec):
                self.pl.error("serve", message, node=node, path=CP + field)
            self._checked[node.id] = self.pl.text(spec.to_text(), node, CP + "deployment_name")
        return self._checked[node.id]

    def _kaniko(self, task: Task, node: Node, props: dict[str, Any]) -> None:
        """Kaniko builds the context the package task uploaded and pushes the image."""
        pl = self.pl
        store = pl.store
        location = f"s3://{store.bucket or ''}/" + (store.prefix + "/" if store.prefix else "")
        task.image = Image(KANIKO_IMAGE)
        task.command = Command(
            [],
            [],
            [
                "--context=" + location + xcom(task, "context_key"),
                "--dockerfile=Dockerfile",
                "--destination=" + xcom(task, "image"),
                "--digest-file=/dev/termination-log",
                "--push-retry=3",
            ],
        )
        if store.endpoint:  # an S3-compatible store (MinIO, ...): Kaniko's own variables for it
            task.env["S3_ENDPOINT"] = store.endpoint
            task.env["S3_FORCE_PATH_STYLE"] = "true"
        if store.region:
            task.env["AWS_REGION"] = store.region
        task.store_credentials = bool(store.secrets)
        secret = str(props.get("registry_secret") or "")
        task.volumes = [
            Volume(
                name=DOCKER_CONFIG_VOLUME,
                secret=pl.text(secret, node, CP + "registry_secret"),
                items=[(".dockerconfigjson", "config.json")],
            )
        ]
        task.mounts = [Mount(volume=DOCKER_CONFIG_VOLUME, path=DOCKER_CONFIG_DIR, read_only=True)]
        task.labels = pl.labels(node, {}, task.task_id)
        account = node.mlpipe.get("service_account") or pl.s.service_account
        task.service_account = account if isinstance(account, str) and account else None


def xcom(task: Task, key: str, json: bool = False) -> XComRef:
    """A value the node's package task returned."""
    return XComRef(task.steps["package"], key, json=json)
