"""The planner: a pipeline + runtime configuration (+ image catalog, + bundle keys) -> a Plan.

Never raises on a parsed document, however broken: what is wrong becomes a located Problem (the
structural checks of ``pipeline/validation.py`` say the rest). Every check the compiler needs is
made here, so that validation, which runs the planner, reports everything export would refuse.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import math
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from ..pipeline.model import Node, Parameter, Pipeline, normalise_entries
from ..pipeline.problems import ERROR, WARNING, Problem
from ..pipeline.schedule import ScheduleError
from ..pipeline.schedule import parse as parse_schedule
from ..runner.contract import (
    DELIVERY_MODES,
    IMAGE_ENV,
    RUNNER_DIR,
    RUNNER_VOLUME,
    cache_arguments,
    runner_command,
    store_arguments,
    task_arguments,
)
from . import fanout, flow
from .layout import COMPONENT, Layout, Slot, layout
from .model import (
    APPROVAL,
    BRANCH,
    PODS,
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
from .settings import LOCAL_WORKER, Settings, read_settings
from .values import RUN_ID, ItemCount, ParamRef, Value, needs_raw

CP = "component_parameters/"
PULL_POLICIES = ("Always", "IfNotPresent", "Never")
SHM_VOLUME = "dshm"
SHM_PATH = "/dev/shm"
LABEL_DAG = "mlpipe-lab/dag"
LABEL_TASK = "mlpipe-lab/task"
# What Elyra's palette puts in every new node's description: not worth a task doc.
ELYRA_DEFAULT_DESCRIPTIONS = {"Run notebook file", "Run Python script", "Run R script"}
_PARAM_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
_UNITLESS = re.compile(r"^[0-9]+(\.[0-9]+)?$")
PARAM_TYPES = ("string", "integer", "number", "boolean", "list")
MAX_ITEMS = 1000  # items a fan-out maps over (docs/control-flow.md)
FIXED_TAG = "mlpipe-lab"
DEFAULT_START = "2024-01-01"
TEMPLATE_EXT = (".sh", ".bash")  # BashOperator.template_ext

# Kubernetes-only node properties, ignored when tasks run on the Airflow worker:
# (kind, node property names, what it is)
K8S_ONLY = (
    ("image", ("runtime_image",), "runtime images"),
    (
        "resources",
        ("cpu", "memory", "cpu_limit", "memory_limit", "gpu"),
        "CPU, memory and GPU requests",
    ),
    ("volumes", ("mounted_volumes", "kubernetes_shared_mem_size"), "volumes and shared memory"),
    ("tolerations", ("kubernetes_tolerations",), "tolerations"),
    ("secrets", ("kubernetes_secrets",), "Kubernetes secrets"),
    (
        "pod-metadata",
        ("kubernetes_pod_labels", "kubernetes_pod_annotations"),
        "pod labels and annotations",
    ),
)


def is_local(settings: Settings) -> bool:
    """Tasks run without Kubernetes features (serve nodes package and check instead of deploying):
    the local runtime, and Airflow's local-worker mode."""
    return settings.type == "local" or (
        settings.type == "airflow" and settings.execution_mode == LOCAL_WORKER
    )


def layout_for(pipeline: Pipeline, config: dict[str, Any]) -> Layout:
    """The task ids and links of the plan for this runtime configuration (see :func:`plan`)."""
    return layout(pipeline, local=is_local(read_settings(config)))


def plan(
    pipeline: Pipeline,
    config: dict[str, Any],
    images: list[dict[str, Any]] | None = None,
    bundles: Mapping[str, Any] | None = None,
    tasks: Layout | None = None,
    components: Any = None,
    dag: bool = False,
) -> Plan:
    """The plan of ``pipeline`` for the runtime configuration ``config`` (a plain dict).

    ``images``: the runtime image catalog's entries (pull policies and secrets); ``bundles``: node
    id -> bundle reference (``.key``, or ``{"key": ...}``) from export, else placeholder keys;
    ``tasks``: the layout_for() this pipeline and config when the caller made it already;
    ``components``: the component catalogs' ComponentIndex, for operator and KFP component nodes
    (None: only the components nodes carry themselves resolve); ``dag``: the plan becomes a DAG
    file (export, submit), so with the local runtime too its pods need runtime images (see
    :meth:`Planner.runtime_images`)."""
    return Planner(pipeline, config, images or [], bundles, tasks, components, dag).run()


# -- helpers shared with the renderers -------------------------------------------------------------


@lru_cache(maxsize=16384)  # the DAG's label is asked for once per task
def label_value(text: str) -> str:
    """A valid Kubernetes label value (<= 63 chars of [A-Za-z0-9._-], alphanumeric at both ends)
    that still identifies the text: a long value keeps a hash of the whole."""
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:10]
    value = re.sub(r"[^A-Za-z0-9._-]", "_", text)
    value = re.sub(r"^[^A-Za-z0-9]+|[^A-Za-z0-9]+$", "", value)
    if len(value) > 63:
        value = value[:52].rstrip("._-") + "-" + digest
    return value or digest


def _number_text(value: float) -> str:
    if float(value).is_integer():
        return str(int(value))
    return format(value, "f").rstrip("0").rstrip(".")


def cpu_quantity(value: Any) -> str | None:
    """Elyra CPU (cores, possibly fractional) -> Kubernetes quantity: 2 -> "2", 0.5 -> "500m"."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        if not math.isfinite(value) or value <= 0:
            return None
        if float(value).is_integer():
            return str(int(value))
        return f"{max(1, round(value * 1000))}m"
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def memory_quantity(value: Any) -> str | None:
    """Elyra memory (a number = GB) -> quantity: 8 -> "8G", 0.5 -> "500M"; units pass through."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        if not math.isfinite(value) or value <= 0:
            return None
        if float(value).is_integer():
            return f"{int(value)}G"
        return f"{max(1, round(value * 1000))}M"
    if isinstance(value, str) and value.strip():
        text = value.strip()
        return text + "G" if _UNITLESS.match(text) else text
    return None


def store_prefix(settings: Settings, pipeline: Pipeline) -> str:
    """The config's key prefix joined with the pipeline's Elyra cos_object_prefix."""
    parts = [settings.prefix or "", pipeline.defaults.get("cos_object_prefix") or ""]
    return "/".join(p.strip("/") for p in parts if isinstance(p, str) and p.strip("/"))


def _int(value: Any, default: int | None) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _finite(value: Any) -> bool:
    return not isinstance(value, float) or math.isfinite(value)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _text_value(value: Any) -> str:
    return value if isinstance(value, str) else "" if value is None else str(value)


def _present(value: Any) -> bool:
    if value in (None, "", [], {}, False, 0):
        return False
    if isinstance(value, dict) and "size" in value:  # shared memory {"size": 0, "units": "G"}
        return _present(value.get("size"))
    return True


def _dns_label(text: str, used: set[str]) -> str:
    base = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")[:55].strip("-") or "vol"
    name, n = base, 1
    while name in used:
        n += 1
        name = f"{base}-{n}"
    used.add(name)
    return name


class Planner:
    def __init__(
        self,
        pipeline: Pipeline,
        config: dict[str, Any],
        images: list[dict[str, Any]],
        bundles: Mapping[str, Any] | None,
        tasks: Layout | None,
        components: Any = None,
        dag: bool = False,
    ):
        self.p = pipeline
        self.components = components
        self.dag = dag
        self.s = read_settings(config)
        self.images = [i for i in images if isinstance(i, dict)]
        self.bundles = bundles
        self.executor = (
            WORKER if self.s.type == "airflow" and self.s.execution_mode == LOCAL_WORKER else PODS
        )
        self.local = is_local(self.s)
        self.layout = tasks if tasks is not None and tasks.local == self.local else None
        if self.layout is None:
            self.layout = layout(pipeline, local=self.local)
        self.problems: list[Problem] = []
        self.warned: set[str] = set()  # warning kinds given once per pipeline
        self._image_index: dict[str, dict[str, Any]] | None = None
        self._serve: Any = None  # plan.serve.ServePlanner, made for pipelines with serve nodes
        self._component: Any = None  # plan.components.ComponentPlanner, likewise
        self.mapped: set[str] = set()  # fan-out task ids (plan/fanout.py)
        self.result_tasks: set[str] = set()  # tasks whose result a value_from reads (plan/flow.py)

    # -- problems --------------------------------------------------------------------------

    def add(
        self,
        code: str,
        message: str,
        severity: str,
        node: Node | None = None,
        path: str = "",
        **extra: Any,
    ) -> None:
        self.problems.append(
            Problem(
                code=code,
                message=message,
                severity=severity,
                pipeline=self.p.name,
                node_id=node.id if node else None,
                node_label=node.label if node else None,
                path=path,
                extra=extra,
            )
        )

    def error(
        self, code: str, message: str, node: Node | None = None, path: str = "", **extra: Any
    ) -> None:
        self.add(code, message, ERROR, node, path, **extra)

    def warn(
        self, code: str, message: str, node: Node | None = None, path: str = "", **extra: Any
    ) -> None:
        self.add(code, message, WARNING, node, path, **extra)

    def text(self, value: str, node: Node | None = None, path: str = "") -> str:
        """User text bound for a field Airflow renders with Jinja: the renderer protects it with
        ``{% raw %}``, which text containing 'endraw' defeats."""
        if needs_raw(value) and "endraw" in value:
            self.error(
                "template-text",
                "This text contains Jinja markers ('{{', '{%' or '{#') and the word 'endraw', so it "
                "cannot be protected from Airflow's template rendering; remove 'endraw'.",
                node=node,
                path=path,
            )
        return value

    # -- the whole plan --------------------------------------------------------------------

    def run(self) -> Plan:
        assert self.layout is not None
        if not self.layout.slots:
            self.error(
                "empty-pipeline",
                "The pipeline has no notebook, Python, R or Serve MLflow model node (nor an "
                "operator or component node) to run.",
            )
        dag_id = self.layout.dag_id
        if not dag_id:
            self.error(
                "dag-id",
                "The pipeline name gives no usable DAG id; set a DAG id.",
                path="mlpipe/dag_id",
            )
        self._clashes()
        store, store_kwargs = self._store()
        # on the Airflow worker the runner is started by its Python: no delivery to a pod
        delivery = self.s.runner_delivery if self.executor == PODS else "image"
        runner = Runner(
            program=runner_command(delivery=delivery),
            shared=store_arguments(run_prefix=f"{dag_id}/runs/" + RUN_ID, **store_kwargs),
            delivery=delivery,
            image=self.s.runner_image,
        )
        self.store, self.runner = store, runner
        self.mapped = fanout.mapped_tasks(self)  # fan-out tasks: their downstream reads each item
        fanout.refuse_others(self)
        cluster = self._cluster()
        dag = self._dag(dag_id)
        tasks = [
            flow.branch_task(self, slot)
            if slot.kind == BRANCH
            else self._serve_task(slot)
            if slot.kind == "serve"
            else self._approval_task(slot)
            if slot.kind == APPROVAL
            else self._component_task(slot)
            if slot.kind == COMPONENT
            else self._runner_task(slot)
            for slot in self.layout.slots
        ]
        if self._component is not None:  # KFP components that pass files: through the runner
            self._component.finish(tasks)
        flow.finish(self, tasks)
        fanout.refuse_results(self, tasks)
        self.runtime_images()
        plan = Plan(
            pipeline=self.p.name,
            dag=dag,
            executor=self.executor,
            runtime=self.s.type,
            config_name=self.s.name,
            cluster=cluster,
            store=store,
            runner=runner,
            tasks=tasks,
            problems=self.problems,
        )
        if plan.runtime != "local":  # local runs cache in the engine (localrun/cache.py)
            for task in plan.tasks:
                on, max_age = plan.caching(task, default=False)
                if on:  # the runner looks the task up in the object store (runner/cache.py)
                    names = sorted(k for k in task.env if k != IMAGE_ENV)
                    task.command.args = [*task.command.args, *cache_arguments(max_age, names)]
        return plan

    def runtime_images(self) -> None:
        """The one place that decides whether a node needs a runtime image: where its tasks run as
        Kubernetes pods (an Airflow runtime configuration in execution mode 'kubernetes', or any
        DAG file: export and submit). A local run starts nodes with this machine's Python and
        Airflow's 'local-worker' mode on the worker, so there a missing image is only said once."""
        if self.executor != PODS:
            return
        needed = self.s.type == "airflow" or self.dag
        missing: list[Node] = []
        seen: set[str] = set()
        for slot in self.layout.slots:  # type: ignore[union-attr]
            node = slot.node
            if slot.kind in (COMPONENT, BRANCH, APPROVAL) or node.id in seen:
                continue  # a component runs its own image (plan/components.py); a branch, a gate none
            seen.add(node.id)
            image = self.p.node_properties(node).get("runtime_image")
            if not (isinstance(image, str) and image.strip()):
                missing.append(node)
        if not missing:
            return
        if needed:
            where = (
                f"runtime configuration '{self.s.name}' runs it as a Kubernetes pod"
                if self.s.type == "airflow"
                else "the DAG runs it as a Kubernetes pod"
            )
            for node in missing:
                self.error(
                    "runtime-image",
                    f"No runtime image: {where}, which needs one; choose one for the node or "
                    "as a pipeline default.",
                    node=node,
                    path=CP + "runtime_image",
                )
            return
        count = len(missing)
        self.warn(
            "runtime-image",
            (
                "This node has no runtime image"
                if count == 1
                else f"This node and {count - 1} more have no runtime image"
            )
            + ": a local run does not need one (nodes run with this machine's Python), but export "
            "and submit to Airflow do; choose one for the node or as a pipeline default.",
            node=missing[0],
            path=CP + "runtime_image",
            nodes=[n.id for n in missing],
        )

    def _clashes(self) -> None:
        for clash in self.layout.clashes:  # type: ignore[union-attr]
            if clash.explicit:
                self.error(
                    "duplicate-task-id",
                    f"Task id '{clash.got}' is also used by node '{clash.other.label}'; choose another.",
                    node=clash.node,
                    path="mlpipe/task_id",
                )
            else:
                self.warn(
                    "duplicate-task-id",
                    f"Nodes '{clash.other.label}' and '{clash.node.label}' both become task id "
                    f"'{clash.wanted}', so this one is '{clash.got}'. Rename one to keep ids readable.",
                    node=clash.node,
                    path="label",
                )

    # -- runtime configuration -------------------------------------------------------------

    def _store(self) -> tuple[Store, dict[str, str]]:
        s = self.s
        if s.type == "airflow" and s.execution_mode not in ("kubernetes", LOCAL_WORKER):
            self.warn(
                "execution-mode",
                f"Execution mode '{s.execution_mode}' is not supported yet; "
                "tasks run as Kubernetes pods.",
                runtime_config=s.name,
                config_field="airflow.execution_mode",
            )
        if s.store is None:
            self.error(
                "object-storage",
                f"Runtime configuration '{s.name}' has no object storage, so node "
                "files cannot reach the task pods; add object storage (endpoint and bucket).",
                runtime_config=s.name,
                config_field="object_storage",
            )
            return Store(kind=None), {"store": "s3", "bucket": "unset"}
        if s.store == "local":
            root = self.text(s.root or "")
            return Store(kind="local", root=root), {"store": "local", "root": root}
        store = Store(kind="s3", bucket=self.text(s.bucket or ""))
        kwargs = {"store": "s3", "bucket": store.bucket or ""}
        if s.endpoint:
            store.endpoint = kwargs["endpoint"] = self.text(s.endpoint)
            store.env["AWS_ENDPOINT_URL"] = store.endpoint
        if s.region:
            store.region = kwargs["region"] = self.text(s.region)
            store.env["AWS_DEFAULT_REGION"] = store.region
        prefix = store_prefix(s, self.p)
        if prefix:
            store.prefix = kwargs["prefix"] = self.text(
                prefix, path="properties/pipeline_defaults/cos_object_prefix"
            )
        if self.executor == WORKER:
            if s.pod_secret:
                self.warned.add("secrets")
                self.warn(
                    "local-worker",
                    f"Runtime configuration '{s.name}' names a Kubernetes Secret for the object "
                    "storage credentials, which execution mode 'local-worker' cannot use: tasks "
                    "reach the storage with the Airflow worker's own credentials (its environment).",
                    kind="secrets",
                    runtime_config=s.name,
                    config_field="object_storage.pod_credentials_secret",
                )
        elif s.pod_secret:
            store.secrets = [
                SecretRef(var, s.pod_secret, var)
                for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
            ]
        elif s.auth_type != "irsa":
            self.warn(
                "object-storage",
                f"Runtime configuration '{s.name}' names no credentials Secret for "
                "task pods (object_storage.pod_credentials_secret), so pods reach the storage only "
                "with ambient credentials (e.g. IAM roles for service accounts).",
                runtime_config=s.name,
                config_field="object_storage.pod_credentials_secret",
            )
        return store, kwargs

    def _cluster(self) -> Cluster:
        s = self.s
        if self.executor == WORKER:
            return Cluster(None, None, None, None)
        return Cluster(
            namespace=self.text(s.namespace) if s.namespace else None,
            in_cluster=s.in_cluster,
            config_file=self.text(s.config_file) if s.config_file else None,
            context=self.text(s.cluster_context) if s.cluster_context else None,
        )

    # -- DAG settings ----------------------------------------------------------------------

    def _dag(self, dag_id: str) -> DagSettings:
        p, m = self.p, self.p.mlpipe
        schedule = self._schedule()
        max_runs = _int(m.get("max_active_runs"), 1)
        if schedule == "@continuous" and max_runs != 1:
            self.error(
                "schedule",
                "A continuous schedule needs at most 1 active run.",
                path="mlpipe/max_active_runs",
            )
        owner = m.get("owner") if isinstance(m.get("owner"), str) and m.get("owner") else "mlpipe"
        tags = (
            {t for t in m.get("tags") or [] if isinstance(t, str) and t}
            if isinstance(m.get("tags"), list)
            else set()
        )
        params = []
        for i, param in enumerate(p.parameters):
            spec = self._param(param, i, schedule is not None)
            if spec is not None:
                params.append(spec)
        doc = m.get("doc_md")
        return DagSettings(
            dag_id=dag_id,
            display_name=p.name if p.name != dag_id else None,
            description=p.description,
            doc_md=doc if isinstance(doc, str) and doc else None,
            schedule=schedule,
            start_date=self._start_date(),
            catchup=m.get("catchup") is True,
            max_active_runs=max_runs if max_runs is not None else 1,
            dagrun_timeout=_int(m.get("dagrun_timeout_seconds"), None) or None,
            paused_on_creation=m.get("is_paused_upon_creation") is not False,
            tags=sorted(tags | {FIXED_TAG}),
            owner=owner,
            retries=_int(m.get("retries"), 0) or 0,
            retry_delay=_int(m.get("retry_delay_seconds"), 300),  # type: ignore[arg-type]
            execution_timeout=_int(m.get("execution_timeout_seconds"), None) or None,
            params=params,
            cache=m["cache"] if isinstance(m.get("cache"), bool) else None,
            cache_max_age=_int(m.get("cache_max_age_seconds"), None) or None,
        )

    def _schedule(self) -> str | None:
        """The schedule as it goes into the DAG (pipeline/schedule.py checks it), None for
        manual runs only."""
        try:
            schedule = parse_schedule(self.p.mlpipe.get("schedule"))
        except ScheduleError as exc:
            self.error("schedule", exc.message, path="mlpipe/schedule")
            return None
        return schedule.text if schedule else None

    def _start_date(self) -> _dt.date:
        value = self.p.mlpipe.get("start_date") or DEFAULT_START
        try:
            day = _dt.date.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            day = None
        if day is None:
            self.error(
                "start-date",
                f"Start date {value!r} is not a date (YYYY-MM-DD).",
                path="mlpipe/start_date",
            )
            day = _dt.date.fromisoformat(DEFAULT_START)
        return day

    def _param(self, p: Parameter, index: int, scheduled: bool) -> ParamSpec | None:
        path = f"mlpipe/parameters/{index}"
        if not isinstance(p.name, str) or not _PARAM_NAME.match(p.name):
            self.error(
                "parameter",
                f"Parameter name {p.name!r} must be a Python identifier (letters, digits, _).",
                path=path + "/name",
            )
            return None
        if p.type not in PARAM_TYPES:
            self.error(
                "parameter",
                f"Parameter '{p.name}': type {p.type!r} is not one of {', '.join(PARAM_TYPES)}.",
                path=path + "/type",
            )
            return None
        for key in ("default", "minimum", "maximum"):
            if not _finite(getattr(p, key)):
                self.error(
                    "parameter",
                    f"Parameter '{p.name}': {key} must be a finite number.",
                    path=f"{path}/{key}",
                )
                return None
        if p.enum is not None and not all(_finite(v) for v in p.enum):
            self.error(
                "parameter",
                f"Parameter '{p.name}': allowed values must be finite.",
                path=path + "/enum",
            )
            return None
        numeric = p.type in ("integer", "number")
        if p.type == "list" and p.default is not None:
            if not isinstance(p.default, list):
                self.error(
                    "parameter",
                    f"Parameter '{p.name}' is a list; its default must be a JSON list such as "
                    '["a", "b"].',
                    path=path + "/default",
                )
                return None
            if len(p.default) > MAX_ITEMS:
                self.error(
                    "parameter",
                    f"Parameter '{p.name}': the default has {len(p.default)} items; a list "
                    f"parameter holds at most {MAX_ITEMS}.",
                    path=path + "/default",
                )
        if p.default is not None:
            if p.enum is not None and p.default not in p.enum:
                self.error(
                    "parameter",
                    f"Parameter '{p.name}': default {p.default!r} is not an allowed value.",
                    path=path + "/default",
                )
            if numeric and _number(p.default):
                if _number(p.minimum) and p.default < p.minimum:
                    self.error(
                        "parameter",
                        f"Parameter '{p.name}': default {p.default} is below the minimum {p.minimum}.",
                        path=path + "/default",
                    )
                if _number(p.maximum) and p.default > p.maximum:
                    self.error(
                        "parameter",
                        f"Parameter '{p.name}': default {p.default} is above the maximum {p.maximum}.",
                        path=path + "/default",
                    )
        elif p.required and scheduled:
            self.error(
                "parameter",
                f"Parameter '{p.name}' is required and has no default, which Airflow refuses "
                "for a scheduled DAG; give it a default or remove the schedule.",
                path=path + "/default",
            )
        nullable = p.default is None and not p.required
        enum = None
        if p.enum is not None:
            enum = list(p.enum)
            if nullable and None not in enum:
                enum.append(None)
        return ParamSpec(
            name=p.name,
            type="array" if p.type == "list" else p.type,  # Airflow Param(type="array")
            default=p.default,
            has_default=p.default is not None or nullable,
            nullable=nullable,
            enum=enum,
            minimum=p.minimum if numeric and _number(p.minimum) else None,
            maximum=p.maximum if numeric and _number(p.maximum) else None,
            description=p.description if isinstance(p.description, str) else "",
        )

    # -- runner tasks (notebook, Python, R) --------------------------------------------------

    def _runner_task(self, slot: Slot) -> Task:
        node = slot.node
        props = self.p.node_properties(node)
        extra = node.mlpipe
        used = self.p.node_parameters(node)
        task = Task(
            task_id=slot.task_id,
            node_id=node.id,
            label=node.label,
            kind=slot.kind,
            command=Command(self.runner.program, self.runner.shared, []),
            display_name=node.label if node.label != slot.task_id else None,
            doc=node.description
            if node.description and node.description not in ELYRA_DEFAULT_DESCRIPTIONS
            else None,
            file=slot.file,
            upstream=slot.upstream,
            inputs=slot.inputs,
            outputs=[
                self.text(o, node, CP + "outputs")
                for o in props.get("outputs") or []
                if isinstance(o, str) and o
            ]
            if isinstance(props.get("outputs"), list)
            else [],
            params=[p.name for p in used] if slot.kind == "notebook" else [],
        )
        task.bundle = self._bundle_key(slot)
        if slot.task_id in self.mapped:
            taken = {s.task_id for s in self.layout.slots}  # type: ignore[union-attr]
            task.for_each = fanout.for_each(self, node, slot.task_id, taken)
        task.command.args = task_arguments(
            kind=slot.kind,
            file=self.text(slot.file, node, CP + "filename"),
            bundle=self.text(task.bundle, node),
            task_id=slot.task_id,
            outputs=task.outputs,
            upstream=[u for u in slot.inputs if u not in self.mapped],
            upstream_items=[
                (u, ItemCount(u, u + fanout.ITEMS_SUFFIX)) for u in slot.inputs if u in self.mapped
            ],
            params=[(name, ParamRef(name, json=True)) for name in task.params],
            item_parameter=task.for_each.item_parameter if task.for_each else None,
        )
        task.env = self._env(node, props, used)
        if self.executor == WORKER:
            self._worker_env(node, task.env)
            self._warn_k8s_only(node, props, extra)
        else:
            task.image = self.image(node, props)
            task.delivery = self.delivery(task.image)
            task.command.program = runner_command(delivery=task.delivery)
            # the runner names the image in its messages ("image X has no python3")
            task.env = {IMAGE_ENV: task.image.ref, **task.env}
            task.secrets = self.secrets(node, props)
            task.store_credentials = bool(self.store.secrets)
            task.resources = self._resources(node, props)
            task.volumes, task.mounts = self._volumes(node, props)
            task.labels = self.labels(node, props, slot.task_id)
            task.annotations = self._pairs(node, props, "kubernetes_pod_annotations")
            task.node_selector = self._node_selector(node, extra)
            task.tolerations = self._tolerations(node, props)
            account = extra.get("service_account") or self.s.service_account
            task.service_account = account if isinstance(account, str) and account else None
        self.airflow_settings(task, extra)
        return task

    def _bundle_key(self, slot: Slot) -> str:
        ref = (self.bundles or {}).get(slot.node.id)
        key = getattr(ref, "key", None) or (ref.get("key") if isinstance(ref, dict) else None)
        if isinstance(key, str) and key:
            return key
        if self.bundles is not None:
            self.warn(
                "bundles",
                "No bundle was built for this node; the DAG refers to a placeholder key.",
                node=slot.node,
            )
        return f"{self.layout.dag_id}/bundles/{slot.task_id}.tar.gz"  # type: ignore[union-attr]

    def _env(self, node: Node, props: dict[str, Any], used: list[Parameter]) -> dict[str, Value]:
        """The task's plain environment, in order: object store, node (with defaults), parameters."""
        env: dict[str, Value] = dict(self.store.env)
        for entry in normalise_entries("env_vars", props.get("env_vars")):
            name = entry.get("env_var")
            if not isinstance(name, str) or not name:
                continue
            value = _text_value(entry.get("value"))
            if "\r" in value:
                self.warn(
                    "template-text",
                    f"Environment variable '{name}': carriage returns become line "
                    "feeds when Airflow renders the value.",
                    node=node,
                    path=CP + "env_vars",
                )
            env[name] = self.text(value, node, CP + "env_vars")
        for p in used:
            if p.name in env:
                self.warn(
                    "env-conflict",
                    f"Environment variable '{p.name}' is also a pipeline parameter; "
                    "the parameter's value is used.",
                    node=node,
                    path=CP + "env_vars",
                )
            # a list as JSON (str() of a list would be Python's repr)
            env[p.name] = ParamRef(p.name, json=p.type == "list")
        return env

    def _worker_env(self, node: Node, env: dict[str, Value]) -> None:
        """BashOperator reads a templated value ending with .sh/.bash as a template file name; the
        renderer keeps such a value a value with {% raw %}, which 'endraw' defeats."""
        for value in env.values():
            if isinstance(value, str) and value.endswith(TEMPLATE_EXT) and "endraw" in value:
                self.error(
                    "template-text",
                    "An environment value ending with .sh or .bash that contains the word "
                    "'endraw' cannot be protected from Airflow's template rendering; remove 'endraw'.",
                    node=node,
                    path=CP + "env_vars",
                )

    def _warn_k8s_only(self, node: Node, props: dict[str, Any], extra: dict[str, Any]) -> None:
        found = [
            (kind, what)
            for kind, keys, what in K8S_ONLY
            if any(_present(props.get(k)) for k in keys)
        ]
        if (
            extra.get("node_selector") or extra.get("service_account")
        ) and "scheduling" not in self.warned:
            found.append(("scheduling", "node selectors and service accounts"))
        for kind, what in found:
            if kind in self.warned:
                continue
            self.warned.add(kind)
            self.warn(
                "local-worker",
                f"Execution mode 'local-worker' runs tasks on the Airflow worker, so "
                f"{what} (Kubernetes only) are ignored; first seen on this node.",
                node=node,
                kind=kind,
            )

    # -- pod settings (shared with serve tasks) ------------------------------------------------

    def image_entry(self, image: str) -> dict[str, Any] | None:
        """The catalog entry for an image reference: user entries win over built-in and Elyra ones
        (so a user's copy of a factory image keeps its pull secret), then the first one listed."""
        if self._image_index is None:
            rank = {"user": 0, "builtin": 1, "elyra": 2}
            index: dict[str, tuple[int, int, dict[str, Any]]] = {}
            for pos, entry in enumerate(self.images):
                ref = entry.get("image")
                if not isinstance(ref, str):
                    continue
                key = (rank.get(entry.get("source"), 0), pos)
                if ref not in index or key < index[ref][:2]:
                    index[ref] = (key[0], key[1], entry)
            self._image_index = {ref: v[2] for ref, v in index.items()}
        return self._image_index.get(image)

    def image(self, node: Node, props: dict[str, Any]) -> Image:
        ref = props.get("runtime_image")
        ref = ref if isinstance(ref, str) else ""
        image = Image(ref=self.text(ref, node, CP + "runtime_image"))
        entry = self.image_entry(ref) or {}
        if entry.get("pull_policy") in PULL_POLICIES:
            image.pull_policy = entry["pull_policy"]
        for name in (entry.get("pull_secret"), self.s.image_pull_secret):
            if isinstance(name, str) and name and name not in image.pull_secrets:
                image.pull_secrets.append(name)
        return image

    def delivery(self, image: Image) -> str:
        """How the runner reaches the pod: the runtime image's catalog entry may say, else the
        runtime configuration."""
        override = (self.image_entry(image.ref) or {}).get("runner_delivery")
        return override if override in DELIVERY_MODES else self.s.runner_delivery

    def secrets(self, node: Node, props: dict[str, Any]) -> list[SecretRef]:
        own = []
        plain = {e.get("env_var") for e in normalise_entries("env_vars", props.get("env_vars"))}
        for entry in normalise_entries("kubernetes_secrets", props.get("kubernetes_secrets")):
            var, name, key = entry.get("env_var"), entry.get("name"), entry.get("key")
            if not all(isinstance(v, str) and v for v in (var, name, key)):
                continue
            if var in plain:
                self.warn(
                    "env-conflict",
                    f"Environment variable '{var}' is set both as plain text and from "
                    "a secret; the secret wins.",
                    node=node,
                    path=CP + "kubernetes_secrets",
                )
            own.append(SecretRef(var, name, key))
        return own

    def _resources(self, node: Node, props: dict[str, Any]) -> Resources | None:
        requests: dict[str, str] = {}
        limits: dict[str, str] = {}
        for key, target, name, conv in (
            ("cpu", requests, "cpu", cpu_quantity),
            ("memory", requests, "memory", memory_quantity),
            ("cpu_limit", limits, "cpu", cpu_quantity),
            ("memory_limit", limits, "memory", memory_quantity),
        ):
            if props.get(key) in (None, ""):
                continue
            quantity = conv(props[key])
            if quantity is None:
                self.error(
                    "resources",
                    f"{key}: {props[key]!r} is not a valid amount.",
                    node=node,
                    path=CP + key,
                )
            else:
                target[name] = self.text(quantity, node, CP + key)
        gpu = props.get("gpu")
        if isinstance(gpu, int) and not isinstance(gpu, bool) and gpu > 0:
            vendor = props.get("gpu_vendor")
            vendor = vendor if isinstance(vendor, str) and vendor else "nvidia.com/gpu"
            limits[vendor] = str(gpu)
        if not requests and not limits:
            return None
        return Resources(dict(sorted(requests.items())), dict(sorted(limits.items())))

    def _volumes(self, node: Node, props: dict[str, Any]) -> tuple[list[Volume], list[Mount]]:
        volumes: list[Volume] = []
        mounts: list[Mount] = []
        used = {SHM_VOLUME, RUNNER_VOLUME}
        by_claim: dict[str, str] = {}
        for entry in normalise_entries("mounted_volumes", props.get("mounted_volumes")):
            path, claim = entry.get("path"), entry.get("pvc_name")
            if not (isinstance(path, str) and path and isinstance(claim, str) and claim):
                continue
            if path.rstrip("/") == RUNNER_DIR:
                self.error(
                    "volume",
                    f"{RUNNER_DIR} is where the node runner is copied into the pod; mount the "
                    "volume elsewhere.",
                    node=node,
                    path=CP + "mounted_volumes",
                )
                continue
            if path.rstrip("/") == SHM_PATH:
                self.error(
                    "volume",
                    "/dev/shm is reserved for shared memory; set the shared memory size instead.",
                    node=node,
                    path=CP + "mounted_volumes",
                )
                continue
            if claim not in by_claim:
                by_claim[claim] = _dns_label("pvc-" + claim, used)
                volumes.append(Volume(name=by_claim[claim], claim=self.text(claim, node)))
            sub_path = entry.get("sub_path")
            mounts.append(
                Mount(
                    volume=by_claim[claim],
                    path=path,
                    sub_path=self.text(sub_path, node, CP + "mounted_volumes")
                    if isinstance(sub_path, str) and sub_path
                    else None,
                    read_only=entry.get("read_only") is True,
                )
            )
        shm = props.get("kubernetes_shared_mem_size")
        if isinstance(shm, dict):
            size = shm.get("size")
            if _number(size) and math.isfinite(size) and size > 0:
                units = shm.get("units")
                units = units if isinstance(units, str) and units else "G"
                volumes.append(Volume(name=SHM_VOLUME, memory_limit=_number_text(size) + units))
                mounts.append(Mount(volume=SHM_VOLUME, path=SHM_PATH))
        return volumes, mounts

    def _pairs(self, node: Node, props: dict[str, Any], kind: str) -> dict[str, str]:
        out: dict[str, str] = {}
        for entry in normalise_entries(kind, props.get(kind)):
            key, value = entry.get("key"), entry.get("value")
            if isinstance(key, str) and key:
                out[key] = self.text(_text_value(value), node, CP + kind)
        return dict(sorted(out.items()))

    def labels(self, node: Node, props: dict[str, Any], task_id: str) -> dict[str, str]:
        labels = self._pairs(node, props, "kubernetes_pod_labels")
        for ours in (LABEL_DAG, LABEL_TASK):
            if ours in labels:
                self.warn(
                    "label",
                    f"Pod label '{ours}' is set by mlpipe-lab; your value is replaced.",
                    node=node,
                    path=CP + "kubernetes_pod_labels",
                )
        labels[LABEL_DAG] = label_value(self.layout.dag_id)  # type: ignore[union-attr]
        labels[LABEL_TASK] = label_value(task_id)
        return dict(sorted(labels.items()))

    def _node_selector(self, node: Node, extra: dict[str, Any]) -> dict[str, str]:
        out: dict[str, str] = {}
        entries = extra.get("node_selector")
        for entry in entries if isinstance(entries, list) else []:
            if isinstance(entry, dict) and isinstance(entry.get("key"), str) and entry["key"]:
                value = entry.get("value")
                out[entry["key"]] = self.text(
                    value if isinstance(value, str) else "", node, "mlpipe/node_selector"
                )
        return dict(sorted(out.items()))

    def _tolerations(self, node: Node, props: dict[str, Any]) -> list[Toleration]:
        out = []
        for entry in normalise_entries(
            "kubernetes_tolerations", props.get("kubernetes_tolerations")
        ):
            operator = entry.get("operator") or "Equal"
            value = entry.get("value")
            if operator == "Exists":
                if value:
                    self.warn(
                        "toleration",
                        "A toleration with operator Exists takes no value; the value is left out.",
                        node=node,
                        path=CP + "kubernetes_tolerations",
                    )
                value = None

            def text(v: Any) -> str | None:
                return v if isinstance(v, str) and v else None

            out.append(
                Toleration(
                    key=text(entry.get("key")),
                    operator=text(operator),
                    value=text(value),
                    effect=text(entry.get("effect")),
                )
            )
        return out

    def airflow_settings(self, task: Task, extra: dict[str, Any]) -> None:
        read_airflow_settings(task, extra)

    # -- operator and KFP component nodes ------------------------------------------------------

    def _component_task(self, slot: Slot) -> Task:
        if self._component is None:
            from .components import ComponentPlanner

            self._component = ComponentPlanner(self, self.components)
            if self.s.type == "local":
                self.warn(
                    "local-run",
                    "Local runs do not run operator and component nodes yet: export the "
                    "pipeline, or run it on an Airflow runtime configuration.",
                    node=slot.node,
                )
        return self._component.task(slot)

    def errors_of(self, node: Node) -> list[Problem]:
        return [p for p in self.problems if p.severity == ERROR and p.node_id == node.id]

    def image_of(self, node: Node, ref: str) -> Image:
        """A KFP component's own image, with the catalog's pull policy and secrets."""
        return self.image(node, {"runtime_image": ref})

    def component_env(self, node: Node, props: dict[str, Any]) -> dict[str, Value]:
        """A component pod's plain environment: the node's variables (no store settings)."""
        env: dict[str, Value] = {}
        for entry in normalise_entries("env_vars", props.get("env_vars")):
            name = entry.get("env_var")
            if isinstance(name, str) and name:
                env[name] = self.text(_text_value(entry.get("value")), node, CP + "env_vars")
        return env

    def pairs(self, node: Node, props: dict[str, Any], kind: str) -> dict[str, str]:
        return self._pairs(node, props, kind)

    def resources(self, node: Node, props: dict[str, Any]) -> Resources | None:
        return self._resources(node, props)

    def volumes(self, node: Node, props: dict[str, Any]) -> tuple[list[Volume], list[Mount]]:
        return self._volumes(node, props)

    def tolerations(self, node: Node, props: dict[str, Any]) -> list[Toleration]:
        return self._tolerations(node, props)

    # -- approval gates ------------------------------------------------------------------------

    def _approval_task(self, slot: Slot) -> Task:
        from .approval import approval_task

        return approval_task(self, slot)

    # -- serve nodes ---------------------------------------------------------------------------

    def _serve_task(self, slot: Slot) -> Task:
        if self._serve is None:
            from .serve import ServePlanner  # pipelines without serve nodes do not import it

            self._serve = ServePlanner(self)
        return self._serve.task(slot)


def read_airflow_settings(task: Task, extra: dict[str, Any]) -> None:
    """The node's Airflow task settings (mlpipe.retries, ...); unset ones keep the defaults."""
    task.retries = _int(extra.get("retries"), None)
    for key, attr in (
        ("retry_delay_seconds", "retry_delay"),
        ("execution_timeout_seconds", "execution_timeout"),
    ):
        value = extra.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            setattr(task, attr, value)
    for key in ("trigger_rule", "pool"):
        if isinstance(extra.get(key), str) and extra[key]:
            setattr(task, key, extra[key])
    task.priority_weight = _int(extra.get("priority_weight"), None)
    if isinstance(extra.get("cache"), bool):
        task.cache = extra["cache"]
    task.cache_max_age = _int(extra.get("cache_max_age_seconds"), None) or None
    task.side_effects = extra.get("side_effects") is True
