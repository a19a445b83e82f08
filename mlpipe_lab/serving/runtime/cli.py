"""Command line of the serving runtime; options default from Seldon's environment variables.

| option | environment | default |
|---|---|---|
| ``--http-port`` | ``PREDICTIVE_UNIT_HTTP_SERVICE_PORT`` | 9000 |
| ``--metrics-port`` | ``PREDICTIVE_UNIT_METRICS_SERVICE_PORT`` | (metrics on the HTTP port) |
| ``--metrics-path`` | ``PREDICTIVE_UNIT_METRICS_ENDPOINT`` | ``/prometheus`` |
| ``--workers`` | ``GUNICORN_WORKERS`` | 1 |
| ``--threads`` | ``GUNICORN_THREADS`` | 1 (model-call threads per worker; 0 = always on the event loop) |
| ``--inline-budget-ms`` | ``MLPIPE_SERVING_INLINE_BUDGET_MS`` | 20 (with one thread, model calls run on the event loop while each takes no longer; 0 = always on the thread) |
| ``--parameters`` | ``PREDICTIVE_UNIT_PARAMETERS`` | ``[]`` |
| ``--logger-url`` / ``--logger-mode`` | ``SELDON_LOGGER_URL`` / ``SELDON_LOGGER_MODE`` | off / all |
| ``--host`` | ``MLPIPE_SERVING_HOST`` | ``0.0.0.0`` |
| ``--model-name`` | ``MLPIPE_MODEL_NAME`` | the metadata's name (the V2 model name) |

Both protocols answer on the one port: Seldon v1 (``/api/v1.0/predictions``, ``/health/ping``,
``/metadata``) and the Open Inference Protocol V2 (``/v2/health/live``, ``/v2/models/NAME``,
``/v2/models/NAME/infer``).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any

from .params import ParameterError, parse_parameters


def env_number(name: str, default: Any, kind: type = int) -> Any:
    value = os.environ.get(name)
    if value is None or not value.strip():
        return default
    try:
        return kind(value)
    except ValueError:
        what = "an integer" if kind is int else "a number"
        raise SystemExit(f"{name} must be {what}, not {value!r}") from None


def add_inline_budget_option(p: argparse.ArgumentParser) -> None:
    """``--inline-budget-ms``, for this CLI and ``mlpipe serve`` (see app.CallPlacement)."""
    p.add_argument(
        "--inline-budget-ms",
        type=float,
        default=env_number("MLPIPE_SERVING_INLINE_BUDGET_MS", 20.0, float),
        help="with --threads 1, model calls run on the event loop while each takes no "
        "longer than this; a slower one moves the next calls to the thread (0: always "
        "the thread)",
    )


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m mlpipe_lab.serving.runtime",
        description="Serve a Seldon-contract Predictor class over the Seldon v1 and Open "
        "Inference (V2) REST protocols.",
    )
    p.add_argument("interface_name", help="module (class of the same name) or module.Class")
    p.add_argument("--service-type", default="MODEL", help="only MODEL is supported")
    p.add_argument("--host", default=os.environ.get("MLPIPE_SERVING_HOST", "0.0.0.0"))
    p.add_argument(
        "--http-port", type=int, default=env_number("PREDICTIVE_UNIT_HTTP_SERVICE_PORT", 9000)
    )
    p.add_argument(
        "--metrics-port", type=int, default=env_number("PREDICTIVE_UNIT_METRICS_SERVICE_PORT", None)
    )
    p.add_argument(
        "--metrics-path", default=os.environ.get("PREDICTIVE_UNIT_METRICS_ENDPOINT", "/prometheus")
    )
    p.add_argument("--no-metrics", action="store_true", help="no Prometheus endpoint")
    p.add_argument("--workers", type=int, default=env_number("GUNICORN_WORKERS", 1))
    p.add_argument("--threads", type=int, default=env_number("GUNICORN_THREADS", 1))
    add_inline_budget_option(p)
    p.add_argument("--parameters", default=os.environ.get("PREDICTIVE_UNIT_PARAMETERS", "[]"))
    p.add_argument("--logger-url", default=os.environ.get("SELDON_LOGGER_URL") or None)
    p.add_argument(
        "--logger-mode",
        default=os.environ.get("SELDON_LOGGER_MODE", "all"),
        choices=["all", "request", "response"],
    )
    p.add_argument("--keep-alive", type=int, default=30, help="idle keep-alive timeout, seconds")
    p.add_argument("--graceful-timeout", type=float, default=30.0)
    p.add_argument(
        "--load-timeout", type=float, default=600.0, help="seconds the workers may take in load()"
    )
    p.add_argument("--max-body", type=int, default=64 * 1024 * 1024, help="bytes")
    p.add_argument(
        "--log-level",
        default=os.environ.get("SELDON_LOG_LEVEL", "info").lower(),
        choices=["critical", "error", "warning", "info", "debug"],
    )
    p.add_argument(
        "--model-dir", default=None, help="folder to import the Predictor from (default: cwd)"
    )
    p.add_argument(
        "--model-name",
        default=os.environ.get("MLPIPE_MODEL_NAME", ""),
        help="the model's name in V2 paths (default: the name in its metadata)",
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.service_type.upper() != "MODEL":
        print(
            f"error: --service-type {args.service_type} is not supported (MODEL only)",
            file=sys.stderr,
        )
        return 2
    if args.workers < 1 or args.threads < 0 or not args.inline_budget_ms >= 0:
        print(
            "error: --workers must be >= 1, --threads and --inline-budget-ms >= 0", file=sys.stderr
        )
        return 2
    try:
        parameters = parse_parameters(args.parameters)
    except ParameterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=getattr(logging, args.log_level.upper()),
        format="%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s",
    )
    from .app import env_flag
    from .server import ServerOptions, serve

    opts = ServerOptions(
        predictor=args.interface_name,
        host=args.host,
        http_port=args.http_port,
        metrics_port=args.metrics_port,
        workers=args.workers,
        threads=args.threads,
        inline_budget=args.inline_budget_ms / 1000,
        parameters=parameters,
        metrics_path=args.metrics_path,
        logger_url=args.logger_url,
        logger_mode=args.logger_mode,
        log_level=args.log_level,
        keep_alive=args.keep_alive,
        graceful_timeout=args.graceful_timeout,
        load_timeout=args.load_timeout,
        max_body=args.max_body,
        metrics_enabled=not args.no_metrics,
        include_metrics_in_response=env_flag("INCLUDE_METRICS_IN_CLIENT_RESPONSE", True),
        search_path=args.model_dir,
        model_name=args.model_name,
    )
    return serve(opts)
