"""Command line of the serve tasks (the contract between generated DAGs and this package).

``python3 -m mlpipe_lab.serving.tasks STEP [options]``; STEP is one of:

``registry`` --store … --run-prefix KEY --state-key KEY --model NAME --alias A [--tracking-uri URI]
    exit 99 (Airflow: skipped) when the alias points to the version last recorded at the state key
``package`` --store … --run-prefix KEY --task-id ID --model NAME (--version N | --alias A)
    --target T [--tracking-uri URI] [--runtime mlpipe|seldon-core] [--image-registry R]
    [--image-repository REPO] [--image-tag TAG] [--smoke-request JSON] [--xcom-file PATH]
``deploy`` --spec JSON (--image REF | --storage-uri URI) [--version N] [--model-uri URI]
    [--kubeconfig FILE [--context NAME]] [--dry-run]
``wait`` --spec JSON [--timeout S] [--interval S] [--kubeconfig …]
``smoke`` --spec JSON --request JSON [--url URL] [--version N --state-key KEY --store …]
``rollout`` --spec JSON --image REF --version N --request JSON [--timeout S] [--kubeconfig …]
    [--state-key KEY --store …]: wait for the canary, watch it, promote or roll back (exit 1)
``check`` --store … --run-prefix KEY --package-task ID [--request JSON] [--state-key KEY]

The runner zipapp starts the same steps as ``RUNNER --kind serve STEP [options]``, where RUNNER
(the DAG's runner command) already carries the store options (``--contract``, ``--store`` …,
``--run-prefix``): every step accepts them, and the steps that need no store ignore them.

``--spec`` is the node's :class:`~mlpipe_lab.serving.spec.ServeSpec` as JSON. The store options are
the node runner's (``--store s3 --bucket …`` or ``--store local --root``); credentials come from
the environment only. Without ``--kubeconfig`` the pod's service account is used (in-cluster).
Exit status 0 on success, 1 when the step failed (the message says why), 2 for a usage error,
99 when the registry step finds nothing new to deploy.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from ...runner.contract import CONTRACT_VERSION, STORES
from ..spec import RUNTIMES, TARGETS, defaults

STEPS = ("registry", "package", "deploy", "wait", "smoke", "rollout", "check")
SKIP_EXIT_CODE = 99
RUNNER_KIND = "serve"  # RUNNER --kind serve STEP ...: the runner zipapp's entry to these steps


def from_runner(argv: Sequence[str]) -> list[str]:
    """``<store options> --kind serve STEP [options]`` (the runner's form) as ``STEP <store
    options> [options]``; any other command line as it is."""
    argv = list(argv)
    if "--kind" in argv:
        i = argv.index("--kind")
        if argv[i + 1 : i + 2] == [RUNNER_KIND] and len(argv) > i + 2:
            return [argv[i + 2], *argv[:i], *argv[i + 3 :]]
    return argv


def _store_options(p: argparse.ArgumentParser, required: bool = True) -> None:
    p.add_argument("--contract", type=int, default=CONTRACT_VERSION)
    p.add_argument("--store", choices=STORES, required=required)
    p.add_argument("--endpoint")
    p.add_argument("--bucket")
    p.add_argument("--region")
    p.add_argument("--prefix", default="")
    p.add_argument("--root")
    p.add_argument("--run-prefix", required=required)


def _kube_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--spec", required=True, help="the node's serving spec (JSON)")
    p.add_argument("--kubeconfig", help="use this kubeconfig instead of the pod's service account")
    p.add_argument("--context", help="kubeconfig context")


def _release_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--image", help="the built image (targets running our runtime)")
    p.add_argument("--storage-uri", help="the model files (targets whose MLServer loads them)")
    p.add_argument("--version", help="the model version being deployed")
    p.add_argument("--model-uri", help="models:/NAME/VERSION, recorded on the resource")


def _state_options(p: argparse.ArgumentParser) -> None:
    _store_options(p, required=False)
    p.add_argument("--state-key", help="record the deployed version here (registry trigger)")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m mlpipe_lab.serving.tasks",
        description="The tasks of a 'Serve MLflow model' pipeline node.",
    )
    sub = p.add_subparsers(dest="step", required=True)
    reg = sub.add_parser("registry", help="has the alias moved since the last deployment?")
    _store_options(reg)
    reg.add_argument("--state-key", required=True)
    reg.add_argument("--model", required=True)
    reg.add_argument("--alias", required=True)
    reg.add_argument("--tracking-uri")

    pkg = sub.add_parser("package", help="resolve, download and package the model")
    _store_options(pkg)
    pkg.add_argument("--task-id", required=True)
    pkg.add_argument("--model", required=True)
    which = pkg.add_mutually_exclusive_group(required=True)
    which.add_argument("--version")
    which.add_argument("--alias")
    pkg.add_argument("--target", choices=TARGETS, required=True)
    pkg.add_argument("--tracking-uri")
    pkg.add_argument("--runtime", choices=RUNTIMES, default=defaults()["serving_runtime"])
    pkg.add_argument("--image-registry")
    pkg.add_argument("--image-repository")
    pkg.add_argument("--image-tag")
    pkg.add_argument("--smoke-request")
    pkg.add_argument(
        "--xcom-file", help="also write the result here (Airflow: /airflow/xcom/return.json)"
    )

    dep = sub.add_parser("deploy", help="server-side apply the serving resources")
    _store_options(dep, required=False)  # the runner's command carries them: not used here
    _kube_options(dep)
    _release_options(dep)
    dep.add_argument("--dry-run", action="store_true", help="print the objects, apply nothing")

    wait = sub.add_parser("wait", help="wait until the model is available")
    _store_options(wait, required=False)  # as deploy
    _kube_options(wait)
    wait.add_argument("--timeout", type=float, default=defaults()["wait_timeout_seconds"])
    wait.add_argument("--interval", type=float, default=5.0)

    smoke = sub.add_parser("smoke", help="send one request to the in-cluster endpoint")
    smoke.add_argument("--spec", required=True)
    smoke.add_argument("--request", required=True, help="Seldon v1 or V2 request (JSON)")
    smoke.add_argument("--url", help="endpoint (default: the in-cluster service of the target)")
    smoke.add_argument("--attempts", type=int, default=10)
    smoke.add_argument("--version", help="the deployed version, recorded with --state-key")
    _state_options(smoke)

    roll = sub.add_parser("rollout", help="watch the canary, then promote it or roll back")
    _kube_options(roll)
    _release_options(roll)
    roll.add_argument("--request", required=True, help="the smoke-test request (JSON)")
    roll.add_argument(
        "--timeout",
        type=float,
        default=defaults()["wait_timeout_seconds"],
        help="for the canary to be ready",
    )
    _state_options(roll)

    check = sub.add_parser("check", help="serve the package on 127.0.0.1 and send one request")
    _store_options(check)
    check.add_argument("--package-task", required=True)
    check.add_argument("--request")
    check.add_argument("--state-key", help="record the checked version here (registry trigger)")
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
    args = parser.parse_args(from_runner(sys.argv[1:] if argv is None else argv))
    if getattr(args, "contract", CONTRACT_VERSION) != CONTRACT_VERSION:
        parser.error(
            f"this image speaks contract {CONTRACT_VERSION}, the DAG asks for {args.contract}"
        )
    if getattr(args, "state_key", None) and args.step in ("smoke", "rollout") and not args.store:
        parser.error("--state-key needs the store options")
    if getattr(args, "store", None) == "s3" and not args.bucket:
        parser.error("--store s3 needs --bucket")
    if getattr(args, "store", None) == "local" and not args.root:
        parser.error("--store local needs --root")
    from ...runner.errors import StoreError
    from ..manifests import ManifestError
    from ..spec import SpecError
    from .kube import KubeError
    from .package import PackageTaskError
    from .smoke import SmokeError

    try:
        return _run(parser, args)
    except (
        PackageTaskError,
        KubeError,
        SmokeError,
        SpecError,
        StoreError,
        ManifestError,
    ) as exc:
        print(f"{args.step} failed: {exc}", file=sys.stderr)
        return 1


def _store(args: argparse.Namespace):
    from ...runner.store import open_store

    return open_store(args)


def _release(args: argparse.Namespace):
    from ..manifests import Release

    return Release(
        version=args.version or None,
        image=args.image or None,
        storage_uri=args.storage_uri or None,
        model_uri=args.model_uri or None,
    )


def _api(args: argparse.Namespace):
    from . import kube

    return kube.api_client(
        in_cluster=not args.kubeconfig, kubeconfig=args.kubeconfig, context=args.context
    )


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    if args.step == "registry":
        from .state import alias_moved

        moved = alias_moved(_store(args), args.state_key, args.model, args.alias, args.tracking_uri)
        return 0 if moved else SKIP_EXIT_CODE
    if args.step == "package":
        from .package import run_package

        result = run_package(
            store=_store(args),
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
    if args.step == "check":
        from .smoke import run_check

        store = _store(args)
        run_check(
            store=store,
            run_prefix=args.run_prefix,
            package_task=args.package_task,
            request=_json_arg(parser, args.request, "--request"),
        )
        if args.state_key:
            from .package import resolved_key
            from .state import record

            resolved = store.get_json(resolved_key(args.run_prefix, args.package_task))
            record(store, args.state_key, resolved["model"], resolved["version"], "local")
        return 0

    from ..spec import ServeSpec

    spec = ServeSpec.from_json(args.spec)
    if args.step == "smoke":
        from . import resources
        from .smoke import smoke

        url, headers, protocol = resources.endpoint(spec)
        request = _json_arg(parser, args.request, "--request")
        if not isinstance(request, dict):
            parser.error("--request must be a JSON object")
        answer = smoke(args.url or url, request, protocol, headers, attempts=max(1, args.attempts))
        print(f"{spec.name} answered: {json.dumps(answer, sort_keys=True)[:2000]}")
        if args.state_key:
            from .state import record

            record(_store(args), args.state_key, spec.model_name, args.version, spec.target)
        return 0

    from . import kube

    if args.step == "deploy":
        release = _release(args)
        if args.dry_run:
            from .. import manifests

            print(json.dumps(manifests.objects(spec, release), indent=2, sort_keys=True))
            return 0
        kube.deploy(_api(args), spec, release)
        return 0
    if args.step == "rollout":
        from .canary import rollout

        request = _json_arg(parser, args.request, "--request")
        if not isinstance(request, dict):
            parser.error("--request must be a JSON object")
        verdict = rollout(_api(args), spec, _release(args), request, ready_timeout=args.timeout)
        if not verdict.promote:
            print(f"rollout failed: {verdict.summary()}", file=sys.stderr)
            return 1
        if args.state_key:
            from .state import record

            record(_store(args), args.state_key, spec.model_name, args.version, spec.target)
        return 0

    from .resources import main_resource

    res = main_resource(spec)
    api = _api(args)
    kube.wait_ready(
        lambda: kube.get(api, res),
        res.kind,
        f"{res.namespace}/{res.name}",
        args.timeout,
        args.interval,
    )
    print(f"{res.kind} {res.namespace}/{res.name} is available")
    return 0
