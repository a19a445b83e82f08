"""The settings of a "Serve MLflow model" node: one typed spec, one vocabulary, one set of defaults.

The node's properties (schema ``$defs/serve_parameters`` in ``schemas/node-properties.json``), the
``--spec`` JSON the serve tasks receive and the manifests all speak this vocabulary: the field
names are the property names. Defaults are the schema's ``default`` values, read from the schema
here, so the form, validation, the compiler and the tasks cannot disagree on them.

- :meth:`ServeSpec.from_properties`: a node's (merged) properties, with the runtime
  configuration's fallbacks, to a spec; never raises (bad values are :func:`problems`);
- :func:`problems`: every check of a serve node beyond its schema, located by field;
- :meth:`ServeSpec.to_json` / :meth:`ServeSpec.from_json`: the ``--spec`` text of the tasks;
- :meth:`ServeSpec.steps`: the tasks a node expands into (the plan's serve steps).

Nothing here is a credential: Secrets are referenced by name, and URLs with credentials are
refused.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass, field, fields
from functools import cache
from typing import Any

# pipeline.problems' severities, not imported from it: the serve tasks run from the runner zipapp,
# which carries the serving package but not the pipeline package (a test keeps them equal)
ERROR = "error"
WARNING = "warning"

# Targets and what they need. Our runtime's image is built (Kaniko) for seldon-v1 and kserve;
# kserve-mlserver and seldon-v2 have MLServer load the model files from their storage URI.
TARGETS = ("seldon-v1", "kserve", "kserve-mlserver", "seldon-v2")
IMAGE_TARGETS = ("seldon-v1", "kserve")
STORAGE_TARGETS = ("kserve-mlserver", "seldon-v2")
CANARY_TARGETS = ("seldon-v1", "kserve")
PROTOCOLS = {"seldon-v1": "seldon", "kserve": "v2", "kserve-mlserver": "v2", "seldon-v2": "v2"}
RUNTIMES = ("mlpipe", "seldon-core")
LOGGER_MODES = ("all", "request", "response")

# The tasks a node becomes, in order (see steps()). Without Kubernetes (the local runtime or
# local-worker mode) the model is packaged and the package served on 127.0.0.1 for one request.
STEPS = ("registry", "package", "build", "deploy", "wait", "smoke", "rollout")
LOCAL_STEPS = ("registry", "package", "check")

SCHEMA_POINTER = ("$defs", "serve_parameters")
FIELD_PATH = "component_parameters/"
_CREDENTIALS_IN_URL = re.compile(r"^[a-z][a-z0-9+.-]*://[^/@\s]*@", re.IGNORECASE)


class SpecError(ValueError):
    """A ``--spec`` that cannot be used (not JSON, unknown or missing settings)."""


@cache
def schema_properties() -> dict[str, dict[str, Any]]:
    from ..schemas import load_schema

    node = load_schema("node-properties")
    for key in SCHEMA_POINTER:
        node = node[key]
    return node["properties"]


@cache
def defaults() -> dict[str, Any]:
    """Every serve property's default, from the schema: the one place defaults are stated."""
    return {k: v["default"] for k, v in schema_properties().items() if "default" in v}


def _default(name: str) -> Any:
    return field(default_factory=lambda: defaults().get(name))


@dataclass(frozen=True)
class ServeSpec:
    """A serve node's settings; field names are the node property names (see the schema)."""

    model_name: str
    name: str = ""  # the deployed resource's name: deployment_name, else from model_name
    namespace: str = "default"
    model_version: str | None = None
    model_alias: str | None = None
    tracking_uri: str | None = None
    target: str = _default("target")
    # image (IMAGE_TARGETS)
    serving_runtime: str = _default("serving_runtime")
    image_registry: str | None = None
    image_repository: str | None = None
    image_tag: str | None = None
    registry_secret: str | None = None
    # pods (Kubernetes quantities)
    replicas: int = _default("replicas")
    cpu: str = _default("cpu")
    memory: str = _default("memory")
    cpu_limit: str | None = None
    memory_limit: str | None = _default("memory_limit")
    min_replicas: int | None = None
    max_replicas: int | None = None
    cpu_target_percent: int = _default("cpu_target_percent")
    # traffic and logging
    logger_url: str | None = None
    logger_mode: str = _default("logger_mode")
    ingress_host: str | None = None
    ingress_class: str = _default("ingress_class")
    # the tasks
    service_account: str | None = None
    wait_timeout_seconds: int = _default("wait_timeout_seconds")
    smoke_request: str | None = None
    # canary rollout (CANARY_TARGETS): None = the new version takes all traffic at once
    canary_traffic_percent: int | None = None
    canary_watch_seconds: int = _default("canary_watch_seconds")
    canary_max_error_percent: float = _default("canary_max_error_percent")
    canary_max_p99_ms: float = _default("canary_max_p99_ms")
    canary_min_requests: int = _default("canary_min_requests")
    # redeploy when the alias moves: the DAG's first step checks the registry
    deploy_on_alias_change: bool = _default("deploy_on_alias_change")

    # -- derived facts ------------------------------------------------------------------------

    @property
    def protocol(self) -> str:
        """``seldon`` or ``v2``: what the deployed endpoint speaks."""
        return PROTOCOLS[self.target]

    @property
    def builds_image(self) -> bool:
        return self.target in IMAGE_TARGETS

    @property
    def canary(self) -> bool:
        return bool(self.canary_traffic_percent) and self.target in CANARY_TARGETS

    @property
    def registry_check(self) -> bool:
        return bool(self.deploy_on_alias_change and self.model_alias)

    @property
    def workers(self) -> int:
        """Runtime worker processes in a pod: one per started core of the CPU request."""
        from .manifests import workers_for_cpu

        return workers_for_cpu(self.cpu)

    def steps(self, local: bool = False) -> tuple[str, ...]:
        """The node's tasks in order. ``local``: no Kubernetes (package, then a local check)."""
        wanted = {"package"}
        if self.registry_check:
            wanted.add("registry")
        if local:
            wanted.add("check")
            return tuple(s for s in LOCAL_STEPS if s in wanted)
        wanted.add("deploy")
        if self.builds_image:
            wanted.add("build")
        # A canary is watched, smoke-tested, then promoted or rolled back by one task: a failed
        # wait or smoke test must roll back too, not leave the canary holding its traffic share.
        wanted.update(("rollout",) if self.canary else ("wait", "smoke"))
        return tuple(s for s in STEPS if s in wanted)

    # -- the tasks' --spec --------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """The settings the tasks need, without what they never read and without defaults."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in ("smoke_request", "tracking_uri") or value is None:
                continue
            if f.name in ("model_name", "name", "namespace", "target") or value != _field_default(
                f
            ):
                out[f.name] = value
        return out

    def to_text(self) -> str:
        return json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text_or_dict: str | dict[str, Any]) -> ServeSpec:
        """The spec of a ``--spec`` argument; SpecError names what is wrong."""
        try:
            data = json.loads(text_or_dict) if isinstance(text_or_dict, str) else text_or_dict
        except ValueError as exc:
            raise SpecError(f"--spec is not JSON: {exc}") from None
        if not isinstance(data, dict):
            raise SpecError("--spec must be a JSON object")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise SpecError(
                f"--spec has settings this mlpipe-lab does not know: {', '.join(unknown)} "
                "(is the task image older than the extension that compiled the DAG?)"
            )
        if "model_name" not in data and isinstance(data.get("name"), str):
            data = {**data, "model_name": data["name"]}  # DAGs compiled before the typed spec
        if data.get("target") not in TARGETS:
            raise SpecError(f"--spec needs a target ({', '.join(TARGETS)})")
        for key in ("model_name", "name", "namespace"):
            if not isinstance(data.get(key), str) or not data[key]:
                raise SpecError(f"--spec needs {key}")
        return cls(**data)

    def replace(self, **changes: Any) -> ServeSpec:
        return dataclasses.replace(self, **changes)

    # -- from the node ------------------------------------------------------------------------

    @classmethod
    def from_properties(
        cls,
        props: dict[str, Any],
        *,
        namespace: str | None = None,
        tracking_uri: str | None = None,
    ) -> ServeSpec:
        """A node's merged properties, with the runtime configuration's namespace and tracking
        URI as fallbacks. Values of the wrong type fall back to the default (the schema check
        reports them); nothing here raises."""
        kw: dict[str, Any] = {}
        for f in fields(cls):
            if f.name in ("name", "namespace", "tracking_uri", "model_name"):
                continue
            value = props.get(f.name)
            if value is None or value == "":
                continue
            converted = _convert(f.name, value)
            if converted is not None:
                kw[f.name] = converted
        model_name = props.get("model_name") if isinstance(props.get("model_name"), str) else ""
        kw["target"] = kw.get("target") if kw.get("target") in TARGETS else defaults()["target"]
        return cls(
            model_name=model_name,
            name=deployment_name(props),
            namespace=_text(props.get("namespace")) or namespace or "default",
            tracking_uri=_text(props.get("tracking_uri")) or tracking_uri or None,
            **kw,
        )


def _field_default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        return f.default_factory()  # type: ignore[misc]
    return dataclasses.MISSING


_INTS = {
    "replicas",
    "min_replicas",
    "max_replicas",
    "cpu_target_percent",
    "wait_timeout_seconds",
    "canary_traffic_percent",
    "canary_watch_seconds",
    "canary_min_requests",
}
_FLOATS = {"canary_max_error_percent", "canary_max_p99_ms"}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _convert(name: str, value: Any) -> Any:
    if name in _INTS:
        return value if isinstance(value, int) and not isinstance(value, bool) else None
    if name in _FLOATS:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return float(value) if ok else None
    if name == "deploy_on_alias_change":
        return value if isinstance(value, bool) else None
    if name in ("cpu", "cpu_limit", "memory", "memory_limit"):
        # Elyra's numbers (cores, gigabytes) as Kubernetes quantities, as for every other node
        from ..compiler.kpo import cpu_quantity, memory_quantity

        return (cpu_quantity if name.startswith("cpu") else memory_quantity)(value)
    if name == "model_version" and isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value if isinstance(value, str) else None


def deployment_name(props: dict[str, Any]) -> str:
    """The deployment name of a serve node: given, or the model name made a DNS label."""
    given = props.get("deployment_name")
    if isinstance(given, str) and given:
        return given
    name = props.get("model_name") if isinstance(props.get("model_name"), str) else ""
    label = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")
    label = re.sub(r"^[^a-z]+", "", label)[:45].rstrip("-")
    return label


# -- checks ------------------------------------------------------------------------------------


def problems(props: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """Checks of a serve node beyond its schema: ``(code, message, field, severity)``."""
    out: list[tuple[str, str, str, str]] = []

    def add(message: str, field: str, severity: str = ERROR, code: str = "serve") -> None:
        out.append((code, message, field, severity))

    spec = ServeSpec.from_properties(props)
    version, alias = props.get("model_version"), props.get("model_alias")
    if version and alias:
        add("Give a model version or a model alias, not both.", "model_alias")
    elif not version and not alias:
        add("Choose the model version or alias to serve.", "model_version")
    if spec.model_name and not spec.name:
        add(
            f"Model name '{spec.model_name}' gives no usable Kubernetes name; set a deployment "
            "name (lower-case letters, digits and -).",
            "deployment_name",
        )
    target = spec.target
    if spec.builds_image:
        if not props.get("image_repository"):
            hint = (
                " (or choose target kserve-mlserver, where KServe's MLServer loads the model "
                "files and no image is built)"
                if target == "kserve"
                else ""
            )
            add(
                f"Target {target} runs our serving runtime in an image built in the cluster: set "
                f"the image repository it is pushed to{hint}.",
                "image_repository",
            )
        if not props.get("registry_secret"):
            add(
                f"Target {target} pushes and pulls the image with a registry login: name the "
                "Kubernetes Secret (type kubernetes.io/dockerconfigjson) that holds it.",
                "registry_secret",
            )
    else:  # MLServer loads the files: nothing of ours runs in the pod
        for name in (*IMAGE_ONLY_FIELDS, "logger_url"):
            if props.get(name):
                add(
                    f"'{name}' applies to targets {' and '.join(IMAGE_TARGETS)} only; target "
                    f"{target} ignores it.",
                    name,
                    WARNING,
                )
    if target != "seldon-v1" and props.get("ingress_host"):
        add(
            f"'ingress_host' applies to target seldon-v1 only; target {target} ignores it.",
            "ingress_host",
            WARNING,
        )
    for name in ("tracking_uri", "logger_url"):
        value = props.get(name)
        if isinstance(value, str) and _CREDENTIALS_IN_URL.match(value):
            add(
                f"The {name.replace('_', ' ')} contains credentials, which would be written into "
                "the DAG file; remove them and give them as a Kubernetes secret.",
                name,
                code="plain-secret",
            )
    low, high = props.get("min_replicas"), props.get("max_replicas")
    if isinstance(low, int) and isinstance(high, int) and low > high:
        add(f"Autoscaling: min replicas ({low}) is above max replicas ({high}).", "min_replicas")
    if isinstance(low, int) and high is None:
        add(
            "Autoscaling needs max replicas; min replicas alone does nothing.",
            "max_replicas",
            WARNING,
        )
    request = props.get("smoke_request")
    if isinstance(request, str) and request.strip():
        try:
            parsed = json.loads(request)
        except ValueError as exc:
            parsed = None
            add(f"The smoke-test request is not JSON: {exc}.", "smoke_request")
        if parsed is not None and not isinstance(parsed, dict):
            add(
                "The smoke-test request must be a JSON object, e.g. "
                '{"data": {"ndarray": [[2, 1]]}} or {"inputs": [...]} (Open Inference Protocol).',
                "smoke_request",
            )
    if props.get("canary_traffic_percent") and target not in CANARY_TARGETS:
        add(
            f"Canary rollouts need target {' or '.join(CANARY_TARGETS)}; target {target} rolls "
            "the new version out at once.",
            "canary_traffic_percent",
            WARNING,
        )
    if props.get("deploy_on_alias_change") and not alias:
        add(
            "Deploying when the alias moves needs a model alias (e.g. champion) to watch.",
            "deploy_on_alias_change",
        )
    out.extend(manifest_problems(spec))
    return out


# Targets that run an image built from the model (Kaniko) and read these node settings.
IMAGE_ONLY_FIELDS = (
    "image_registry",
    "image_repository",
    "image_tag",
    "registry_secret",
    "serving_runtime",
)


def manifest_problems(spec: ServeSpec) -> list[tuple[str, str, str, str]]:
    """The deployment built once with a placeholder image and storage URI: what the cluster
    would refuse (names too long, bad quantities, ...)."""
    if not spec.model_name or not spec.name:
        return []
    from . import manifests

    try:
        manifests.objects(spec, image="registry.invalid/model:1", storage_uri="s3://bucket/model")
    except manifests.ManifestError as exc:
        return [("serve", f"The deployment would be invalid: {exc}", "deployment_name", ERROR)]
    return []
