"""Fail when a REST verb of mlpipe-lab is not wrapped by tornado's @authenticated and
jupyter_server's @authorized (the outermost two decorators, in that order)."""

from __future__ import annotations

import sys

from mlpipe_lab.routes import route_table

VERBS = ("get", "post", "put", "patch", "delete", "head", "options")


def decorators(func):
    chain = []
    while func is not None:
        # functools.wraps copies names, so tell the layers apart by where their code lives
        code = func.__code__
        chain.append(f"{code.co_filename}:{code.co_name}")
        func = getattr(func, "__wrapped__", None)
    return chain


def main() -> int:
    bad = []
    for pattern, handler, _ in route_table("/", services=None):
        for verb in VERBS:
            if verb not in handler.__dict__:
                continue
            chain = decorators(handler.__dict__[verb])
            ok = (
                len(chain) >= 3
                and chain[0].split(":")[0].endswith("tornado/web.py")
                and chain[1].split(":")[0].endswith("jupyter_server/auth/decorator.py")
            )
            if not ok:
                bad.append(f"{handler.__name__}.{verb} ({pattern}): {' -> '.join(chain)}")
    for line in bad:
        print("not authenticated+authorized:", line, file=sys.stderr)
    print(f"checked {len(route_table('/', services=None))} routes: {'FAIL' if bad else 'ok'}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
