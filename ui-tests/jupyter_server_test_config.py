"""JupyterLab server configuration for the mlpipe-lab galata tests.

galata's helper sets a temporary root directory, no token, and port 8888.
"""

from jupyterlab.galata import configure_jupyter_server

configure_jupyter_server(c)  # noqa: F821 (c is injected by the config loader)

c.ServerApp.ip = "127.0.0.1"
# playwright.config.js reads the same variable (default 8888, galata's)
c.ServerApp.port = int(__import__("os").environ.get("MLPIPE_GALATA_PORT", "8888"))
c.ServerApp.allow_root = True  # CI runs as root. Test-only config: never use in production

# An MLflow model registry for the Serve MLflow model node test (serve-node.spec.ts): a sqlite
# tracking store next to this file, so no MLflow server process is needed. Model "galata-demo"
# has versions 1 and 2; alias "champion" points at 1.
# the sqlite registry below is outside the server's root: allowed explicitly (the server refuses
# local files outside its root and data folder unless the administrator allows them)
c.MLPipeLab.allowed_local_paths = [
    __import__("os").path.join(
        __import__("os").path.dirname(__import__("os").path.abspath(__file__)), ".mlflow"
    )
]
try:
    import os as _os

    _db = _os.path.join(_os.path.dirname(_os.path.abspath(__file__)), ".mlflow", "mlflow.db")
    if not _os.path.exists(_db):
        _os.makedirs(_os.path.dirname(_db), exist_ok=True)
        from mlflow import MlflowClient as _Client

        _client = _Client(tracking_uri=f"sqlite:///{_db}", registry_uri=f"sqlite:///{_db}")
        _client.create_registered_model(
            "galata-demo", description="Registered by the galata set-up"
        )
        for _ in range(2):
            _client.create_model_version("galata-demo", source=_os.path.dirname(_db))
        _client.set_registered_model_alias("galata-demo", "champion", "1")
except ImportError:  # no mlflow: serve-node.spec.ts fails with the registry's message
    pass
