"""Kubernetes calls of the deploy, wait and rollout tasks, over HTTPS with the standard library.

Deploy is a server-side apply (``PATCH`` with ``application/apply-patch+yaml``, ``fieldManager=
mlpipe-lab``, ``force=true``) of each object: creating and re-deploying are the same call, and
fields other managers own (the operator's, an HPA's replicas) are left alone unless we set them.
Wait reads the main resource until its status says it is available, or fails after the timeout
with the resource's own conditions in the message.

No Kubernetes client library: these tasks run from the runner zipapp in any image with python3.
:class:`Api` speaks to the API server as the pod's service account (in-cluster: the mounted token,
re-read on every call as projected tokens rotate, and the cluster's CA) or as a kubeconfig's user
(bearer token or token file, client certificate, basic auth); exec and auth-provider plugins are
refused with a message, as they would need programs the image does not have.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import ssl
import tempfile
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .resources import Resource, main_resource, resource_of

FIELD_MANAGER = "mlpipe-lab"
APPLY_CONTENT_TYPE = "application/apply-patch+yaml"
SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
TIMEOUT = 60.0
MAX_BODY = 64 << 20  # an answer read into memory (a pod list of a big namespace fits)


class KubeError(RuntimeError):
    pass


class ApiStatus(KubeError):
    """The API server answered with an error status."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


class Api:
    """One API server and how to authenticate to it."""

    def __init__(
        self,
        server: str,
        *,
        token: str | None = None,
        token_file: str | None = None,
        basic: tuple[str, str] | None = None,
        context: ssl.SSLContext | None = None,
        timeout: float = TIMEOUT,
    ):
        self.server = urllib.parse.urlsplit(server.rstrip("/"))
        if self.server.scheme not in ("http", "https") or not self.server.hostname:
            raise KubeError(f"not an API server URL: {server!r}")
        self.token, self.token_file, self.basic = token, token_file, basic
        self.context, self.timeout = context, timeout

    def _authorization(self) -> str | None:
        token = self.token
        if self.token_file:
            try:
                token = Path(self.token_file).read_text().strip()
            except OSError as exc:
                raise KubeError(
                    f"cannot read the token {self.token_file}: {exc.strerror}"
                ) from None
        if token:
            return f"Bearer {token}"
        if self.basic:
            return "Basic " + base64.b64encode(":".join(self.basic).encode()).decode()
        return None

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        query: list[tuple[str, str]] | None = None,
        content_type: str | None = None,
    ) -> Any:
        """The answer's JSON; :class:`ApiStatus` for an error status."""
        target = (self.server.path or "") + path
        if query:
            target += "?" + urllib.parse.urlencode(query)
        headers = {"Accept": "application/json"}
        auth = self._authorization()
        if auth:
            headers["Authorization"] = auth
        data = None
        if body is not None:
            data = json.dumps(body).encode()  # JSON is YAML: fine for apply-patch+yaml
            headers["Content-Type"] = content_type or "application/json"
        host, port = self.server.hostname, self.server.port
        try:
            if self.server.scheme == "https":
                conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                    host, port, timeout=self.timeout, context=self.context
                )
            else:
                conn = http.client.HTTPConnection(host, port, timeout=self.timeout)
            try:
                conn.request(method, target, body=data, headers=headers)
                resp = conn.getresponse()
                raw = resp.read(MAX_BODY + 1)
            finally:
                conn.close()
        except (OSError, http.client.HTTPException) as exc:
            where = urllib.parse.urlunsplit(self.server)
            raise KubeError(
                f"{method} {path}: cannot reach the API server {where}: {exc}"
            ) from None
        if len(raw) > MAX_BODY:
            raise KubeError(f"{method} {path}: the answer is longer than {MAX_BODY} bytes")
        if resp.status >= 400:
            raise ApiStatus(_api_message(method, path, resp.status, resp.reason, raw), resp.status)
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            raise KubeError(f"{method} {path}: the API server's answer is not JSON") from None


def _api_message(method: str, path: str, status: int, reason: str, raw: bytes) -> str:
    detail = ""
    try:
        detail = json.loads(raw or b"{}").get("message") or ""
    except (AttributeError, ValueError):
        detail = raw.decode("utf-8", "replace")[:500]
    return f"{method} {path}: HTTP {status} {reason or ''}: {detail}".strip()


def _tls(ca_file: str | None = None, ca_data: str | None = None, insecure: bool = False):
    ctx = ssl.create_default_context(cafile=ca_file, cadata=ca_data)
    if insecure:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def in_cluster_api(env: dict[str, str] | None = None, folder: str = SERVICE_ACCOUNT_DIR) -> Api:
    """The pod's service account, as the kubelet mounts it."""
    env = os.environ if env is None else env
    host, port = env.get("KUBERNETES_SERVICE_HOST"), env.get("KUBERNETES_SERVICE_PORT")
    if not host or not port:
        raise KubeError(
            "not in a Kubernetes pod (KUBERNETES_SERVICE_HOST/PORT unset): give --kubeconfig"
        )
    token = Path(folder) / "token"
    if not token.is_file():
        raise KubeError(
            f"no service-account token at {token}: the pod's service account token is not "
            "mounted (automountServiceAccountToken: false?)"
        )
    host = f"[{host}]" if ":" in host else host
    ca = Path(folder) / "ca.crt"
    return Api(
        f"https://{host}:{port}",
        token_file=str(token),
        context=_tls(str(ca) if ca.is_file() else None),
    )


def _b64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text)
    except ValueError:
        raise KubeError(f"kubeconfig: {what} is not base64") from None


def _data_file(text: str, what: str) -> str:
    """A kubeconfig's *-data value (base64 PEM) as a private temporary file (ssl reads files);
    the caller removes it once loaded."""
    data = _b64(text, what)
    fd, path = tempfile.mkstemp(prefix="mlpipe-kube-", suffix=".pem")
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    return path


def kubeconfig_api(path: str, context: str | None = None) -> Api:
    """The API server and user of a kubeconfig's (current) context."""
    from yaml import YAMLError, safe_load  # vendored in the runner zipapp

    try:
        doc = safe_load(Path(path).read_text()) or {}
    except OSError as exc:
        raise KubeError(f"cannot read the kubeconfig {path}: {exc.strerror or exc}") from None
    except YAMLError as exc:
        # str(exc) quotes the broken line, which may be a token: the problem and where only
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "not YAML"
        raise KubeError(f"cannot read the kubeconfig {path}: {problem}{at}") from None
    base = Path(path).resolve().parent

    def named(section: str, name: str) -> dict:
        for entry in doc.get(section) or []:
            if isinstance(entry, dict) and entry.get("name") == name:
                return entry.get(section[:-1]) or {}
        raise KubeError(f"kubeconfig {path}: no {section[:-1]} named {name!r}")

    def rel(file: str) -> str:
        return str(base / file) if not os.path.isabs(file) else file

    ctx = named("contexts", context or doc.get("current-context") or "")
    cluster = named("clusters", ctx.get("cluster") or "")
    user = named("users", ctx.get("user")) if ctx.get("user") else {}
    if user.get("exec") or user.get("auth-provider"):
        raise KubeError(
            f"kubeconfig {path}: user {ctx.get('user')!r} authenticates with an "
            f"{'exec' if user.get('exec') else 'auth-provider'} plugin, which the serve tasks "
            "do not run: use a token or a client certificate (or the pod's service account)"
        )
    ca_file = cluster.get("certificate-authority")
    ca_data = cluster.get("certificate-authority-data")
    tls = None
    if str(cluster.get("server", "")).startswith("https"):
        try:
            tls = _tls(
                rel(ca_file) if ca_file else None,
                _b64(ca_data, "certificate-authority-data").decode("latin-1") if ca_data else None,
                bool(cluster.get("insecure-skip-tls-verify")),
            )
        except (OSError, ssl.SSLError) as exc:
            raise KubeError(f"kubeconfig {path}: the certificate authority: {exc}") from None
        cert = user.get("client-certificate") or (
            _data_file(user["client-certificate-data"], "client-certificate-data")
            if user.get("client-certificate-data")
            else None
        )
        key = user.get("client-key") or (
            _data_file(user["client-key-data"], "client-key-data")
            if user.get("client-key-data")
            else None
        )
        # inline key and certificate: on disk only while ssl loads them
        temporary = [
            f
            for f, inline in ((cert, "client-certificate"), (key, "client-key"))
            if f and not user.get(inline)
        ]
        try:
            if cert:
                tls.load_cert_chain(rel(cert), rel(key) if key else None)
        except (OSError, ssl.SSLError) as exc:
            raise KubeError(f"kubeconfig {path}: the client certificate: {exc}") from None
        finally:
            for name in temporary:
                os.unlink(name)
    basic = (user["username"], user.get("password") or "") if user.get("username") else None
    return Api(
        str(cluster.get("server") or ""),
        token=user.get("token"),
        token_file=rel(user["tokenFile"]) if user.get("tokenFile") else None,
        basic=basic,
        context=tls,
    )


def api_client(in_cluster: bool = True, kubeconfig: str | None = None, context: str | None = None):
    """The pod's service account (in-cluster) or a kubeconfig's user."""
    if in_cluster:
        return in_cluster_api()
    return kubeconfig_api(kubeconfig or "", context)


def _call(
    api: Api,
    method: str,
    path: str,
    body: Any = None,
    query: list | None = None,
    content_type: str | None = None,
) -> Any:
    return api.request(method, path, body=body, query=query, content_type=content_type)


def apply(api, obj: dict) -> dict:
    """Server-side apply of one object; returns what the API server answered."""
    res = resource_of(obj)
    # The client sends the dict as JSON (which is YAML) for this content type.
    return _call(
        api,
        "PATCH",
        res.path,
        body=obj,
        query=[("fieldManager", FIELD_MANAGER), ("force", "true")],
        content_type=APPLY_CONTENT_TYPE,
    )


def apply_all(api, objects: list[dict], log: Callable[[str], None] = print) -> None:
    for obj in objects:
        answer = apply(api, obj)
        generation = (answer or {}).get("metadata", {}).get("generation")
        log(
            f"applied {obj['kind']} {obj['metadata']['namespace']}/{obj['metadata']['name']}"
            + (f" (generation {generation})" if generation else "")
        )


def deploy(api, spec, release, log: Callable[[str], None] = print) -> list[dict]:
    """Apply a release. With a canary share in the spec and another version running, the new
    version gets that share next to it (the rollout step then promotes or rolls back)."""
    from .. import manifests

    stable = None
    if spec.canary:
        live = get(api, main_resource(spec))
        others = [
            (r, share)
            for r, share in manifests.releases_of(live)
            if share > 0 and r.version != release.version
        ]
        if others:
            stable = max(others, key=lambda pair: pair[1])[0]
            log(
                f"canary: version {release.version} gets {spec.canary_traffic_percent} % of the "
                f"traffic next to version {stable.version}"
            )
        else:
            log(f"canary: no other version runs, so version {release.version} takes all traffic")
    objects = manifests.objects(spec, release, stable=stable)
    apply_all(api, objects, log)
    return objects


def list_pods(api, namespace: str, selector: str) -> list[dict]:
    """``[{"name", "ip", "ready"}]`` of the pods matching a label selector."""
    path = f"/api/v1/namespaces/{namespace}/pods"
    answer = _call(api, "GET", path, query=[("labelSelector", selector)]) or {}
    out = []
    for pod in answer.get("items") or []:
        status = pod.get("status") or {}
        ready = any(
            c.get("type") == "Ready" and c.get("status") == "True"
            for c in status.get("conditions") or []
        )
        out.append({"name": pod["metadata"]["name"], "ip": status.get("podIP"), "ready": ready})
    return out


def get(api, res: Resource) -> dict | None:
    """The object, or None while it does not exist (404)."""
    try:
        return _call(api, "GET", res.path)
    except ApiStatus as exc:
        if exc.status == 404:
            return None
        raise


# -- readiness -------------------------------------------------------------------------------


def conditions_text(obj: dict | None) -> str:
    """``Ready=False (reason: message); ...`` plus a SeldonDeployment's state and description."""
    if obj is None:
        return "the resource does not exist"
    status = obj.get("status") or {}
    parts = []
    if status.get("state"):
        parts.append(
            f"state={status['state']}"
            + (f" ({status['description']})" if status.get("description") else "")
        )
    for c in status.get("conditions") or []:
        if not isinstance(c, dict):
            continue
        text = f"{c.get('type')}={c.get('status')}"
        why = ": ".join(str(c[k]) for k in ("reason", "message") if c.get(k))
        parts.append(text + (f" ({why})" if why else ""))
    return "; ".join(parts) or "no status yet"


def readiness(kind: str, obj: dict | None) -> str:
    """``ready``, ``failed`` or ``pending`` for the main resource of a target."""
    if obj is None:
        return "pending"
    status = obj.get("status") or {}
    conditions = {c.get("type"): c for c in status.get("conditions") or [] if isinstance(c, dict)}
    if kind == "SeldonDeployment":
        # The operator's state is the summary; conditions carry the details.
        if status.get("state") == "Available":
            return "ready"
        if status.get("state") == "Failed":
            return "failed"
        return "pending"
    generation = (obj.get("metadata") or {}).get("generation")
    observed = status.get("observedGeneration")
    ready = conditions.get("Ready") or {}
    if ready.get("status") == "True" and (
        observed is None or generation is None or observed >= generation
    ):
        return "ready"
    if kind == "Model" and (conditions.get("ModelReady") or {}).get("reason") == "ModelFailed":
        return "failed"
    if (
        kind == "InferenceService"
        and (status.get("modelStatus") or {}).get("transitionStatus") == "BlockedByFailedLoad"
    ):
        return "failed"
    return "pending"


def wait_ready(
    fetch: Callable[[], dict | None],
    kind: str,
    name: str,
    timeout: float,
    interval: float = 5.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    log: Callable[[str], None] = print,
) -> dict:
    """Poll ``fetch`` until the resource is ready; KubeError quoting the conditions otherwise."""
    deadline = clock() + timeout
    last_text = None
    while True:
        obj = fetch()
        state = readiness(kind, obj)
        text = conditions_text(obj)
        if text != last_text:
            log(f"{kind} {name}: {text}")
            last_text = text
        if state == "ready":
            return obj
        if state == "failed":
            raise KubeError(f"{kind} {name} failed: {text}")
        if clock() >= deadline:
            raise KubeError(f"{kind} {name} was not available after {timeout:g} s: {text}")
        sleep(min(interval, max(0.0, deadline - clock())))
