"""The node runner that task pods start with ``python3 -m mlpipe_lab.runner``.

Only its command-line contract exists so far (see contract.py); the runner itself comes later.
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
    "CONTRACT_VERSION", "KINDS", "MODULE", "build_parser", "parse_args", "runner_arguments",
    "runner_command", "store_arguments", "task_arguments",
]
