"""The node runner that task pods start with ``python3 -m mlpipe_lab.runner``.

contract.py: the command line generated DAGs use; node.py: running one node (bundle and inputs
in, notebook or script executed, outputs, logs and manifest out); store.py: local folder or S3
(boto3 imported only when used); paths.py: safe unpacking and path checks; notebook.py: parameter
injection and nbclient execution. Standard library only, apart from the optional nbclient,
nbconvert and boto3.
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
