"""compile_pipeline: a Pipeline -> the text of one Airflow DAG file. Pure: no I/O, no clock."""

from __future__ import annotations

import hashlib
import json
import posixpath
from dataclasses import dataclass, field
from typing import Any

from ..pipeline.files import OK, lexical_status
from ..pipeline.model import Pipeline
from ..pipeline.problems import ERROR, PipelineError, Problem
from ..pipeline.validation import validate
from . import bash, delivery, serve
from .context import Context
from .dag import LOCAL_WORKER, dag_call, imports, shared_constants
from .emit import Call, Name, Splat, Writer, escape_for_comment, literal, render
from .kpo import NOTEBOOK_PARAMS, notebook_param_args, task_call
from .plan import Plan, make_plan
from .settings import read_settings

try:
    from .._version import __version__ as GENERATOR_VERSION
except ImportError:  # not built (no hatch version hook run)
    GENERATOR_VERSION = "0.0.0"

TARGETS = (None, "2", "3")


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


def image_refs(images: list[dict[str, Any]] | None) -> list[str]:
    return [
        e["image"] for e in images or [] if isinstance(e, dict) and isinstance(e.get("image"), str)
    ]


def compile_pipeline(
    pipeline: Pipeline,
    *,
    images: list[dict[str, Any]],
    config: dict[str, Any],
    source_path: str,
    bundles: dict[str, Any] | None = None,
    target: str | None = None,
) -> CompiledDag:
    """Compile a pipeline to one DAG file's text.

    ``images``: runtime image catalog entries; ``config``: the runtime configuration (plain dicts);
    ``source_path``: the pipeline's path as shown in the header (relative); ``bundles``: node id ->
    BundleRef (or {"key": ...}) from export, else placeholder keys are used; ``target``: "2" or "3"
    for a file that only imports on that Airflow major, None for both.
    Raises PipelineError when the pipeline has errors; the result carries the warnings.
    """
    checked = validate(pipeline.doc, source=pipeline.source, images=image_refs(images))
    return compile_checked(
        pipeline,
        checked,
        images=images,
        config=config,
        source_path=source_path,
        bundles=bundles,
        target=target,
    )


def plan_for(pipeline: Pipeline, config: dict[str, Any]) -> Plan:
    """The task plan for this runtime: serve nodes expand without Kubernetes on the local runtime
    and in local-worker mode."""
    s = read_settings(config)
    local = s.type == "local" or (s.type == "airflow" and s.execution_mode == LOCAL_WORKER)
    return make_plan(pipeline, local=local)


def compile_checked(
    pipeline: Pipeline,
    checked: list[Problem],
    *,
    images: list[dict[str, Any]],
    config: dict[str, Any],
    source_path: str,
    bundles: dict[str, Any] | None = None,
    target: str | None = None,
    plan: Plan | None = None,
) -> CompiledDag:
    """compile_pipeline for a pipeline already validated (``checked`` = validate()'s problems);
    ``plan``: plan_for(pipeline, config) when the caller has it already (export does)."""
    if target == "auto":
        target = None
    if target not in TARGETS:
        raise ValueError(f"target must be '2', '3' or None, not {target!r}")
    errors = [p for p in checked if p.severity == ERROR]
    if errors:
        raise PipelineError(errors)
    warnings = list(checked)

    ctx = Context(pipeline, read_settings(config), images, bundles)
    local_worker = ctx.settings.type == "airflow" and ctx.settings.execution_mode == LOCAL_WORKER
    if plan is None:
        plan = plan_for(pipeline, config)
    ctx.delivery_modes = {delivery.mode(ctx, t.node) for t in plan.tasks if t.kind != "serve"}
    ctx.cmds_per_task = not local_worker and (
        any(t.kind == "serve" for t in plan.tasks) or len(ctx.delivery_modes) > 1
    )
    params = pipeline.parameters
    if bundles is None:
        ctx.warn(
            "bundles",
            "Node bundles were not built, so the DAG refers to placeholder bundle keys; "
            "export or publish the pipeline to build them.",
        )

    if not plan.tasks:
        ctx.error(
            "empty-pipeline",
            "The pipeline has no notebook, Python, R or Serve MLflow model node to run.",
        )
    constants = shared_constants(ctx, plan.dag_id)
    shared = {name for name, _ in constants}
    dag = dag_call(ctx, plan.dag_id, params)
    if "TASK_SETTINGS" in shared:
        emit_task, emit_serve = bash.task_call, serve.bash_task_call
    else:
        emit_task, emit_serve = task_call, serve.task_call
    calls = [
        (t, (emit_serve if t.kind == "serve" else emit_task)(ctx, t, plan.dag_id, params, shared))
        for t in plan.tasks
    ]
    errors = [p for p in ctx.problems if p.severity == ERROR]
    if errors:
        raise PipelineError(errors)
    if NOTEBOOK_PARAMS in ctx.uses:
        constants.insert(1, (NOTEBOOK_PARAMS, notebook_param_args(params)))  # after RUNNER
    if delivery.INIT in ctx.uses:
        constants.insert(1, (delivery.INIT, delivery.runner_pod(ctx)))
    _share_common_settings(constants, [c for _, c in calls])
    _share_common_entries(constants, [c for _, c in calls], "env_vars", "TASK_ENV")
    _share_common_entries(constants, [c for _, c in calls], "env", "TASK_ENV")
    _share_common_entries(constants, [c for _, c in calls], "labels", "TASK_LABELS")
    _share_common_settings(constants, [c for _, c in calls], ("labels",))  # labels=TASK_LABELS

    w = Writer()
    w.comment(
        f"Generated by mlpipe-lab {GENERATOR_VERSION} from {_header_path(source_path)}. DO NOT EDIT."
    )
    w.comment(f"source-sha256: {source_hash(pipeline.doc)}")
    w.raw_lines(imports(ctx.uses, target))
    w.line()
    if "TASK_SETTINGS" in shared:
        w.comment(
            "Shared by every task: its environment and settings (tasks run on the Airflow worker)."
        )
    else:
        w.comment(
            "Shared by every task: the node runner and where it finds files, and pod settings."
        )
    for name, value in constants:
        w.assign(name, value)
    w.line()
    w.raw_lines(_with_dag(dag))
    for task, call in calls:
        w.line()
        w.assign(task.var, call, indent=1)
    edges = [t for t in plan.tasks if t.upstream]
    if edges:
        w.line()
        var = {t.task_id: t.var for t in plan.tasks}
        for t in edges:
            ups = [Name(var[u]) for u in t.upstream]
            lines = render(ups[0] if len(ups) == 1 else ups, 1)
            lines[-1] += " >> " + t.var
            w.raw_lines(lines)
    return CompiledDag(
        dag_id=plan.dag_id,
        filename=f"{plan.dag_id}.py",
        text=w.text(),
        tasks=[
            {"node_id": t.node_id, "task_id": t.task_id, "label": t.node.label} for t in plan.tasks
        ],
        problems=warnings + ctx.problems,
    )


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
