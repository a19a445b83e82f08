"""The plan: the one place where what a pipeline becomes is decided.

    pipeline + runtime configuration (+ image catalog, + bundle keys)  --plan()-->  Plan

A :class:`Plan` is plain typed data: the DAG id and settings (schedule, start date, params...),
how tasks execute (pods, or on the Airflow worker), the object store and the runner's shared
arguments, and the tasks in a topological order. Each :class:`Task` has its id, display name,
kind (notebook, python, r, serve), the command it starts (the runner's argv is built with
``runner/contract.py``, the single definition of it), the tasks it waits for (``upstream``) and
receives outputs from (``inputs``), its outputs, environment, Secret references, image,
resources, volumes and mounts, pod labels and annotations, scheduling, and Airflow settings
(retries, timeouts, trigger rule, pool). A serve node is one task per step (``step``/``steps``).

Every problem the compiler can find is in ``Plan.problems``, located by node and field (the
``path`` of :class:`~mlpipe_lab.pipeline.problems.Problem`). The planner never raises on a parsed
document; it works on broken ones too (validation shows their problems).

Who uses it, and nobody derives an id or repeats a check anywhere else:

- validation (:func:`check`): the structural checks of ``pipeline/validation.py`` plus the plan's
  problems, for a runtime configuration: a pipeline shown valid exports;
- export and the compiler: ``compiler.render_plan(plan)`` is a pure function plan -> DAG text;
- local runs execute the plan's tasks (their argv and env, run-time values filled in);
- describe, the runs services and retire take DAG and task ids from it.

Values known only when a run starts (the run id, parameter values, a result of an earlier task)
are typed (:mod:`.values`); everything else is plain text as the user wrote it.
"""

from __future__ import annotations

from .check import Checked, check, structural_and_plan
from .layout import Layout, Slot, dag_id_of, layout, serve_steps
from .model import (
    PODS,
    RUNNER_KINDS,
    WORKER,
    Cluster,
    Command,
    DagSettings,
    Image,
    Mount,
    ParamSpec,
    Plan,
    Resources,
    Runner,
    SecretRef,
    Store,
    Task,
    Toleration,
    Volume,
)
from .planner import layout_for, plan
from .values import RUN_ID, ItemCount, Join, ParamRef, RunId, Value, XComRef

__all__ = [
    "PODS",
    "RUNNER_KINDS",
    "RUN_ID",
    "WORKER",
    "Checked",
    "Cluster",
    "Command",
    "DagSettings",
    "Image",
    "ItemCount",
    "Join",
    "Layout",
    "Mount",
    "ParamRef",
    "ParamSpec",
    "Plan",
    "Resources",
    "RunId",
    "Runner",
    "SecretRef",
    "Slot",
    "Store",
    "Task",
    "Toleration",
    "Value",
    "Volume",
    "XComRef",
    "check",
    "dag_id_of",
    "layout",
    "layout_for",
    "plan",
    "serve_steps",
    "structural_and_plan",
]
