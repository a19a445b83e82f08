"""Command line of the serve tasks (the contract between generated DAGs and this package).

``python3 -m mlpipe_lab.serving.tasks STEP [options]``; STEP is one of:

``package`` --store … --run-prefix KEY --task-id ID --model NAME (--version N | --alias A)
    --target T [--tracking-uri URI] [--runtime mlpipe|seldon-core] [--image-registry R]
    [--image-repository REPO] [--image-tag TAG] [--smoke-request JSON] [--xcom-file PATH]
``deploy`` --spec JSON [--image REF] [--storage-uri URI] [--kubeconfig FILE [--context NAME]]
``wait`` --spec JSON [--timeout S] [--interval S] [--kubeconfig FILE [--context NAME]]
``smoke`` --spec JSON --request JSON [--url URL]
``check`` --store … --run-prefix KEY --package-task ID [--request JSON]

The store options are the node runner's (``--store s3 --bucket …`` or ``--store local --root``);
credentials come from the environment only. Without ``--kubeconfig`` the pod's service account
is used (in-cluster). Exit status 0 on success, 1 when the step failed (the message says why),
2 for a usage error.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from ...runner.contract import CONTRACT_VERSION, STORES
from ..package import RUNTIMES
from .spec import TARGETS

STEPS = ("package", "deploy", "wait", "smoke", "check")


def _store_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--contract", type=int, default=CONTRACT_VERSION)
    p.add_argument("--store", choices=STORES, required=True)
    p.add_argument("--endpoint")
    p.add_argument("--bucket")
    p.add_argument("--region")
    p.add_argument("--prefix", default="")
    p.add_argument("--root")
    p.add_argument("--run-prefix", required=True)


def _kube_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--spec", required=True, help="the node's deployment settings (JSON)")
    p.add_argument("--kubeconfig", help="use this kubeconfig instead of the pod's service account")
    p.add_argument("--context", help="kubeconfig context")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m mlpipe_lab.serving.tasks",
        description="The tasks of a 'Serve MLflow model' pipeline node.",
    )
    sub = p.add_subparsers(dest="step", required=True)
    pkg = sub.add_parser("package", help="resolve, download and package the model")
    _store_options(pkg)
    pkg.add_argument("--task-id", required=True)
    pkg.add_argument("--model", required=True)
    which = pkg.add_mutually_exclusive_group(required=True)
    which.add_argument("--version")
    which.add_argument("--alias")
    pkg.add_argument("--target", choices=TARGETS, default="seldon-v1")
    pkg.add_argument("--tracking-uri")
    pkg.add_argument("--runtime", choices=RUNTIMES, default="mlpipe")
    pkg.add_argument("--image-registry")
    pkg.add_argument("--image-repository")
    pkg.add_argument("--image-tag")
    pkg.add_argument("--smoke-request")
    pkg.add_argument(
        "--xcom-file", help="also write the result here (Airflow: /airflow/xcom/return.json)"
    )

    dep = sub.add_parser("deploy", help="server-side apply the serving resources")
    _kube_options(dep)
    dep.add_argument("--image")
    dep.add_argument("--storage-uri")
    dep.add_argument("--dry-run", action="store_true", help="print the objects, apply nothing")

    wait = sub.add_parser("wait", help="wait until the model is available")
    _kube_options(wait)
    wait.add_argument("--timeout", type=float, default=600.0)
    wait.add_argument("--interval", type=float, default=5.0)

    smoke = sub.add_parser("smoke", help="send one request to the in-cluster endpoint")
    smoke.add_argument("--spec", required=True)
    smoke.add_argument("--request", required=True, help="Seldon v1 request (JSON)")
    smoke.add_argument("--url", help="endpoint (default: the in-cluster service of the target)")
    smoke.add_argument("--attempts", type=int, default=10)

    check = sub.add_parser("check", help="serve the package on 127.0.0.1 and send one request")
    _store_options(check)
    check.add_argument("--package-task", required=True)
    check.add_argument("--request")
    return p


def _json_arg(parser: argparse.ArgumentParser, text: str | None, what: str):
    if text is None or text == "":
        return None
    try:
        return json.loads(text)
    except ValueError as exc:
        parser.error(f"{what} is not JSON: {exc}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "contract", CONTRACT_VERSION) != CONTRACT_VERSION:
        parser.error(
            f"this image speaks contract {CONTRACT_VERSION}, the DAG asks for {args.contract}"
        )
    if getattr(args, "store", None) == "s3" and not args.bucket:
        parser.error("--store s3 needs --bucket")
    if getattr(args, "store", None) == "local" and not args.root:
        parser.error("--store local needs --root")
    from ...runner.errors import StoreError
    from .kube import KubeError
    from .package import PackageTaskError
    from .smoke import SmokeError
    from .spec import SpecError

    try:
        return _run(parser, args)
    except (PackageTaskError, KubeError, SmokeError, SpecError, StoreError) as exc:
        print(f"{args.step} failed: {exc}", file=sys.stderr)
        return 1


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    if args.step in ("package", "check"):
        from ...runner.store import open_store

        store = open_store(args)
        if args.step == "package":
            from .package import run_package

            result = run_package(
                store=store,
                run_prefix=args.run_prefix,
                task_id=args.task_id,
                name=args.model,
                version=args.version,
                alias=args.alias,
                target=args.target,
                tracking_uri=args.tracking_uri,
                runtime=args.runtime,
                image_registry=args.image_registry,
                image_repository=args.image_repository,
                image_tag=args.image_tag,
                smoke_request=args.smoke_request,
            )
            if args.xcom_file:
                path = Path(args.xcom_file)
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(json.dumps(result, sort_keys=True))
            print(json.dumps(result, sort_keys=True))
            return 0
        from .smoke import run_check

        run_check(
            store=store,
            run_prefix=args.run_prefix,
            package_task=args.package_task,
            request=_json_arg(parser, args.request, "--request"),
        )
        return 0

    from . import spec as specs

    spec = specs.load(args.spec)
    if args.step == "smoke":
        from .smoke import smoke

        url, headers, protocol = specs.endpoint(spec)
        request = _json_arg(parser, args.request, "--request")
        if not isinstance(request, dict):
            parser.error("--request must be a JSON object")
        answer = smoke(args.url or url, request, protocol, headers, attempts=max(1, args.attempts))
        print(f"{spec['name']} answered: {json.dumps(answer, sort_keys=True)[:2000]}")
        return 0

    from . import kube

    if args.step == "deploy":
        objects = specs.objects(spec, args.image or None, args.storage_uri or None)
        if args.dry_run:
            print(json.dumps(objects, indent=2, sort_keys=True))
            return 0
        api = kube.api_client(
            in_cluster=not args.kubeconfig, kubeconfig=args.kubeconfig, context=args.context
        )
        for obj in objects:
            answer = kube.apply(api, obj)
            generation = (answer or {}).get("metadata", {}).get("generation")
            print(
                f"applied {obj['kind']} {obj['metadata']['namespace']}/{obj['metadata']['name']}"
                + (f" (generation {generation})" if generation else "")
            )
        return 0

    res = specs.main_resource(spec)
    api = kube.api_client(
        in_cluster=not args.kubeconfig, kubeconfig=args.kubeconfig, context=args.context
    )
    kube.wait_ready(
        lambda: kube.get(api, res),
        res.kind,
        f"{res.namespace}/{res.name}",
        args.timeout,
        args.interval,
    )
    print(f"{res.kind} {res.namespace}/{res.name} is available")
    return 0
