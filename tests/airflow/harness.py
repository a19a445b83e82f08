"""Run generated DAG files through real Airflow installations (3.3 and 2.10) from pytest.

Each Airflow lives in its own cached venv made by ``scripts/airflow-venv.sh`` from the lock files
next to this module; ``inspect_dags.py`` runs *inside* that venv and reports, as JSON, what
Airflow's own DagBag and the Kubernetes provider made of a folder of DAG files.

Import: ``tests/airflow/conftest.py`` puts this folder on ``sys.path``, so tests under
``tests/airflow`` use ``import harness``. Code elsewhere can do
``sys.path.insert(0, "<repo>/tests/airflow")`` or ``from tests.airflow import harness`` (when the repo
root is on ``sys.path``, as with ``python -m pytest`` run from the root). This module uses only the
standard library; pytest is imported lazily, only to skip.

Unavailable Airflow (no python3.11, no PyPI, ...): ``require_airflow``/``inspect_*`` warn loudly and
skip the test, unless ``MLPIPE_REQUIRE_AIRFLOW=1``, which turns that into an error (use it in CI).
"""

from __future__ import annotations

import json
import os
import pathlib
import signal
import subprocess
import sys
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from typing import Any

HERE = pathlib.Path(__file__).resolve().parent
REPO_ROOT = HERE.parent.parent
VENV_SCRIPT = REPO_ROOT / "scripts" / "airflow-venv.sh"
INSPECT_SCRIPT = HERE / "inspect_dags.py"

VERSIONS: tuple[str, ...] = ("3.3", "2.10")
INSPECT_TIMEOUT = 300.0  # seconds per inspect_dags.py run
VENV_BUILD_TIMEOUT = 1200.0  # seconds for a cold venv build (measured 65-85 s)


class AirflowHarnessWarning(UserWarning):
    """Real-Airflow tests could not run (their venv is unavailable)."""


class AirflowUnavailable(RuntimeError):
    """The Airflow venv for a version cannot be built (raised when MLPIPE_REQUIRE_AIRFLOW=1)."""


class InspectError(RuntimeError):
    """inspect_dags.py failed; the message carries its exit status and stderr."""

    def __init__(self, message: str, stderr: str = ""):
        super().__init__(message)
        self.stderr = stderr


# --------------------------------------------------------------------------------------------
# Venvs (built or looked up once per process)
# --------------------------------------------------------------------------------------------

_venvs: dict[str, pathlib.Path | None] = {}
_venv_errors: dict[str, str] = {}
_venv_locks = {v: threading.Lock() for v in VERSIONS}


def _require_mode() -> bool:
    return os.environ.get("MLPIPE_REQUIRE_AIRFLOW", "") not in ("", "0", "false", "no")


def _check_version(version: str) -> None:
    if version not in VERSIONS:
        raise ValueError(f"unknown Airflow version {version!r}; expected one of {VERSIONS}")


def airflow_venv(version: str) -> pathlib.Path | None:
    """Path of the cached venv for ``version`` ("3.3" or "2.10"), building it if needed.

    Runs scripts/airflow-venv.sh at most once per process and version. Returns None if the venv
    cannot be built (the reason is in ``airflow_venv_error(version)``), or raises
    AirflowUnavailable instead when MLPIPE_REQUIRE_AIRFLOW=1.
    """
    _check_version(version)
    with _venv_locks[version]:
        if version not in _venvs:
            _venvs[version] = _build_venv(version)
        venv = _venvs[version]
    if venv is None and _require_mode():
        raise AirflowUnavailable(
            f"Airflow {version} venv unavailable and MLPIPE_REQUIRE_AIRFLOW=1: {_venv_errors[version]}"
        )
    return venv


def airflow_venvs(versions: tuple[str, ...] = VERSIONS) -> dict[str, pathlib.Path | None]:
    """``airflow_venv`` for several versions, built in parallel (a cold build is ~1.5 min each)."""
    with ThreadPoolExecutor(max_workers=max(1, len(versions))) as pool:
        futures = {v: pool.submit(airflow_venv, v) for v in versions}
        return {v: f.result() for v, f in futures.items()}


def airflow_venv_error(version: str) -> str | None:
    """Why ``airflow_venv(version)`` returned None (None if it has not failed)."""
    return _venv_errors.get(version)


def _build_venv(version: str) -> pathlib.Path | None:
    cmd = ["bash", str(VENV_SCRIPT), version]
    started = time.monotonic()
    try:
        # Own process group, so a timeout stops pip too (the script removes its temp dir on TERM).
        proc = subprocess.Popen(
            cmd,
            cwd=REPO_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
    except OSError as exc:
        _venv_errors[version] = f"cannot run {' '.join(cmd)}: {exc}"
        return None
    try:
        stdout, stderr = proc.communicate(timeout=VENV_BUILD_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.communicate()
        _venv_errors[version] = (
            f"{' '.join(cmd)} took more than {VENV_BUILD_TIMEOUT:.0f} s (stopped)"
        )
        return None
    lines = stdout.strip().splitlines()
    venv = pathlib.Path(lines[-1]) if lines else None
    if proc.returncode != 0 or venv is None or not (venv / "bin" / "python").exists():
        tail = "\n".join(stderr.strip().splitlines()[-15:])
        _venv_errors[version] = f"{' '.join(cmd)} exited {proc.returncode}:\n{tail}"
        return None
    elapsed = time.monotonic() - started
    if elapsed > 5:  # a cold build: say so, it explains a slow test session
        print(
            f"[airflow harness] built Airflow {version} venv in {elapsed:.0f} s: {venv}",
            file=sys.stderr,
        )
    return venv


def skip_message(version: str) -> str:
    return (
        f"REAL-AIRFLOW TESTS SKIPPED: the Airflow {version} venv is unavailable "
        f"(set MLPIPE_REQUIRE_AIRFLOW=1 to make this an error). Reason: {airflow_venv_error(version)}"
    )


def require_airflow(version: str) -> pathlib.Path:
    """The venv path, or (under pytest) a loud warning plus pytest.skip(); raises in require mode."""
    venv = airflow_venv(version)  # raises AirflowUnavailable when MLPIPE_REQUIRE_AIRFLOW=1
    if venv is not None:
        return venv
    message = skip_message(version)
    banner = "!" * 78
    warnings.warn(f"\n{banner}\n{message}\n{banner}", AirflowHarnessWarning, stacklevel=2)
    import pytest

    pytest.skip(message)
    raise AssertionError("unreachable")  # pragma: no cover


# --------------------------------------------------------------------------------------------
# Running inspect_dags.py
# --------------------------------------------------------------------------------------------


def _child_env() -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP")
        and not k.startswith(("AIRFLOW__", "AIRFLOW_CONN_", "AIRFLOW_VAR_"))
        and k not in ("AIRFLOW_HOME", "AIRFLOW_CONFIG")
    }
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # no __pycache__ in the DAG folders we inspect
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _run_in_venv(version: str, args: list[str], timeout: float) -> str:
    venv = require_airflow(version)
    cmd = [str(venv / "bin" / "python"), str(INSPECT_SCRIPT), *args]
    try:
        proc = subprocess.run(
            cmd,
            check=False,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=_child_env(),
        )
    except subprocess.TimeoutExpired as exc:
        stderr = (
            exc.stderr.decode(errors="replace")
            if isinstance(exc.stderr, bytes)
            else (exc.stderr or "")
        )
        raise InspectError(
            f"Airflow {version}: {' '.join(cmd)} timed out after {timeout:.0f} s\n--- stderr ---\n{stderr}",
            stderr,
        ) from None
    if proc.returncode != 0:
        raise InspectError(
            f"Airflow {version}: {' '.join(cmd)} exited {proc.returncode}\n--- stderr ---\n{proc.stderr}",
            proc.stderr,
        )
    return proc.stdout


def inspect_dags(
    version: str,
    folder: str | os.PathLike[str],
    *,
    render: dict[str, Any] | None = None,
    xcom: dict[str, Any] | None = None,
    timeout: float = INSPECT_TIMEOUT,
) -> dict[str, Any]:
    """Load ``folder`` with Airflow ``version`` and return inspect_dags.py's JSON document.

    ``render``: a run conf; adds rendered templated fields and a rendered pod per task.
    Raises InspectError (with stderr) if the script fails; skips the test if Airflow is unavailable.
    """
    args = [str(pathlib.Path(folder).resolve())]
    if render is not None:
        args += ["--render", json.dumps(render)]
        if xcom is not None:
            args += ["--xcom", json.dumps(xcom)]
    out = _run_in_venv(version, args, timeout)
    try:
        return json.loads(out)
    except ValueError as exc:
        raise InspectError(
            f"Airflow {version}: inspect_dags.py printed no JSON ({exc}):\n{out[-2000:]}"
        ) from exc


def inspect_both(
    folder: str | os.PathLike[str],
    *,
    versions: tuple[str, ...] = VERSIONS,
    render: dict[str, Any] | None = None,
    xcom: dict[str, Any] | None = None,
    timeout: float = INSPECT_TIMEOUT,
) -> dict[str, dict[str, Any]]:
    """``{"3.3": doc, "2.10": doc}``: both versions inspected in parallel (two subprocesses).

    Under pytest, skips (loudly) if any version is unavailable, so callers assert on both.
    """
    airflow_venvs(versions)  # cold builds in parallel
    for version in versions:  # then skip (in the calling thread) if one is missing
        require_airflow(version)
    with ThreadPoolExecutor(max_workers=len(versions)) as pool:
        futures = {
            v: pool.submit(inspect_dags, v, folder, render=render, xcom=xcom, timeout=timeout)
            for v in versions
        }
        return {v: f.result() for v, f in futures.items()}


def parse_time(
    version: str, file: str | os.PathLike[str], *, timeout: float = INSPECT_TIMEOUT
) -> dict[str, Any]:
    """Cold parse of one DAG file in a fresh process: ``{"parse_seconds", "import_airflow_seconds", ...}``."""
    out = _run_in_venv(
        version, ["--parse-time", str(pathlib.Path(file).resolve()), "--json"], timeout
    )
    return json.loads(out)


# -- running DAGs: `airflow dags test` and `airflow standalone` ---------------------------------

# Settings of a standalone server that binds 127.0.0.1 only. A loaded test host answers slowly:
# the 3.x task runner's calls to the API server must wait longer than the 5 s default, or tasks
# fail before they start.
SERVER_ENV = {
    "3.3": "AIRFLOW__API__HOST=127.0.0.1 AIRFLOW__API__PORT=8080 AIRFLOW__API__BASE_URL=http://127.0.0.1:8080 "
    "AIRFLOW__CORE__EXECUTION_API_SERVER_URL=http://127.0.0.1:8080/execution/ "
    "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT=60",
    "2.10": "AIRFLOW__WEBSERVER__WEB_SERVER_HOST=127.0.0.1 AIRFLOW__WEBSERVER__WEB_SERVER_PORT=8080 "
    "AIRFLOW__API__AUTH_BACKENDS=airflow.api.auth.backend.basic_auth "
    "AIRFLOW__SCHEDULER__DAG_DIR_LIST_INTERVAL=5 AIRFLOW__SCHEDULER__MIN_FILE_PROCESS_INTERVAL=5",
}
HEALTHY = {
    "3.3": 'curl -sf http://127.0.0.1:8080/api/v2/monitor/health | grep -q \'"dag_processor":{"status":"healthy"\'',
    "2.10": "curl -sf http://127.0.0.1:8080/health | grep -q healthy",
}


class DagsTest:
    """What ``airflow dags test`` left: ``states`` {task_id: state} (a mapped task's instances
    keyed ``task_id[index]``), ``xcoms`` {task_id: return value, JSON-decoded where Airflow
    stored JSON}, Airflow's ``out``put, the ``env`` it ran with and its ``returncode``."""

    def __init__(self, states, xcoms, out, env, returncode):
        self.states, self.xcoms, self.out, self.env = states, xcoms, out, env
        self.returncode = returncode


def dags_test(
    venv: pathlib.Path,
    dags: pathlib.Path,
    dag_id: str,
    work: pathlib.Path,
    *,
    env: dict[str, str] | None = None,
    conf: dict[str, Any] | None = None,
    timeout: float = 600,
) -> DagsTest:
    """``airflow dags test DAG_ID`` of the DAG files in ``dags`` with a fresh sqlite database in
    ``work/home``; ``env`` adds to what the worker (and so every task) sees."""
    import sqlite3

    home = work / "home"
    full = {
        "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": str(work),
        "TMPDIR": str(work),
        "LANG": "C.UTF-8",
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
        **(env or {}),
    }
    airflow = str(venv / "bin" / "airflow")
    subprocess.run(
        [airflow, "db", "migrate"], env=full, check=True, capture_output=True, timeout=300
    )
    args = [airflow, "dags", "test", dag_id] + (["-c", json.dumps(conf)] if conf else [])
    proc = subprocess.run(args, env=full, capture_output=True, text=True, timeout=timeout)
    db = sqlite3.connect(home / "airflow.db")
    try:
        rows = db.execute("SELECT task_id, map_index, state FROM task_instance").fetchall()
        values = db.execute(
            "SELECT task_id, map_index, value FROM xcom WHERE key = 'return_value'"
        ).fetchall()
    finally:
        db.close()
    states = {(t if m < 0 else f"{t}[{m}]"): s for t, m, s in rows}
    xcoms = {}
    for task_id, index, value in values:
        raw = value.decode() if isinstance(value, bytes) else value
        xcoms[task_id if index < 0 else f"{task_id}[{index}]"] = (
            json.loads(raw) if isinstance(raw, str) else raw
        )
    return DagsTest(states, xcoms, proc.stdout + proc.stderr, full, proc.returncode)


def standalone(
    version: str,
    venv: pathlib.Path,
    work: pathlib.Path,
    command: str,
    *,
    env: str = "",
    before: str = "",
    timeout: float = 1500,
) -> tuple[str, str]:
    """Run ``command`` (shell) against ``airflow standalone`` of ``version`` in private network and
    PID namespaces (nothing reaches outside; the server binds 127.0.0.1:8080; nothing it started
    outlives the script), started with AIRFLOW_HOME
    ``work/home`` and the extra ``env`` (shell assignments, e.g. the DAG folder), after ``before``
    (shell, e.g. a background sync loop). The server is stopped by PID whatever happens.
    Returns (stdout, the server's log); fails the test when the command fails. A line
    ``HEALTHY after N s`` on stdout tells how long the server took to come up."""
    import shutil
    import textwrap

    import pytest

    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("ip"):
        pytest.skip("needs root, unshare and ip for a private network namespace")
    log_file = work / "standalone.log"
    script = textwrap.dedent(f"""\
        ip link set lo up; set -m
        export AIRFLOW_HOME={work}/home AIRFLOW__CORE__LOAD_EXAMPLES=False AIRFLOW__CORE__PARALLELISM=4 \\
          AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL=5 AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL=5 \\
          AIRFLOW__SCHEDULER__DAG_DIR_LIST_INTERVAL=5 {SERVER_ENV[version]} PATH={venv}/bin:$PATH
        {"export " + env if env else ""}
        BEFORE=""; {before}
        airflow standalone > {log_file} 2>&1 & SA=$!
        n=0
        until {HEALTHY[version]}; do
          sleep 1; n=$((n+1)); if [ $n -gt 300 ]; then echo "not healthy"; kill -INT $SA; wait $SA; exit 3; fi
        done
        echo "HEALTHY after $n s"
        {command}; rc=$?
        kill -INT $SA; timeout 60 tail --pid=$SA -f /dev/null || kill -KILL $SA
        if [ -n "$BEFORE" ]; then kill $BEFORE; fi
        exit $rc
        """)
    proc = subprocess.run(
        # its own PID namespace too: when the script ends, the kernel ends whatever standalone
        # left behind (its scheduler outlived a killed standalone and kept running)
        ["unshare", "--net", "--pid", "--fork", "--mount-proc", "bash", "-c", script],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    log = log_file.read_text(errors="replace") if log_file.exists() else ""
    if proc.returncode != 0:
        import pytest

        pytest.fail(proc.stdout[-3000:] + proc.stderr[-3000:] + log[-3000:], pytrace=False)
    return proc.stdout, log


def result_line(stdout: str) -> dict[str, Any]:
    """The JSON of the last ``RESULT {...}`` line a scenario printed."""
    lines = [ln for ln in stdout.splitlines() if ln.startswith("RESULT ")]
    assert lines, stdout[-3000:]
    return json.loads(lines[-1][7:])
