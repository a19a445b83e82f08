"""One prediction against a served model: the smoke task (in-cluster) and the local check."""

from __future__ import annotations

import json
import numbers
import os
import select
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..spec import PROTOCOLS


class SmokeError(RuntimeError):
    pass


def v2_request(seldon: dict) -> dict:
    """The Open Inference (V2) form of a Seldon ``{"data": {"ndarray": rows}}`` request; a V2
    request (``{"inputs": [...]}``) as it is."""
    if isinstance(seldon, dict) and isinstance(seldon.get("inputs"), list):
        return seldon
    rows = ((seldon or {}).get("data") or {}).get("ndarray")
    if not isinstance(rows, list) or not rows:
        raise SmokeError("the smoke-test request needs data.ndarray rows to send to a V2 endpoint")
    rows = [r if isinstance(r, list) else [r] for r in rows]
    flat = [v for r in rows for v in r]
    if not all(isinstance(v, numbers.Number) and not isinstance(v, bool) for v in flat):
        raise SmokeError("only numeric ndarray rows can be sent to a V2 endpoint")
    datatype = "INT64" if all(isinstance(v, int) for v in flat) else "FP64"
    return {
        "inputs": [
            {
                "name": "input-0",
                "shape": [len(rows), len(rows[0])],
                "datatype": datatype,
                "data": flat,
            }
        ]
    }


def check_answer(protocol: str, status: int, body: bytes) -> Any:
    """The parsed answer when it has the protocol's shape; SmokeError naming what is wrong."""
    text = body.decode("utf-8", "replace")
    if status != 200:
        raise SmokeError(f"HTTP {status}: {text[:1000]}")
    try:
        answer = json.loads(text)
    except ValueError:
        raise SmokeError(f"the answer is not JSON: {text[:1000]}") from None
    if protocol == "seldon":
        data = answer.get("data") if isinstance(answer, dict) else None
        payload = isinstance(data, dict) and any(
            k in data for k in ("ndarray", "tensor", "tftensor")
        )
        other = isinstance(answer, dict) and any(
            k in answer for k in ("jsonData", "strData", "binData")
        )
        if not (payload or other):
            raise SmokeError(f"not a Seldon prediction (no data.ndarray/tensor): {text[:1000]}")
    else:
        outputs = answer.get("outputs") if isinstance(answer, dict) else None
        if not isinstance(outputs, list) or not outputs:
            raise SmokeError(f"not a V2 inference response (no outputs): {text[:1000]}")
    return answer


def post(url: str, body: dict, headers: dict[str, str], timeout: float) -> tuple[int, bytes]:
    req = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json", **headers},
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def smoke(
    url: str,
    request: dict,
    protocol: str = "seldon",
    headers: dict[str, str] | None = None,
    attempts: int = 10,
    delay: float = 3.0,
    timeout: float = 30.0,
    sleep: Callable[[float], None] = time.sleep,
) -> Any:
    """POST the request; connection failures and 503s (routes still settling) are retried."""
    body = request if protocol == "seldon" else v2_request(request)
    last = ""
    for attempt in range(1, attempts + 1):
        try:
            status, data = post(url, body, headers or {}, timeout)
        except (OSError, urllib.error.URLError) as exc:
            last = f"{url}: {getattr(exc, 'reason', exc)}"
        else:
            if status not in (502, 503, 504):
                return check_answer(protocol, status, data)
            last = f"HTTP {status}: {data[:300].decode('utf-8', 'replace')}"
        if attempt < attempts:
            sleep(delay)
    raise SmokeError(f"no answer after {attempts} attempts: {last}")


# -- local check -------------------------------------------------------------------------------


def unpack(tarball: Path, dest: Path) -> Path:
    with tarfile.open(tarball, "r:gz") as tar:
        try:
            tar.extractall(dest, filter="data")
        except TypeError:  # a python3 without extraction filters (3.11.2 in Debian 12)
            from ...runner.paths import unpack_bundle

            unpack_bundle(tarball, dest)
    return dest


def serve_context_once(
    context_dir: Path,
    request: dict,
    start_timeout: float = 180.0,
    log=print,
    protocol: str = "seldon",
    model: str = "",
) -> Any:
    """Serve a build context with our runtime on 127.0.0.1 (ephemeral port), send one request
    in ``protocol`` (``seldon``, or ``v2`` to ``/v2/models/<model>/infer``), stop it. Uses this
    interpreter, so it needs the model's requirements installed."""
    env = {**os.environ, "MODEL_DIR": str(context_dir / "model")}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    packaged = context_dir / "runtime"
    if packaged.is_dir():  # the runtime the image gets (the task may run from the runner zipapp)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(packaged), env.get("PYTHONPATH", "")) if p
        )
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlpipe_lab.serving.runtime",
            "Predictor",
            "--host",
            "127.0.0.1",
            "--http-port",
            "0",
            "--model-dir",
            str(context_dir),
            "--workers",
            "1",
            "--log-level",
            "warning",
            "--graceful-timeout",
            "5",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
        cwd=str(context_dir),
    )
    try:
        port = None
        deadline = time.monotonic() + start_timeout
        while port is None and time.monotonic() < deadline and proc.poll() is None:
            ready, _, _ = select.select([proc.stdout], [], [], 0.5)
            if ready:
                line = proc.stdout.readline()
                if line.startswith("PORT "):
                    port = int(line.split()[1])
        if port is None:
            _stop(proc)
            raise SmokeError(
                "the serving runtime did not start: " + (proc.stderr.read() or "")[-2000:]
            )
        base = f"http://127.0.0.1:{port}"
        if protocol == "v2":
            url = base + f"/v2/models/{urllib.parse.quote(model, safe='')}/infer"
        else:
            url = base + "/api/v1.0/predictions"
        log(f"serving the package on {url}")
        return smoke(url, request, protocol, attempts=3, delay=1.0)
    finally:
        _stop(proc)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # its own session: the runtime and its workers
            proc.wait(timeout=5)
    for stream in (proc.stdout, proc.stderr):
        if stream:
            stream.close()


def run_check(
    *, store: Any, run_prefix: str, package_task: str, request: dict | None = None, log=print
) -> Any:
    """The local check of a package task's output (context and resolved.json from the store)."""
    from .package import context_key, resolved_key

    resolved = store.get_json(resolved_key(run_prefix, package_task))
    if not isinstance(resolved, dict):
        raise SmokeError(f"task {package_task} left no resolved.json: did it run?")
    with tempfile.TemporaryDirectory(prefix="mlpipe-check-") as tmp:
        tarball = Path(tmp) / "context.tar.gz"
        store.get_file(context_key(run_prefix, package_task), tarball)
        ctx = unpack(tarball, Path(tmp) / "context")
        # the protocol the target's endpoint speaks (DAGs packaged before targets were recorded:
        # Seldon v1)
        target = resolved.get("target")
        answer = serve_context_once(
            ctx,
            request or resolved["smoke_request"],
            log=log,
            protocol=PROTOCOLS.get(target, "seldon"),
            model=resolved.get("model") or "",
        )
    log(f"{resolved['model_uri']} answered: {json.dumps(answer, sort_keys=True)[:2000]}")
    return answer
