"""The node runner that task pods start (``python3 /mlpipe/mlpipe-runner.pyz`` or
``python3 -m mlpipe_lab.runner``).

contract.py: the command line generated DAGs use and how the runner reaches the pod; node.py:
running one node (bundle and inputs in, notebook or script executed, outputs, logs and manifest
out); store.py: local folder or S3 (s3.py, the runner's own SigV4 client); paths.py: safe unpacking
and path checks; notebook.py: parameter injection and execution in the image's Jupyter kernel;
zipapp.py and install.py: the self-contained runner and the init container that copies it.
Standard library only (Python 3.9+), and nothing from the rest of mlpipe_lab: it runs in images
that have only python3.
"""

from .contract import (
    CONTRACT_VERSION,
    KINDS,
    MODULE,
    build_parser,
    parse_args,
    runner_arguments,
    runner_command,
    store_arguments,
    task_arguments,
)

__all__ = [
    "CONTRACT_VERSION",
    "KINDS",
    "MODULE",
    "build_parser",
    "parse_args",
    "runner_arguments",
    "runner_command",
    "store_arguments",
    "task_arguments",
]
