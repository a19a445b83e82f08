"""``python3 -m mlpipe_lab.serving.tasks STEP ...`` (see cli.py)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
