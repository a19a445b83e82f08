"""``python3 -m mlpipe_lab.runner``: run one pipeline node (see contract.py and node.py), or a
Kubeflow Pipelines component's command with its files (``--kind command``, see command.py)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from .contract import parse_args
from .node import run


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    from . import command

    if command.is_command(args):
        return command.main(args)
    return run(parse_args(args))


if __name__ == "__main__":
    sys.exit(main())
