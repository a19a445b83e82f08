"""mlpipe-lab: visual ML pipelines for JupyterLab that compile to Airflow DAGs."""

from __future__ import annotations

try:
    from ._version import __version__
except ImportError:  # a source tree that was never built
    __version__ = "0.0.0"


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "mlpipe-lab"}]


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "mlpipe_lab"}]


def _load_jupyter_server_extension(server_app) -> None:
    """Register the REST API; services are built once from the settings (``c.MLPipeLab.*``)."""
    from .extension import load

    load(server_app)
