"""Runner mode ``--kind command``: run a Kubeflow Pipelines component's own command in its pod,
with its files passed through the object store (standard library only, like the whole runner).

A KFP component reads inputs from files (``inputPath``) and writes outputs to files
(``outputPath``); on Airflow each component runs in a pod of its own, so the files travel through
the store. The DAG starts the runner (delivered by the init container, run with the component
image's python3) with::

    RUNNER <store arguments> --kind command --task-id TASK_ID
        [--input PATH KEY]...        before: download <run-prefix>/KEY to PATH
        [--input-text PATH TEXT]...  before: write TEXT (UTF-8) to PATH
        [--output PATH NAME]...      after success: upload PATH to <run-prefix>/TASK_ID/outputs/NAME
                                     (a folder as NAME.folder.tar.gz, unpacked again by
                                     --input; and TASK_ID/manifest.json, as node.py writes)
        --exec PROGRAM [ARG]...      the component's command, exactly as planned (no shell)

Every option takes a fixed number of items, taken as they are (a value may start with ``-``);
``--exec`` takes the rest of the command line. The command's exit status is the task's; a
failure of the runner itself is one line on stderr starting ``mlpipe-runner: node 'TASK_ID'``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from .errors import NodeFailure, StoreError
from .paths import sha256_file, unpack_bundle
from .store import check_key, open_store

TYPE_CHECKING = False  # typing is not imported when the runner starts (a faster start)
if TYPE_CHECKING:
    from typing import Any

KIND = "command"
MANIFEST = "manifest.json"
FOLDER_SUFFIX = ".folder.tar.gz"  # an output that is a folder, packed
RESULT_PREFIX = "mlpipe-runner: "
# option -> how many items follow it
_STORE_OPTIONS = {
    "--contract": 1,
    "--store": 1,
    "--endpoint": 1,
    "--bucket": 1,
    "--region": 1,
    "--prefix": 1,
    "--root": 1,
    "--run-prefix": 1,
}
_OPTIONS = {**_STORE_OPTIONS, "--kind": 1, "--task-id": 1}
_PAIRS = {"--input": "inputs", "--input-text": "texts", "--output": "outputs"}
EXEC = "--exec"


class UsageError(Exception):
    pass


def command_arguments(
    *,
    task_id: str,
    argv: Sequence[Any],
    inputs: Iterable[tuple[Any, Any]] = (),
    texts: Iterable[tuple[Any, Any]] = (),
    outputs: Iterable[tuple[Any, Any]] = (),
) -> list[Any]:
    """The task's own arguments of the command mode (after the shared store arguments). Items
    may be the DAG's run-time values (the planner's): they are only placed, never formatted."""
    args: list[Any] = ["--kind", KIND, "--task-id", task_id]
    for option, pairs in (("--input", inputs), ("--input-text", texts), ("--output", outputs)):
        for first, second in pairs:
            args += [option, first, second]
    return [*args, EXEC, *argv]


def is_command(argv: Sequence[str]) -> bool:
    """Whether a runner command line asks for this mode (``--kind command`` before ``--exec``)."""
    head = list(argv[: argv.index(EXEC)] if EXEC in argv else argv)
    return any(a == "--kind" and b == KIND for a, b in zip(head, head[1:]))


def parse(argv: Sequence[str]) -> argparse.Namespace:
    ns = argparse.Namespace(
        contract="1",
        store=None,
        endpoint=None,
        bucket=None,
        region=None,
        prefix="",
        root=None,
        run_prefix=None,
        kind=None,
        task_id=None,
        inputs=[],
        texts=[],
        outputs=[],
        argv=[],
    )
    i, argv = 0, list(argv)
    while i < len(argv):
        opt = argv[i]
        if opt == EXEC:
            ns.argv = argv[i + 1 :]
            break
        if opt in _OPTIONS:
            if i + 1 >= len(argv):
                raise UsageError(f"{opt} needs a value")
            setattr(ns, opt[2:].replace("-", "_"), argv[i + 1])
            i += 2
        elif opt in _PAIRS:
            if i + 2 >= len(argv):
                raise UsageError(f"{opt} needs two values")
            getattr(ns, _PAIRS[opt]).append((argv[i + 1], argv[i + 2]))
            i += 3
        else:
            raise UsageError(f"unknown argument {opt!r}")
    if ns.contract != "1":
        raise UsageError(f"this runner speaks contract 1, the DAG asks for {ns.contract}")
    if ns.kind != KIND:
        raise UsageError(f"--kind must be {KIND}")
    for name in ("store", "run_prefix", "task_id"):
        if not getattr(ns, name):
            raise UsageError(f"--{name.replace('_', '-')} is required")
    if ns.store not in ("s3", "local"):
        raise UsageError("--store must be s3 or local")
    if ns.store == "s3" and not ns.bucket:
        raise UsageError("--store s3 needs --bucket")
    if ns.store == "local" and not ns.root:
        raise UsageError("--store local needs --root")
    if not ns.argv:
        raise UsageError("--exec needs the command to run")
    for path, _ in [*ns.inputs, *ns.texts, *ns.outputs]:
        if not os.path.isabs(path):
            raise UsageError(f"file paths must be absolute, not {path!r}")
    return ns


def _parent(path: str) -> None:
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise NodeFailure(f"cannot create the folder of {path}: {exc.strerror or exc}") from None


def _execute(argv: list[str]) -> int:
    try:
        child = subprocess.Popen(argv)
    except FileNotFoundError:
        raise NodeFailure(
            f"the component's command {argv[0]!r} is not in image "
            f"{os.environ.get('MLPIPE_IMAGE') or '?'}",
            127,
        ) from None
    except OSError as exc:
        raise NodeFailure(f"cannot start {argv[0]!r}: {exc.strerror or exc}", 126) from None

    def forward(signum: int, frame: Any) -> None:
        child.send_signal(signum)

    previous = signal.signal(signal.SIGTERM, forward) if _main_thread() else None
    try:
        return child.wait()
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def run(ns: argparse.Namespace) -> int:
    task, prefix = ns.task_id, ns.run_prefix.strip("/")
    store = open_store(ns)
    scratch = Path(tempfile.mkdtemp(prefix="mlpipe-command-"))
    try:
        for path, key in ns.inputs:
            check_key(key)
            _parent(path)
            _fetch(store, f"{prefix}/{key}", Path(path), scratch)
        for path, text in ns.texts:
            _parent(path)
            try:
                Path(path).write_text(text, encoding="utf-8")
            except OSError as exc:
                raise NodeFailure(f"cannot write {path}: {exc.strerror or exc}") from None
        for path, name in ns.outputs:
            check_key(name)
            _parent(path)
        status = _execute(ns.argv)
        if status < 0:  # ended by signal N (SIGTERM: the task was stopped): status 128 + N
            raise NodeFailure(
                f"the component's command was ended by signal {-status}", 128 - status
            )
        if status != 0:
            raise NodeFailure(f"the component's command exited with status {status}", status)
        entries = []
        for path, name in sorted(ns.outputs, key=lambda pair: pair[1]):
            local, obj = Path(path), f"{task}/outputs/{name}"
            if local.is_dir():  # a folder travels as a tar.gz (inputs unpack it again)
                local, obj = _pack(local, scratch / f"{name}{FOLDER_SUFFIX}"), obj + FOLDER_SUFFIX
            elif not local.is_file():
                raise NodeFailure(f"the component's output {name} ({path}) is missing")
            store.put_file(f"{prefix}/{obj}", local)
            entries.append(_entry(task, obj, local))
        if entries:  # notebook and script nodes downstream read it (node.py's fetch_inputs)
            store.put_json(f"{prefix}/{task}/{MANIFEST}", manifest(task, entries))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


def _fetch(store: Any, key: str, dest: Path, scratch: Path) -> None:
    """The object at ``key`` to the file ``dest``, or the folder an upstream task uploaded there
    (``key`` + FOLDER_SUFFIX) unpacked into the folder ``dest``."""
    try:
        store.get_file(key, dest)
        return
    except StoreError as exc:  # e.g. the upstream task wrote no such output
        first = exc
    archive = scratch / "input.tar.gz"
    try:
        store.get_file(key + FOLDER_SUFFIX, archive)
    except StoreError:
        raise NodeFailure(f"cannot fetch the input file {dest}: {first.cause}") from None
    unpack_bundle(archive, dest)
    archive.unlink()


def _pack(folder: Path, archive: Path) -> Path:
    with tarfile.open(archive, "w:gz") as tar:
        for child in sorted(folder.iterdir()):
            tar.add(str(child), arcname=child.name)
    return archive


def _entry(task: str, obj: str, local: Path) -> dict[str, Any]:
    return {
        "path": f"{task}/{obj.split('/outputs/', 1)[1]}",
        "object": obj,
        "producer": task,
        "sha256": sha256_file(local),
        "size": local.stat().st_size,
    }


def manifest(task: str, entries: list[dict[str, Any]]) -> dict[str, Any]:
    """The task's manifest, as node.py writes one: its outputs, each at ``<task>/<output>``
    (a folder: ``<task>/<output>.folder.tar.gz``) below a downstream notebook's or script's folder."""
    import datetime

    now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    return {
        "contract": 1,
        "task_id": task,
        "status": "succeeded",
        "finished": now,
        "outputs": entries,
        "own_outputs": [e["path"] for e in entries],
    }


def main(argv: Sequence[str]) -> int:
    try:
        ns = parse(argv)
    except UsageError as exc:
        sys.stderr.write(f"{RESULT_PREFIX}usage error (--kind {KIND}): {exc}\n")
        return 2
    try:
        run(ns)
    except NodeFailure as failure:
        sys.stderr.write(f"{RESULT_PREFIX}node '{ns.task_id}' failed: {failure.cause}\n")
        return failure.exit_code
    except KeyboardInterrupt:
        sys.stderr.write(f"{RESULT_PREFIX}node '{ns.task_id}' failed: interrupted\n")
        return 130
    sys.stderr.write(f"{RESULT_PREFIX}node '{ns.task_id}' succeeded\n")
    return 0


__all__ = ["EXEC", "KIND", "command_arguments", "is_command", "main", "parse", "run"]
