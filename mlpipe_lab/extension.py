"""The Jupyter server extension: its settings (traitlets) and the services it builds once.

Settings go in a Jupyter server config file, e.g. ``jupyter_server_config.py``::

    c.MLPipeLab.data_dir = "/srv/mlpipe-lab"
    c.MLPipeLab.local_run_parallelism = 4

Imported only by the server (``mlpipe_lab`` itself stays free of traitlets and jupyter_server,
so that the runner and the serving runtime do not pull them).
"""

from __future__ import annotations

from typing import Any

from traitlets import Integer, TraitError, Unicode, validate
from traitlets.config import Configurable

SETTINGS_KEY = "mlpipe_lab.services"


class MLPipeLab(Configurable):
    """Settings of the mlpipe-lab server extension."""

    data_dir = Unicode(
        None,
        allow_none=True,
        config=True,
        help="Folder of the catalogs (runtime images and configurations), local run records and "
        "publish caches. Default: $MLPIPE_LAB_DATA_DIR, else <Jupyter data dir>/mlpipe-lab.",
    )
    elyra_data_dir = Unicode(
        None,
        allow_none=True,
        config=True,
        help="Elyra's metadata folder, whose runtime images and configurations are listed "
        "read-only (and can be imported). Default: Elyra's own (<Jupyter data dir>/metadata).",
    )
    local_run_parallelism = Integer(
        2,
        config=True,
        help="How many nodes of a local run may run at the same time.",
    )

    @validate("local_run_parallelism")
    def _at_least_one(self, proposal: Any) -> int:
        if proposal["value"] < 1:
            raise TraitError("local_run_parallelism must be at least 1")
        return proposal["value"]


def load(server_app: Any) -> None:
    """Build the services from the settings and register the REST API."""
    from .routes import setup_handlers
    from .services import Services

    settings = MLPipeLab(parent=server_app)
    root_dir = server_app.web_app.settings.get("server_root_dir") or server_app.root_dir
    services = Services(
        root_dir,
        data_dir=settings.data_dir,
        elyra_data_dir=settings.elyra_data_dir,
        local_run_parallelism=settings.local_run_parallelism,
    )
    server_app.web_app.settings[SETTINGS_KEY] = services
    setup_handlers(server_app.web_app, services)
    server_app.log.info("mlpipe-lab: REST API registered under /mlpipe-lab")
