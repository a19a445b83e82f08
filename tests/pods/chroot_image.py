"""``chroot_image.py IMAGE CMD...``: run CMD in the root file system standing in for IMAGE, like
``docker run --rm IMAGE CMD...`` (the image check's run command in tests; no network, read-only
use: the probe writes nothing). $MLPIPE_TEST_IMAGES maps references to root file systems (JSON)."""

from __future__ import annotations

import json
import os
import sys

PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def main() -> int:
    images = json.loads(os.environ.get("MLPIPE_TEST_IMAGES", "{}"))
    ref, argv = sys.argv[1], sys.argv[2:]
    root = images.get(ref)
    if root is None:
        sys.stderr.write(f"Error: unable to pull {ref}: image not known\n")
        return 125
    os.chroot(root)
    os.chdir("/")
    try:
        os.execve(argv[0], argv, {"PATH": PATH, "HOME": "/root", "LANG": "C.UTF-8"})
    except OSError as exc:
        sys.stderr.write(f"exec {argv[0]}: {exc.strerror}\n")
        return 127


if __name__ == "__main__":
    sys.exit(main())
