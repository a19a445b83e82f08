"""Run one pipeline node: bundle in, inputs in, execute, outputs and manifest out.

Layout in the store, below ``--run-prefix`` (the DAG run)::

    <task>/outputs/<path>     each output the node produced (paths relative to the bundle root)
    <task>/<task>.log         everything the node printed, and the runner's notes
    <task>/<notebook>.ipynb   the executed notebook (notebook nodes), and <notebook>.html
    <task>/manifest.json      written last, only on success: every output available to the node's
                              descendants (its own plus what it received), see :func:`manifest`

A manifest's ``outputs`` entries are ``{"path", "object", "producer", "sha256", "size"}``;
``object`` is the key relative to the run prefix, so downstream tasks fetch them from the same run.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import posixpath
import shutil
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

from .contract import CONTRACT_VERSION, RESULT_FILE, RESULT_MAX_BYTES
from .errors import NodeFailure, StoreError
from .paths import clean_relpath, match_outputs, sha256_file, target_path, unpack_bundle
from .store import Store, check_key, open_store

TYPE_CHECKING = False  # typing is not imported when the runner starts (a faster start)
if TYPE_CHECKING:
    from typing import Any, BinaryIO

RESULT_PREFIX = "mlpipe-runner: "
NOTE_PREFIX = "[mlpipe-runner] "
MANIFEST = "manifest.json"
MAX_ITEMS = 1000  # items of a fan-out (docs/control-flow.md)
TERMINATED_EXIT = 143
TIMEOUT_EXIT = 124

# Optional knobs, from the pod's environment.
ENV_TIMEOUT = "MLPIPE_RUNNER_TIMEOUT"  # seconds for the whole node
ENV_CELL_TIMEOUT = "MLPIPE_RUNNER_CELL_TIMEOUT"  # seconds per notebook cell
ENV_STARTUP_TIMEOUT = "MLPIPE_RUNNER_KERNEL_STARTUP_TIMEOUT"  # seconds for the kernel to start
ENV_KERNEL = "MLPIPE_RUNNER_KERNEL"  # kernel name instead of python3 / the notebook's own
ENV_KEEP = "MLPIPE_RUNNER_KEEP_WORKDIR"  # "1": leave the temporary working folder behind
ENV_TMP = "MLPIPE_RUNNER_TMPDIR"  # where the working folder goes (default: the system's temp)
ENV_HTML = "MLPIPE_RUNNER_HTML"  # "0": no HTML copy of executed notebooks (nbconvert is slow)


def now_iso() -> str:
    return (
        _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


def env_text(value: Any) -> str:
    """A parameter as an environment variable: what Airflow's ``{{ params.x }}`` renders
    (Python's str(): True, None, 0.5), strings as they are; a list or object as JSON (what the
    DAG gives a list parameter: ``| tojson``)."""
    if isinstance(value, (list, dict)):
        return json.dumps(value, sort_keys=True)
    return value if isinstance(value, str) else str(value)


def _seconds(name: str) -> float | None:
    text = os.environ.get(name, "").strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise NodeFailure(f"{name}={text!r} is not a number of seconds") from None
    return value if value > 0 else None


class Log:
    """The node's log: written to our stdout (the pod log) and to ``<task>.log``."""

    def __init__(self, path: Path):
        self.path = path
        self._fh: BinaryIO | None = open(path, "ab")
        self._out = getattr(sys.stdout, "buffer", None)
        self._lock = threading.Lock()

    def write_bytes(self, data: bytes) -> None:
        with self._lock:
            if self._fh is not None:
                self._fh.write(data)
                self._fh.flush()
            if self._out is not None:
                try:
                    self._out.write(data)
                    self._out.flush()
                except (OSError, ValueError):
                    self._out = None

    def write(self, text: str) -> None:
        self.write_bytes(text.encode("utf-8", "replace"))

    def note(self, text: str) -> None:
        self.write(f"{NOTE_PREFIX}{text}\n")

    def record(self, line: str) -> None:
        """A line for the log file only (the verdict goes to stderr once the log is uploaded)."""
        with self._lock:
            if self._fh is not None:
                self._fh.write((line + "\n").encode("utf-8", "replace"))
                self._fh.flush()

    def close(self) -> None:
        with self._lock:
            if self._fh is not None:
                self._fh.close()
                self._fh = None


class NodeRun:
    """One execution of one node (parsed runner arguments in ``args``)."""

    def __init__(self, args: Any):
        self.args = args
        self.task = args.task_id
        self.item = getattr(args, "item_parameter", None) is not None  # a fan-out item
        # where its files go: <task>/, or <task>/<index>/ for a fan-out item
        self.folder = f"{self.task}/{args.item_index}" if self.item else self.task
        self.run_prefix = args.run_prefix.strip("/")
        self.file = args.file  # checked by fetch_bundle
        self.stop_reason: str | None = None
        self.bundle_sha256 = ""
        self.cache_key: str | None = None  # with --cache (runner/cache.py)
        self.cached_manifest: dict[str, Any] | None = None  # the earlier task's, on a cache hit
        self._child = None  # the script's process
        self._kernel_pid: int | None = None
        self._in_notebook = False
        self._lock = threading.Lock()

    # -- stopping -----------------------------------------------------------------------------

    def stop(self, reason: str) -> bool:
        """Ask the node to stop (SIGTERM or the timeout). True when something was told to stop;
        False when nothing is running and the caller should interrupt the runner itself."""
        with self._lock:
            if self.stop_reason is None:
                self.stop_reason = reason
            child, pid, in_nb = self._child, self._kernel_pid, self._in_notebook
        if child is not None and child.poll() is None:
            try:
                child.terminate()
            except OSError:
                pass
            threading.Thread(target=self._kill_later, args=(child,), daemon=True).start()
            return True
        if pid:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
            return True
        return in_nb  # starting the kernel: the start hook sees the flag

    @staticmethod
    def _kill_later(child, grace: float = 10.0) -> None:
        try:
            child.wait(timeout=grace)
        except Exception:
            try:
                child.kill()
            except OSError:
                pass

    def _stopped(self) -> NodeFailure:
        if self.stop_reason == "timeout":
            return NodeFailure(
                f"timed out after {_seconds(ENV_TIMEOUT):g} s ({ENV_TIMEOUT})", TIMEOUT_EXIT
            )
        return NodeFailure(
            "terminated (the run was cancelled or the pod was stopped)", TERMINATED_EXIT
        )

    def _check_stop(self) -> None:
        if self.stop_reason:
            raise self._stopped()

    # -- the steps ----------------------------------------------------------------------------

    def key(self, *parts: str) -> str:
        return "/".join([self.run_prefix, *parts])

    def fetch_bundle(self, store: Store, tmp: Path, work: Path, log: Log) -> None:
        self.file = clean_relpath(self.args.file, "--file")
        archive = tmp / "bundle.tar.gz"
        try:
            store.get_file(check_key(self.args.bundle), archive)
        except StoreError as exc:
            raise NodeFailure(f"cannot fetch its bundle: {exc.cause}") from None
        self.bundle_sha256 = sha256_file(archive)
        files = unpack_bundle(archive, work)
        archive.unlink()
        log.note(f"bundle {self.args.bundle}: {len(files)} file(s)")
        if not (work / self.file).is_file():
            raise NodeFailure(f"{self.file} is not in its bundle {self.args.bundle}")

    def fetch_inputs(
        self, store: Store, work: Path, log: Log
    ) -> tuple[dict[str, dict], dict[str, str]]:
        """Download what the upstream tasks' manifests list; ({path: entry}, {path: sha256})."""
        available: dict[str, dict[str, Any]] = {}
        for up, manifest, place in self._upstream_manifests(store, log):
            entries = manifest.get("outputs") if isinstance(manifest, dict) else None
            if not isinstance(entries, list):
                raise NodeFailure(f"the manifest of upstream task {up} is malformed")
            own = set(manifest.get("own_outputs") or []) if place else set()
            for entry in entries:
                if not isinstance(entry, dict) or not isinstance(entry.get("object"), str):
                    raise NodeFailure(f"the manifest of upstream task {up} is malformed")
                raw = str(entry.get("path", ""))
                if raw in own:  # a fan-out item's own output: under <task>/<index>/
                    raw = f"{place}/{raw}"
                    entry = {**entry, "path": raw}
                path = clean_relpath(raw, f"input from {up}")
                check_key(entry["object"])
                previous = available.get(path)
                if previous is not None and previous["object"] != entry["object"]:
                    log.note(
                        f"input {path} comes from both {previous.get('producer')} and "
                        f"{entry.get('producer')}; using the one from {previous.get('producer')}"
                    )
                    continue
                available[path] = {**entry, "path": path}
        hashes: dict[str, str] = {}
        for path, entry in sorted(available.items()):
            dest = target_path(work, path, "input")
            if dest.exists():
                log.note(f"input {path} from {entry.get('producer')} replaces the bundle's file")
            dest.parent.mkdir(parents=True, exist_ok=True)
            store.get_file(self.key(entry["object"]), dest)
            hashes[path] = sha256_file(dest)
            self._check_stop()
        if available:
            log.note(f"inputs: {len(available)} file(s) from upstream tasks")
        return available, hashes

    def _upstream_manifests(self, store: Store, log: Log):
        """(task, manifest, place) of each upstream task, and of each item of an upstream fan-out
        (place: ``<task>/<index>``, where that item's own outputs go; "" for a plain task)."""
        for up in self.args.upstream:
            manifest = store.get_json(self.key(up, MANIFEST))
            if manifest is None:
                log.note(
                    f"upstream task {up} left no manifest (it failed or was skipped); "
                    "its outputs are not available"
                )
                continue
            yield up, manifest, ""
        for up, known in getattr(self.args, "upstream_items", []):
            # the DAG or local run says how many items there were; only when it cannot (a DAG
            # generated before it did) probe until a manifest states the count
            count = MAX_ITEMS if known is None else min(known, MAX_ITEMS)
            index, found, missing = 0, 0, []
            while index < count:
                manifest = store.get_json(self.key(up, str(index), MANIFEST))
                if manifest is None:
                    missing.append(index)
                else:
                    item = manifest.get("item") if isinstance(manifest, dict) else None
                    if (
                        known is None
                        and isinstance(item, dict)
                        and isinstance(item.get("count"), int)
                    ):
                        count = min(item["count"], MAX_ITEMS)
                    found += 1
                    yield f"{up}[{index}]", manifest, f"{up}/{index}"
                index += 1
                self._check_stop()
            missing = [i for i in missing if i < count]
            if missing and found:  # none found: the count is unknown (an empty list, or all failed)
                log.note(
                    f"items {', '.join(map(str, missing[:20]))} of upstream fan-out {up} left no "
                    "manifest (they failed or were skipped); their outputs are not available"
                )
            if not found:
                log.note(
                    f"upstream fan-out {up} ran over no items"
                    if count == 0
                    else f"upstream fan-out {up} has no finished item"
                )

    def try_cache(
        self, store: Store, received: dict[str, dict], hashes: dict[str, str], log: Log
    ) -> tuple[dict[str, dict], dict[str, str | None]] | None:
        """With ``--cache``: the results of an earlier task with this task's cache key, copied
        into this run ((own output entries, notebook/html keys)), or None (run the node)."""
        from .cache import cache_key, lookup, reuse

        self.cache_key = cache_key(self.args, self.bundle_sha256, hashes)  # the item included
        hit = lookup(store, self.cache_key, getattr(self.args, "cache_max_age", None))
        if hit is None:
            log.note(f"cache: no earlier results for key {self.cache_key[:12]}; running the node")
            return None
        prefix, manifest = hit
        self.cached_manifest = manifest
        own, files = reuse(
            store,
            source_prefix=prefix,
            manifest=manifest,
            run_prefix=self.run_prefix,
            task=self.folder,
            received=received,
        )
        log.note(
            f"cached: nothing changed since {prefix} (task {manifest.get('task_id')}) finished "
            f"at {manifest.get('finished')} (cache key {self.cache_key[:12]}); its outputs and "
            "executed notebook are reused, the node does not run"
        )
        return own, files

    def _param_env(self) -> dict[str, str]:
        env = {name: env_text(value) for name, value in self.args.params.items()}
        env.update({"MLPIPE_TASK_ID": self.task, "MLPIPE_RUN_PREFIX": self.run_prefix})
        if self.item:
            a = self.args
            env[a.item_parameter] = env_text(a.item)
            env.update(
                {
                    "MLPIPE_ITEM": json.dumps(a.item, sort_keys=True),
                    "MLPIPE_ITEM_INDEX": str(a.item_index),
                    "MLPIPE_ITEM_COUNT": str(a.item_count),
                }
            )
        return env

    def run_script(self, work: Path, log: Log) -> None:
        import subprocess

        folder = (work / self.file).parent
        name = posixpath.basename(self.file)
        if self.args.kind == "python":
            cmd = [sys.executable, "-u", name]
        else:
            rscript = shutil.which("Rscript")
            if rscript is None:
                from .notebook import image_name

                raise NodeFailure(f"{image_name()} has no Rscript (R nodes need R in their image)")
            cmd = [rscript, name]
        env = {**os.environ, **self._param_env(), "PYTHONUNBUFFERED": "1"}
        log.note(
            f"running {' '.join([os.path.basename(cmd[0]), *cmd[1:]])} in {self._relfolder(folder, work)}"
        )
        tail = bytearray()
        with self._lock:
            if self.stop_reason:
                raise self._stopped()
            try:
                child = subprocess.Popen(
                    cmd,
                    cwd=folder,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                )
            except OSError as exc:
                raise NodeFailure(f"cannot start {cmd[0]}: {exc.strerror or exc}") from None
            self._child = child
        assert child.stdout is not None
        fd = child.stdout.fileno()
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            log.write_bytes(chunk)
            tail += chunk
            del tail[:-4096]
        code = child.wait()
        child.stdout.close()
        with self._lock:
            self._child = None
        self._check_stop()
        if code != 0:
            last = _last_line(bytes(tail))
            detail = f" ({last})" if last else ""
            if code < 0:
                try:
                    signame = signal.Signals(-code).name
                except ValueError:
                    signame = f"signal {-code}"
                raise NodeFailure(f"{name} was killed by {signame}{detail}", 128 - code)
            raise NodeFailure(f"{name} exited with status {code}{detail}", code)

    @staticmethod
    def _relfolder(folder: Path, work: Path) -> str:
        rel = folder.relative_to(work).as_posix()
        return "the bundle root" if rel == "." else rel

    def run_notebook(self, work: Path, results: Path, log: Log) -> Path:
        from .notebook import execute_notebook

        path = work / self.file
        executed = results / path.name
        os.environ.update(self._param_env())  # the kernel inherits our environment

        def kernel_started(pid: int | None) -> None:
            with self._lock:
                self._kernel_pid = pid
                stop = self.stop_reason is not None
            if stop and pid:
                os.kill(pid, signal.SIGKILL)

        with self._lock:
            self._in_notebook = True
        try:
            execute_notebook(
                path,
                workdir=path.parent,
                params=self._notebook_params(),
                write=log.write,
                executed_path=executed,
                cell_timeout=_seconds(ENV_CELL_TIMEOUT),
                startup_timeout=_seconds(ENV_STARTUP_TIMEOUT) or 120.0,
                kernel=os.environ.get(ENV_KERNEL) or None,
                on_kernel_start=kernel_started,
            )
        except NodeFailure:
            if self.stop_reason:
                raise self._stopped() from None
            raise
        finally:
            with self._lock:
                self._in_notebook = False
                self._kernel_pid = None
        self._check_stop()
        return executed

    def read_result(self, work: Path) -> Any:
        """With ``--result``: the JSON the node wrote to mlpipe-result.json in its working folder."""
        path = (work / self.file).parent / RESULT_FILE
        if not path.is_file():
            raise NodeFailure(
                f"it wrote no {RESULT_FILE} in its working folder, and a later task reads its "
                "result"
            )
        size = path.stat().st_size
        if size > RESULT_MAX_BYTES:
            raise NodeFailure(
                f"its {RESULT_FILE} is {size} bytes; a result is at most {RESULT_MAX_BYTES} "
                "bytes of JSON (pass bigger data as an output file)"
            )
        try:
            return json.loads(path.read_bytes().decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise NodeFailure(f"its {RESULT_FILE} is not JSON ({reason})") from None
        except RecursionError:  # 64 KiB of '[' parses no deeper than Python recurses
            raise NodeFailure(f"its {RESULT_FILE} is not JSON (nested too deeply)") from None

    def cached_result(self) -> Any:
        manifest = self.cached_manifest or {}
        if "result" not in manifest:
            raise NodeFailure(
                "its cached run returned no result (it ran before a later task read its "
                "result); run it again without the cache"
            )
        return manifest["result"]

    def _notebook_params(self) -> dict[str, Any]:
        params = dict(self.args.params)
        if self.item:
            params[self.args.item_parameter] = self.args.item
        return params

    def collect_outputs(self, work: Path, received: dict[str, str]) -> dict[str, Path]:
        """The node's own outputs: files matched by the output globs, less inputs it left unchanged."""
        found, missing = match_outputs(work, list(self.args.outputs))
        if missing:
            raise NodeFailure("declared output(s) not produced: " + ", ".join(missing))
        own = {}
        for rel, path in found.items():
            if rel in received and sha256_file(path) == received[rel]:
                continue
            own[rel] = path
        return own

    def upload_outputs(self, store: Store, own: dict[str, Path], log: Log) -> dict[str, dict]:
        entries = {}
        for rel, path in sorted(own.items()):
            obj = f"{self.folder}/outputs/{rel}"
            store.put_file(self.key(obj), path)
            entries[rel] = {
                "path": rel,
                "object": obj,
                "producer": self.folder,
                "sha256": sha256_file(path),
                "size": path.stat().st_size,
            }
            self._check_stop()
        if entries:
            log.note(f"outputs: {', '.join(sorted(entries))}")
        return entries


def _last_line(data: bytes) -> str:
    for line in reversed(data.decode("utf-8", "replace").splitlines()):
        line = line.strip()
        if line:
            return line[:300]
    return ""


def manifest(
    task: str, outputs: dict[str, dict], own: list[str], started: str, extra: dict[str, str | None]
) -> dict[str, Any]:
    return {
        "contract": CONTRACT_VERSION,
        "task_id": task,
        "status": "succeeded",
        "started": started,
        "finished": now_iso(),
        "outputs": [outputs[p] for p in sorted(outputs)],
        "own_outputs": sorted(own),
        **extra,
    }


def run(args: Any) -> int:
    """Run the node described by parsed runner arguments; the exit status."""
    node = NodeRun(args)
    task = args.task_id
    started, t0 = now_iso(), time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix=f"mlpipe-{task[:40]}-", dir=os.environ.get(ENV_TMP) or None))
    work, results = tmp / "work", tmp / "results"
    results.mkdir()
    log = Log(results / f"{task}.log")
    store: Store | None = None
    executed: Path | None = None
    uploaded: dict[str, str | None] = {"log": None, "notebook": None, "html": None}
    exit_code, cause, final = 0, "", ""
    result: dict[str, Any] = {}  # {"result": value} when the node returns one (--result)

    previous = (
        signal.getsignal(signal.SIGTERM)
        if threading.current_thread() is threading.main_thread()
        else None
    )

    def on_sigterm(signum, frame):
        if not node.stop("terminated"):
            raise node._stopped()

    timer = None
    try:
        if previous is not None:
            signal.signal(signal.SIGTERM, on_sigterm)
        timeout = _seconds(ENV_TIMEOUT)
        if timeout:
            timer = threading.Timer(timeout, node.stop, args=("timeout",))
            timer.daemon = True
            timer.start()
        log.note(f"node {task}: {args.kind} {node.file}, run {node.run_prefix}")
        if node.item:
            log.note(
                f"item {args.item_index} of {args.item_count} ({args.item_parameter}="
                f"{json.dumps(args.item, sort_keys=True)[:200]})"
            )
        store = open_store(args)
        node.fetch_bundle(store, tmp, work, log)
        node._check_stop()
        received, hashes = node.fetch_inputs(store, work, log)
        node._check_stop()
        cached = node.try_cache(store, received, hashes, log) if args.cache else None
        if cached is not None:
            entries, files = cached
            uploaded.update(files)
            if args.result:
                result["result"] = node.cached_result()
        else:
            if args.kind == "notebook":
                executed = node.run_notebook(work, results, log)
            else:
                node.run_script(work, log)
            if args.result:
                result["result"] = node.read_result(work)
            own = node.collect_outputs(work, hashes)
            entries = node.upload_outputs(store, own, log)
            uploaded.update(_upload_notebook(store, node, executed, log))
        available = {**received, **entries}
        final = f"{RESULT_PREFIX}node '{task}' succeeded in {time.monotonic() - t0:.1f} s"
        log.record(final)
        uploaded["log"] = _upload_log(store, node, log)
        if result and args.xcom_file:  # before the manifest: a task with a manifest succeeded
            _write_xcom(args.xcom_file, result["result"])
        record_ = {**manifest(task, available, list(entries), started, uploaded), **result}
        if node.item:
            record_["item"] = {"index": args.item_index, "count": args.item_count}
        store.put_json(node.key(node.folder, MANIFEST), record_)
        if args.cache and cached is None and node.cache_key:
            from .cache import record

            try:
                record(store, node.cache_key, node.run_prefix, node.folder, now_iso())
            except StoreError as exc:  # the results are there; only the next lookup misses them
                sys.stderr.write(f"{NOTE_PREFIX}could not record the cache entry: {exc}\n")
    except NodeFailure as failure:
        exit_code, cause = failure.exit_code, failure.cause
    except KeyboardInterrupt:
        exit_code, cause = 130, "interrupted"
    except Exception as exc:  # a bug or an unexpected environment: say what, keep the traceback
        import traceback  # only here: linecache and tokenize cost ~3 ms at every start

        log.write(traceback.format_exc())
        exit_code, cause = 1, f"runner error: {type(exc).__name__}: {exc}"
    finally:
        if previous is not None:  # finish the clean-up even if told to stop again
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if timer is not None:
            timer.cancel()
        if exit_code:
            if executed is None and args.kind == "notebook":
                candidate = results / posixpath.basename(node.file)
                executed = candidate if candidate.is_file() else None
            if store is not None and uploaded["notebook"] is None:
                try:
                    _upload_notebook(store, node, executed, log)
                except Exception as exc:
                    log.note(f"could not upload the executed notebook: {exc}")
            final = f"{RESULT_PREFIX}node '{task}' failed: {cause}"
            log.record(final)
            if store is not None:
                try:
                    _upload_log(store, node, log)
                except Exception as exc:
                    sys.stderr.write(f"{NOTE_PREFIX}could not upload the log: {exc}\n")
        log.close()
        if os.environ.get(ENV_KEEP) == "1":
            sys.stderr.write(f"{NOTE_PREFIX}working folder kept: {tmp}\n")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        _say(final)  # the last line on stderr: what happened, in one line
        if not exit_code and result and args.xcom_stdout:
            _print_result(result["result"])  # after everything else: BashOperator's last line
    return exit_code


def _write_xcom(path: str, value: Any) -> None:
    try:
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(value, fh)
    except OSError as exc:
        raise NodeFailure(f"cannot write its result to {path}: {exc.strerror or exc}") from None


def _print_result(value: Any) -> None:
    try:
        sys.stderr.flush()
        sys.stdout.write(json.dumps(value, separators=(",", ":")) + "\n")
        sys.stdout.flush()
    except (OSError, ValueError):
        pass


def _say(line: str) -> None:
    try:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


def _upload_notebook(
    store: Store, node: NodeRun, executed: Path | None, log: Log
) -> dict[str, str | None]:
    out: dict[str, str | None] = {"notebook": None, "html": None}
    if executed is None or not executed.is_file():
        return out
    from .notebook import to_html

    html = executed.with_suffix(".html")
    note = to_html(executed, html)
    if note:
        log.note(note)
    out["notebook"] = f"{node.folder}/{executed.name}"
    store.put_file(node.key(out["notebook"]), executed, "application/x-ipynb+json")
    if html.is_file():
        out["html"] = f"{node.folder}/{html.name}"
        store.put_file(node.key(out["html"]), html, "text/html")
    return out


def _upload_log(store: Store, node: NodeRun, log: Log) -> str:
    key = f"{node.folder}/{log.path.name}"
    store.put_file(node.key(key), log.path, "text/plain; charset=utf-8")
    return key
