#!/usr/bin/env python3
"""Load a folder of DAG files with a real Airflow and describe what Airflow made of them.

Run it with the Python of an Airflow venv (see scripts/airflow-venv.sh), never with the
project's own Python:

    inspect_dags.py DAG_FOLDER [--render RUN_CONF_JSON] [--keep-env]
        -> one JSON document on stdout (schema below); logs go to stderr.
    inspect_dags.py --parse-time FILE [--json]
        -> seconds to parse one DAG file in a fresh process (Airflow itself already imported).

Works with Airflow 3.x (airflow.dag_processing.dagbag.DagBag) and 2.10
(airflow.models.dagbag.DagBag). Needs no database: nothing here touches the metadata DB.

Output (all keys always present unless marked optional):

    {"airflow_version": "3.3.2", "providers": {"cncf-kubernetes": "10.25.0", ...},
     "import_errors": {relative_file: traceback_text},
     "warnings": {relative_file: [warning_text, ...]},
     "dags": {dag_id: {
        "fileloc": relative_file, "schedule": None | "@daily" | "0 3 * * *" | "timedelta(seconds=N)" | ...,
        "timetable": {"class": ..., "summary": ...}, "catchup", "max_active_runs", "max_active_tasks",
        "dagrun_timeout_seconds", "tags": [sorted], "description", "doc_md", "owner",
        "params": {name: {"default", "schema", "description"}}, "is_paused_upon_creation",
        "dag_display_name", "start_date": ISO | None, "end_date", "default_args": {...},
        "serialization_error": None | text,   # the scheduler's serializer, run offline
        "render": {...},                      # only with --render
        "tasks": {task_id: {
            "operator", "operator_module", "upstream": [...], "downstream": [...], "retries",
            "retry_delay_seconds", "execution_timeout_seconds", "trigger_rule", "pool",
            "skip_on_exit_code" (list of exit codes, or None),
            "task_display_name", "doc_md", "owner", "template_fields": [...],
            "template_values": {field: value as the operator holds it, before rendering},
            # KubernetesPodOperator (and subclasses) only:
            "image", "cmds", "arguments", "namespace", "env_vars" (normalised {name: value}),
            "env_vars_raw" (as stored on the operator), "labels", "annotations",
            "on_finish_action", "get_logs", "pod": V1Pod as JSON (k8s API field names),
            "pod_error": None | text,
            # only with --render: templated fields rendered with the run's params, and the pod
            # built from the rendered copy
            "rendered": {field: value}, "render_error": None | text,
            "rendered_pod": V1Pod JSON, "rendered_pod_error": None | text
        }}}}}

The pod is built by the provider itself (``KubernetesPodOperator.build_pod_request_obj()``) with
``KubernetesHook.is_in_cluster`` patched to False, so no cluster or kube config is needed on either
version. Its ``metadata.name`` carries a random suffix.
"""

from __future__ import annotations

import argparse
import datetime
import enum
import json
import os
import shutil
import sys
import tempfile
import time
import traceback
from typing import Any

# ---------------------------------------------------------------------------------------------
# Environment: hermetic Airflow config, set before airflow is imported.
# ---------------------------------------------------------------------------------------------

_SCRUB_PREFIXES = ("AIRFLOW__", "AIRFLOW_CONN_", "AIRFLOW_VAR_")
_SCRUB_NAMES = ("AIRFLOW_HOME", "AIRFLOW_CONFIG")


def _prepare_env(dag_folder: str | None, keep_env: bool) -> str:
    """Point Airflow at a throw-away AIRFLOW_HOME and a known config; return that home."""
    if not keep_env:
        for name in list(os.environ):
            if name.startswith(_SCRUB_PREFIXES) or name in _SCRUB_NAMES:
                del os.environ[name]
    home = tempfile.mkdtemp(prefix="mlpipe-airflow-home-")
    os.environ["AIRFLOW_HOME"] = home
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")
    # A connection that exists without a database, so KubernetesHook.get_namespace() (called when a
    # KPO has no namespace) finds it through the environment secrets backend.
    os.environ.setdefault("AIRFLOW_CONN_KUBERNETES_DEFAULT", '{"conn_type": "kubernetes"}')
    if dag_folder:
        os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = dag_folder
    return home


# ---------------------------------------------------------------------------------------------
# JSON helpers
# ---------------------------------------------------------------------------------------------


def _jsonable(value: Any) -> Any:
    """Best-effort conversion of Airflow/k8s values to plain JSON values."""
    if isinstance(value, enum.Enum):
        return _jsonable(value.value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (set, frozenset)):
        return sorted((_jsonable(v) for v in value), key=lambda v: json.dumps(v, sort_keys=True))
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if type(value).__module__.startswith("kubernetes.client"):
        from kubernetes.client import ApiClient

        return ApiClient().sanitize_for_serialization(value)
    if _is_notset(value):
        return None
    if callable(value):
        return f"{getattr(value, '__module__', '?')}.{getattr(value, '__qualname__', repr(value))}"
    return repr(value)


def _is_notset(value: Any) -> bool:
    return type(value).__name__ == "ArgNotSet"


def _seconds(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, (int, float)):
        return float(value)
    return None


def _text(value: Any) -> str | None:
    """Plain string; enums (TriggerRule, OnFinishAction, ...) by value, not 'TriggerRule.ALL_SUCCESS'."""
    if value is None:
        return None
    if isinstance(value, enum.Enum):
        return str(value.value)
    return str(value)


def _error_text() -> str:
    return traceback.format_exc()


# ---------------------------------------------------------------------------------------------
# Airflow access (3.x first, 2.x fallback)
# ---------------------------------------------------------------------------------------------


def _airflow_major() -> int:
    import airflow

    return int(airflow.__version__.split(".")[0])


def _make_dagbag(folder: str | None, collect: bool = True):
    try:  # Airflow 3.x
        from airflow.dag_processing.dagbag import DagBag

        return DagBag(dag_folder=folder, collect_dags=collect)
    except ImportError:
        pass
    from airflow.models.dagbag import DagBag  # Airflow 2.x (and 3.x compatibility shim)

    if _airflow_major() >= 3:
        return DagBag(dag_folder=folder, collect_dags=collect)
    return DagBag(dag_folder=folder, include_examples=False, collect_dags=collect)


def _providers() -> dict[str, str]:
    from importlib import metadata

    out = {}
    for dist in metadata.distributions():
        name = (dist.metadata.get("Name") or "").lower()
        if name.startswith("apache-airflow-providers-"):
            out[name[len("apache-airflow-providers-") :]] = dist.version
        elif name in ("apache-airflow-task-sdk", "apache-airflow-core", "kubernetes"):
            out[name] = dist.version
    return dict(sorted(out.items()))


def _relative(path: str, folder: str) -> str:
    try:
        rel = os.path.relpath(path, folder)
    except ValueError:
        return path
    return path if rel.startswith("..") else rel


def _normalise_schedule(dag) -> Any:
    """The schedule as written: None, a cron/preset string, 'timedelta(seconds=N)', or a description."""
    if hasattr(dag, "schedule"):  # Airflow 3.x keeps the constructor argument
        raw = dag.schedule
    else:  # Airflow 2.x
        raw = getattr(dag, "schedule_interval", None)
    if raw is None or _is_notset(raw):
        return None
    if isinstance(raw, str):
        return raw
    if isinstance(raw, datetime.timedelta):
        return f"timedelta(seconds={int(raw.total_seconds())})"
    expression = getattr(raw, "_expression", None) or getattr(raw, "expression", None)
    if isinstance(expression, str):
        return expression
    name = type(raw).__name__
    if name == "NullTimetable":
        return None
    if name == "OnceTimetable":
        return "@once"
    if name == "ContinuousTimetable":
        return "@continuous"
    return f"{name}: {getattr(raw, 'summary', None) or raw!r}"


def _timetable(dag) -> dict[str, Any]:
    tt = getattr(dag, "timetable", None)
    if tt is None:
        return {"class": None, "summary": None}
    summary = getattr(tt, "summary", None)
    if summary is None:
        summary = getattr(tt, "_expression", None) or getattr(tt, "expression", None)
    return {"class": type(tt).__name__, "summary": None if summary is None else str(summary)}


def _params(dag) -> dict[str, Any]:
    out = {}
    params = getattr(dag, "params", None) or {}
    for name in params:
        try:
            param = params.get_param(name)
        except Exception:
            out[name] = {"default": _jsonable(params[name]), "schema": {}, "description": None}
            continue
        out[name] = {
            "default": _jsonable(getattr(param, "value", None)),
            "schema": _jsonable(getattr(param, "schema", {}) or {}),
            "description": getattr(param, "description", None),
        }
    return out


def _serialization_error(dag) -> str | None:
    """Run the scheduler's serializer (what the DAG processor stores) and report any failure."""
    try:
        from airflow.serialization.serialized_objects import DagSerialization as serializer
    except ImportError:
        try:
            from airflow.serialization.serialized_objects import SerializedDAG as serializer
        except ImportError:
            return None
    try:
        serializer.to_dict(dag)
    except Exception:
        return _error_text()
    return None


# ---------------------------------------------------------------------------------------------
# Tasks
# ---------------------------------------------------------------------------------------------


def _kpo_class():
    try:
        from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
    except ImportError:
        return None
    return KubernetesPodOperator


def _env_vars_normalised(env_vars: Any) -> Any:
    """{name: value} whatever form the operator stored (dict on 3.x, list[V1EnvVar] on 2.10)."""
    if env_vars is None:
        return {}
    if isinstance(env_vars, dict):
        return {str(k): _jsonable(v) for k, v in env_vars.items()}
    if isinstance(env_vars, (list, tuple)):
        out = {}
        for item in env_vars:
            data = _jsonable(item)
            if isinstance(data, dict) and "name" in data:
                if "valueFrom" in data:
                    out[data["name"]] = {"valueFrom": data["valueFrom"]}
                else:
                    out[data["name"]] = data.get("value")
        return out
    return _jsonable(env_vars)


def _build_pod(op) -> tuple[Any, str | None]:
    from unittest import mock

    from airflow.providers.cncf.kubernetes.hooks.kubernetes import KubernetesHook
    from kubernetes.client import ApiClient

    try:
        with mock.patch.object(
            KubernetesHook, "is_in_cluster", new_callable=mock.PropertyMock, return_value=False
        ):
            pod = op.build_pod_request_obj()
        return ApiClient().sanitize_for_serialization(pod), None
    except Exception:
        return None, _error_text()


def _exit_codes(value: Any) -> list | None:
    if value is None:
        return None
    if isinstance(value, int):
        return [value]
    return sorted(value)


def _describe_task(task, kpo_cls, render_context: dict | None) -> dict[str, Any]:
    info: dict[str, Any] = {
        "operator": type(task).__name__,
        "operator_module": type(task).__module__,
        "upstream": sorted(task.upstream_task_ids),
        "downstream": sorted(task.downstream_task_ids),
        "retries": getattr(task, "retries", None),
        "retry_delay_seconds": _seconds(getattr(task, "retry_delay", None)),
        "execution_timeout_seconds": _seconds(getattr(task, "execution_timeout", None)),
        "trigger_rule": _text(getattr(task, "trigger_rule", None)),
        "pool": getattr(task, "pool", None),
        # exit codes that leave the task skipped (KPO, BashOperator); a list, or None
        "skip_on_exit_code": _exit_codes(getattr(task, "skip_on_exit_code", None)),
        "task_display_name": getattr(task, "task_display_name", None),
        "doc_md": getattr(task, "doc_md", None),
        "owner": getattr(task, "owner", None),
        "template_fields": list(getattr(task, "template_fields", ()) or ()),
        # the templated arguments as the operator holds them (before rendering)
        "template_values": {
            f: _jsonable(getattr(task, f, None))
            for f in (getattr(task, "template_fields", ()) or ())
            if isinstance(f, str)
        },
    }
    rendered_task = None
    if render_context is not None:
        rendered_task, info["rendered"], info["render_error"] = _render_task(task, render_context)
    if kpo_cls is not None and isinstance(task, kpo_cls):
        info.update(
            {
                "image": _jsonable(task.image),
                "cmds": _jsonable(task.cmds),
                "arguments": _jsonable(task.arguments),
                "namespace": _jsonable(task.namespace),
                "env_vars": _env_vars_normalised(task.env_vars),
                "env_vars_raw": _jsonable(task.env_vars),
                "labels": _jsonable(getattr(task, "labels", None)),
                "annotations": _jsonable(getattr(task, "annotations", None)),
                "on_finish_action": _text(getattr(task, "on_finish_action", None)),
                "get_logs": getattr(task, "get_logs", None),
            }
        )
        # build_pod_request_obj() rewrites env_vars in place: read the attributes above first.
        info["pod"], info["pod_error"] = _build_pod(task)
        if render_context is not None:
            info["rendered_pod"], info["rendered_pod_error"] = (
                _build_pod(rendered_task)
                if rendered_task is not None
                else (None, info["render_error"])
            )
    return info


# ---------------------------------------------------------------------------------------------
# Optional rendering (--render): templated fields with params = defaults + run conf
# ---------------------------------------------------------------------------------------------


def _render_params(dag, conf: dict) -> tuple[dict | None, str | None]:
    import copy

    params = copy.deepcopy(dag.params)
    try:
        for key, value in conf.items():
            params[key] = value
        return params.validate(), None
    except Exception as exc:
        return None, f"{type(exc).__name__}: {exc}"


def _render_task(task, context: dict) -> tuple[Any, dict | None, str | None]:
    """Render a copy of the task; return (rendered copy, {field: value}, error)."""
    import copy

    try:
        clone = copy.copy(task)
        for field in task.template_fields:
            setattr(clone, field, copy.deepcopy(getattr(task, field, None)))
        clone.render_template_fields(dict(context, task=clone))
        return clone, {f: _jsonable(getattr(clone, f, None)) for f in task.template_fields}, None
    except Exception:
        return None, None, _error_text()


# ---------------------------------------------------------------------------------------------
# Main commands
# ---------------------------------------------------------------------------------------------


class _XcomStandIn:
    """``ti`` for rendering without a database: ``xcom_pull`` answers from given return values
    (``--xcom``), so templates that read an upstream task's XCom render like at run time."""

    def __init__(self, values: dict[str, Any]):
        self.values = values

    def xcom_pull(self, task_ids: Any = None, key: str = "return_value", **_: Any) -> Any:
        if key != "return_value":
            return None
        if isinstance(task_ids, (list, tuple)):
            return [self.values.get(t) for t in task_ids]
        return self.values.get(task_ids)


def inspect_folder(folder: str, run_conf: dict | None, xcom: dict | None = None) -> dict[str, Any]:
    import airflow

    folder = os.path.abspath(folder)
    bag = _make_dagbag(folder)
    kpo_cls = _kpo_class()

    result: dict[str, Any] = {
        "airflow_version": airflow.__version__,
        "providers": _providers(),
        "dag_folder": folder,
        "import_errors": {
            _relative(path, folder): text for path, text in sorted(bag.import_errors.items())
        },
        "warnings": {
            _relative(path, folder): [str(w) for w in warns]
            for path, warns in sorted(getattr(bag, "captured_warnings", {}).items())
        },
        "dags": {},
    }

    for dag_id in sorted(bag.dags):
        dag = bag.dags[dag_id]
        render_context = None
        entry: dict[str, Any] = {
            "fileloc": _relative(dag.fileloc, folder),
            "schedule": _normalise_schedule(dag),
            "timetable": _timetable(dag),
            "catchup": getattr(dag, "catchup", None),
            "max_active_runs": getattr(dag, "max_active_runs", None),
            "max_active_tasks": getattr(dag, "max_active_tasks", None),
            "dagrun_timeout_seconds": _seconds(getattr(dag, "dagrun_timeout", None)),
            "tags": sorted(getattr(dag, "tags", None) or []),
            "description": getattr(dag, "description", None),
            "doc_md": getattr(dag, "doc_md", None),
            "owner": getattr(dag, "owner", None),
            "params": _params(dag),
            "is_paused_upon_creation": getattr(dag, "is_paused_upon_creation", None),
            "dag_display_name": getattr(dag, "dag_display_name", None),
            "start_date": _jsonable(getattr(dag, "start_date", None)),
            "end_date": _jsonable(getattr(dag, "end_date", None)),
            "default_args": _jsonable(dict(getattr(dag, "default_args", None) or {})),
            "serialization_error": _serialization_error(dag),
        }
        if run_conf is not None:
            params, error = _render_params(dag, run_conf)
            entry["render"] = {"conf": run_conf, "params": _jsonable(params), "params_error": error}
            if params is not None:
                render_context = {
                    "params": params,
                    "run_id": "manual__mlpipe_render",
                    "dag": dag,
                    "conf": None,
                    "dag_run": None,
                    "ti": _XcomStandIn(xcom) if xcom is not None else None,
                    "task_instance": _XcomStandIn(xcom) if xcom is not None else None,
                }
        entry["tasks"] = {
            task.task_id: _describe_task(task, kpo_cls, render_context)
            for task in sorted(dag.tasks, key=lambda t: t.task_id)
        }
        result["dags"][dag_id] = entry
    return result


def parse_time(path: str) -> dict[str, Any]:
    """Time one DagBag.process_file() in this (fresh) process, after importing Airflow."""
    t0 = time.perf_counter()
    import airflow

    bag = _make_dagbag(os.path.dirname(os.path.abspath(path)), collect=False)
    t1 = time.perf_counter()
    bag.process_file(os.path.abspath(path), only_if_updated=False)
    t2 = time.perf_counter()
    return {
        "file": path,
        "airflow_version": airflow.__version__,
        "import_airflow_seconds": round(t1 - t0, 4),
        "parse_seconds": round(t2 - t1, 4),
        "dags": sorted(bag.dags),
        "import_errors": len(bag.import_errors),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dag_folder", nargs="?", help="folder (or single file) of DAGs to load")
    parser.add_argument("--parse-time", metavar="FILE", help="print seconds to parse FILE cold")
    parser.add_argument(
        "--json", action="store_true", help="with --parse-time: print details as JSON"
    )
    parser.add_argument(
        "--render",
        metavar="RUN_CONF_JSON",
        help="also render templated fields with params = defaults updated by this run conf",
    )
    parser.add_argument(
        "--xcom",
        metavar="JSON",
        help="with --render: {task_id: return value} that ti.xcom_pull answers with",
    )
    parser.add_argument(
        "--keep-env",
        action="store_true",
        help="do not drop AIRFLOW__*/AIRFLOW_CONN_* from the environment",
    )
    args = parser.parse_args(argv)
    if not args.parse_time and not args.dag_folder:
        parser.error("DAG_FOLDER or --parse-time FILE is required")

    target = args.parse_time or args.dag_folder
    if not os.path.exists(target):
        parser.error(f"no such file or folder: {target}")
    folder = os.path.abspath(target if os.path.isdir(target) else os.path.dirname(target))
    run_conf = None
    if args.render is not None:
        try:
            run_conf = json.loads(args.render)
        except ValueError as exc:
            parser.error(f"--render: not JSON: {exc}")
        if not isinstance(run_conf, dict):
            parser.error("--render: the run conf must be a JSON object")

    home = _prepare_env(folder, args.keep_env)

    # Airflow 3 logs to stdout: keep fd 1 for our JSON only, send everything else to stderr.
    out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    try:
        if args.parse_time:
            data = parse_time(args.parse_time)
            text = json.dumps(data, sort_keys=True) if args.json else f"{data['parse_seconds']:.4f}"
        else:
            data = inspect_folder(target, run_conf, json.loads(args.xcom) if args.xcom else None)
            text = json.dumps(data, sort_keys=True, indent=1, default=_jsonable)
        out.write(text + "\n")
        out.flush()
    finally:
        shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
