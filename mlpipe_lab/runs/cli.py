"""``mlpipe runs``, ``mlpipe logs``, ``mlpipe trigger``, ``mlpipe approve`` and ``mlpipe submit
--trigger``: the runs service on the command line. Arguments are declared in mlpipe_lab/cli.py.

Exit status: 0 the run succeeded (or the listing worked), 1 the run failed / was cancelled / the
operation failed, 2 bad usage, 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

from ..errors import ServiceError

FOLLOW_SECONDS = 2.0
LOG_TAIL_LINES = 30


def _print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, ensure_ascii=False, default=str)
    sys.stdout.write("\n")


def _runs(args: argparse.Namespace, pipeline: str | None = None):
    """The runs service rooted at the pipeline's project root (or here), and the pipeline's path
    in it: --root, else the git work tree that holds the pipeline, else the current folder."""
    from ..pipeline.files import find_project_root
    from ..services import Services
    from .service import RunsService

    root = getattr(args, "root", None) or os.getcwd()
    if pipeline and not getattr(args, "root", None):
        root = str(find_project_root(pipeline, os.getcwd()))
    service = RunsService(Services(root, data_dir=args.data_dir, confine_outputs=False))
    if not pipeline:
        return service, None
    rel = os.path.relpath(os.path.realpath(pipeline), os.path.realpath(root))
    return service, rel.replace(os.sep, "/")


def _params(items: list[str]) -> dict[str, Any]:
    from ..localrun.params import ParameterError, parse_assignments

    try:
        return parse_assignments(items)
    except ParameterError as exc:
        raise ServiceError(str(exc), 400, field="param") from None


def _clock(stamp: str | None) -> str:
    return (stamp or "")[11:19] or time.strftime("%H:%M:%S", time.gmtime())


def _task_line(task: dict[str, Any], width: int) -> str:
    label = f" ({task['label']})" if task.get("label") and task["label"] != task["task_id"] else ""
    text = f"  {task['task_id']:<{width}}  {task['state']:<15} try {task['try_number']}{label}"
    items = task.get("items")
    if isinstance(items, dict):  # a fan-out node
        text += (
            f" items: {items.get('success', 0)}/{items.get('total', 0)} succeeded, "
            f"{items.get('failed', 0)} failed, {items.get('running', 0)} running"
        )
    if task.get("message"):
        text += f"\n  {'':<{width}}  {task['message']}"
    return text


def _print_run(run: dict[str, Any]) -> None:
    print(
        f"Run {run['id']} of {run['dag_id']} ({run['kind']}, {run['runtime_config']}): {run['state']}"
    )
    print(f"  started {run['started'] or '-'}  ended {run['ended'] or '-'}")
    if run.get("pipeline"):
        print(f"  pipeline: {run['pipeline']}")
    if run.get("params"):
        print(
            "  params: "
            + ", ".join(f"{k}={json.dumps(v)}" for k, v in sorted(run["params"].items()))
        )
    for name, link in sorted(run.get("links", {}).items()):
        print(f"  {name}: {link}")
    width = max([len(t["task_id"]) for t in run["tasks"]] + [4])
    for task in run["tasks"]:
        print(_task_line(task, width))
    if run.get("message"):
        print(run["message"])


def _find(service, args: argparse.Namespace, run_id: str, name: str | None) -> dict[str, Any]:
    """A run by id: directly when config and DAG are known, else looked up among the listed runs."""
    dag_id = args.dag_id or (service._dag_id_of(name) if name else None)
    if args.runtime_config and dag_id:
        return service.get(args.runtime_config, dag_id, run_id)
    listed = service.list(runtime_config=args.runtime_config, dag_id=dag_id, limit=1000)["runs"]
    for run in listed:
        if run["id"] == run_id:
            return service.get(run["runtime_config"], run["dag_id"], run_id)
    raise ServiceError(
        f"No run '{run_id}' found; give --runtime-config and --dag-id (or the pipeline) "
        "for Airflow runs.",
        404,
    )


def cmd_runs(args: argparse.Namespace) -> int:
    words = list(args.words)
    if words[:1] == ["show"]:
        if len(words) != 2:
            raise ServiceError(
                "usage: mlpipe runs show RUN_ID [--runtime-config N] [--dag-id D | --pipeline P]",
                400,
            )
        service, name = _runs(args, args.pipeline)
        run = _find(service, args, words[1], name)
        _print_json(run) if args.json else _print_run(run)
        return 0
    if len(words) > 1:
        raise ServiceError("usage: mlpipe runs [PIPELINE] [--runtime-config N] [--dag-id D]", 400)
    pipeline = words[0] if words else args.pipeline
    service, name = _runs(args, pipeline)
    result = service.list(
        runtime_config=args.runtime_config, dag_id=args.dag_id, path=name, limit=args.limit
    )
    if args.json:
        _print_json(result)
        return 0
    if not result["runs"]:
        print("No runs.")
    for run in result["runs"]:
        print(
            f"{run['started'] or '-':<25} {run['state']:<9} {run['kind']:<7} {run['runtime_config']:<16} "
            f"{run['dag_id']:<24} {run['id']}"
            + "".join(f"  awaits approval: {g['label']}" for g in run.get("awaiting") or [])
        )
    return 0


def cmd_logs(args: argparse.Namespace) -> int:
    service, name = _runs(args, args.pipeline)
    run = _find(service, args, args.run_id, name)
    offset, texts = 0, []
    while True:
        chunk = service.logs(
            run["runtime_config"],
            run["dag_id"],
            run["id"],
            args.task_id,
            try_number=args.try_number,
            offset=offset,
        )
        if args.json:
            texts.append(chunk["text"])
        else:
            sys.stdout.write(chunk["text"])
            sys.stdout.flush()
        moved = chunk["offset"] != offset
        offset = chunk["offset"]
        if chunk["complete"] or not args.follow:
            break
        if not moved:
            time.sleep(FOLLOW_SECONDS if run["kind"] == "airflow" else 0.5)
    if args.json:
        _print_json({"text": "".join(texts), "offset": offset, "complete": chunk["complete"]})
    return 0


def follow(service, run: dict[str, Any], *, json_out: bool, interval: float) -> dict[str, Any]:
    """Print each task's state changes until the run ends; then the logs' tails of failed tasks."""
    live = sys.stderr if json_out else sys.stdout
    seen: dict[str, tuple[str, int]] = {}
    print(
        f"{_clock(run['started'])}  run {run['id']} of {run['dag_id']}: {run['state']}"
        + (f"  {run['links']['airflow']}" if run["links"].get("airflow") else ""),
        file=live,
        flush=True,
    )
    while True:
        run = service.get(run["runtime_config"], run["dag_id"], run["id"])
        width = max([len(t["task_id"]) for t in run["tasks"]] + [12])
        for task in run["tasks"]:
            key = (task["state"], task["try_number"])
            if seen.get(task["task_id"]) != key and task["state"] != "none":
                seen[task["task_id"]] = key
                stamp = task["ended"] if task["state"] in ("success", "failed") else task["started"]
                print(
                    f"{_clock(stamp)}  {task['task_id']:<{width}}  {task['state']:<15} try {task['try_number']}",
                    file=live,
                    flush=True,
                )
        if run["state"] not in ("queued", "running"):
            break
        time.sleep(interval)
    for task in run["tasks"]:
        if task["state"] == "failed":
            log = service.logs(run["runtime_config"], run["dag_id"], run["id"], task["task_id"])
            tail = log["text"].rstrip().splitlines()[-LOG_TAIL_LINES:]
            print(
                f"--- last {len(tail)} lines of the log of {task['task_id']} (try {task['try_number']}) ---",
                file=live,
            )
            print("\n".join(tail), file=live, flush=True)
    return run


def _finish(service, run: dict[str, Any], args: argparse.Namespace, wait: bool) -> int:
    if wait:
        run = follow(
            service,
            run,
            json_out=args.json,
            interval=0.5 if run["kind"] == "local" else FOLLOW_SECONDS,
        )
    if args.json:
        _print_json(run)
    else:
        _print_run(run)
    if not wait:
        return 0
    return 0 if run["state"] == "success" else 1


def cmd_trigger(args: argparse.Namespace) -> int:
    if bool(args.pipeline) == bool(args.dag_id):
        raise ServiceError("Give either a PIPELINE or --dag-id.", 400)
    service, name = _runs(args, args.pipeline)
    params = _params(args.param)
    if args.dag_id:
        params = {k: _json_or_text(v) for k, v in params.items()}
    body = {
        "runtime_config": args.runtime_config,
        "path": name,
        "dag_id": args.dag_id,
        "params": params,
        "import_timeout": args.import_timeout,
    }
    run = service.start(body)
    # a local run lives in this process: it has to be waited for
    return _finish(service, run, args, wait=args.wait or run["kind"] == "local")


def _json_or_text(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return value


def cmd_submit_trigger(args: argparse.Namespace, published: dict[str, Any]) -> int:
    """After ``mlpipe submit``: wait for Airflow to import the pushed commit, unpause, trigger."""
    service, name = _runs(args, args.pipeline)
    config = service.config(args.runtime_config)
    if config.get("type") != "airflow":
        raise ServiceError(
            "--trigger needs an Airflow runtime configuration (use `mlpipe run` locally).",
            400,
            field="runtime_config",
        )
    from .airflow import AirflowRuns

    airflow = AirflowRuns(
        args.runtime_config,
        service.catalogs.runtime_config(args.runtime_config, with_secrets=True),
        service.services,
    )
    live = sys.stderr if args.json else sys.stdout
    commit = published.get("commit")
    last: list[str] = []

    def on_poll(status: dict[str, Any]) -> None:
        text = status.get("message") or status["state"]
        if last[-1:] != [text]:
            last.append(text)
            print(f"  import: {text}", file=live, flush=True)

    print(
        f"waiting for Airflow to import {published['dag_id']}"
        + (f" at {commit}" if commit else ""),
        file=live,
        flush=True,
    )
    airflow.wait_imported(published["dag_id"], commit, timeout=args.import_timeout, on_poll=on_poll)
    print(f"  imported{' at ' + commit if commit else ''}", file=live, flush=True)
    run = service.start(
        {"runtime_config": args.runtime_config, "path": name, "params": _params(args.param)}
    )
    if commit:
        run["links"].setdefault("commit", commit)
    return _finish(service, run, args, wait=args.wait)


def cmd_approve(args: argparse.Namespace) -> int:
    """``mlpipe approve RUN_ID --task T [--reject] [--comment C]``: an approval gate's decision."""
    import getpass

    service, name = _runs(args, args.pipeline)
    run = _find(service, args, args.run_id, name)
    try:
        who = getpass.getuser()
    except (KeyError, OSError):  # no user name for this uid (some containers)
        who = None
    run = service.decide(
        run["runtime_config"],
        run["dag_id"],
        run["id"],
        args.task_id,
        "reject" if args.reject else "approve",
        args.comment,
        by=who,
    )
    if args.json:
        _print_json(run)
    else:
        _print_run(run)
    return 0
