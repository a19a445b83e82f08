"""Notebook nodes: inject parameters, execute in the image's Jupyter kernel, keep the executed copy.

Parameters go into a new code cell tagged ``injected-parameters`` right after the cell tagged
``parameters`` (or at the top when there is none), replacing an injected cell from an earlier run,
as papermill does. The notebook is read and written as plain JSON (nbformat 4), so the runner
needs neither nbformat nor nbclient: it starts the kernel the image has (``python3`` for Python
notebooks, from ipykernel) with the image's own ``jupyter_client``, which every ipykernel installs
(with ``pyzmq``), and sends it the cells one by one over the Jupyter messaging protocol. Outputs go
to the log as the kernel sends them and into the executed notebook, with timing per cell.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import queue
import re
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Callable

from .errors import NodeFailure

PARAMETERS_TAG = "parameters"
INJECTED_TAG = "injected-parameters"
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


# -- parameter injection --------------------------------------------------------------------------


def python_literal(value: Any) -> str:
    """Python source for a JSON value (NaN and infinities included)."""
    if isinstance(value, float) and not math.isfinite(value):
        return f"float({str(value)!r})"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(python_literal(v) for v in value) + "]"
    if isinstance(value, dict):
        return (
            "{"
            + ", ".join(f"{python_literal(str(k))}: {python_literal(v)}" for k, v in value.items())
            + "}"
        )
    return repr(value)


def r_literal(value: Any) -> str:
    """R source for a JSON value: scalars as R values, lists and objects as JSON text."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return f"{value}L" if abs(value) < 2**31 else repr(float(value))
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Inf" if value > 0 else "-Inf"
        return repr(value)
    text = value if isinstance(value, str) else json.dumps(value)
    return json.dumps(text)  # a JSON string is a valid R string literal


def injection_source(params: dict[str, Any], language: str) -> str:
    if language == "r":
        lines = ["# Parameters injected by mlpipe-lab"] + [
            f"{k} <- {r_literal(v)}" for k, v in params.items()
        ]
    else:
        lines = ["# Parameters injected by mlpipe-lab"] + [
            f"{k} = {python_literal(v)}" for k, v in params.items()
        ]
    return "\n".join(lines)


def _tags(cell: Any) -> list[str]:
    tags = (cell.get("metadata") or {}).get("tags") or []
    return tags if isinstance(tags, list) else []


def _source(cell: Any) -> str:
    source = cell.get("source") or ""
    return "".join(source) if isinstance(source, list) else str(source)


def _new_cell_id(nb: Any) -> dict[str, str]:
    """Cells have ids from nbformat 4.5 on."""
    minor = nb.get("nbformat_minor") if isinstance(nb.get("nbformat_minor"), int) else 0
    return {"id": uuid.uuid4().hex[:8]} if minor >= 5 else {}


def inject_parameters(nb: Any, params: dict[str, Any], language: str = "python") -> int | None:
    """Insert the parameters cell into the notebook (a dict, in place); its index, or None
    without parameters."""
    nb["cells"] = [c for c in nb.get("cells") or [] if INJECTED_TAG not in _tags(c)]
    if not params:
        return None
    position = 0
    for i, cell in enumerate(nb["cells"]):
        if PARAMETERS_TAG in _tags(cell):
            position = i + 1
            break
    cell = {
        "cell_type": "code",
        "execution_count": None,
        **_new_cell_id(nb),
        "metadata": {"tags": [INJECTED_TAG]},
        "outputs": [],
        "source": injection_source(params, language),
    }
    nb["cells"].insert(position, cell)
    return position


def notebook_language(nb: Any) -> str:
    meta = nb.get("metadata") or {}
    spec = meta.get("kernelspec") or {}
    info = meta.get("language_info") or {}
    language = str(spec.get("language") or info.get("name") or "python").lower()
    return "r" if language == "r" else language


def kernel_name(nb: Any, override: str | None) -> str:
    """python3 for Python notebooks (whatever name the author's kernel had), else the notebook's own."""
    if override:
        return override
    spec = (nb.get("metadata") or {}).get("kernelspec") or {}
    if notebook_language(nb) == "python" or not spec.get("name"):
        return "python3"
    return str(spec["name"])


def read_notebook(path: Path) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as fh:
            nb = json.load(fh)
    except (OSError, ValueError) as exc:
        raise NodeFailure(f"cannot read the notebook {path.name}: {exc}") from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        version = nb.get("nbformat") if isinstance(nb, dict) else None
        hint = f" (nbformat {version}: save it with Jupyter 4+ first)" if version else ""
        raise NodeFailure(f"{path.name} is not a Jupyter notebook in nbformat 4{hint}")
    for cell in nb["cells"]:
        if not isinstance(cell, dict):
            raise NodeFailure(f"{path.name} is not a valid notebook (a cell is not an object)")
        cell["source"] = _source(cell)
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
    return nb


def write_notebook(nb: Any, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(nb, fh, indent=1, ensure_ascii=False)
        fh.write("\n")
    os.replace(tmp, path)


# -- the kernel -----------------------------------------------------------------------------------


def image_name() -> str:
    """How log lines name where the node runs (the pod's image, which the DAG puts in its env)."""
    image = os.environ.get("MLPIPE_IMAGE", "").strip()
    return f"image {image}" if image else "this image"


def _kernel_dirs() -> list[str]:
    """Where Jupyter looks for kernel specs (jupyter_core's data path), without jupyter_core."""
    dirs = [p for p in os.environ.get("JUPYTER_PATH", "").split(os.pathsep) if p]
    data = os.environ.get("JUPYTER_DATA_DIR") or os.path.join(
        os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share"), "jupyter"
    )
    dirs += [data, os.path.join(sys.prefix, "share", "jupyter")]
    dirs += ["/usr/local/share/jupyter", "/usr/share/jupyter"]
    return [os.path.join(d, "kernels") for d in dict.fromkeys(dirs)]


def kernels_on_disk() -> dict[str, str]:
    """{kernel name: its kernel.json} found in the usual places."""
    found: dict[str, str] = {}
    for folder in _kernel_dirs():
        try:
            names = sorted(os.listdir(folder))
        except OSError:
            continue
        for name in names:
            spec = os.path.join(folder, name, "kernel.json")
            if name.lower() not in found and os.path.isfile(spec):
                found[name.lower()] = spec
    return found


def no_kernel(name: str) -> NodeFailure:
    hint = "add ipykernel" if name == "python3" else f"install the kernel {name!r}"
    others = sorted(k for k in kernels_on_disk() if k != name)
    also = f" (it has: {', '.join(others)})" if others else ""
    return NodeFailure(f"no Jupyter kernel '{name}' in {image_name()}: {hint}{also}")


def load_site() -> None:
    """The pods start the runner with ``python3 -S`` (no site-packages: a faster start); the
    image's jupyter_client lives there, so notebooks add them before importing it."""
    if sys.flags.no_site and not getattr(load_site, "done", False):
        import site

        site.main()
        load_site.done = True  # type: ignore[attr-defined]


def _jupyter_client_importable() -> bool:
    """Whether the image's python3 has jupyter_client (ipykernel depends on it)."""
    import warnings

    load_site()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # jupyter_core's path-migration notices
        try:
            import jupyter_client.manager  # noqa: F401
        except Exception:  # missing, or an installation too broken to use
            return False
    return True


def _now() -> str:
    return (
        _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")
    )


# -- execution ------------------------------------------------------------------------------------


def _text_of(msg_type: str, content: dict[str, Any]) -> str:
    if msg_type == "stream":
        return str(content.get("text", ""))
    if msg_type in ("execute_result", "display_data"):
        data = content.get("data") or {}
        if "text/plain" in data:
            text = data["text/plain"]
            text = "".join(text) if isinstance(text, list) else str(text)
            return text + "\n"
        kinds = ", ".join(sorted(data)) or "empty"
        return f"[{kinds} output]\n"
    if msg_type == "error":
        trace = (
            "\n".join(content.get("traceback") or [])
            or f"{content.get('ename')}: {content.get('evalue')}"
        )
        return _ANSI.sub("", trace) + "\n"
    return ""


def _output(msg_type: str, content: dict[str, Any]) -> dict[str, Any] | None:
    """The nbformat output for an IOPub message, or None."""
    if msg_type == "stream":
        return {
            "output_type": "stream",
            "name": content.get("name", "stdout"),
            "text": content.get("text", ""),
        }
    if msg_type in ("display_data", "execute_result"):
        out = {
            "output_type": msg_type,
            "data": content.get("data") or {},
            "metadata": content.get("metadata") or {},
        }
        if msg_type == "execute_result":
            out["execution_count"] = content.get("execution_count")
        return out
    if msg_type == "error":
        return {
            "output_type": "error",
            "ename": content.get("ename", ""),
            "evalue": content.get("evalue", ""),
            "traceback": content.get("traceback") or [],
        }
    return None


class _Outputs:
    """A cell's outputs as they arrive: consecutive stream text merged, clear_output honoured."""

    def __init__(self, cell: dict[str, Any]):
        self.cell = cell
        self.clear_pending = False

    def add(self, msg_type: str, content: dict[str, Any]) -> None:
        if msg_type == "clear_output":
            if content.get("wait"):
                self.clear_pending = True
            else:
                self.cell["outputs"] = []
            return
        out = _output(msg_type, content)
        if out is None:
            return
        if self.clear_pending:
            self.cell["outputs"], self.clear_pending = [], False
        outputs = self.cell["outputs"]
        if (
            out["output_type"] == "stream"
            and outputs
            and outputs[-1].get("output_type") == "stream"
            and outputs[-1].get("name") == out["name"]
        ):
            outputs[-1]["text"] += out["text"]
        else:
            outputs.append(out)


class Kernel:
    """One kernel of the image, started in ``workdir`` with the runner's environment, through
    the image's own jupyter_client."""

    def __init__(self, name: str, workdir: Path, startup_timeout: float):
        if not _jupyter_client_importable():
            if name in kernels_on_disk():
                raise NodeFailure(
                    f"{image_name()} has the Jupyter kernel '{name}' but its python3 "
                    f"({sys.executable}) cannot import jupyter_client: install ipykernel "
                    "into the image's python3"
                )
            raise no_kernel(name)
        from jupyter_client.kernelspec import NoSuchKernel
        from jupyter_client.manager import KernelManager

        self.km = KernelManager(kernel_name=name)
        self.kc = None
        try:
            self.km.start_kernel(cwd=str(workdir), env=dict(os.environ))
        except NoSuchKernel:
            raise no_kernel(name) from None
        except OSError as exc:
            raise NodeFailure(
                f"cannot start the Jupyter kernel '{name}' in {image_name()}: {exc}"
            ) from None
        self.kc = self.km.client()
        self.kc.start_channels()
        try:
            self.kc.wait_for_ready(timeout=startup_timeout)
        except RuntimeError:
            self.shutdown()
            raise NodeFailure(
                f"the kernel '{name}' did not start within {startup_timeout:g} s"
            ) from None

    @property
    def pid(self) -> int | None:
        provisioner = getattr(self.km, "provisioner", None)
        process = getattr(provisioner, "process", None) or getattr(self.km, "kernel", None)
        return getattr(process, "pid", None)

    def alive(self) -> bool:
        try:
            return bool(self.km.is_alive())
        except Exception:
            return False

    def language_info(self) -> dict[str, Any]:
        try:
            msg_id = self.kc.kernel_info()
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                reply = self.kc.get_shell_msg(timeout=10)
                if reply["parent_header"].get("msg_id") == msg_id:
                    return reply["content"].get("language_info") or {}
        except Exception:
            pass
        return {}

    def _next(self, channel: str) -> dict[str, Any] | None:
        """The next message of a channel, or None after a second of silence (the kernel alive)."""
        get = self.kc.get_iopub_msg if channel == "iopub" else self.kc.get_shell_msg
        try:
            return get(timeout=1)
        except queue.Empty:
            if not self.alive():
                raise NodeFailure("the kernel died") from None
            return None

    def run_cell(
        self, cell: dict[str, Any], write: Callable[[str], None], timeout: float | None
    ) -> dict[str, Any]:
        """Execute one code cell; the execute_reply content (status ok, error or aborted)."""
        timing = cell.setdefault("metadata", {}).setdefault("execution", {})
        msg_id = self.kc.execute(
            cell["source"], store_history=True, allow_stdin=False, stop_on_error=True
        )
        outputs = _Outputs(cell)
        deadline = time.monotonic() + timeout if timeout else None
        idle = False
        reply: dict[str, Any] | None = None
        while not (idle and reply is not None):
            if deadline is not None and time.monotonic() > deadline:
                self.interrupt()
                raise NodeFailure(f"a cell ran longer than {timeout:g} s (cell timeout)")
            msg = self._next("iopub" if not idle else "shell")
            if msg is None or msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg.get("content") or {}
            if kind == "execute_reply":
                reply = content
                timing["shell.execute_reply"] = _now()
                if cell.get("execution_count") is None:
                    cell["execution_count"] = content.get("execution_count")
            elif kind == "status":
                state = content.get("execution_state")
                if state == "busy":
                    timing["iopub.status.busy"] = _now()
                elif state == "idle":
                    timing["iopub.status.idle"] = _now()
                    idle = True
            elif kind == "execute_input":
                timing["iopub.execute_input"] = _now()
                cell["execution_count"] = content.get("execution_count")
            else:
                try:
                    text = _text_of(kind, content)
                    if text:
                        write(text)
                except Exception:  # never let logging break execution
                    pass
                outputs.add(kind, content)
        return reply

    def interrupt(self) -> None:
        try:
            self.km.interrupt_kernel()
        except Exception:
            pass

    def shutdown(self) -> None:
        if self.kc is not None:
            try:
                self.kc.stop_channels()
            except Exception:
                pass
        try:
            self.km.shutdown_kernel(now=True)
        except Exception:
            pass


def execute_notebook(
    path: Path,
    *,
    workdir: Path,
    params: dict[str, Any],
    write: Callable[[str], None],
    executed_path: Path,
    cell_timeout: float | None,
    startup_timeout: float,
    kernel: str | None,
    on_kernel_start: Callable[[int | None], None],
) -> None:
    """Run the notebook; always writes what was executed to ``executed_path`` (when the notebook
    could be read). Raises NodeFailure naming the failing cell."""
    nb = read_notebook(path)
    language = notebook_language(nb)
    if params and language not in ("python", "r"):
        write(f"[mlpipe-runner] parameters are not injected into {language} notebooks\n")
        params = {}
    inject_parameters(nb, params, language)
    meta = nb.setdefault("metadata", {})
    meta["mlpipe"] = {"parameters": params, "start_time": _now()}
    code = [c for c in nb["cells"] if c.get("cell_type") == "code"]
    name = kernel_name(nb, kernel)
    write(f"[mlpipe-runner] executing {path.name} with kernel {name} ({len(code)} code cells)\n")
    k: Kernel | None = None
    try:
        k = Kernel(name, workdir, startup_timeout)
        on_kernel_start(k.pid)
        info = k.language_info()
        if info:
            meta["language_info"] = info
        for n, cell in enumerate(code, start=1):
            if not cell["source"].strip():
                continue
            write(f"[mlpipe-runner] cell {n}/{len(code)}\n")
            reply = k.run_cell(cell, write, cell_timeout)
            if reply.get("status") == "error":
                ename = reply.get("ename") or "error"
                evalue = reply.get("evalue") or ""
                raise NodeFailure(f"cell {n} raised {ename}: {evalue}".rstrip(": "))
            if reply.get("status") == "aborted":
                raise NodeFailure(f"cell {n} was aborted by the kernel")
    finally:
        meta["mlpipe"]["end_time"] = _now()
        if k is not None:
            k.shutdown()
        try:
            write_notebook(nb, executed_path)
        except Exception as exc:  # keep the real cause; just say the copy is missing
            write(f"[mlpipe-runner] could not save the executed notebook: {exc}\n")


def to_html(executed: Path, html: Path) -> str | None:
    """Write an HTML copy of the executed notebook; a note (and no file) when nbconvert is missing
    or fails, or when the pod's environment says MLPIPE_RUNNER_HTML=0."""
    if os.environ.get("MLPIPE_RUNNER_HTML", "1").strip().lower() in ("0", "false", "no", "off"):
        return "MLPIPE_RUNNER_HTML=0: no HTML copy"
    try:
        import nbformat
        from nbconvert import HTMLExporter
    except ImportError:
        return "nbconvert is not installed: no HTML copy"
    try:
        body, _ = HTMLExporter().from_notebook_node(nbformat.read(str(executed), as_version=4))
        html.write_text(body, encoding="utf-8")
    except Exception as exc:
        return f"no HTML copy: {exc}"
    return None
