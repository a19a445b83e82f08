"""How the node runner reaches a task's pod (see ``runner/contract.py``, "Delivery"), rendered.

``init-container`` (default): an init container from the runner image copies the runner zipapp into
an ``emptyDir`` mounted at ``/mlpipe``; the node's container starts it with its own python3 through
``/bin/sh`` (so an image without python3 says so in one line). ``image``: the runner is installed
in the node's image (``python3 -m mlpipe_lab.runner``). The plan says which (``Runner.delivery``,
the runtime configuration's; ``Task.delivery``, which a runtime image's catalog entry may change).
"""

from __future__ import annotations

from typing import Any

from ..plan.model import Task
from ..runner.contract import RUNNER_DIR, RUNNER_VOLUME, install_command
from .context import RenderContext
from .emit import Call, Name

INIT_CONTAINER = "mlpipe-runner"
BASE_CONTAINER = "base"  # KubernetesPodOperator's name for the node's container
# Module constant: the pod template every init-container task shares (full_pod_spec, which the
# provider merges into the pod it builds and never renders as a template, so sharing is safe):
# the init container, the emptyDir, and its mount in the node's container.
INIT = "RUNNER_POD"
# the command constant of the mode that is not the configuration's, for tasks whose image says so
OTHER_RUNNER = {"image": "RUNNER_IN_IMAGE", "init-container": "RUNNER_COPIED"}


def runner_pod(ctx: RenderContext) -> Call:
    """The value of RUNNER_POD."""
    ctx.uses.add("k8s")
    init = Call(
        "k8s.V1Container",
        kwargs=[
            ("name", INIT_CONTAINER),
            ("image", ctx.plan.runner.image),
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


def runner_name(ctx: RenderContext, task: Task) -> str:
    """The module constant holding the task's runner command."""
    return "RUNNER" if task.delivery == ctx.plan.runner.delivery else OTHER_RUNNER[task.delivery]


def task_kwargs(ctx: RenderContext, task: Task) -> list[tuple[str, Any]]:
    """The task's own operator arguments for its delivery (shared by all tasks when they agree)."""
    if task.delivery != "init-container":
        return []
    ctx.uses.add("k8s")
    ctx.uses.add(INIT)
    return [("full_pod_spec", Name(INIT)), ("init_container_logs", True)]
