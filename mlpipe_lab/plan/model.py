"""The plan's types: plain dataclasses, no behaviour beyond small lookups (see the package docstring)."""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Any

from ..pipeline.problems import ERROR, Problem
from .values import Value

# Task kinds. The runner runs the first three; a serve node becomes several "serve" tasks; an
# Airflow operator node is an "operator" task (that operator in the DAG), a Kubeflow Pipelines
# component node a "kfp" pod task (the component's own image and command).
NOTEBOOK, PYTHON, R, SERVE = "notebook", "python", "r", "serve"
OPERATOR, KFP = "operator", "kfp"
# A branch node: no process; Airflow's BranchPythonOperator, the local engine decides it itself.
BRANCH = "branch"
BRANCH_JOIN_RULE = "none_failed_min_one_success"  # joins after a branch (unless the node says)
BRANCH_OPS = ("==", "!=", "<", "<=", ">", ">=", "in", "not in", "is true", "is false")
# An approval gate: no process; Airflow's ApprovalOperator (3.1+), the local engine waits for a
# decision file (docs/control-flow.md).
APPROVAL = "approval"
RUNNER_KINDS = (NOTEBOOK, PYTHON, R)
APPROVE, REJECT = "approve", "reject"

# How the tasks of a DAG execute: as Kubernetes pods (the default, also for the local runtime's
# embedded Airflow), or on the Airflow worker itself (execution mode "local-worker").
PODS, WORKER = "pods", "worker"

DEFAULT_TRIGGER_RULE = "all_success"


@dataclass
class ParamSpec:
    """A DAG parameter (Airflow ``Param``) as the DAG declares it."""

    name: str
    type: str  # string | integer | number | boolean | array (a list parameter)
    default: Any = None
    has_default: bool = False  # False: no default argument (a required parameter)
    nullable: bool = False  # the type also admits null (an optional parameter without default)
    enum: list[Any] | None = None
    minimum: float | None = None
    maximum: float | None = None
    description: str = ""


@dataclass
class DagSettings:
    dag_id: str
    display_name: str | None  # the pipeline's name when it differs from the DAG id
    description: str
    doc_md: str | None
    schedule: str | None  # None: manual runs only
    start_date: _dt.date
    catchup: bool
    max_active_runs: int
    dagrun_timeout: int | None  # seconds
    paused_on_creation: bool
    tags: list[str]
    owner: str
    retries: int  # defaults for every task (default_args)
    retry_delay: int  # seconds
    execution_timeout: int | None  # seconds
    params: list[ParamSpec] = field(default_factory=list)
    cache: bool | None = None  # step caching; None: on for local runs, off on Airflow
    cache_max_age: int | None = None  # seconds; None: cached results never expire


@dataclass
class Cluster:
    """Where pods run (KubernetesPodOperator connection settings)."""

    namespace: str | None
    in_cluster: bool | None
    config_file: str | None
    context: str | None


@dataclass
class SecretRef:
    """An environment variable set from a key of a Kubernetes Secret (never a value)."""

    env_var: str
    secret: str
    key: str


@dataclass
class Store:
    """The object store tasks exchange files through. ``kind`` None: none is configured (an error
    of the plan for runner tasks)."""

    kind: str | None  # "s3" | "local" | None
    bucket: str | None = None
    endpoint: str | None = None
    region: str | None = None
    prefix: str | None = None  # key prefix: the configuration's joined with the pipeline's
    root: str | None = None  # the local store's folder
    env: dict[str, str] = field(default_factory=dict)  # plain settings for tasks (no credentials)
    secrets: list[SecretRef] = field(default_factory=list)  # credentials for pods, by reference


@dataclass
class Command:
    """How a task's process starts. ``program`` is the container command (empty: the image's own
    entrypoint); ``shared`` are arguments every runner task of the DAG has (store and run prefix:
    :attr:`Plan.runner`'s); ``args`` are the task's own."""

    program: list[str]
    shared: list[Value]
    args: list[Value]

    @property
    def argv(self) -> list[Value]:
        return [*self.program, *self.shared, *self.args]


@dataclass
class Runner:
    """The node runner every notebook/Python/R task starts (see ``runner/contract.py``).

    ``delivery`` is how it reaches pods by default (the runtime configuration's): "init-container"
    (copied from ``image``, the runner image, into an emptyDir) or "image" (already in the node's
    image); a task's runtime image may choose the other (:attr:`Task.delivery`)."""

    program: list[
        str
    ]  # the default delivery's command, e.g. ["python3", "-m", "mlpipe_lab.runner"]
    shared: list[Value]  # the contract's store arguments, with the run prefix
    delivery: str = "image"
    image: str = ""  # the runner image (init-container delivery)


@dataclass
class Image:
    ref: str
    pull_policy: str | None = None
    pull_secrets: list[str] = field(default_factory=list)


@dataclass
class Resources:
    requests: dict[str, str] = field(default_factory=dict)  # sorted by name
    limits: dict[str, str] = field(default_factory=dict)


@dataclass
class Volume:
    """A pod volume: a persistent volume claim, a memory-backed emptyDir (shared memory), or a
    Secret's keys as files."""

    name: str
    claim: str | None = None
    memory_limit: str | None = None
    secret: str | None = None
    items: list[tuple[str, str]] = field(default_factory=list)  # secret key -> file name


@dataclass
class Mount:
    volume: str
    path: str
    sub_path: str | None = None
    read_only: bool = False


@dataclass
class Toleration:
    key: str | None
    operator: str | None
    value: str | None
    effect: str | None


@dataclass
class Argument:
    """A keyword argument of an operator task. ``value`` is a JSON value whose strings are the
    user's text (never code) and whose leaves may be run-time values (a pipeline parameter, the
    return value of a parent task); ``templated``: Airflow renders it with Jinja."""

    name: str
    value: Any
    templated: bool = False


@dataclass(frozen=True)
class CallableRef:
    """A function the Airflow workers import (``module.name``), given as an operator argument
    that takes a callable (PythonOperator's ``python_callable``): the DAG imports it by name."""

    module: str
    name: str


@dataclass
class OperatorCall:
    """What an operator task is: ``module.class_name(**arguments)``."""

    class_name: str
    module: str  # as the catalog lists it (the renderer adds the Airflow 2/3 fallbacks)
    component: str  # the component id it was resolved to
    arguments: list[Argument] = field(default_factory=list)
    template_ext: tuple[str, ...] = ()  # a templated text ending so would be read as a file


# Where a ValueFrom comes from (docs/control-flow.md).
FROM_PARAMETER, FROM_RESULT = "parameter", "result"


@dataclass(frozen=True)
class ValueFrom:
    """A value a node tests (branch) or maps over (fan-out), known only when the run reaches it:
    a pipeline parameter's value, or a key of the JSON result an upstream task returned
    (``plan/flow.py`` resolves and checks the node's ``value_from``)."""

    source: str  # FROM_PARAMETER | FROM_RESULT
    parameter: str | None = None  # FROM_PARAMETER: its name
    task_id: str | None = None  # FROM_RESULT: the task that returns the result
    node_id: str | None = None  # FROM_RESULT: that task's node
    key: tuple[str, ...] = ()  # FROM_RESULT: path into the result; (): the whole result

    @property
    def key_text(self) -> str:
        return ".".join(self.key)


@dataclass(frozen=True)
class ForEach:
    """A fan-out (``mlpipe.for_each``, docs/control-flow.md): the task runs once per item of the
    JSON list ``value`` is, at most ``max_parallel`` items at a time; each item reaches the node as
    the parameter ``item_parameter``. On Airflow the list is read by the task ``items_task`` (a
    small PythonOperator the mapped task expands over, see compiler/mapping.py)."""

    value: ValueFrom
    max_parallel: int
    item_parameter: str
    items_task: str


@dataclass
class BranchRule:
    op: str  # one of BRANCH_OPS
    value: Any  # JSON; a list for in / not in; None for is true / is false
    run: list[str]  # task ids


@dataclass
class Branch:
    """What a branch task decides: the task ids of the first rule ``value`` matches, else
    ``otherwise`` (``plan/branching.py`` evaluates it, in the DAG and in local runs)."""

    value: ValueFrom
    rules: list[BranchRule]
    otherwise: list[str]  # task ids
    targets: list[str] = field(default_factory=list)  # task ids linked directly after it

    def spec(self, task_id: str, parse: bool = False) -> dict[str, Any]:
        """The JSON the evaluator reads (``parse``: a result arrives as JSON text, the XCom of
        Airflow's BashOperator)."""
        v = self.value
        source: dict[str, Any] = (
            {"from": v.source, "parameter": v.parameter}
            if v.source == FROM_PARAMETER
            else {"from": v.source, "task_id": v.task_id, "key": list(v.key)}
        )
        return {
            "task_id": task_id,
            "value_from": source,
            "parse": parse,
            "rules": [{"op": r.op, "value": r.value, "run": list(r.run)} for r in self.rules],
            "otherwise": list(self.otherwise),
        }


@dataclass
class Approval:
    """What an approval gate asks and what happens when nobody answers: ``message`` is the user's
    text with the pipeline parameters it names as run-time values; ``timeout`` in seconds (None:
    wait until someone decides); ``on_timeout``: APPROVE or REJECT."""

    message: Value
    timeout: int | None = None
    on_timeout: str = REJECT


@dataclass
class Task:
    """One Airflow task. A notebook/Python/R node is one task; a serve node is one per step."""

    task_id: str
    node_id: str
    label: str  # the node's label
    kind: str  # notebook | python | r | serve
    command: Command
    step: str | None = None  # serve tasks: package | build | deploy | wait | smoke | check
    steps: dict[str, str] = field(default_factory=dict)  # serve tasks: step -> task id (the node's)
    display_name: str | None = None  # when it differs from the task id
    doc: str | None = None
    file: str = ""  # the node's file in its bundle (whose root is the file's folder)
    bundle: str | None = None  # object key of the node's bundle
    upstream: list[str] = field(default_factory=list)  # task ids this task waits for
    inputs: list[str] = field(default_factory=list)  # tasks whose outputs it receives
    outputs: list[str] = field(default_factory=list)  # output globs (the runner uploads them)
    params: list[str] = field(default_factory=list)  # pipeline parameters it receives
    image: Image | None = None
    delivery: str | None = None  # runner tasks in pods: how the runner reaches the pod
    env: dict[str, Value] = field(default_factory=dict)
    secrets: list[SecretRef] = field(default_factory=list)
    store_credentials: bool = False  # also gets the store's credential Secret references
    resources: Resources | None = None
    volumes: list[Volume] = field(default_factory=list)
    mounts: list[Mount] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    node_selector: dict[str, str] = field(default_factory=dict)
    tolerations: list[Toleration] = field(default_factory=list)
    service_account: str | None = None
    retries: int | None = None  # None: the DAG's default
    retry_delay: int | None = None  # seconds
    execution_timeout: int | None = None  # seconds
    trigger_rule: str | None = None  # None: all_success
    pool: str | None = None
    priority_weight: int | None = None
    returns_result: bool = False  # the task returns a JSON result (XCom) later tasks read
    skip_exit_code: int | None = None  # exiting with it ends the task as skipped, not failed
    cache: bool | None = None  # step caching for this node; None: the pipeline's setting
    cache_max_age: int | None = None  # seconds; None: the pipeline's setting
    side_effects: bool = False  # changes things outside its outputs: never cached
    operator: OperatorCall | None = None  # operator tasks: the operator and its arguments
    branch: Branch | None = None  # branch tasks: what they decide
    for_each: ForEach | None = None  # a fan-out: one instance per item (runner tasks only)
    approval: Approval | None = None  # approval gates: their message and timeout

    @property
    def effective_trigger_rule(self) -> str:
        return self.trigger_rule or DEFAULT_TRIGGER_RULE

    def summary(self) -> dict[str, Any]:
        """``{task_id, node_id, label}``: how services and the REST API name a task."""
        return {"task_id": self.task_id, "node_id": self.node_id, "label": self.label}


@dataclass
class Plan:
    """What a pipeline becomes for one runtime configuration."""

    pipeline: str  # the pipeline's name
    dag: DagSettings
    executor: str  # PODS | WORKER
    runtime: str  # the runtime configuration's type: "airflow" | "local"
    config_name: str
    cluster: Cluster
    store: Store
    runner: Runner
    tasks: list[Task]  # in a topological order (ties: the nodes' order in the file)
    problems: list[Problem] = field(default_factory=list)  # errors and warnings, located

    @property
    def dag_id(self) -> str:
        return self.dag.dag_id

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == ERROR]

    @property
    def ok(self) -> bool:
        return not any(p.severity == ERROR for p in self.problems)

    def task(self, task_id: str) -> Task:
        for t in self.tasks:
            if t.task_id == task_id:
                return t
        raise KeyError(task_id)

    def tasks_of(self, node_id: str) -> list[Task]:
        """The node's tasks (several for a serve node, none for a node that runs nothing)."""
        return [t for t in self.tasks if t.node_id == node_id]

    def timeout(self, task: Task) -> int | None:
        """The task's execution timeout in seconds, the DAG's default applied (as Airflow does)."""
        return (
            task.execution_timeout
            if task.execution_timeout is not None
            else (self.dag.execution_timeout)
        )

    def caching(self, task: Task, *, default: bool) -> tuple[bool, int | None]:
        """Whether ``task`` may reuse an earlier run's results, and their maximum age in seconds
        (None: any age). ``default`` applies when neither the node nor the pipeline says
        (local runs: on, Airflow: off). Nodes with side effects and serve tasks never do."""
        if task.side_effects or task.kind not in RUNNER_KINDS:
            return False, None
        on = task.cache if task.cache is not None else self.dag.cache
        max_age = task.cache_max_age if task.cache_max_age is not None else self.dag.cache_max_age
        return (default if on is None else on), max_age

    def task_summaries(self) -> list[dict[str, Any]]:
        return [t.summary() for t in self.tasks]
