"""How the node runner reaches a task's pod (see ``runner/contract.py``, "Delivery").

``init-container`` (default): an init container from the runner image copies the runner zipapp into
an ``emptyDir`` mounted at ``/mlpipe``; the node's container starts it with its own python3 through
``/bin/sh`` (so an image without python3 says so in one line). ``image``: the runner is installed
in the node's image (``python3 -m mlpipe_lab.runner``). The runtime configuration chooses the mode
(``kubernetes.runner_delivery``) and the runner image (``kubernetes.runner_image``); a runtime
image's catalog entry can override the mode for the nodes that use it.
"""

from __future__ import annotations

from typing import Any

from ..pipeline.model import Node
from ..runner.contract import (
    DELIVERY_MODES,
    IMAGE_ENV,
    RUNNER_DIR,
    RUNNER_VOLUME,
    install_command,
)
from .context import Context
from .emit import Call, Name

INIT_CONTAINER = "mlpipe-runner"
BASE_CONTAINER = "base"  # KubernetesPodOperator's name for the node's container
# Module constant: the pod template every init-container task shares (full_pod_spec, which the
# provider merges into the pod it builds and never renders as a template, so sharing is safe):
# the init container, the emptyDir, and its mount in the node's container.
INIT = "RUNNER_POD"
# the command constant of the mode that is not the configuration's, for tasks whose image says so
OTHER_RUNNER = {"image": "RUNNER_IN_IMAGE", "init-container": "RUNNER_COPIED"}


def node_image(ctx: Context, node: Node) -> str:
    image = ctx.pipeline.node_properties(node).get("runtime_image")
    return image if isinstance(image, str) else ""


def mode(ctx: Context, node: Node) -> str:
    """The node's delivery: its runtime image's catalog entry, else the runtime configuration."""
    entry = ctx.image_entry(node_image(ctx, node)) or {}
    override = entry.get("runner_delivery")
    return override if override in DELIVERY_MODES else ctx.settings.runner_delivery


def runner_pod(ctx: Context) -> Call:
    """The value of RUNNER_POD."""
    ctx.uses.add("k8s")
    init = Call(
        "k8s.V1Container",
        kwargs=[
            ("name", INIT_CONTAINER),
            ("image", ctx.settings.runner_image),
            ("command", install_command(RUNNER_DIR)),
            (
                "volume_mounts",
                [
                    Call(
                        "k8s.V1VolumeMount",
                        kwargs=[("name", RUNNER_VOLUME), ("mount_path", RUNNER_DIR)],
                    )
                ],
            ),
            # the kubelet keeps the end of its log as the status message when it fails
            ("termination_message_policy", "FallbackToLogsOnError"),
        ],
    )
    base = Call(
        "k8s.V1Container",
        kwargs=[
            ("name", BASE_CONTAINER),
            (
                "volume_mounts",
                [
                    Call(
                        "k8s.V1VolumeMount",
                        kwargs=[
                            ("name", RUNNER_VOLUME),
                            ("mount_path", RUNNER_DIR),
                            ("read_only", True),
                        ],
                    )
                ],
            ),
        ],
    )
    volume = Call(
        "k8s.V1Volume",
        kwargs=[("name", RUNNER_VOLUME), ("empty_dir", Call("k8s.V1EmptyDirVolumeSource"))],
    )
    spec = Call(
        "k8s.V1PodSpec",
        kwargs=[("init_containers", [init]), ("containers", [base]), ("volumes", [volume])],
    )
    return Call("k8s.V1Pod", kwargs=[("spec", spec)], multiline=True)


def task_kwargs(ctx: Context, node: Node) -> list[tuple[str, Any]]:
    """The task's own operator arguments for its delivery (shared by all tasks when they agree)."""
    if mode(ctx, node) != "init-container":
        return []
    ctx.uses.add("k8s")
    ctx.uses.add(INIT)
    return [("full_pod_spec", Name(INIT)), ("init_container_logs", True)]


def env(ctx: Context, node: Node) -> dict[str, str]:
    """Names the image in the runner's messages ("image X has no python3")."""
    return {IMAGE_ENV: ctx.tpl(node_image(ctx, node), node)}
