"""The runner image's init container: copy the self-contained runner into the pod's shared folder.

    python3 -m mlpipe_lab.runner.install /mlpipe

writes ``/mlpipe/mlpipe-runner.pyz`` (see zipapp.py), which the node's own container then runs with
its own ``python3``. Uses nothing but the runner image's python3 and the installed mlpipe_lab wheel.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from .contract import ZIPAPP_NAME
from .zipapp import write_zipapp


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0].startswith("-"):
        sys.stderr.write("usage: python3 -m mlpipe_lab.runner.install FOLDER\n")
        return 2
    t0 = time.monotonic()
    folder = Path(args[0])
    try:
        target = write_zipapp(folder / ZIPAPP_NAME, bytecode=True)
    except OSError as exc:
        sys.stderr.write(
            f"mlpipe-runner: cannot copy the runner into {folder}: {exc.strerror or exc} "
            "(is the runner volume mounted there?)\n"
        )
        return 1
    ms = (time.monotonic() - t0) * 1000
    print(f"mlpipe-runner: runner copied to {target} ({target.stat().st_size} bytes, {ms:.0f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
