"""The compiler: a plan -> the text of one Airflow DAG file. Pure: no I/O, no clock, no checks
(the planner made them; ``mlpipe_lab.plan``)."""

from __future__ import annotations

import builtins
import hashlib
import json
import keyword
import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..pipeline.files import OK, lexical_status
from ..pipeline.model import Pipeline
from ..pipeline.problems import WARNING, Problem
from ..plan import Plan, check
from ..plan.check import image_refs  # noqa: F401  (re-exported)
from ..plan.model import APPROVAL, BRANCH, KFP, OPERATOR, WORKER
from . import approval, bash, branch, delivery, kpo, mapping, operator, serve
from .context import RenderContext
from .dag import dag_call, imports, shared_constants
from .emit import (
    Call,
    EmitError,
    Method,
    Name,
    Splat,
    Writer,
    escape_for_comment,
    literal,
    render,
)

try:
    from .._version import __version__ as GENERATOR_VERSION
except ImportError:  # not built (no hatch version hook run)
    GENERATOR_VERSION = "0.0.0"

TARGETS = (None, "2", "3")

# Names the generated module defines or imports; task variables never take them.
MODULE_NAMES = {
    "DAG",
    "Param",
    "KubernetesPodOperator",
    "Secret",
    "k8s",
    "pendulum",
    "timedelta",
    "RUNNER",
    "POD_SETTINGS",
    "TASK_ENV",
    "TASK_LABELS",
    "STORE_SECRETS",
    "dag",
    "BashOperator",
    "TASK_SETTINGS",
    "NOTEBOOK_PARAMS",
    "RUNNER_POD",
    "RUNNER_IN_IMAGE",
    "RUNNER_COPIED",
    "RUNNER_ZIPAPP",
    "os",
    "RESULT_TASK_SETTINGS",
    *branch.NAMES,
    *mapping.NAMES,
    "ApprovalOperator",
}
_RESERVED = MODULE_NAMES | set(dir(builtins))


@dataclass
class CompiledDag:
    dag_id: str
    filename: str
    text: str
    tasks: list[dict[str, str]]  # {node_id, task_id, label}, in the file's order
    problems: list[Problem] = field(default_factory=list)  # warnings

    def to_json(self) -> dict[str, Any]:
        return {
            "dag_id": self.dag_id,
            "filename": self.filename,
            "text": self.text,
            "tasks": self.tasks,
            "problems": [p.to_json() for p in self.problems],
        }


def source_hash(doc: dict[str, Any]) -> str:
    """sha256 of the canonical JSON of a pipeline document (sorted keys, no whitespace)."""
    canonical = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


def _target(target: str | None) -> str | None:
    if target == "auto":
        target = None
    if target not in TARGETS:
        raise ValueError(f"target must be '2', '3' or None, not {target!r}")
    return target


def compile_pipeline(
    pipeline: Pipeline,
    *,
    images: list[dict[str, Any]],
    config: dict[str, Any],
    source_path: str,
    bundles: Mapping[str, Any] | None = None,
    target: str | None = None,
    components: Any = None,
) -> CompiledDag:
    """Check and compile a pipeline to one DAG file's text (files are not looked at: export does).

    ``images``: runtime image catalog entries; ``config``: the runtime configuration (plain dicts);
    ``source_path``: the pipeline's path as shown in the header (relative); ``bundles``: node id ->
    BundleRef (or {"key": ...}) from export, else placeholder keys are used; ``target``: "2" or "3"
    for a file that only imports on that Airflow major, None for both.
    Raises PipelineError when the pipeline has errors; the result carries the warnings.
    """
    target = _target(target)
    checked = check(
        pipeline, config=config, images=images, bundles=bundles, components=components, dag=True
    )
    checked.raise_errors()
    assert checked.plan is not None
    problems = list(checked.problems)
    if bundles is None:
        problems.append(
            Problem(
                code="bundles",
                message="Node bundles were not built, so the DAG refers to placeholder bundle "
                "keys; export or publish the pipeline to build them.",
                severity=WARNING,
                pipeline=pipeline.name,
            )
        )
    return compile_plan(
        checked.plan, pipeline, source_path=source_path, target=target, problems=problems
    )


def compile_plan(
    plan: Plan,
    pipeline: Pipeline,
    *,
    source_path: str,
    target: str | None = None,
    problems: list[Problem] | None = None,
) -> CompiledDag:
    """The DAG file of a plan without errors (``problems``: the warnings to pass on)."""
    if not plan.ok:
        raise EmitError("a plan with errors cannot be rendered")
    text = render_plan(
        plan, source_path=source_path, source_sha256=source_hash(pipeline.doc), target=target
    )
    return CompiledDag(
        dag_id=plan.dag_id,
        filename=f"{plan.dag_id}.py",
        text=text,
        tasks=plan.task_summaries(),
        problems=list(problems if problems is not None else plan.problems),
    )


def render_plan(
    plan: Plan, *, source_path: str, source_sha256: str, target: str | None = None
) -> str:
    """The text of the DAG file of ``plan`` (pure)."""
    target = _target(target)
    ctx = RenderContext(plan)
    constants = shared_constants(ctx)
    ctx.shared = {name for name, _ in constants}
    dag = dag_call(ctx, plan)
    worker = plan.executor == WORKER
    reserved = set(MODULE_NAMES) - ({"BashOperator"} if not worker else set())
    imported = operator.aliases(plan.tasks, reserved)
    calls = []
    for t in plan.tasks:
        if t.kind == OPERATOR:
            assert t.operator is not None
            call = operator.operator_call(ctx, t, imported)
        elif t.kind == BRANCH:
            call = branch.task_call(ctx, t, imported)
        elif t.kind == APPROVAL:
            call = approval.task_call(ctx, t)
        elif t.kind == KFP:
            call = operator.kfp_call(ctx, t)
        elif worker:
            call = bash.task_call(ctx, t)
        elif t.kind == "serve":
            call = serve.task_call(ctx, t)
        else:
            call = kpo.task_call(ctx, t)
        calls.append(call)
    # fan-outs: an items task each, and the node's task mapped over its output
    fanouts = [t for t in plan.tasks if t.for_each is not None]
    variables = _variables([t.task_id for t in plan.tasks], set(imported.values()))
    item_vars = _variables(
        [t.for_each.items_task for t in fanouts],  # type: ignore[union-attr]
        set(imported.values()) | set(variables.values()),
    )
    item_vars = {t.task_id: item_vars[t.for_each.items_task] for t in fanouts}  # type: ignore[union-attr]
    item_calls = {t.task_id: mapping.items_call(ctx, t, imported) for t in fanouts}
    calls = [
        mapping.mapped(ctx, t, c, item_vars[t.task_id]) if t.for_each is not None else c
        for t, c in zip(plan.tasks, calls)
    ]
    if kpo.NOTEBOOK_PARAMS in ctx.uses:
        constants.insert(1, (kpo.NOTEBOOK_PARAMS, kpo.notebook_param_args(ctx)))  # after RUNNER
    if bash.ZIPAPP in ctx.uses:
        ctx.uses.add("os")
        constants[:0] = bash.runner_constants()
    if delivery.INIT in ctx.uses:
        constants.insert(1, (delivery.INIT, delivery.runner_pod(ctx)))
    # what every runner/serve task has in common goes into module constants (operator and KFP
    # component tasks keep their own arguments)
    own = [
        c.obj if isinstance(c, Method) else c  # a fan-out's partial() takes the same settings
        for t, c in zip(plan.tasks, calls)
        if t.kind not in (OPERATOR, KFP, BRANCH, APPROVAL)
    ]
    _share_common_settings(constants, own)
    _share_common_entries(constants, own, "env_vars", "TASK_ENV")
    _share_common_entries(constants, own, "env", "TASK_ENV")
    _share_common_entries(constants, own, "labels", "TASK_LABELS")
    _share_common_settings(constants, own, ("labels",))  # labels=TASK_LABELS
    if bash.RESULT_SETTINGS in ctx.uses:  # after TASK_SETTINGS got its shared settings
        constants.append(bash.result_settings())

    w = Writer()
    w.comment(
        f"Generated by mlpipe-lab {GENERATOR_VERSION} from {_header_path(source_path)}. DO NOT EDIT."
    )
    w.comment(f"source-sha256: {source_sha256}")
    w.raw_lines(imports(ctx.uses, target))
    if imported:
        w.raw_lines(operator.import_lines({alias: key for key, alias in imported.items()}, target))
    if approval.NAME in ctx.uses:
        w.raw_lines(approval.import_lines(plan.tasks))
    w.line()
    if worker:
        w.comment(
            "Shared by every task: its environment and settings (tasks run on the Airflow worker)."
        )
    else:
        w.comment(
            "Shared by every task: the node runner and where it finds files, and pod settings."
        )
    for name, value in constants:
        w.assign(name, value)
    copied: set[str] = set()
    if any(t.kind == BRANCH for t in plan.tasks):
        w.raw_lines(branch.functions())
        copied = set(branch.NAMES)
        w.line()
    if fanouts:
        w.raw_lines(mapping.functions(copied))
        if worker:
            w.raw_lines(mapping.ITEM_BASH_SOURCE)
        w.line()
    w.line()
    w.raw_lines(_with_dag(dag))
    for task, call in zip(plan.tasks, calls):
        w.line()
        if task.task_id in item_calls:
            w.assign(item_vars[task.task_id], item_calls[task.task_id], indent=1)
        w.assign(variables[task.task_id], call, indent=1)
    edges = [t for t in plan.tasks if t.upstream]
    if edges:
        w.line()
        for t in edges:
            ups = [Name(variables[u]) for u in t.upstream]
            lines = render(ups[0] if len(ups) == 1 else ups, 1)
            targets = [variables[t.task_id]]
            if t.task_id in item_vars:  # the items task reads what the upstream tasks made
                targets.insert(0, item_vars[t.task_id])
            lines[-1] += " >> " + (
                targets[0] if len(targets) == 1 else "[" + ", ".join(targets) + "]"
            )
            w.raw_lines(lines)
    return w.text()


def _variables(task_ids: list[str], taken: set[str] = frozenset()) -> dict[str, str]:  # type: ignore[assignment]
    """Python variable names for task ids: readable, unique, never a keyword or a module name."""
    used: set[str] = set(taken)
    out: dict[str, str] = {}
    for tid in task_ids:
        base = re.sub(r"[^A-Za-z0-9_]", "_", tid)
        if (
            not base
            or base[0].isdigit()
            or keyword.iskeyword(base)
            or base in _RESERVED
            or base in taken
        ):
            base = "t_" + base
        name, n = base, 1
        while name in used:
            n += 1
            name = f"{base}_{n}"
        used.add(name)
        out[tid] = name
    return out


# Operator arguments moved into POD_SETTINGS when every task has the same value. Only values that
# Airflow does not render in place are shared (plain strings, lists and dicts are copied when
# rendered; Secret, V1LocalObjectReference and V1Toleration are not templated at all), so tasks
# never share an object that template rendering mutates (V1EnvVar, V1Volume, ...).
SHAREABLE = (
    "image",
    "image_pull_policy",
    "image_pull_secrets",
    "secrets",
    "node_selector",
    "tolerations",
    "service_account_name",
    "trigger_rule",
    "pool",
    "priority_weight",
    "retries",
    "labels",
    "full_pod_spec",
    "init_container_logs",
)


def _share_common_settings(
    constants: list[tuple[str, Any]], calls: list[Call], keys: tuple[str, ...] = SHAREABLE
) -> None:
    if len(calls) < 2:
        return
    pod = constants[-1][1]  # POD_SETTINGS, or TASK_SETTINGS for local-worker tasks
    kwargs = [dict(c.kwargs) for c in calls]
    shared = set()
    for key in keys:
        if not all(key in kw for kw in kwargs):
            continue
        first = literal(kwargs[0][key])
        if all(literal(kw[key]) == first for kw in kwargs[1:]):
            pod.kwargs.append((key, kwargs[0][key]))
            shared.add(key)
    if shared:  # one pass over the calls, not one per shared key (5,000 calls x 12 keys)
        for call in calls:
            call.kwargs = [(k, v) for k, v in call.kwargs if k not in shared]


def _share_common_entries(
    constants: list[tuple[str, Any]], calls: list[Call], kwarg: str, name: str
) -> None:
    """Dict entries every task has (storage endpoint, pipeline defaults, parameters, the DAG label)
    go into a module constant; tasks keep only their own. Safe to share: these are plain dicts
    (KPO builds its own V1EnvVar objects, and rendering copies dicts)."""
    values = [dict(c.kwargs).get(kwarg) for c in calls]
    if len(calls) < 2 or not all(isinstance(v, dict) and v for v in values):
        return
    common = {k: v for k, v in values[0].items() if all(e.get(k, None) == v for e in values[1:])}
    if not common:
        return
    constants.insert(len(constants) - 1, (name, common))  # before POD_SETTINGS
    for call, entries in zip(calls, values):
        rest = {k: v for k, v in entries.items() if k not in common}
        value: Any = {Splat(name): None, **rest} if rest else Name(name)
        call.kwargs = [(k, value if k == kwarg else v) for k, v in call.kwargs]


def _with_dag(dag: Any) -> list[str]:
    lines = render(dag, 0, "with ")
    lines[-1] += ":"
    return lines


def _header_path(source_path: str) -> str:
    """The source path for the header, never absolute (a local path is nobody else's business)."""
    text = (source_path or "").replace("\\", "/")
    if text and lexical_status(text) != OK:
        text = posixpath.basename(text.rstrip("/"))
    return escape_for_comment(text or "(unsaved pipeline)")
