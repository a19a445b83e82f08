"""The command-line contract between generated DAGs and the node runner (stdlib only).

Every task pod of a generated DAG runs the runner (see "Delivery" below) with::

    RUNNER --contract 1 \\
        --store s3 [--endpoint URL] --bucket BUCKET [--region REGION] [--prefix PREFIX] \\
        --run-prefix KEY \\
        --kind {notebook,python,r} --file PATH --bundle KEY --task-id TASK_ID \\
        [--output GLOB]... [--upstream TASK_ID]... [--param NAME=JSON]...

or, for the local (embedded) runtime, ``--store local --root PATH`` instead of the S3 options.
A Kubeflow Pipelines component that passes files runs ``--kind command`` instead (its own command
after ``--exec``, files fetched before and uploaded after it; see command.py).

Delivery (how RUNNER reaches the pod; pods download nothing but the node's bundle):

``init-container`` (the default)
    An init container from the runner image (python3 + the mlpipe_lab wheel) runs
    ``python3 -m mlpipe_lab.runner.install /mlpipe`` into an ``emptyDir`` volume mounted at
    ``/mlpipe`` in both containers; the node's container then runs
    ``python3 -S /mlpipe/mlpipe-runner.pyz`` (started through ``/bin/sh`` so that an image without
    python3 says so in one line; ``-S``: no site-packages until a notebook needs the image's
    jupyter_client, a faster start), with nothing installed in the node's image.
``image``
    The runner is already in the node's image: ``python3 -m mlpipe_lab.runner``.
Airflow workers (execution mode ``local-worker``)
    The zipapp travels with the DAG: export and submit write it beside the DAG file as
    ``mlpipe_runner/mlpipe-runner-1.pyz`` (1: this contract's version; the folder is listed in
    the DAG repository's ``.airflowignore``), and each task runs it with the worker's python3
    (``$MLPIPE_RUNNER_PYTHON``, default ``python3``) through ``/bin/sh``; ``$MLPIPE_RUNNER`` on
    the worker names another copy. Nothing is pip-installed on the workers.

Meaning (all object keys are relative to ``--prefix`` in ``--bucket``, or to ``--root`` locally):

``--bundle KEY``
    A tar.gz of the node's file and dependencies, paths relative to the pipeline's folder.
    The runner unpacks it into an empty work folder (the "bundle root").
``--file PATH``
    The notebook or script, relative to the bundle root. It runs with its own folder as the
    working directory: notebooks with papermill (output notebook kept), Python with ``python3``,
    R with ``Rscript``.
``--run-prefix KEY``
    Where this DAG run keeps its files (``<dag_id>/runs/<run_id>``). The task writes its outputs
    under ``<run-prefix>/<task-id>/outputs/<path>`` and a manifest ``<run-prefix>/<task-id>/manifest.json``
    listing every output available to it (its own plus those it received).
``--output GLOB``
    Files (globs relative to the bundle root) the node produces; uploaded after a successful run.
``--upstream TASK_ID``
    The task's direct upstream tasks. Before running, the runner reads their manifests and downloads
    every output listed there to the same relative path under the bundle root, so (as in Elyra) a
    node sees the outputs of all its ancestors. A missing manifest (an upstream task that failed
    or was skipped, with a permissive trigger rule) is reported and skipped.
``--param NAME=JSON``
    A pipeline parameter for notebooks (papermill parameters). The value is JSON (the DAG renders
    it with Jinja's ``tojson``); text that is not valid JSON is passed as a string.
``--cache [--cache-max-age SECONDS] [--cache-env NAME]...``
    Step caching (runner/cache.py): before running, look up the task's cache key in the store's
    ``_mlpipe_cache/`` index; on a hit copy that task's results into this run and do not run the
    node; after a success record them. ``--cache-env`` names environment variables that are part
    of the key (the node's variables and parameters).
``--result [--xcom-file PATH] [--xcom-stdout]``
    The node returns a result (a later task reads it: a branch or a fan-out's ``value_from``, see
    docs/control-flow.md). After the node ran, the runner reads ``mlpipe-result.json`` from the
    node's working folder (its file's folder): JSON of at most 64 KiB; a missing, larger or
    malformed file fails the task with one line saying so. The result goes into the manifest
    (``"result"``: what a local run's engine reads), and is also written to ``--xcom-file`` (pods:
    ``/airflow/xcom/return.json``, which KubernetesPodOperator pushes as the XCom
    ``return_value``) and, with ``--xcom-stdout``, printed as the runner's last line on stdout
    (compact JSON on one line: an Airflow worker's BashOperator pushes its last line, which the
    reader parses). A cached task returns the result its earlier run recorded.
``--item-parameter NAME --item-index I --item-count N --item-b64 B64`` (fan-out)
    This task is item I (0-based) of N of a fan-out node (``mlpipe.for_each``, see
    docs/control-flow.md). ``--item-b64`` is the base64 of the item's JSON: letters, digits and
    ``+/=`` only, so no template engine (Airflow renders operator arguments with Jinja) and no shell
    ever reads the item as anything but data. The node receives the item as the environment
    variables ``MLPIPE_ITEM`` (its JSON), ``MLPIPE_ITEM_INDEX``, ``MLPIPE_ITEM_COUNT`` and NAME
    (text as a parameter is), and notebooks as the parameter NAME. The item's files go under
    ``<run-prefix>/<task-id>/<I>/`` (outputs/, manifest.json with ``item``, log, notebook) instead
    of ``<task-id>/``. The generated DAG gives ``--item-parameter`` to the mapped task and the other
    three per mapped instance (Airflow dynamic task mapping); a local run gives all four.
``--upstream-items TASK_ID=COUNT``
    A direct upstream task that is a fan-out, and how many items it ran over in this run (the
    generated DAG renders COUNT from the length of the list ``<TASK_ID>__items`` returned; a
    local run knows it). The runner reads exactly the manifests ``<TASK_ID>/<I>/manifest.json``
    for I below COUNT (none for 0: an empty list; a missing one, a failed item, is reported and
    skipped) and places item I's own outputs at ``<TASK_ID>/<I>/<path>`` under the bundle root
    (what the items received, as usual). COUNT empty (``TASK_ID=``: not known) or absent (plain
    ``TASK_ID``, what DAGs generated before said) means unknown: the runner then probes I from 0
    until the count the first manifest found states, up to 1,000 reads when none is found.
``--store s3``
    Credentials come from the pod environment (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY`` from a
    Kubernetes Secret, or IRSA); they are never arguments.
``--store local --root PATH``
    The same layout in a folder; a relative root is relative to ``$MLPIPE_LAB_DATA_DIR``.

Exit status: the node's own exit status (0 = success); 2 for a usage error.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
from collections.abc import Iterable, Sequence

TYPE_CHECKING = False  # typing is not imported when the runner starts (a faster start)
if TYPE_CHECKING:
    from typing import Any

CONTRACT_VERSION = 1
MODULE = "mlpipe_lab.runner"
KINDS = ("notebook", "python", "r")
STORES = ("s3", "local")
MIN_PYTHON = (3, 9)  # the oldest python3 the runner runs on, in the node's image

# Delivery: see the module docstring.
DELIVERY_MODES = ("init-container", "image")
DEFAULT_DELIVERY = "init-container"
RUNNER_DIR = "/mlpipe"  # where the emptyDir with the runner is mounted
RUNNER_VOLUME = "mlpipe-runner"
ZIPAPP_NAME = "mlpipe-runner.pyz"
INSTALL_MODULE = "mlpipe_lab.runner.install"
RESULT_FILE = "mlpipe-result.json"  # what a node writes to return a result (--result)
RESULT_MAX_BYTES = 64 * 1024
IMAGE_ENV = "MLPIPE_IMAGE"  # the node's image, named in the runner's messages
# $0 is "mlpipe-runner", "$@" the runner arguments; no python3 -> one line and status 127.
LAUNCH_SCRIPT = (
    'command -v python3 >/dev/null 2>&1 || { echo "mlpipe-runner: image ${' + IMAGE_ENV + ":-?} "
    'has no python3: nodes need python3 (3.9 or later) on PATH" >&2; exit 127; }; '
    "exec python3 -S " + RUNNER_DIR + "/" + ZIPAPP_NAME + ' "$@"'
)

# Airflow workers: the zipapp beside the DAG file (folder and name relative to the DAG's folder).
WORKER_RUNNER_DIR = "mlpipe_runner"
WORKER_ZIPAPP_NAME = f"mlpipe-runner-{CONTRACT_VERSION}.pyz"
WORKER_ZIPAPP = f"{WORKER_RUNNER_DIR}/{WORKER_ZIPAPP_NAME}"
DAG_RUNNER_ENV = "MLPIPE_DAG_RUNNER"  # set by the DAG: the zipapp beside it
RUNNER_ENV = "MLPIPE_RUNNER"  # set on the worker (optional): a zipapp elsewhere
PYTHON_ENV = "MLPIPE_RUNNER_PYTHON"  # set on the worker (optional): its python3
# BashOperator's command starts with this; the runner arguments follow, shell-quoted. Never "{#"
# in it (a Jinja comment: BashOperator renders its command).
WORKER_LAUNCH = (
    'py="${' + PYTHON_ENV + ':-python3}"; r="${' + RUNNER_ENV + ":-$" + DAG_RUNNER_ENV + '}"; '
    'command -v "$py" >/dev/null 2>&1 || { echo "mlpipe-runner: this Airflow worker has no '
    "$py: set " + PYTHON_ENV + ' to a python3 (3.9 or later)" >&2; exit 127; }; '
    '[ -f "$r" ] || { echo "mlpipe-runner: the runner $r is missing: publish the DAG with '
    "mlpipe submit or export (they write "
    + WORKER_ZIPAPP
    + " beside it) or set "
    + RUNNER_ENV
    + ' on the worker" >&2; exit 127; }; '
    'exec "$py" -S "$r"'
)


def runner_command(python: str = "python3", delivery: str = "image") -> list[str]:
    """The container command that starts the runner; the arguments follow it."""
    if delivery == "image":
        return [python, "-m", MODULE]
    if delivery == "init-container":
        return ["/bin/sh", "-c", LAUNCH_SCRIPT, "mlpipe-runner"]
    raise ValueError(f"delivery must be one of {DELIVERY_MODES}, not {delivery!r}")


def install_command(folder: str = RUNNER_DIR) -> list[str]:
    """The init container's command (runner image): copy the runner zipapp into ``folder``."""
    return ["python3", "-m", INSTALL_MODULE, folder]


def store_arguments(
    *,
    store: str,
    run_prefix: str,
    endpoint: str | None = None,
    bucket: str | None = None,
    region: str | None = None,
    prefix: str | None = None,
    root: str | None = None,
) -> list[str]:
    """Arguments every task of a DAG shares: contract version, storage location, run prefix."""
    if store not in STORES:
        raise ValueError(f"store must be one of {STORES}, not {store!r}")
    args = ["--contract", str(CONTRACT_VERSION), "--store", store]
    if store == "s3":
        if not bucket:
            raise ValueError("an s3 store needs a bucket")
        if endpoint:
            args += ["--endpoint", endpoint]
        args += ["--bucket", bucket]
        if region:
            args += ["--region", region]
        if prefix:
            args += ["--prefix", prefix]
    else:
        if not root:
            raise ValueError("a local store needs a root")
        args += ["--root", root]
    args += ["--run-prefix", run_prefix]
    return args


def task_arguments(
    *,
    kind: str,
    file: str,
    bundle: str,
    task_id: str,
    outputs: Iterable[str] = (),
    upstream: Iterable[str] = (),
    params: Iterable[tuple[str, str]] = (),
    cache: bool = False,
    cache_max_age: int | None = None,
    cache_env: Iterable[str] = (),
    upstream_items: Iterable[str | tuple[str, Any]] = (),
    item_parameter: str | None = None,
) -> list[str]:
    """Arguments specific to one task. ``params`` are (name, JSON text) pairs. ``cache``: reuse
    an earlier task's results with the same cache key (runner/cache.py), ``cache_env`` the
    environment variables that are part of the key. ``upstream_items``: upstream fan-out tasks
    (instead of ``upstream``), each a task id (count unknown) or (task id, its item count: an
    int, or a plan's run-time value); ``item_parameter``: this task is a fan-out (the item's own
    arguments, :func:`item_arguments`, are added per item)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    args = ["--kind", kind, "--file", file, "--bundle", bundle, "--task-id", task_id]
    if item_parameter is not None:
        args += ["--item-parameter", item_parameter]
    for pattern in outputs:
        args += ["--output", pattern]
    for up in upstream:
        args += ["--upstream", up]
    for up in upstream_items:
        if isinstance(up, tuple):
            task, count = up
            # concatenation: the count is a run-time value in a DAG (plan.values.ItemCount)
            up = task + "=" + (str(count) if isinstance(count, int) else count)
        args += ["--upstream-items", up]
    for name, value in params:
        # concatenation, not a format string: a DAG's value is a typed run-time reference until
        # the run starts (mlpipe_lab.plan.values), and must stay one
        args += ["--param", name + "=" + value]
    if cache:
        args += cache_arguments(cache_max_age, cache_env)
    return args


def item_text(item: Any) -> str:
    """An item as ``--item-b64`` carries it: base64 of its JSON (sorted keys)."""
    return base64.b64encode(json.dumps(item, sort_keys=True).encode("utf-8")).decode("ascii")


def item_arguments(index: int, count: int, item: Any) -> list[str]:
    """The arguments of item ``index`` of ``count`` (the generated DAG's items task builds the
    same in Python: compiler/mapping.py)."""
    return ["--item-index", str(index), "--item-count", str(count), "--item-b64", item_text(item)]


def cache_arguments(max_age: int | None = None, env: Iterable[str] = ()) -> list[str]:
    """``--cache [--cache-max-age S] [--cache-env NAME]...`` (see the module docstring)."""
    args = ["--cache"]
    if max_age is not None:
        args += ["--cache-max-age", str(int(max_age))]
    for name in env:
        args += ["--cache-env", name]
    return args


def result_arguments(xcom_file: str | None = None, stdout: bool = False) -> list[str]:
    """``--result [--xcom-file PATH] [--xcom-stdout]`` (see the module docstring)."""
    args = ["--result"]
    if xcom_file:
        args += ["--xcom-file", xcom_file]
    if stdout:
        args.append("--xcom-stdout")
    return args


def runner_arguments(**kwargs: Any) -> list[str]:
    """All runner arguments (after ``python3 -m mlpipe_lab.runner``): the shared store arguments
    followed by the task's. Takes the keyword arguments of both functions above."""
    store_keys = ("store", "run_prefix", "endpoint", "bucket", "region", "prefix", "root")
    store = {k: kwargs.pop(k) for k in store_keys if k in kwargs}
    return store_arguments(**store) + task_arguments(**kwargs)


def _param(text: str) -> tuple[str, Any]:
    name, sep, value = text.partition("=")
    if not sep or not name.isidentifier():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    try:
        return name, json.loads(value)
    except ValueError:
        return name, value


def _upstream_items(text: str) -> tuple[str, int | None]:
    """``TASK`` or ``TASK=COUNT`` (``TASK=``: count unknown); task ids have no "="."""
    task, sep, count = text.partition("=")
    if not task:
        raise argparse.ArgumentTypeError(f"expected TASK_ID[=COUNT], got {text!r}")
    if not sep or not count:
        return task, None
    if not (count.isascii() and count.isdigit()):
        raise argparse.ArgumentTypeError(f"the item count in {text!r} is not a number")
    return task, int(count)


def build_parser() -> argparse.ArgumentParser:
    """The runner's argument parser (the runner adds nothing to it)."""
    p = argparse.ArgumentParser(
        prog="python -m mlpipe_lab.runner",
        description="Run one pipeline node (notebook, Python or R script) inside its pod.",
    )
    p.add_argument(
        "--contract",
        type=int,
        default=CONTRACT_VERSION,
        help="version of this command-line contract the DAG was generated for",
    )
    store = p.add_argument_group("storage")
    store.add_argument("--store", choices=STORES, required=True)
    store.add_argument("--endpoint", help="S3 endpoint URL (empty: AWS default)")
    store.add_argument("--bucket", help="S3 bucket")
    store.add_argument("--region", help="S3 region")
    store.add_argument("--prefix", default="", help="key prefix inside the bucket")
    store.add_argument("--root", help="folder of the local store")
    store.add_argument("--run-prefix", required=True, help="key prefix of this DAG run's files")
    task = p.add_argument_group("task")
    task.add_argument("--kind", choices=KINDS, required=True)
    task.add_argument(
        "--file", required=True, help="notebook or script, relative to the bundle root"
    )
    task.add_argument("--bundle", required=True, help="key of the node's tar.gz bundle")
    task.add_argument("--task-id", required=True)
    task.add_argument("--output", action="append", default=[], dest="outputs", metavar="GLOB")
    task.add_argument("--upstream", action="append", default=[], metavar="TASK_ID")
    task.add_argument(
        "--param", action="append", default=[], dest="params", type=_param, metavar="NAME=JSON"
    )
    task.add_argument(
        "--cache",
        action="store_true",
        help="reuse the results of an earlier task with the same cache key (and record these)",
    )
    task.add_argument(
        "--result",
        action="store_true",
        help=f"return the JSON the node wrote to {RESULT_FILE} (in the manifest)",
    )
    task.add_argument("--xcom-file", metavar="PATH", help="also write the result there")
    task.add_argument(
        "--xcom-stdout", action="store_true", help="also print the result as the last stdout line"
    )
    task.add_argument("--cache-max-age", type=float, metavar="SECONDS")
    task.add_argument("--cache-env", action="append", default=[], metavar="NAME")
    items = p.add_argument_group("fan-out")
    items.add_argument("--item-parameter", metavar="NAME", help="this task is a fan-out item")
    items.add_argument("--item-index", type=int, metavar="I")
    items.add_argument("--item-count", type=int, metavar="N")
    items.add_argument("--item-b64", metavar="B64", help="base64 of the item's JSON")
    items.add_argument(
        "--upstream-items",
        action="append",
        default=[],
        type=_upstream_items,
        metavar="TASK_ID[=COUNT]",
        dest="upstream_items",
        help="an upstream fan-out and how many items it ran over (empty: unknown)",
    )
    return p


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse and check the arguments; ``params`` becomes a dict. Exits with status 2 on errors."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.contract != CONTRACT_VERSION:
        parser.error(
            f"this runner speaks contract {CONTRACT_VERSION}, the DAG asks for {args.contract}; "
            "use a runtime image with a matching mlpipe-lab"
        )
    if args.store == "s3" and not args.bucket:
        parser.error("--store s3 needs --bucket")
    if args.store == "local" and not args.root:
        parser.error("--store local needs --root")
    if (args.xcom_file or args.xcom_stdout) and not args.result:
        parser.error("--xcom-file and --xcom-stdout need --result")
    args.params = dict(args.params)
    args.item = None
    given = [args.item_index, args.item_count, args.item_b64]
    if args.item_parameter is None:
        if any(v is not None for v in given):
            parser.error("--item-index, --item-count and --item-b64 need --item-parameter")
    else:
        if not args.item_parameter.isidentifier():
            parser.error(f"--item-parameter {args.item_parameter!r} is not an identifier")
        if any(v is None for v in given):
            parser.error("a fan-out item needs --item-index, --item-count and --item-b64")
        if not 0 <= args.item_index < args.item_count:
            parser.error(f"--item-index {args.item_index} is not below --item-count")
        try:
            args.item = json.loads(base64.b64decode(args.item_b64, validate=True).decode("utf-8"))
        except (binascii.Error, ValueError):
            parser.error("--item-b64 is not base64 of a JSON value")
    return args
