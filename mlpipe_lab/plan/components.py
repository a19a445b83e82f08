"""Operator and KFP component nodes in the plan.

A component node (any ``op`` that is not a notebook, script or serve node) is resolved through the
component catalogs (:class:`~mlpipe_lab.components.ComponentIndex`; the node's own stored
definition, ``app_data.mlpipe.component``, when no catalog holds it):

- an **Airflow operator** becomes one task of kind ``operator``: the class, the module the DAG
  imports it from, and its keyword arguments as literals made from the node's values
  (:class:`~.model.OperatorCall`); a pipeline parameter or, where Elyra allowed it, the return
  value (XCom) of a parent operator is a typed run-time value, so user text never becomes code.
- a **Kubeflow Pipelines component** becomes one pod task of kind ``kfp``: the component's image,
  command and arguments, its inputs substituted (values as literals, pipeline parameters as
  run-time values); its output files are written below ``KFP_OUTPUTS`` in the pod. Files move
  through the object store (:meth:`ComponentPlanner.finish`): an output a later component reads is
  uploaded after the command, and a file input (that output, or a value) is in place before it.

What cannot work is an error naming the node and the field: a component no catalog holds, a class
no catalog can import, an unknown argument, a required argument missing, a value of the wrong
type, an XCom from a node that pushes none.
"""

from __future__ import annotations

from typing import Any

from ..components import ComponentIndex
from ..components.elyra import FILE, PARAMETER, REF, UNSET, VALUE, NodeValue, node_values
from ..components.model import AIRFLOW, NOT_LITERAL, Component, Param
from ..components.values import UNSET as LITERAL_UNSET
from ..components.values import ValueProblem, literal
from ..pipeline.model import Node
from .layout import Slot
from .model import KFP, OPERATOR, Argument, CallableRef, Command, OperatorCall, Task
from .values import Join, ParamRef, Value, XComRef

CP = "component_parameters/"
KFP_OUTPUTS = "/tmp/mlpipe/outputs"  # a KFP component's output files, in its pod
KFP_INPUTS = "/tmp/mlpipe/inputs"  # files a KFP component reads ({inputPath}), in its pod

# Arguments every operator takes from BaseOperator that a node may set (others, such as retries
# or trigger_rule, are mlpipe task settings shared with every node kind).
BASE_ARGUMENTS: dict[str, Param] = {
    p.name: p
    for p in (
        Param("do_xcom_push", "boolean", has_default=True, default=True),
        Param("multiple_outputs", "boolean", has_default=True, default=False),
        Param("email", "string|array", nullable=True),
        Param("email_on_failure", "boolean", has_default=True, default=True),
        Param("email_on_retry", "boolean", has_default=True, default=True),
        Param("depends_on_past", "boolean", has_default=True, default=False),
        Param("wait_for_downstream", "boolean", has_default=True, default=False),
        Param("queue", "string"),
        Param("max_active_tis_per_dag", "integer", nullable=True),
    )
}
# Airflow 1 argument names Elyra's example operators used -> their names since Airflow 2.
RENAMED_ARGUMENTS = {"xcom_push": "do_xcom_push"}
# Airflow 1 arguments that no longer exist (passing them is an import error since Airflow 2).
REMOVED_ARGUMENTS = frozenset({"provide_context"})
# Airflow 1 operator classes whose successors have another name.
RENAMED_CLASSES = {"SimpleHttpOperator": "HttpOperator"}


class ComponentPlanner:
    """Plans the component nodes of one pipeline (made by the Planner when it meets one)."""

    def __init__(self, planner: Any, index: Any):
        self.pl = planner
        if callable(index):  # made on first use: reading catalogs costs
            index = index()
        self.index: ComponentIndex = index if index is not None else ComponentIndex([])
        self.kinds: dict[str, str] = {}  # node id -> OPERATOR | KFP, for later nodes' checks
        self.pushes: set[str] = set()  # node ids of operators that push a return value
        self.outputs: dict[str, dict[str, str]] = {}  # KFP node id -> output key -> file
        self.consumed: dict[str, set[str]] = {}  # KFP node id -> output keys later nodes read
        # KFP task id -> (files fetched from the store, files written from values)
        self.files: dict[str, tuple[list[tuple[str, str]], list[tuple[str, Value]]]] = {}

    def task(self, slot: Slot) -> Task:
        pl, node = self.pl, slot.node
        task = Task(
            task_id=slot.task_id,
            node_id=node.id,
            label=node.label,
            kind=OPERATOR,
            command=Command([], [], []),
            display_name=node.label if node.label != slot.task_id else None,
            doc=node.description or None,
            upstream=slot.upstream,
        )
        found = self.index.resolve(node.raw)
        comp = found.component
        if comp is None:
            pl.error("component", found.message, node=node, path="op")
        elif comp.kind == AIRFLOW:
            self._operator(task, slot, comp)
        else:
            task.kind = KFP
            self._kfp(task, slot, comp)
        self.kinds[node.id] = task.kind
        pl.airflow_settings(task, node.mlpipe)
        return task

    # -- Airflow operators ---------------------------------------------------------------------

    def importable(self, comp: Component) -> Component | None:
        """The class the DAG imports: the component itself when its catalog says where it lives,
        else the class of that name (or its Airflow 2 name) among the catalogs' operators."""
        if comp.module:
            return comp
        for name in (RENAMED_CLASSES.get(comp.name), comp.name):
            found = self.index.importable(name) if name else None
            if found is not None:
                return found
        return None

    def _operator(self, task: Task, slot: Slot, comp: Component) -> None:
        pl, node = self.pl, slot.node
        target = self.importable(comp)
        if target is None:
            pl.error(
                "component",
                f"No component catalog says which module {comp.name} is imported from, so the "
                "DAG cannot use it; add a catalog of the Airflow providers installed where the "
                "DAG runs (type airflow-providers), or one with a Python package name.",
                node=node,
                path="op",
            )
            return
        from ..compiler.operator import safe_module

        if not safe_module(target.module) or not target.name.isidentifier():
            pl.error(
                "component",
                f"'{target.module}.{target.name}' is not an importable Python name.",
                node=node,
                path="op",
            )
            return
        values = node_values(node.app_data, comp.name)
        arguments = self._arguments(task, slot, target, values)
        task.operator = OperatorCall(
            class_name=target.name,
            module=target.module,
            component=comp.id,
            arguments=arguments,
            template_ext=tuple(e for e in target.template_ext if isinstance(e, str)),
        )
        push = dict((a.name, a.value) for a in arguments).get("do_xcom_push", True)
        if push is not False:
            self.pushes.add(node.id)

    def _arguments(
        self, task: Task, slot: Slot, comp: Component, values: dict[str, NodeValue]
    ) -> list[Argument]:
        pl, node = self.pl, slot.node
        known = {p.name: p for p in comp.params}
        if comp.accepts_kwargs or not comp.params:
            for name, p in BASE_ARGUMENTS.items():
                known.setdefault(name, p)
        given: dict[str, tuple[str, NodeValue]] = {}
        for stored, value in values.items():
            name = RENAMED_ARGUMENTS.get(stored, stored)
            if name in REMOVED_ARGUMENTS or stored in REMOVED_ARGUMENTS:
                if value.kind == VALUE and value.value not in (False, "", None):
                    pl.warn(
                        "operator-argument",
                        f"'{stored}' was removed in Airflow 2 (the context is always passed); "
                        "it is left out.",
                        node=node,
                        path=CP + stored,
                    )
                continue
            if name not in known:
                if value.kind == UNSET or (value.kind == VALUE and value.value in ("", None)):
                    continue  # an empty field Elyra kept for an argument the class no longer has
                pl.error(
                    "operator-argument",
                    f"{comp.name} has no argument '{stored}'.",
                    node=node,
                    path=CP + stored,
                )
                continue
            given[name] = (stored, value)
        out: list[Argument] = []
        own = {p.name for p in comp.params}
        for name, p in known.items():
            stored, value = given.get(name, (name, NodeValue(UNSET)))
            arg = self._argument(slot, comp, p, value, CP + stored, templated=p.templated)
            if arg is _REFUSED:
                continue
            if arg is _MISSING:
                if p.required and name in own:
                    pl.error(
                        "operator-argument",
                        f"{comp.name} needs '{name}'"
                        + (f" ({p.description.rstrip('.')})" if p.description else "")
                        + ".",
                        node=node,
                        path=CP + stored,
                    )
                continue
            out.append(Argument(name, arg, templated=p.templated))
        return out

    def _defined(self, name: str, code: str, field: str, node: Node, path: str) -> bool:
        """Whether the pipeline defines parameter ``name``; if not, an error on ``field``."""
        if name in {q.name for q in self.pl.p.parameters}:
            return True
        self.pl.error(
            code,
            f"'{field}' takes pipeline parameter '{name}', which the pipeline does not define.",
            node=node,
            path=path,
        )
        return False

    def _argument(
        self, slot: Slot, comp: Component, p: Param, value: NodeValue, path: str, templated: bool
    ) -> Any:
        pl, node = self.pl, slot.node
        if value.kind == UNSET:
            return _MISSING
        if p.type == NOT_LITERAL and value.kind == VALUE and value.value in ("", None):
            return _MISSING  # an empty field of an argument only code can give
        if p.type == NOT_LITERAL and "callable" in (p.type_text or p.name).lower():
            return self._callable(slot, p, value, path)
        if value.kind == PARAMETER:
            name = str(value.value)
            if not self._defined(name, "operator-argument", p.name, node, path):
                return _REFUSED
            if not templated:
                pl.error(
                    "operator-argument",
                    f"'{p.name}' is not templated by {comp.name}, so it cannot take a pipeline "
                    "parameter; give a value.",
                    node=node,
                    path=path,
                )
                return _REFUSED
            return ParamRef(name)
        if value.kind == REF:
            parent = self._parent_task(slot, value.node_id)
            if parent is None:
                pl.error(
                    "operator-argument",
                    f"'{p.name}' takes the output of a node that is not linked to this one; link "
                    "it or choose another input.",
                    node=node,
                    path=path,
                )
                return _REFUSED
            if value.node_id not in self.pushes:
                pl.error(
                    "operator-argument",
                    f"'{p.name}' takes the return value of '{parent}', which pushes none (only "
                    "operator nodes with do_xcom_push do).",
                    node=node,
                    path=path,
                )
                return _REFUSED
            if not templated:
                pl.error(
                    "operator-argument",
                    f"'{p.name}' is not templated by {comp.name}, so it cannot take the output "
                    f"of '{parent}'.",
                    node=node,
                    path=path,
                )
                return _REFUSED
            return XComRef(parent, "")
        if value.kind == FILE:
            pl.error(
                "operator-argument",
                f"'{p.name}' is read from a file, which mlpipe-lab does not do at export; paste "
                "the value into the field.",
                node=node,
                path=path,
            )
            return _REFUSED
        try:
            result = literal(p, value.value)
        except ValueProblem as exc:
            pl.error("operator-argument", f"'{p.name}' {exc}.", node=node, path=path)
            return _REFUSED
        if result is LITERAL_UNSET or p.type == NOT_LITERAL:
            return _MISSING
        if templated:
            self._check_text(node, path, result, comp.template_ext)
        return result

    def _callable(self, slot: Slot, p: Param, value: NodeValue, path: str) -> Any:
        """A function given by its import path (``package.module.function``): the DAG imports
        it; anything else is refused naming the field."""
        from ..compiler.operator import safe_module

        text = value.value.strip() if value.kind == VALUE and isinstance(value.value, str) else ""
        text = text.replace(":", ".")
        module, _, name = text.rpartition(".")
        if module and safe_module(module) and name.isidentifier() and safe_module(name):
            return CallableRef(module, name)
        self.pl.error(
            "operator-argument",
            f"'{p.name}' takes a function: give the import path of one the Airflow workers can "
            "import (package.module.function).",
            node=slot.node,
            path=path,
        )
        return _REFUSED

    def _check_text(self, node: Node, path: str, value: Any, exts: tuple[str, ...]) -> None:
        """Text Airflow renders must be protectable ({% raw %}), which 'endraw' defeats."""
        if isinstance(value, str):
            if exts and value.endswith(tuple(exts)) and "endraw" in value:
                self.pl.error(
                    "template-text",
                    "A value ending with a template file extension that contains the word "
                    "'endraw' cannot be protected from Airflow's template rendering; remove "
                    "'endraw'.",
                    node=node,
                    path=path,
                )
            else:
                self.pl.text(value, node, path)
        elif isinstance(value, list):
            for v in value:
                self._check_text(node, path, v, exts)
        elif isinstance(value, dict):
            for v in value.values():
                self._check_text(node, path, v, exts)

    def _parent_task(self, slot: Slot, node_id: str) -> str | None:
        """The task id of a node upstream of this one (linked directly, through bindings, or
        through other tasks: Elyra offers the outputs of every ancestor); None otherwise."""
        layout = self.pl.layout
        tid = layout.task_id_of(node_id)
        if tid is None:
            return None
        upstream = {s.task_id: s.upstream for s in layout.slots}
        seen: set[str] = set()
        todo = list(slot.upstream)
        while todo:
            current = todo.pop()
            if current == tid:
                return tid
            if current not in seen:
                seen.add(current)
                todo += upstream.get(current, [])
        return None

    # -- Kubeflow Pipelines components ---------------------------------------------------------

    def _kfp(self, task: Task, slot: Slot, comp: Component) -> None:
        pl, node = self.pl, slot.node
        container = comp.container
        if container is None:
            pl.error(
                "component",
                f"Component {comp.name} runs no container (only container components run).",
                node=node,
                path="op",
            )
            return
        if pl.executor == "worker":
            pl.error(
                "component",
                "A Kubeflow Pipelines component runs as a Kubernetes pod, which execution mode "
                "'local-worker' cannot start; use execution mode 'kubernetes'.",
                node=node,
                path="op",
            )
            return
        values = node_values(node.app_data, comp.name)
        props = pl.p.node_properties(node)
        errors_before = len(pl.errors_of(node))
        inputs: dict[str, Value] = {}
        files: dict[str, str] = {}
        fetch: list[tuple[str, str]] = []  # (path in the pod, key below the run prefix)
        texts: list[tuple[str, Value]] = []  # (path in the pod, the value written to it)
        for p in comp.params:
            value = values.get(p.name, NodeValue(UNSET))
            path = CP + p.name
            if value.kind == REF:
                parent = self._parent_task(slot, value.node_id)
                if parent is None:
                    pl.error(
                        "component-input",
                        f"'{p.title or p.name}' takes the output of a node that is not linked to "
                        "this one; link it or choose another input.",
                        node=node,
                        path=path,
                    )
                    continue
                output = value.output or "output"
                files[p.name] = f"{KFP_INPUTS}/{parent}/{output}"
                if output in self.outputs.get(value.node_id or "", {}):
                    # a KFP parent's output file: through the object store (runner/command.py)
                    fetch.append((files[p.name], f"{parent}/outputs/{output}"))
                    self.consumed.setdefault(value.node_id or "", set()).add(output)
                    continue
                pl.warn(
                    "component-input",
                    f"'{p.title or p.name}' reads the output '{value.output}' of '{parent}', "
                    "which is not an output file of a Kubeflow Pipelines component: the pod gets "
                    f"the path {files[p.name]} with nothing in it unless a shared volume holds it.",
                    node=node,
                    path=path,
                )
                continue
            if value.kind == PARAMETER:
                name = str(value.value)
                if not self._defined(name, "component-input", p.title or p.name, node, path):
                    continue
                inputs[p.name] = ParamRef(name)
                if p.path:  # the parameter's run-time value is written to a file first
                    files[p.name] = f"{KFP_INPUTS}/{p.name}"
                    texts.append((files[p.name], inputs[p.name]))
                continue
            if value.kind == FILE:
                pl.error(
                    "component-input",
                    f"'{p.title or p.name}' is read from a file, which mlpipe-lab does not do at "
                    "export; paste the value into the field.",
                    node=node,
                    path=path,
                )
                continue
            raw = value.value if value.kind == VALUE else None
            if raw is None or raw == "":
                if p.has_default:
                    raw = p.default
                elif p.required:
                    pl.error(
                        "component-input",
                        f"{comp.name} needs '{p.title or p.name}'"
                        + (f" ({p.description.rstrip('.')})" if p.description else "")
                        + ".",
                        node=node,
                        path=path,
                    )
                    continue
                else:
                    continue
            try:
                result = literal(p, raw)
            except ValueProblem as exc:
                pl.error("component-input", f"'{p.title or p.name}' {exc}.", node=node, path=path)
                continue
            if result is LITERAL_UNSET:
                continue
            text = result if isinstance(result, str) else _json_text(result)
            inputs[p.name] = pl.text(text, node, path)
            if p.path:  # the value is written to a file before the command runs
                files[p.name] = f"{KFP_INPUTS}/{p.name}"
                texts.append((files[p.name], inputs[p.name]))
        outputs = {o.key: f"{KFP_OUTPUTS}/{o.key}" for o in comp.outputs}
        self.outputs[node.id] = outputs
        from ..components.kfp import resolve_command

        if len(pl.errors_of(node)) > errors_before:
            return  # the command line needs the inputs reported above
        try:
            argv = resolve_command(comp, inputs, files, outputs)
        except ValueError as exc:
            pl.error("component", f"Component {comp.name}: {exc}", node=node, path="op")
            return
        task.command = Command(program=argv[0], shared=[], args=argv[1])
        task.image = pl.image_of(node, container.image)
        task.env = dict(container.env)
        task.env.update(pl.component_env(node, props))
        task.secrets = pl.secrets(node, props)
        task.labels = pl.labels(node, props, slot.task_id)
        task.annotations = pl.pairs(node, props, "kubernetes_pod_annotations")
        task.resources = pl.resources(node, props)
        task.volumes, task.mounts = pl.volumes(node, props)
        task.tolerations = pl.tolerations(node, props)
        task.outputs = list(outputs.values())
        self.files[task.task_id] = (fetch, texts)

    def finish(self, tasks: list[Task]) -> None:
        """Once every task is planned: a KFP task that reads files (an upstream component's
        output, or a value given to an ``inputPath``) or writes an output a later component
        reads runs its command through the runner (``--kind command``, runner/command.py),
        which moves those files through the object store. Its image then needs python3; a
        component that passes no files runs its command directly, as in Kubeflow."""
        from ..runner.command import command_arguments
        from ..runner.contract import IMAGE_ENV, runner_command

        pl = self.pl
        # a notebook or script node downstream receives every output (through the manifest)
        read_by_nodes = {
            i for t in tasks if t.kind in ("notebook", "python", "r") for i in t.inputs
        }
        for task in tasks:
            if task.kind != KFP or task.task_id not in self.files or task.image is None:
                continue
            fetch, texts = self.files[task.task_id]
            mine = self.outputs.get(task.node_id, {})
            wanted = sorted(
                set(mine)
                if task.task_id in read_by_nodes
                else self.consumed.get(task.node_id, set()) & set(mine)
            )
            if not (fetch or texts or wanted):
                continue
            # the component's image holds nothing of ours: the init container brings the runner
            task.delivery = "init-container"
            task.command = Command(
                program=runner_command(delivery=task.delivery),
                shared=list(pl.runner.shared),
                args=command_arguments(
                    task_id=task.task_id,
                    argv=task.command.argv,
                    inputs=fetch,
                    texts=texts,
                    outputs=[(mine[key], key) for key in wanted],
                ),
            )
            task.env = {IMAGE_ENV: task.image.ref, **pl.store.env, **task.env}
            task.store_credentials = bool(pl.store.secrets)


def _json_text(value: Any) -> str:
    import json

    return json.dumps(value, separators=(",", ":"), sort_keys=False)


_MISSING = object()  # no value given
_REFUSED = object()  # a value given that cannot be used (the problem is reported)

__all__ = ["KFP_INPUTS", "KFP_OUTPUTS", "ComponentPlanner", "Join"]
