"""``mlpipe serve``: serve an MLflow model locally, write its image build context, or print its
Kubernetes manifests. Entry point: :func:`serve_main` (``python -m mlpipe_lab.serving.cli``).

    serve_main(["models:/mlflowdemo@champion"])                    # serve on 127.0.0.1:9000
    serve_main(["models:/mlflowdemo/1", "--context", "build/"])   # build context only
    serve_main(["models:/mlflowdemo/1", "--manifests", "--image", "reg/mlflowdemo:1"])

Exit codes: 0 success, 1 the model cannot be resolved/packaged, 2 bad usage.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from .runtime.cli import add_inline_budget_option
from .spec import RUNTIMES, STORAGE_TARGETS, TARGETS, defaults


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="mlpipe serve", description=__doc__.split("\n\n")[0])
    p.add_argument(
        "model", help="models:/NAME/VERSION, models:/NAME@ALIAS, runs:/… or a model folder"
    )
    p.add_argument(
        "--tracking-uri", default=None, help="MLflow tracking URI (default: MLFLOW_TRACKING_URI)"
    )
    p.add_argument(
        "--runtime",
        choices=RUNTIMES,
        default=defaults()["serving_runtime"],
        help="serving runtime in the image (local serving always uses ours)",
    )
    p.add_argument("--context", metavar="DIR", help="write the image build context to DIR and stop")
    p.add_argument(
        "--manifests",
        action="store_true",
        help="print the target's Kubernetes objects as YAML and stop",
    )
    p.add_argument("--target", choices=TARGETS, default=defaults()["target"])
    p.add_argument("--image", help="image for --manifests (registry/repository:tag)")
    p.add_argument("--name", help="deployment name (default: the registered model's name)")
    p.add_argument("--namespace")
    p.add_argument("--ingress-host")
    p.add_argument(
        "--image-pull-secret", help="name of a docker-registry Secret (a reference only)"
    )
    p.add_argument(
        "--cpu", default=defaults()["cpu"], help="CPU request (workers in the image follow it)"
    )
    p.add_argument("--host", default="127.0.0.1", help="local serving address")
    p.add_argument("--http-port", type=int, default=9000)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--threads", type=int, default=1)
    add_inline_budget_option(p)
    p.add_argument("--logger-url")
    p.add_argument("--json", action="store_true", help="machine-readable output for --context")
    return p


def serve_main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from . import manifests, package, registry

    try:
        resolved = registry.resolve(args.model, args.tracking_uri)
    except registry.RegistryError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    name = args.name or resolved.name or Path(args.model.rstrip("/")).name
    name = name.lower().replace("_", "-")

    if args.manifests:
        if not args.image and args.target not in STORAGE_TARGETS:
            print("error: --manifests needs --image", file=sys.stderr)
            return 2
        from .spec import ServeSpec

        try:
            spec = ServeSpec(
                model_name=resolved.name or name,
                name=name,
                namespace=args.namespace or "default",
                target=args.target,
                cpu=args.cpu,
                ingress_host=args.ingress_host,
                registry_secret=args.image_pull_secret,
                logger_url=args.logger_url,
            )
            release = manifests.Release(
                version=resolved.version,
                image=args.image,
                storage_uri=resolved.download_uri if args.target in STORAGE_TARGETS else None,
                model_uri=args.model if args.model.startswith("models:/") else None,
            )
            sys.stdout.write(manifests.to_yaml(manifests.objects(spec, release)))
        except manifests.ManifestError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        return 0

    workdir = Path(tempfile.mkdtemp(prefix="mlpipe-serve-"))
    try:
        model_dir = registry.download(args.model, workdir / "download", args.tracking_uri)
        out = Path(args.context) if args.context else workdir / "context"
        ctx = package.build_context(
            model_dir,
            out,
            runtime=args.runtime if args.context else package.OUR_RUNTIME,
            model_uri=args.model,
            model_name=name,
            model_version=resolved.version,
            workers=manifests.workers_for_cpu(args.cpu),
        )
    except (registry.RegistryError, package.PackageError, manifests.ManifestError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.context:
        info = {
            "context": str(ctx.path),
            "runtime": ctx.runtime,
            "model": args.model,
            "version": resolved.version,
            "download_uri": resolved.download_uri,
            "requirements": ctx.requirements,
            "notes": ctx.notes,
        }
        if args.json:
            print(json.dumps(info, indent=2))
        else:
            print(f"build context for {args.model} written to {ctx.path} ({ctx.runtime} runtime)")
            for note in ctx.notes:
                print(f"  note: {note}")
        return 0

    from .runtime.server import ServerOptions, serve

    os.environ["MODEL_DIR"] = str(ctx.path / "model")
    opts = ServerOptions(
        predictor="Predictor",
        host=args.host,
        http_port=args.http_port,
        workers=args.workers,
        threads=args.threads,
        inline_budget=max(0.0, args.inline_budget_ms) / 1000,
        logger_url=args.logger_url,
        search_path=str(ctx.path),
    )
    print(
        f"serving {args.model} (version {resolved.version or '-'}) from {ctx.path}", file=sys.stderr
    )
    return serve(opts)


if __name__ == "__main__":
    sys.exit(serve_main())
