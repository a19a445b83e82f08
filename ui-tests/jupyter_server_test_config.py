"""JupyterLab server configuration for the mlpipe-lab galata tests.

galata's helper sets a temporary root directory, no token, and port 8888.
"""

from jupyterlab.galata import configure_jupyter_server

configure_jupyter_server(c)  # noqa: F821 (c is injected by the config loader)

c.ServerApp.ip = "127.0.0.1"
c.ServerApp.allow_root = True  # CI runs as root. Test-only config: never use in production
