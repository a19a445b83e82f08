"""Notebook nodes: inject parameters, execute with nbclient, keep the executed copy (and HTML).

Parameters go into a new code cell tagged ``injected-parameters`` right after the cell tagged
``parameters`` (or at the top when there is none), replacing an injected cell from an earlier run,
as papermill does. Outputs are written to the log as the kernel sends them.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

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


def inject_parameters(nb: Any, params: dict[str, Any], language: str = "python") -> int | None:
    """Insert the parameters cell into the notebook (in place); its index, or None without params."""
    import nbformat

    nb.cells = [c for c in nb.cells if INJECTED_TAG not in _tags(c)]
    if not params:
        return None
    position = 0
    for i, cell in enumerate(nb.cells):
        if PARAMETERS_TAG in _tags(cell):
            position = i + 1
            break
    cell = nbformat.v4.new_code_cell(source=injection_source(params, language))
    cell.metadata["tags"] = [INJECTED_TAG]
    nb.cells.insert(position, cell)
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
    try:
        import nbformat
        from nbclient import NotebookClient
        from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
    except ImportError:
        raise NodeFailure(
            "running notebooks needs nbclient, nbformat and ipykernel in the runtime "
            "image (pip install 'mlpipe_lab[runner]')"
        ) from None
    try:
        nb = nbformat.read(str(path), as_version=4)
    except Exception as exc:  # nbformat raises many kinds (JSON, validation, OS)
        raise NodeFailure(f"cannot read the notebook {path.name}: {exc}") from None
    language = notebook_language(nb)
    if params and language not in ("python", "r"):
        write(f"[mlpipe-runner] parameters are not injected into {language} notebooks\n")
        params = {}
    inject_parameters(nb, params, language)
    code_cells = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    total = len(code_cells)

    class _Client(NotebookClient):
        def output(self, outs, msg, display_id, cell_index):
            try:
                text = _text_of(msg["msg_type"], msg.get("content") or {})
                if text:
                    write(text)
            except Exception:  # never let logging break execution
                pass
            return super().output(outs, msg, display_id, cell_index)

    def cell_start(cell, cell_index, **_):
        if cell.cell_type == "code":
            write(f"[mlpipe-runner] cell {code_cells.index(cell_index) + 1}/{total}\n")

    def notebook_start(notebook=None, **_):
        pid = None
        try:
            km = client.km
            provisioner = getattr(km, "provisioner", None)
            process = getattr(provisioner, "process", None)
            pid = getattr(process, "pid", None) or getattr(provisioner, "pid", None)
        except Exception:
            pid = None
        on_kernel_start(pid)

    name = kernel_name(nb, kernel)
    client = _Client(
        nb,
        timeout=math.ceil(cell_timeout) if cell_timeout else None,
        startup_timeout=math.ceil(startup_timeout),
        kernel_name=name,
        allow_errors=False,
        record_timing=True,
        resources={"metadata": {"path": str(workdir)}},
        on_cell_execute=cell_start,
        on_notebook_start=notebook_start,
    )
    write(f"[mlpipe-runner] executing {path.name} with kernel {name} ({total} code cells)\n")
    try:
        client.execute()
    except CellExecutionError as exc:
        ename = getattr(exc, "ename", "") or "error"
        evalue = getattr(exc, "evalue", "") or ""
        index = _failed_cell(nb, code_cells)
        where = f"cell {index}" if index else "a cell"
        raise NodeFailure(f"{where} raised {ename}: {evalue}".rstrip(": ")) from None
    except CellTimeoutError:
        raise NodeFailure(f"a cell ran longer than {cell_timeout:g} s (cell timeout)") from None
    except DeadKernelError:
        raise NodeFailure("the kernel died") from None
    except Exception as exc:
        if type(exc).__name__ == "NoSuchKernel":
            raise NodeFailure(
                f"kernel {name!r} is not installed in this image (for Python "
                "notebooks install ipykernel)"
            ) from None
        if isinstance(exc, RuntimeError) and "Kernel didn't respond" in str(exc):
            raise NodeFailure(f"the kernel did not start within {startup_timeout:g} s") from None
        raise
    finally:
        try:
            nbformat.write(nb, str(executed_path))
        except Exception as exc:  # keep the real cause; just say the copy is missing
            write(f"[mlpipe-runner] could not save the executed notebook: {exc}\n")


def _failed_cell(nb: Any, code_cells: list[int]) -> int | None:
    for n, index in enumerate(code_cells, start=1):
        cell = nb.cells[index]
        if any(o.get("output_type") == "error" for o in cell.get("outputs") or []):
            return n
    return None


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
