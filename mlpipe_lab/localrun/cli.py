"""``mlpipe run PIPELINE``: run a pipeline on this machine, printing live status lines and a summary.

Exit status: 0 when every node succeeded, 1 when a node failed, 130 when cancelled (Ctrl-C).
The arguments are declared in mlpipe_lab/cli.py (so that start-up imports nothing from here).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
from pathlib import Path
from typing import Any


def _artifacts(args: argparse.Namespace) -> Path:
    if args.artifacts:
        return Path(args.artifacts).expanduser().resolve()
    from ..errors import ServiceError
    from ..services import Services

    config = Services(
        os.getcwd(), data_dir=args.data_dir, confine_outputs=False
    ).catalogs.runtime_config(args.runtime_config)
    if config.get("type") != "local":
        raise ServiceError(
            f"Runtime configuration '{args.runtime_config}' is not a local one; "
            "mlpipe run runs pipelines on this machine.",
            400,
            field="runtime_config",
        )
    return Path(config["local"]["artifacts_path"])


def _clock(event: dict[str, Any]) -> str:
    return str(event.get("time", ""))[11:19]


def _line(event: dict[str, Any], width: int) -> str | None:
    if event["event"] == "run":
        if event["status"] == "running":
            return f"{_clock(event)}  run {event['run_id']} of {event.get('dag_id')} started"
        return None
    status = event["status"]
    if status == "queued":
        return None
    task, items = event["task_id"], event.get("items")
    if event["event"] == "item":  # an item of a fan-out node: task[index]
        task = f"{task}[{event.get('index')}]"
    elif items and status == "running":  # a fan-out node: said once, its items say the rest
        if items.get("success") or items.get("failed") or items.get("running"):
            return None
        return f"{_clock(event)}  {task:<{width}}  {status:<9}  {items.get('total')} items"
    text = f"{_clock(event)}  {task:<{width}}  {status:<9}"
    if items and status != "running":
        text += f"  items: {items.get('success')}/{items.get('total')} succeeded"
    if status == "running":
        text += f"  log: {event.get('log')}"
    elif status == "awaiting_approval":  # say how to answer (from another terminal)
        text += f"  {event.get('message')}\n{'':<{width + 12}}mlpipe approve {event['run_id']}"
        text += f" --task {event['task_id']} [--reject] [--comment TEXT]"
    elif event.get("message"):
        text += f"  {event['message']}"
    return text


def _summary(result: Any) -> list[str]:
    lines = []
    width = max([len(n.task_id) for n in result.nodes] + [4])
    total = ""
    try:
        import datetime as dt

        start = dt.datetime.fromisoformat(result.started_at.replace("Z", "+00:00"))
        end = dt.datetime.fromisoformat(result.finished_at.replace("Z", "+00:00"))
        total = f" in {(end - start).total_seconds():.1f} s"
    except (TypeError, ValueError, AttributeError):
        pass
    lines.append(f"Run {result.run_id} of {result.dag_id}: {result.status}{total}")
    for n in result.nodes:
        took = f"{n.duration:.1f} s" if n.duration is not None else ""
        extra = f"  notebook: {n.notebook}" if n.notebook else ""
        lines.append(f"  {n.task_id:<{width}}  {n.status:<9}  {took:>8}{extra}")
    for n in result.failures:
        lines.append(f"FAILED {n.label} ({n.task_id}): {n.message}")
        lines.append(f"  log: {n.log}")
    if result.partial:
        lines.append("partial run: ran " + (", ".join(result.partial["selected"]) or "nothing"))
        reused = [n for n in result.nodes if n.task_id in result.partial["reused"]]
        for n in reused:
            lines.append(
                f"  reused {n.task_id}: {n.message}"
                if n.status == "cached"
                else f"  {n.task_id}: {n.status}"
            )
    cached = [n for n in result.nodes if n.status == "cached"]
    if cached:
        lines.append(
            f"cached: {len(cached)} of {len(result.nodes)} node(s) reused earlier results "
            "(nothing they depend on changed); --no-cache runs them again"
        )
    for w in result.warnings:
        lines.append(w if w.startswith("warning") else f"warning: {w}")
    lines.append(f"Run folder: {result.run_dir}")
    return lines


def _project_root(args: argparse.Namespace) -> str:
    """--root, else the git work tree that holds the pipeline, else the current folder."""
    from ..pipeline.files import find_project_root

    given = getattr(args, "root", None)
    return given or str(find_project_root(args.pipeline, os.getcwd()))


def _is_airflow(args: argparse.Namespace) -> bool:
    if args.artifacts:
        return False
    from ..services import Services

    config = Services(
        os.getcwd(), data_dir=args.data_dir, confine_outputs=False
    ).catalogs.runtime_config(args.runtime_config)
    return config.get("type") == "airflow"


def _clear_airflow(args: argparse.Namespace) -> int:
    """``mlpipe run PIPELINE -r AIRFLOW --run RUN_ID --only/--from/--to``: clear those tasks of
    the run; Airflow runs them again in it."""
    from ..errors import ServiceError
    from ..runs.cli import _print_json, _print_run, _runs

    service, rel = _runs(args, args.pipeline)
    config = service.config(args.runtime_config)
    if config.get("type") != "airflow":
        raise ServiceError(
            "--run clears tasks of a run on Airflow; on this machine --only/--from/--to start a "
            "partial run (no --run).",
            400,
            field="run",
        )
    if not args.rerun:
        raise ServiceError(
            f"Runtime configuration '{args.runtime_config}' is an Airflow one: a partial run "
            "there clears tasks of an existing run. Give --run RUN_ID (`mlpipe runs PIPELINE "
            f"-r {args.runtime_config}` lists them) and --only/--from/--to.",
            400,
            field="run",
        )
    body = {k: v for k, v in (("only", args.only), ("from", args.start), ("to", args.end)) if v}
    if not body:
        raise ServiceError("Choose the tasks to run again: --only, --from or --to.", 400)
    run = service.clear(args.runtime_config, service._dag_id_of(rel), args.rerun, body)
    _print_json(run) if args.json else _print_run(run)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from ..errors import ServiceError
    from ..pipeline.problems import PipelineError
    from .params import ParameterError, parse_assignments
    from .run import LocalRunError, run_pipeline

    try:
        params = parse_assignments(args.param)
    except ParameterError as exc:
        raise ServiceError(str(exc), 400, field="param") from None
    if args.max_parallel < 1:
        raise ServiceError("--max-parallel must be at least 1.", 400, field="max_parallel")
    if getattr(args, "rerun", None) or _is_airflow(args):
        return _clear_airflow(args)
    root = _artifacts(args)
    project_root = _project_root(args)
    live = sys.stderr if args.json else sys.stdout
    width = [12]

    def on_event(event: dict[str, Any]) -> None:
        if event["event"] == "node":
            width[0] = max(width[0], len(event["task_id"]))
        line = _line(event, width[0])
        if line:
            print(line, file=live, flush=True)

    cancel = threading.Event()
    outcome: dict[str, Any] = {}

    finished = threading.Event()

    def work() -> None:
        try:
            outcome["result"] = run_pipeline(
                args.pipeline,
                project_root=project_root,
                params=params,
                artifacts_root=root,
                max_parallel=args.max_parallel,
                on_event=on_event,
                cancel_event=cancel,
                cache=getattr(args, "cache", True),
                only=getattr(args, "only", None),
                start=getattr(args, "start", None),
                end=getattr(args, "end", None),
            )
        except BaseException as exc:  # handed to the main thread
            outcome["error"] = exc
        finally:
            finished.set()

    # The run goes on in a thread so that Ctrl-C (in this, the main thread) can cancel it. An
    # Event is waited on, not the thread: an interrupted Thread.join may not be retried safely.
    threading.Thread(target=work, name="mlpipe-run", daemon=True).start()
    while True:
        try:
            while not finished.wait(0.2):
                pass
            break
        except KeyboardInterrupt:
            if not cancel.is_set():
                print("cancelling: stopping running nodes...", file=live, flush=True)
                cancel.set()
    error = outcome.get("error")
    if isinstance(error, PipelineError):
        raise ServiceError(
            f"Pipeline '{args.pipeline}' has errors; fix them before running.",
            422,
            problems=error.problems,
        )
    if isinstance(error, (ParameterError, LocalRunError)):
        raise ServiceError(str(error), 400)
    if error is not None:
        raise error
    result = outcome["result"]
    if args.json:
        json.dump(result.to_json(), sys.stdout, indent=2, ensure_ascii=False, default=str)
        sys.stdout.write("\n")
    else:
        print("\n".join(_summary(result)))
    return {"succeeded": 0, "cancelled": 130}.get(result.status, 1)
