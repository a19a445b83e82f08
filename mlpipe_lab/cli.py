"""The ``mlpipe`` command line. Every command takes ``--json`` for machine-readable output.

Imports stay lazy so that start-up is quick: nothing from jupyter_server or tornado is loaded.
Exit codes: 0 success, 1 the pipeline has errors / the operation failed, 2 bad usage.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from .errors import MLPipeError, exit_code
from .errors import MLPipeError as ServiceError


def _print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")


def _services(args: argparse.Namespace, root: str | None = None):
    from .services import Services

    return Services(root or os.getcwd(), data_dir=args.data_dir, confine_outputs=False)


def _for_pipeline(args: argparse.Namespace, path: str):
    """Services rooted at the pipeline's project root, and the pipeline's path in it.

    The project root bounds the files a pipeline may use: ``--root``, else the git work tree that
    holds the pipeline, else the current folder (or the pipeline's folder when it is elsewhere).
    """
    from .pipeline.files import find_project_root

    abspath = os.path.realpath(path)
    given = getattr(args, "root", None)
    root = os.path.realpath(given) if given else str(find_project_root(abspath, os.getcwd()))
    rel = os.path.relpath(abspath, root)
    if rel == os.pardir or rel.startswith(os.pardir + os.sep):
        raise ServiceError(f"'{path}' is not below the project root {root} (--root).", 400)
    return _services(args, root), rel.replace(os.sep, "/")


# -- pipeline commands ----------------------------------------------------------------------


def cmd_validate(args: argparse.Namespace) -> int:
    results, status = [], 0
    for path in args.pipelines:
        svc, name = _for_pipeline(args, path)
        result = svc.pipelines.validate(name, runtime_config=args.runtime_config)
        result["path"] = path
        results.append(result)
        errors = [p for p in result["problems"] if p["severity"] == "error"]
        warnings = [p for p in result["problems"] if p["severity"] == "warning"]
        if errors or (args.strict and warnings):
            status = 1
        if not args.json:
            from .pipeline.problems import Problem

            for p in result["problems"]:
                print(Problem(**p).describe())
            verdict = "invalid" if errors else "valid"
            print(f"{result['path']}: {verdict} ({len(errors)} errors, {len(warnings)} warnings)")
    if args.json:
        _print_json(results[0] if len(results) == 1 else results)
    return status


def cmd_describe(args: argparse.Namespace) -> int:
    svc, name = _for_pipeline(args, args.pipeline)
    info = svc.pipelines.describe(name, args.runtime_config)
    info["path"] = args.pipeline
    if args.json:
        _print_json(info)
        return 0
    print(
        f"Pipeline {info['name']} ({info['path']}), DAG id {info['dag_id']}, {len(info['nodes'])} nodes"
    )
    print("Nodes (in run order):")
    for n in info["nodes"]:
        after = f" after {', '.join(n['parents'])}" if n["parents"] else ""
        tasks = ", ".join(n["task_ids"]) or "(runs nothing)"
        print(f"  {tasks}: {n['filename']} [{n['runtime_image'] or 'no image'}]{after}")
    print("Files:")
    for f in info["files"] or ["(none)"]:
        print(f"  {f}")
    print("Images:")
    for i in info["images"] or [{"image": "(none)", "catalog_entry": "-"}]:
        entry = i.get("catalog_entry") or "not in catalog"
        print(f"  {i['image']} ({entry})")
    print("Kubernetes secrets:")
    for s in info["secrets"] or [{"node": "-", "env_var": "(none)", "secret": "", "key": ""}]:
        print(f"  {s['env_var']} <- {s['secret']}:{s['key']} ({s['node']})")
    print("Volumes:")
    for v in info["volumes"] or [{"node": "-", "path": "(none)", "pvc_name": ""}]:
        print(f"  {v['path']} <- {v['pvc_name']} ({v['node']})")
    if info["parameters"]:
        print("Parameters:")
        for p in info["parameters"]:
            print(f"  {p['name']}: {p['type']} = {p['default']!r}")
    return 0


def cmd_schedule(args: argparse.Namespace) -> int:
    from .pipeline.schedule import ScheduleError, explain

    try:
        info = explain(args.expression, args.start_date)
    except ScheduleError as exc:
        raise ServiceError(exc.message, 400, field="schedule") from None
    if args.json:
        _print_json(info)
        return 0
    print(f"{info['schedule'] or '(none)'}: {info['description']}")
    if info["next_runs"]:
        print("Next runs (UTC): " + ", ".join(info["next_runs"]))
    return 0


_EXPORTED = False  # an export finished: entry() may skip the interpreter's teardown


def cmd_export(args: argparse.Namespace) -> int:
    global _EXPORTED
    # One short-lived process: the cyclic garbage collector would only walk the (large) parsed
    # pipeline again and again (10-25% of a 5,000-node export); memory is returned at exit.
    gc.disable()
    svc, name = _for_pipeline(args, args.pipeline)
    output = os.path.abspath(args.output) if args.output else None
    try:
        result = svc.pipelines.export(name, args.runtime_config, output, overwrite=args.overwrite)
    except MLPipeError as exc:
        # The same refusal as in the editor, with the command-line way out.
        if exc.code == "output-exists":
            exc.message = exc.message.replace(
                "needs your consent (overwrite).", "needs --overwrite."
            )
        elif exc.code == "output-not-generated":
            exc.message = exc.message.replace("another DAG file", "another DAG file (-o FILE)")
        raise
    _EXPORTED = True
    if args.json:
        _print_json(result)
        return 0
    from .pipeline.problems import Problem

    for p in result["problems"]:
        print(Problem(**p).describe())
    # the answer's paths are relative to the project root; show them relative to here
    where = args.output or os.path.relpath(os.path.join(svc.root, result["dag_path"]))
    state = "written" if result["changed"] else "unchanged"
    if result.get("replaced"):
        state = "replaced the earlier export"
    print(
        f"DAG {result['dag_id']}: {where} ({state}), {len(result['tasks'])} tasks, "
        f"{len(result['bundles'])} node bundles"
    )
    return 0


def _print_publish(result: dict[str, Any]) -> None:
    for step in result.get("steps", []):
        print(f"  {step['step']}: {step['message']}")
    commit = result.get("commit") or "(none)"
    state = "new commit" if result.get("changed") else "no change"
    print(
        f"{result['action']} {result['dag_id']}: {commit} ({state}) on {result['branch']} "
        f"at {result['path']}"
    )
    for name, url in sorted(result.get("links", {}).items()):
        print(f"  {name}: {url}")


def cmd_submit(args: argparse.Namespace) -> int:
    svc, name = _for_pipeline(args, args.pipeline)
    try:
        result = svc.publishing.submit(
            name,
            args.runtime_config,
            replace=args.replace,
            allow_plain_secrets=args.allow_plain_secrets,
        )
    except MLPipeError as exc:
        if exc.code == "plain-secrets":
            exc.message = exc.message.replace(
                "or submit anyway.", "or submit anyway with --allow-plain-secrets."
            )
        raise
    if args.trigger:
        from .runs.cli import cmd_submit_trigger

        if not args.json:
            _print_publish(result)
        return cmd_submit_trigger(args, result)
    if args.json:
        _print_json(result)
    else:
        _print_publish(result)
    return 0


def cmd_retire(args: argparse.Namespace) -> int:
    dag_id = args.dag_id
    path = None
    if dag_id.endswith(".pipeline"):  # only this pipeline's DAG (its plan's DAG id, as export
        svc, path = _for_pipeline(args, dag_id)  # has it): another file's is left alone
        dag_id = svc.pipelines.dag_id(path)
    else:
        svc = _services(args)
    result = svc.publishing.retire(dag_id, args.runtime_config, path=path)
    if args.json:
        _print_json(result)
    else:
        _print_publish(result)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from .localrun.cli import cmd_run as run

    return run(args)


def cmd_runs(args: argparse.Namespace) -> int:
    from .runs.cli import cmd_runs as runs

    return runs(args)


def cmd_logs(args: argparse.Namespace) -> int:
    from .runs.cli import cmd_logs as logs

    return logs(args)


def cmd_trigger(args: argparse.Namespace) -> int:
    from .runs.cli import cmd_trigger as trigger

    return trigger(args)


def cmd_approve(args: argparse.Namespace) -> int:
    from .runs.cli import cmd_approve as approve

    return approve(args)


# -- catalog commands -----------------------------------------------------------------------


def _set_path(data: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    cur = data
    for part in parts[:-1]:
        cur = cur.setdefault(part, {})
        if not isinstance(cur, dict):
            raise ServiceError(
                f"'{dotted}': '{part}' is not a group of settings.", 400, field=dotted
            )
    cur[parts[-1]] = value


def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _entry_from_args(args: argparse.Namespace) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if args.from_file:
        try:
            with open(args.from_file, encoding="utf-8") as fh:
                data = json.load(fh)
        except (OSError, ValueError) as exc:
            raise ServiceError(f"Cannot read {args.from_file}: {exc}", 400) from None
        if not isinstance(data, dict):
            raise ServiceError(f"{args.from_file} must hold a JSON object.", 400)
    for key in (
        "name",
        "display_name",
        "image",
        "pull_policy",
        "pull_secret",
        "description",
        "type",
    ):
        value = getattr(args, key, None)
        if value is not None:
            data[key] = value
    if getattr(args, "tag", None):
        data["tags"] = args.tag
    for item in args.set or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise ServiceError(f"--set expects key=value, got '{item}'.", 400)
        _set_path(data, key.strip(), _parse_value(value))
    for item in args.secret_env or []:
        key, sep, env = item.partition("=")
        if not sep or env not in os.environ:
            raise ServiceError(
                f"--secret-env {key}: environment variable '{env}' is not set.", 400, field=key
            )
        _set_path(data, key.strip(), os.environ[env])
    return data


def cmd_catalog_list(args: argparse.Namespace) -> int:
    svc = _services(args)
    kinds = (
        [args.kind] if args.kind else ["runtime-images", "runtime-configs", "component-catalogs"]
    )
    out = {}
    for kind in kinds:
        from .services import catalog_kind

        out[catalog_kind(kind)] = svc.catalogs.list(kind)
    if args.json:
        _print_json(out if len(out) > 1 else next(iter(out.values())))
        return 0
    for kind, items in out.items():
        print(f"{kind}:")
        for e in items or []:
            what = e.get("image") or e.get("type", "")
            flags = [e.get("source", "user")] + (["read-only"] if e.get("read_only") else [])
            print(f"  {e['name']:<24} {what:<40} {e.get('display_name', '')} ({', '.join(flags)})")
        if not items:
            print("  (empty)")
    return 0


def cmd_catalog_check_image(args: argparse.Namespace) -> int:
    from .catalog.imagecheck import check_image, image_of

    image = image_of(args.image, _services(args).catalogs)
    report = check_image(image, template=args.run, timeout=args.timeout)
    if args.json:
        _print_json(report.to_json())
    else:
        for need in report.needs:
            mark = "ok  " if need.ok else "MISSING"
            print(f"  {mark:<8}{need.need:<36} {need.for_:<16} {need.found}")
        print(report.summary)
    return 0 if report.python else 1


def cmd_catalog_show(args: argparse.Namespace) -> int:
    entry = _services(args).catalogs.get(args.kind, args.name)
    _print_json(entry)
    return 0


def cmd_catalog_add(args: argparse.Namespace) -> int:
    svc = _services(args)
    data = _entry_from_args(args)
    if args.update:
        name = data.get("name") or args.name
        entry = svc.catalogs.update(args.kind, name, data)
    else:
        entry = svc.catalogs.create(args.kind, data)
    if args.json:
        _print_json(entry)
    else:
        print(f"{'Updated' if args.update else 'Added'} {entry['name']} to {args.kind}.")
    return 0


def cmd_catalog_remove(args: argparse.Namespace) -> int:
    _services(args).catalogs.delete(args.kind, args.name)
    if args.json:
        _print_json({"removed": args.name})
    else:
        print(f"Removed {args.name} from {args.kind}.")
    return 0


def cmd_catalog_import(args: argparse.Namespace) -> int:
    svc = _services(args)
    kinds = (
        [args.kind] if args.kind else ["runtime-images", "runtime-configs", "component-catalogs"]
    )
    imported = []
    for kind in kinds:
        imported += svc.catalogs.import_elyra(
            kind, names=args.names or None, overwrite=args.overwrite
        )
    if args.json:
        _print_json({"imported": imported})
    else:
        for e in imported:
            print(f"Imported {e['name']}")
        if not imported:
            print("Nothing to import: no Elyra catalog entries found (or all already imported).")
    return 0


def cmd_components_list(args: argparse.Namespace) -> int:
    """The palette's components: every component of the component catalogs."""
    data = _services(args, getattr(args, "root", None)).components.list()
    if args.json:
        _print_json(data)
        return 0
    for c in data["components"]:
        kind = "operator" if c["kind"] == "airflow-operator" else "KFP"
        print(f"{c['id']:<48} {kind:<8} {c['label']} ({c['catalog']})")
    if not data["components"]:
        print(
            "(no components: add a component catalog with `mlpipe catalog add component-catalogs`)"
        )
    for p in data["problems"]:
        print(f"problem: {p['catalog']}: {p['message']}", file=sys.stderr)
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    from .services import schema, schema_index

    if not args.name:
        names = schema_index()["schemas"]
        _print_json(names) if args.json else print("\n".join(names))
        return 0
    _print_json(schema(args.name, args.op))  # the same lookup as GET /mlpipe-lab/schemas/NAME
    return 0


# -- parser ---------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="machine-readable output")
    common.add_argument(
        "--data-dir",
        default=None,
        help="catalog folder (default: $MLPIPE_LAB_DATA_DIR or <jupyter data dir>/mlpipe-lab)",
    )
    common.add_argument(
        "--root",
        default=None,
        help="project root: pipelines may use files anywhere below it (default: the git work "
        "tree that holds the pipeline, else the current folder)",
    )

    parser = argparse.ArgumentParser(
        prog="mlpipe",
        description="Validate, describe, export and submit ML pipelines.",
        parents=[common],
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("validate", parents=[common], help="check pipelines and list their problems")
    p.add_argument("pipelines", nargs="+", metavar="PIPELINE")
    p.add_argument("--strict", action="store_true", help="fail on warnings too")
    p.add_argument(
        "--runtime-config",
        "-r",
        dest="runtime_config",
        default="local",
        help="check for this runtime configuration, as export would (default: local)",
    )
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser(
        "describe", parents=[common], help="files, images, secrets and volumes a pipeline uses"
    )
    p.add_argument("pipeline", metavar="PIPELINE")
    p.add_argument(
        "--runtime-config",
        "-r",
        dest="runtime_config",
        default="local",
        help="the tasks for this runtime configuration (default: local)",
    )
    p.set_defaults(func=cmd_describe)

    p = sub.add_parser(
        "schedule",
        parents=[common],
        help="check a schedule (preset or cron) and show it in words with its next runs",
    )
    p.add_argument("expression", metavar="SCHEDULE", help="e.g. @daily or '0 3 * * 1-5'")
    p.add_argument("--start-date", dest="start_date", help="YYYY-MM-DD (UTC)")
    p.set_defaults(func=cmd_schedule)

    p = sub.add_parser(
        "export", parents=[common], help="compile to an Airflow DAG file and node bundles (offline)"
    )
    p.add_argument("pipeline", metavar="PIPELINE")
    p.add_argument(
        "--runtime-config",
        "-r",
        dest="runtime_config",
        default="local",
        help="runtime configuration name (default: local)",
    )
    p.add_argument(
        "--output", "-o", help="DAG file (default: dags/<dag_id>.py in the pipeline's folder)"
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an earlier export whose content differs (a file mlpipe-lab did not write "
        "is never replaced)",
    )
    p.set_defaults(func=cmd_export)

    p = sub.add_parser(
        "submit",
        aliases=["publish"],  # the README's word before 0.x; still accepted
        parents=[common],
        help="upload the node files and commit the DAG to the DAG repository",
    )
    p.add_argument("pipeline", metavar="PIPELINE")
    p.add_argument("--runtime-config", "-r", dest="runtime_config", default="local")
    p.add_argument(
        "--replace",
        action="store_true",
        help="take over a DAG id another pipeline file submitted (this pipeline, moved or renamed)",
    )
    p.add_argument(
        "--trigger",
        action="store_true",
        help="then wait until Airflow has imported the pushed commit, unpause and trigger",
    )
    p.add_argument(
        "--allow-plain-secrets",
        dest="allow_plain_secrets",
        action="store_true",
        help="commit environment variables that look like secrets with their plain values",
    )
    p.add_argument(
        "--param",
        "-p",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="with --trigger: a parameter value for the run; repeatable",
    )
    p.add_argument(
        "--wait", action="store_true", help="with --trigger: follow the run until it ends"
    )
    p.add_argument(
        "--import-timeout",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="with --trigger: how long to wait for the import (default: 300)",
    )
    p.set_defaults(func=cmd_submit)

    p = sub.add_parser("retire", parents=[common], help="remove a pipeline's DAG from the DAG repo")
    p.add_argument("dag_id", metavar="DAG_ID|PIPELINE")
    p.add_argument("--runtime-config", "-r", dest="runtime_config", default="local")
    p.set_defaults(func=cmd_retire)

    p = sub.add_parser(
        "run", parents=[common], help="run a pipeline on this machine (live status, then a summary)"
    )
    p.add_argument("pipeline", metavar="PIPELINE")
    p.add_argument(
        "--param",
        "-p",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a pipeline parameter (converted to its declared type); repeatable",
    )
    p.add_argument(
        "--max-parallel",
        type=int,
        default=2,
        metavar="N",
        help="nodes running at the same time (default: 2)",
    )
    p.add_argument(
        "--artifacts",
        metavar="DIR",
        help="artifacts folder (default: the local runtime configuration's)",
    )
    p.add_argument(
        "--runtime-config",
        "-r",
        dest="runtime_config",
        default="local",
        help="local runtime configuration whose artifacts folder to use",
    )
    p.add_argument(
        "--no-cache",
        dest="cache",
        action="store_false",
        help="run every node, even those whose file, inputs and parameters are unchanged "
        "since an earlier run (default: reuse their results, state 'cached')",
    )
    part = p.add_argument_group(
        "partial runs",
        "nodes by task id, node id or label (comma-separated or repeated); the nodes whose "
        "outputs the chosen ones need are not run: their results come from the cache or their "
        "last successful run",
    )
    part.add_argument(
        "--only", action="append", metavar="NODE", help="run only these nodes (always run)"
    )
    part.add_argument(
        "--from",
        dest="start",
        action="append",
        metavar="NODE",
        help="run this node (always) and its descendants",
    )
    part.add_argument(
        "--to", dest="end", action="append", metavar="NODE", help="run this node and its ancestors"
    )
    part.add_argument(
        "--run",
        dest="rerun",
        metavar="RUN_ID",
        help="with an Airflow runtime configuration (-r): clear the chosen tasks of this run, "
        "so that Airflow runs them again in it",
    )
    p.set_defaults(func=cmd_run)

    run_target = argparse.ArgumentParser(add_help=False)
    run_target.add_argument(
        "--runtime-config",
        "-r",
        dest="runtime_config",
        default=None,
        help="runtime configuration (default: every local one)",
    )
    run_target.add_argument(
        "--dag-id", dest="dag_id", help="the DAG (Airflow runs need it or a pipeline)"
    )
    run_target.add_argument("--pipeline", help="the pipeline whose runs to show")

    p = sub.add_parser(
        "runs",
        parents=[common, run_target],
        help="list runs (local and Airflow); `mlpipe runs show RUN_ID` for one",
        usage="mlpipe runs [PIPELINE] [options] | mlpipe runs show RUN_ID [options]",
    )
    p.add_argument("words", nargs="*", metavar="PIPELINE | show RUN_ID")
    p.add_argument("--limit", type=int, default=50)
    p.set_defaults(func=cmd_runs)

    p = sub.add_parser("logs", parents=[common, run_target], help="a task's log in a run")
    p.add_argument("run_id", metavar="RUN_ID")
    p.add_argument("task_id", metavar="TASK_ID")
    p.add_argument(
        "--try", dest="try_number", type=int, default=None, help="try number (default: the latest)"
    )
    p.add_argument("--follow", "-f", action="store_true", help="keep printing until the task ends")
    p.set_defaults(func=cmd_logs)

    p = sub.add_parser(
        "trigger",
        parents=[common],
        help="start a run of a submitted pipeline (Airflow) or a local run",
    )
    p.add_argument("pipeline", nargs="?", metavar="PIPELINE")
    p.add_argument(
        "--dag-id", dest="dag_id", help="trigger this DAG instead of naming the pipeline"
    )
    p.add_argument("--runtime-config", "-r", dest="runtime_config", required=True)
    p.add_argument(
        "--param",
        "-p",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a parameter value (converted to its declared type); repeatable",
    )
    p.add_argument(
        "--wait", action="store_true", help="follow the run until it ends (exit 1 if it fails)"
    )
    p.add_argument(
        "--import-timeout", dest="import_timeout", type=float, default=300.0, help=argparse.SUPPRESS
    )
    p.set_defaults(func=cmd_trigger)

    p = sub.add_parser(
        "approve",
        parents=[common],
        help="approve (or --reject) an approval gate that waits in a run",
    )
    p.add_argument("run_id", metavar="RUN_ID")
    p.add_argument("--task", "-t", dest="task_id", required=True, help="the gate's task id")
    p.add_argument("--reject", action="store_true", help="reject instead of approving")
    p.add_argument("--comment", "-m", default=None, help="a comment kept with the decision")
    p.add_argument(
        "--config",
        "--runtime-config",
        "-r",
        dest="runtime_config",
        default=None,
        help="runtime configuration (default: find the run among the local ones)",
    )
    p.add_argument(
        "--dag", "--dag-id", dest="dag_id", help="the DAG (Airflow runs need it or --pipeline)"
    )
    p.add_argument("--pipeline", help="the pipeline the run belongs to")
    p.set_defaults(func=cmd_approve)

    sub.add_parser(
        "serve",
        help="serve an MLflow model locally on the Seldon-v1 runtime (mlpipe serve --help)",
        add_help=False,
    )

    p = sub.add_parser("schema", parents=[common], help="print a JSON Schema (or list them)")
    p.add_argument("name", nargs="?")
    p.add_argument("--op", help="node type, with node-properties")
    p.set_defaults(func=cmd_schema)

    comp = sub.add_parser(
        "components", parents=[common], help="the operators and KFP components of the catalogs"
    )
    compsub = comp.add_subparsers(dest="components_command", metavar="ACTION", required=True)
    p = compsub.add_parser(
        "list", parents=[common], help="list components (id = a node's op), and catalog problems"
    )
    p.set_defaults(func=cmd_components_list)

    cat = sub.add_parser(
        "catalog",
        parents=[common],
        help="runtime images, runtime configurations and component catalogs",
    )
    csub = cat.add_subparsers(dest="catalog_command", metavar="ACTION", required=True)
    kinds = "runtime-images (images), runtime-configs (configs) or component-catalogs"

    p = csub.add_parser("list", parents=[common], help="list entries")
    p.add_argument("kind", nargs="?", help=kinds)
    p.set_defaults(func=cmd_catalog_list)

    p = csub.add_parser("show", parents=[common], help="show one entry (secrets masked)")
    p.add_argument("kind", help=kinds)
    p.add_argument("name")
    p.set_defaults(func=cmd_catalog_show)

    p = csub.add_parser(
        "add",
        parents=[common],
        help="add (or --update) an entry",
        description="Secrets are never given on the command line: use --secret-env "
        "FIELD=ENVVAR or a --from-file JSON file.",
    )
    p.add_argument("kind", help=kinds)
    p.add_argument("--name")
    p.add_argument("--display-name", dest="display_name")
    p.add_argument("--description")
    p.add_argument("--tag", action="append", help="repeatable")
    p.add_argument("--image", help="runtime images: the container image")
    p.add_argument("--pull-policy", dest="pull_policy", choices=["Always", "IfNotPresent", "Never"])
    p.add_argument("--pull-secret", dest="pull_secret")
    p.add_argument(
        "--type",
        help="runtime configs: local or airflow; component catalogs: the source "
        "(local-directory-catalog, url-catalog, airflow-providers, ...)",
    )
    p.add_argument("--from-file", dest="from_file", help="JSON file with the entry")
    p.add_argument(
        "--set",
        action="append",
        metavar="FIELD=VALUE",
        help="set a field, dotted path (e.g. dag_repo.branch=main); repeatable",
    )
    p.add_argument(
        "--secret-env",
        dest="secret_env",
        action="append",
        metavar="FIELD=ENVVAR",
        help="set a secret field from an environment variable; repeatable",
    )
    p.add_argument("--update", action="store_true", help="update an existing entry")
    p.set_defaults(func=cmd_catalog_add)

    p = csub.add_parser("remove", parents=[common], help="remove an entry")
    p.add_argument("kind", help=kinds)
    p.add_argument("name")
    p.set_defaults(func=cmd_catalog_remove)

    p = csub.add_parser(
        "check-image",
        parents=[common],
        help="run an image here and say whether it has what nodes need (python3, ipykernel)",
        description="Runs the image with the command in $MLPIPE_IMAGE_RUN (or --run), e.g. "
        "'docker run --rm --entrypoint= {image}'. Exit status 0 when Python nodes can run in it.",
    )
    p.add_argument("image", help="image reference, or the name of a runtime-images entry")
    p.add_argument("--run", help="command that runs an image ({image}: its reference)")
    p.add_argument("--timeout", type=float, help="seconds (default 300: pulling takes a while)")
    p.set_defaults(func=cmd_catalog_check_image)

    p = csub.add_parser(
        "import-elyra", parents=[common], help="copy Elyra's catalog entries into ours"
    )
    p.add_argument("kind", nargs="?", help=kinds)
    p.add_argument("--name", dest="names", action="append", help="only this entry; repeatable")
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=cmd_catalog_import)

    return parser


_FORMAT_CHECKER_MODULES = (
    "rfc3987_syntax",
    "rfc3987",
    "rfc3986_validator",
    "rfc3339_validator",
    "fqdn",
    "idna",
    "webcolors",
    "jsonpointer",
    "uri_template",
    "isoduration",
)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["serve"]:
        # serving has its own parser (and heavier imports), loaded only when asked for
        from .serving.cli import serve_main

        return serve_main(argv[1:])
    # jsonschema imports every optional "format" checker it finds installed (rfc3987_syntax alone
    # builds a grammar for 1.5-2.5 s). Our schemas assert no formats, so this process (ours alone,
    # unlike the Jupyter server) does without them: start-up drops from ~2 s to ~0.2 s.
    for optional in _FORMAT_CHECKER_MODULES:
        sys.modules.setdefault(optional, None)  # type: ignore[arg-type]
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except MLPipeError as exc:
        if getattr(args, "json", False):
            _print_json(exc.to_json())
        else:
            print(f"mlpipe: {exc.message}", file=sys.stderr)
            from .pipeline.problems import Problem

            for p in exc.problems:
                if isinstance(p, Problem):
                    print(p.describe(), file=sys.stderr)
                elif isinstance(p, dict) and p.get("path"):
                    print(f"error: {p['path']}: {p.get('message')}", file=sys.stderr)
            for step in exc.steps:
                print(
                    f"  {step.get('step')}: {step.get('status')}: {step.get('message')}",
                    file=sys.stderr,
                )
        return exit_code(exc)
    except KeyboardInterrupt:
        return 130


def entry() -> None:
    """The ``mlpipe`` command. After an export the process ends at once (output flushed): a large
    export leaves some 10^6 objects whose one-by-one release at interpreter exit took ~0.2 s."""
    code = main()
    if _EXPORTED:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    entry()
