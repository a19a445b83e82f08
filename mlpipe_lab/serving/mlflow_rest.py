"""The MLflow registry and artifacts over MLflow's REST API, standard library only.

The serve node's tasks resolve ``models:/NAME/VERSION`` and ``models:/NAME@ALIAS`` and download the
model from the runner zipapp, in images that have only python3: with an ``http(s)://`` tracking
URI they use the tracking server's REST API (``/api/2.0/mlflow/…``) and its artifact proxy
(``/api/2.0/mlflow-artifacts/…``, what ``mlflow server`` serves by default), or read a
``file://`` artifact location directly. Credentials as MLflow's client reads them:
``MLFLOW_TRACKING_TOKEN`` (bearer) or ``MLFLOW_TRACKING_USERNAME``/``MLFLOW_TRACKING_PASSWORD``
(basic); ``MLFLOW_TRACKING_INSECURE_TLS=true``, ``MLFLOW_TRACKING_SERVER_CERT_PATH`` for TLS.
An ``s3://`` artifact location (a server with ``--no-serve-artifacts``) is read with the runner's
own S3 client, as MLflow's client would: ``MLFLOW_S3_ENDPOINT_URL`` (else ``AWS_ENDPOINT_URL``)
and the AWS credentials of the environment. Other stores (``gs://``, ``wasbs://`` …) need the
mlflow client; :mod:`.registry` falls back to it when it is installed.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import shutil
import ssl
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

API = "/api/2.0/mlflow"
ARTIFACTS_API = "/api/2.0/mlflow-artifacts/artifacts"
TIMEOUT = 60.0
MAX_JSON = 16 << 20  # a registry or listing answer; more is no MLflow answer


class RestError(ValueError):
    """An answer that is not what was asked for; ``code`` is MLflow's error code, if any."""

    def __init__(self, message: str, code: str = ""):
        super().__init__(message)
        self.message, self.code = message, code


class UnsupportedLocation(RestError):
    """An artifact location this client does not read (the mlflow client may)."""


def is_rest(tracking_uri: str | None) -> bool:
    return bool(tracking_uri) and urllib.parse.urlsplit(tracking_uri).scheme in ("http", "https")


def _context() -> ssl.SSLContext | None:
    if os.environ.get("MLFLOW_TRACKING_INSECURE_TLS", "").lower() == "true":
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    cert = os.environ.get("MLFLOW_TRACKING_SERVER_CERT_PATH")
    return ssl.create_default_context(cafile=cert) if cert else None


def _headers(userinfo: tuple[str, str] | None = None) -> dict[str, str]:
    """The environment's credentials, else those of the tracking URI (user:password@)."""
    token = os.environ.get("MLFLOW_TRACKING_TOKEN")
    if token:
        return {"Authorization": f"Bearer {token}"}
    user = os.environ.get("MLFLOW_TRACKING_USERNAME")
    pair = (user, os.environ.get("MLFLOW_TRACKING_PASSWORD", "")) if user else userinfo
    if pair:
        raw = ":".join(pair).encode()
        return {"Authorization": "Basic " + base64.b64encode(raw).decode()}
    return {}


class _SameOriginAuth(urllib.request.HTTPRedirectHandler):
    """urllib sends every header to wherever a redirect points: the credentials go only to the
    scheme, host and port they were given for."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None:
            old, to = urllib.parse.urlsplit(req.full_url), urllib.parse.urlsplit(new.full_url)
            if (old.scheme, old.netloc) != (to.scheme, to.netloc):
                new.remove_header("Authorization")
        return new


class Client:
    def __init__(self, tracking_uri: str, timeout: float = TIMEOUT, credentials: bool = True):
        # user:password@ in the URI is MLflow's basic auth too; kept out of self.base, which
        # messages show
        parts = urllib.parse.urlsplit(tracking_uri.rstrip("/"))
        self.userinfo: tuple[str, str] | None = None
        if parts.username is not None:
            self.userinfo = (
                urllib.parse.unquote(parts.username),
                urllib.parse.unquote(parts.password or ""),
            )
            parts = parts._replace(netloc=parts.netloc.rpartition("@")[2])
        self.base = urllib.parse.urlunsplit(parts)
        self.timeout = timeout
        self.credentials = credentials  # False: a server other than the tracking server

    def _open(self, path: str, query: dict[str, str] | None = None):
        url = self.base + path + ("?" + urllib.parse.urlencode(query) if query else "")
        headers = {"Accept": "application/json"}
        if self.credentials:
            headers.update(_headers(self.userinfo))
        req = urllib.request.Request(url, headers=headers)
        opener = urllib.request.build_opener(
            urllib.request.HTTPSHandler(context=_context()), _SameOriginAuth
        )
        try:
            return opener.open(req, timeout=self.timeout)
        except urllib.error.HTTPError as exc:
            body = exc.read().decode("utf-8", "replace")
            try:
                doc = json.loads(body)
            except ValueError:
                doc = {}
            if isinstance(doc, dict) and doc.get("message"):
                raise RestError(str(doc["message"]), str(doc.get("error_code") or "")) from None
            raise RestError(f"{url}: HTTP {exc.code} {body[:300]}".strip()) from None
        except (OSError, urllib.error.URLError, http.client.HTTPException) as exc:
            reason = getattr(exc, "reason", exc)
            raise RestError(
                f"cannot reach the MLflow tracking server {self.base}: {reason}"
            ) from None

    def _read(self, resp: Any, what: str) -> bytes:
        """A JSON answer's body: bounded, and a broken connection a RestError line."""
        try:
            data = resp.read(MAX_JSON + 1)
            left = getattr(resp, "length", None)  # read(n) returns a short body without a word
            if left and len(data) <= MAX_JSON:
                raise http.client.IncompleteRead(data, left)
        except (OSError, http.client.HTTPException) as exc:
            raise RestError(f"{self.base}: reading the answer to {what} failed: {exc}") from None
        if len(data) > MAX_JSON:
            raise RestError(f"{self.base}: the answer to {what} is longer than {MAX_JSON} bytes")
        return data

    def get(self, path: str, **query: str) -> dict[str, Any]:
        with self._open(API + path, query) as resp:
            body = self._read(resp, path)  # a RestError is a ValueError: read outside the try
            try:
                doc = json.loads(body)
            except ValueError:
                raise RestError(f"{self.base}{API}{path}: the answer is not JSON") from None
        return doc if isinstance(doc, dict) else {}

    # -- registry -------------------------------------------------------------------------------

    def version_by_alias(self, name: str, alias: str) -> str:
        doc = self.get("/registered-models/alias", name=name, alias=alias)
        return str((doc.get("model_version") or {}).get("version") or "")

    def check_version(self, name: str, version: str) -> None:
        self.get("/model-versions/get", name=name, version=version)

    def download_uri(self, name: str, version: str) -> str:
        doc = self.get("/model-versions/get-download-uri", name=name, version=version)
        return str(doc.get("artifact_uri") or "")

    # -- artifacts ----------------------------------------------------------------------------

    def download(self, artifact_uri: str, dst: Path) -> Path:
        """The artifacts at ``artifact_uri`` (a folder) copied into ``dst``; returns ``dst``."""
        parts = urllib.parse.urlsplit(artifact_uri)
        if parts.scheme == "mlflow-artifacts":
            # mlflow-artifacts:/path, or mlflow-artifacts://host:port/path of another server
            client = self
            if parts.netloc:
                own = urllib.parse.urlsplit(self.base)
                # another server than the tracking server is one the model version names (its
                # registrant chose it): the tracking server's credentials do not go there
                client = Client(
                    f"{own.scheme}://{parts.netloc}",
                    self.timeout,
                    credentials=parts.netloc == own.netloc,
                )
                client.userinfo = self.userinfo if client.credentials else None
            client._download_tree(parts.path.strip("/"), "", dst)
            return dst
        if parts.scheme == "s3":
            return _download_s3(parts.netloc, parts.path.strip("/"), dst, artifact_uri)
        if parts.scheme in ("", "file"):
            src = Path(urllib.parse.unquote(parts.path))
            if not src.is_dir():
                raise RestError(f"{artifact_uri}: no such folder here (is it on another machine?)")
            shutil.copytree(src, dst, dirs_exist_ok=True)
            return dst
        raise UnsupportedLocation(
            f"{artifact_uri}: artifacts at {parts.scheme}:// are read by the mlflow client; "
            "serve them through the tracking server (mlflow server --serve-artifacts, its "
            "default) or install mlflow where the task runs"
        )

    def _download_tree(self, root: str, rel: str, dst: Path) -> None:
        path = f"{root}/{rel}".strip("/")
        with self._open(ARTIFACTS_API, {"path": path}) as resp:
            body = self._read(resp, path)
            try:
                files = json.loads(body).get("files") or []
            except (ValueError, AttributeError):
                raise RestError(f"{self.base}: listing {path} did not answer JSON") from None
        if not files:
            raise RestError(f"no artifacts at mlflow-artifacts:/{path}")
        for entry in files:
            name = str(entry.get("path") or "").rstrip("/").rpartition("/")[2]
            if not name or name in (".", ".."):
                continue
            child = f"{rel}/{name}".strip("/")
            if entry.get("is_dir"):
                self._download_tree(root, child, dst)
                continue
            target = dst / child
            target.parent.mkdir(parents=True, exist_ok=True)
            quoted = urllib.parse.quote(f"{root}/{child}".strip("/"))
            with self._open(f"{ARTIFACTS_API}/{quoted}") as resp, target.open("wb") as out:
                try:
                    shutil.copyfileobj(resp, out, 1 << 20)
                    # read(n) ends early without a word when the connection does
                    left = getattr(resp, "length", None)
                    short = f"{left} bytes missing" if left else ""
                except (OSError, http.client.HTTPException) as exc:
                    short = str(exc)
            if short:
                target.unlink(missing_ok=True)
                raise RestError(
                    f"{self.base}: the download of artifact {root}/{child} was cut short ({short})"
                )


def _download_s3(bucket: str, prefix: str, dst: Path, uri: str) -> Path:
    from ..runner.errors import UnsafePath
    from ..runner.paths import target_path
    from ..runner.s3 import S3Client, S3Error

    client = S3Client(bucket, os.environ.get("MLFLOW_S3_ENDPOINT_URL") or None)
    try:
        keys = [k for k in client.list_keys(prefix + "/") if not k.endswith("/")]
        if not keys:
            raise RestError(f"{uri}: no artifacts there")
        for key in keys:
            try:
                target = target_path(dst, key[len(prefix) + 1 :], "artifact")
            except UnsafePath as exc:
                raise RestError(f"{uri}: {exc}") from None
            target.parent.mkdir(parents=True, exist_ok=True)
            with target.open("wb") as out:
                client.get_to(key, out)
    except S3Error as exc:
        raise RestError(f"{uri}: {exc}") from None
    return dst
