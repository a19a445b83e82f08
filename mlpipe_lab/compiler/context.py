"""State shared while rendering one plan (:class:`RenderContext`): the plan, the names the module
imports and defines. Rendering checks nothing about the pipeline (the planner did); what fails
here is a bug.
"""

from __future__ import annotations

from typing import Any

from ..plan.model import PODS, Plan, SecretRef
from ..plan.values import ItemCount, Join, ParamRef, Ref, RunId, Value, XComRef
from .emit import Call, EmitError, TemplateTextError, jinja_safe

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


def param_ref(name: str) -> str:
    """Jinja expression for a DAG param. Names that are also dict/ParamsDict attributes
    (items, keys, update, ...) need the subscript form."""
    if name.startswith("_") or hasattr(dict, name) or name in _PARAMSDICT_ATTRS:
        return f'params["{name}"]'
    return f"params.{name}"


def template_of(ref: Ref) -> str:
    """The Airflow template for a run-time value."""
    if isinstance(ref, RunId):
        return "{{ run_id }}"
    if isinstance(ref, ParamRef):
        return "{{ " + param_ref(ref.name) + (" | tojson }}" if ref.json else " }}")
    if isinstance(ref, XComRef):  # task ids are [A-Za-z0-9_.-]: safe inside the quotes
        pull = "ti.xcom_pull(task_ids='" + ref.task_id + "')"
        if ref.key:  # else the whole return value (an operator's)
            pull += "['" + ref.key + "']"
        return "{{ " + pull + (" | tojson }}" if ref.json else " }}")
    if isinstance(ref, ItemCount):
        # the length of the list the items task returned; without its XCom (it failed or was
        # skipped) empty text, an unknown count the runner probes for. Double quotes: a worker's
        # command single-quotes each argument, template included (compiler/bash.py).
        return (
            '{{ [ti.xcom_pull(task_ids="' + ref.items_task + '")] '
            '| reject("none") | map("length") | join }}'
        )
    raise EmitError(f"not a run-time value: {ref!r}")


class RenderContext:
    def __init__(self, plan: Plan):
        self.plan = plan
        self.uses: set[str] = set()  # imported names the module needs (Secret, k8s, ...)
        self.shared: set[str] = set()  # module constants defined (STORE_SECRETS, ...)
        # how the runner reaches the runner tasks' pods (see delivery.py)
        # (serve tasks with the runner in the image run their own module, not a RUNNER constant)
        self.delivery_modes = {
            t.delivery
            for t in plan.tasks
            if t.delivery and (t.kind != "serve" or t.delivery == "init-container")
        }
        # True when some task's command is not the configuration's runner (serve nodes, runtime
        # images that choose the other delivery, a fan-out's cmds that carry its arguments): then
        # each runner task names its command
        self.cmds_per_task = plan.executor == PODS and (
            any(t.kind in ("serve", "kfp") or t.for_each is not None for t in plan.tasks)
            or bool(self.delivery_modes - {plan.runner.delivery})
        )

    @staticmethod
    def tpl(text: str) -> str:
        """User text for a Jinja-templated operator field, protected so it renders as itself."""
        try:
            return jinja_safe(text)
        except TemplateTextError:  # the planner reports such text as an error
            raise EmitError("user text the planner should have refused reached the DAG") from None

    def value(self, value: Value) -> str:
        """A plan value for a templated field: text protected, run-time values as templates."""
        if type(value) is str:
            return self.tpl(value)
        if isinstance(value, Join):
            return "".join(
                self.tpl(p) if isinstance(p, str) else template_of(p) for p in value.parts
            )
        return template_of(value)  # type: ignore[arg-type]

    def argv(self, values: list[Value]) -> list[str]:
        return [self.value(v) for v in values]

    def secret(self, ref: SecretRef) -> Call:
        return Call("Secret", "env", ref.env_var, ref.secret, ref.key)

    def env(self, env: dict[str, Value]) -> dict[str, Any]:
        return {k: self.value(v) for k, v in env.items()}
