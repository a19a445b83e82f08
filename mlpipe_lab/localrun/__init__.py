"""Local runs: execute a pipeline on this machine with the same node runner task pods use.

``run_pipeline(path, params=..., artifacts_root=..., max_parallel=2, on_event=..., cancel_event=...)``
returns a :class:`RunResult`. Names are imported lazily so that ``import mlpipe_lab.localrun`` stays
cheap (the CLI imports it only for ``mlpipe run``).
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "LocalRunError",
    "NodeResult",
    "ParameterError",
    "RunResult",
    "decide",
    "new_run_id",
    "run_pipeline",
]


def __getattr__(name: str) -> Any:
    if name == "ParameterError":
        from .params import ParameterError

        return ParameterError
    if name in __all__:
        from . import run

        return getattr(run, name)
    raise AttributeError(name)
