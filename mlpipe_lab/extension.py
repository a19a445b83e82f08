"""The Jupyter server extension: its settings (traitlets) and the services it builds once.

Settings go in a Jupyter server config file, e.g. ``jupyter_server_config.py``::

    c.MLPipeLab.data_dir = "/srv/mlpipe-lab"
    c.MLPipeLab.local_run_parallelism = 4
    c.MLPipeLab.allowed_local_paths = ["/srv/dags"]   # besides the root and the data folder
    c.MLPipeLab.worker_threads = 8
    c.MLPipeLab.compute_processes = 2

Imported only by the server (``mlpipe_lab`` itself stays free of traitlets and jupyter_server,
so that the runner and the serving runtime do not pull them).
"""

from __future__ import annotations

from typing import Any

from traitlets import Bool, Float, Integer, List, TraitError, Unicode, validate
from traitlets.config import Configurable

SETTINGS_KEY = "mlpipe_lab.services"
COMPUTE_KEY = "mlpipe_lab.compute"  # the worker processes' pool (services.compute.ComputePool)
MiB = 1024 * 1024


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

    worker_threads = Integer(
        8,
        config=True,
        help="How many requests of mlpipe-lab may work at the same time (validation, catalogs, "
        "export, publishing, MLflow and Airflow calls). They run in a pool of this many threads, "
        "never on the server's event loop; more wait their turn.",
    )
    compute_processes = Integer(
        2,
        config=True,
        help="How many validations, describes and exports may compute at the same time. They run "
        "in this many worker processes (started on first use, stopped with the server), so that "
        "their pure Python never holds the server's GIL while its event loop has requests to "
        "answer; more wait their turn. 0 runs them in compute_threads threads of the server "
        "instead.",
    )
    compute_niceness = Integer(
        0,
        config=True,
        help="What the worker processes add to the server's niceness (0-19), e.g. so that "
        "kernels get the CPU before validations and exports when the machine's cores are busy.",
    )
    compute_threads = Integer(
        2,
        config=True,
        help="With compute_processes = 0 only: how many validations, describes and exports may "
        "compute at the same time in threads of the server.",
    )
    max_request_mb = Integer(
        32,
        config=True,
        help="The largest request body mlpipe-lab accepts, in MiB (larger: 413 with a message).",
    )
    max_pipeline_mb = Integer(
        32,
        config=True,
        help="The largest .pipeline file mlpipe-lab reads, in MiB (larger: 400 with a message).",
    )
    allowed_local_paths = List(
        Unicode(),
        default_value=[],
        config=True,
        help="Folders, besides the server's root and mlpipe-lab's data folder, that runtime "
        "configurations may point local paths into (a local DAG repository, an artifact folder, "
        "a git url that is a local path, a file: or sqlite: MLflow tracking URI).",
    )
    allow_plain_http = Bool(
        False,
        config=True,
        help="Allow runtime configurations to send credentials over plain http:// to endpoints "
        "other than this machine (Airflow, git, S3) without their own allow_plain_http flag. "
        "Credentials then cross the network unencrypted.",
    )

    switch_interval_ms = Float(
        1.0,
        config=True,
        help="The server process's thread switch interval (sys.setswitchinterval), in ms; "
        "Python's default is 5. mlpipe-lab's work runs in threads beside the event loop: a "
        "shorter interval lets the loop answer sooner while they compute. 0 leaves it alone.",
    )

    @validate(
        "local_run_parallelism",
        "worker_threads",
        "compute_threads",
        "max_request_mb",
        "max_pipeline_mb",
    )
    def _at_least_one(self, proposal: Any) -> int:
        if proposal["value"] < 1:
            raise TraitError(f"{proposal['trait'].name} must be at least 1")
        return proposal["value"]

    @validate("compute_processes")
    def _not_negative(self, proposal: Any) -> int:
        if proposal["value"] < 0:
            raise TraitError("compute_processes must be at least 0 (0: threads of the server)")
        return proposal["value"]

    @validate("compute_niceness")
    def _niceness(self, proposal: Any) -> int:
        if not 0 <= proposal["value"] <= 19:
            raise TraitError("compute_niceness must be between 0 and 19")
        return proposal["value"]


def load(server_app: Any) -> None:
    """Build the services from the settings and register the REST API."""
    from concurrent.futures import ThreadPoolExecutor

    from .routes import setup_handlers
    from .services import Services

    settings = MLPipeLab(parent=server_app)
    root_dir = server_app.web_app.settings.get("server_root_dir") or server_app.root_dir
    services = Services(
        root_dir,
        data_dir=settings.data_dir,
        elyra_data_dir=settings.elyra_data_dir,
        local_run_parallelism=settings.local_run_parallelism,
        max_pipeline_bytes=settings.max_pipeline_mb * MiB,
        allowed_local_paths=list(settings.allowed_local_paths),
        allow_plain_http=settings.allow_plain_http,
    )
    server_app.web_app.settings[SETTINGS_KEY] = services
    if settings.switch_interval_ms > 0:
        import sys

        sys.setswitchinterval(min(sys.getswitchinterval(), settings.switch_interval_ms / 1000))
    pool = ThreadPoolExecutor(settings.worker_threads, thread_name_prefix="mlpipe-lab")
    compute: Any
    if settings.compute_processes:
        from .services.compute import ComputePool, WorkerSettings

        compute = ComputePool(
            WorkerSettings.of(services), settings.compute_processes, settings.compute_niceness
        )
        server_app.web_app.settings[COMPUTE_KEY] = compute
        _stop_with(server_app, compute)
    else:
        compute = ThreadPoolExecutor(
            settings.compute_threads, thread_name_prefix="mlpipe-lab-compute"
        )
    setup_handlers(server_app.web_app, services, pool, settings.max_request_mb * MiB, compute)
    server_app.log.info("mlpipe-lab: REST API registered under /mlpipe-lab")


def _stop_with(server_app: Any, compute: Any) -> None:
    """Stop the compute workers when the server cleans up its extensions. jupyter_server calls
    stop hooks of ExtensionApps only; a module extension like ours gets none, so its cleanup is
    wrapped (once per server)."""
    cleanup = server_app.cleanup_extensions

    async def cleanup_extensions() -> None:
        try:
            await cleanup()
        finally:
            compute.shutdown()

    server_app.cleanup_extensions = cleanup_extensions
