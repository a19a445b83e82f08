"""``python3 -m mlpipe_lab.runner``: run one pipeline node (see contract.py and node.py)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from .contract import parse_args
from .node import run


def main(argv: Sequence[str] | None = None) -> int:
    return run(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
