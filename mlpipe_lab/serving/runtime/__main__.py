"""``python -m mlpipe_lab.serving.runtime Predictor --http-port 9000 --workers N --host 127.0.0.1``"""

from __future__ import annotations

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
