"""Where node bundles go: an S3-compatible bucket, or a local folder for the embedded runtime.

Keys are content-addressed and relative to the store's prefix (``<dag_id>/bundles/<task>-<sha12>.tar.gz``).
``put`` uploads only when the key is missing (or holds other content), and says whether this call
created the object, so a failed publish can remove exactly what it added.
"""

from __future__ import annotations

import abc
import hashlib
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

from .errors import PublishError
from .redact import scrub

log = logging.getLogger("mlpipe_lab.publish")

PutStatus = Literal["created", "reused", "replaced"]

_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
SHA_METADATA_KEY = "sha256"


def file_sha256(path: os.PathLike[str] | str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check_key(key: str) -> str:
    """A relative object key without '..', empty or absolute parts."""
    if not isinstance(key, str) or not key or key.startswith("/") or "\\" in key:
        raise PublishError("validate", f"invalid bundle key {key!r}")
    parts = key.split("/")
    if any(p in ("", ".", "..") for p in parts) or any(ord(c) < 32 for c in key):
        raise PublishError("validate", f"invalid bundle key {key!r}")
    return key


def check_sha256(sha: str) -> str:
    if not isinstance(sha, str) or not _SHA256_RE.match(sha):
        raise PublishError("validate", f"invalid sha256 {sha!r} (64 lowercase hex digits)")
    return sha


class ObjectStore(abc.ABC):
    """A place for bundles. Keys are relative to the store's prefix."""

    @abc.abstractmethod
    def head(self, key: str) -> dict[str, Any] | None:
        """``{"sha256": str | None, "size": int}`` for an existing object, else ``None``."""

    @abc.abstractmethod
    def put(self, key: str, path: os.PathLike[str] | str, sha256: str) -> PutStatus:
        """Store the file at ``path`` (whose content hashes to ``sha256``) under ``key``.

        ``reused``: an object with that key and sha256 was already there, nothing sent; ``created``:
        this call created the object; ``replaced``: an object with other content was overwritten.
        """

    @abc.abstractmethod
    def delete(self, key: str) -> None:
        """Remove ``key``; no error when it is missing."""

    @abc.abstractmethod
    def url(self, key: str) -> str:
        """Where tasks fetch ``key`` from."""

    def describe(self) -> str:
        return type(self).__name__


# --------------------------------------------------------------------------------------------------


class LocalStore(ObjectStore):
    """Bundles in a local folder (the embedded ``local`` runtime): ``<root>/<prefix>/<key>``."""

    def __init__(self, root: os.PathLike[str] | str, prefix: str = "") -> None:
        self.root = Path(root)
        self.prefix = prefix.strip("/")

    def _path(self, key: str) -> Path:
        check_key(key)
        base = self.root / self.prefix if self.prefix else self.root
        return base / key

    def describe(self) -> str:
        return f"folder {self.root}"

    def head(self, key: str) -> dict[str, Any] | None:
        path = self._path(key)
        if not path.is_file():
            return None
        return {"sha256": file_sha256(path), "size": path.stat().st_size}

    def put(self, key: str, path: os.PathLike[str] | str, sha256: str) -> PutStatus:
        target = self._path(key)
        current = self.head(key)
        if current is not None and current["sha256"] == sha256:
            return "reused"
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp_name = tempfile.mkstemp(prefix=".upload-", dir=target.parent)
            os.close(fd)
            tmp = Path(tmp_name)
            try:
                shutil.copyfile(path, tmp)
                os.chmod(tmp, 0o644)
                if current is None:
                    try:
                        os.link(tmp, target)  # atomic "create if absent"
                        return "created"
                    except FileExistsError:
                        if self.head(key) == {"sha256": sha256, "size": tmp.stat().st_size}:
                            return "reused"
                os.replace(tmp, target)
                return "replaced"
            finally:
                tmp.unlink(missing_ok=True)
        except OSError as exc:
            raise PublishError(
                "upload", f"cannot store {key} in {self.root}: {exc.strerror or exc}"
            ) from None

    def delete(self, key: str) -> None:
        target = self._path(key)
        try:
            target.unlink(missing_ok=True)
        except OSError as exc:
            raise PublishError("upload", f"cannot delete {key}: {exc.strerror or exc}") from None
        # drop folders emptied by the removal, up to the root
        parent = target.parent
        stop = self.root.resolve()
        while parent.resolve() != stop and stop in parent.resolve().parents:
            try:
                parent.rmdir()
            except OSError:
                break
            parent = parent.parent

    def url(self, key: str) -> str:
        return self._path(key).resolve().as_uri()


# --------------------------------------------------------------------------------------------------


def _import_boto3() -> Any:
    try:
        import boto3
        import botocore  # noqa: F401
    except ImportError:
        raise PublishError(
            "config",
            "uploading to object storage needs boto3: pip install 'mlpipe_lab[s3]'",
        ) from None
    return boto3


class S3Store(ObjectStore):
    """Bundles in an S3-compatible bucket (AWS S3, MinIO, Ceph...), under ``prefix``.

    With an ``endpoint`` (MinIO and friends) path-style addressing is used. Without explicit
    credentials boto3's default chain applies (environment, profile, IRSA web identity).
    """

    def __init__(
        self,
        bucket: str,
        *,
        prefix: str = "",
        endpoint: str | None = None,
        public_endpoint: str | None = None,
        region: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
        max_attempts: int = 3,
        client: Any = None,
    ) -> None:
        self.bucket = bucket
        self.prefix = (prefix or "").strip("/")
        self.endpoint = (endpoint or "").rstrip("/") or None
        self.public_endpoint = (public_endpoint or "").rstrip("/") or None
        self.region = region or "us-east-1"
        self._secrets = [s for s in (secret_access_key,) if s]
        self._conditional_put = True
        if client is None:
            boto3 = _import_boto3()
            from botocore.config import Config

            options: dict[str, Any] = {
                "region_name": self.region,
                "signature_version": "s3v4",
                "connect_timeout": connect_timeout,
                "read_timeout": read_timeout,
                "retries": {"max_attempts": max_attempts, "mode": "standard"},
                "s3": {"addressing_style": "path" if self.endpoint else "auto"},
            }
            try:  # botocore >= 1.36 adds CRC checksums that some S3-compatible stores refuse
                config = Config(
                    **options,
                    request_checksum_calculation="when_required",
                    response_checksum_validation="when_required",
                )
            except TypeError:
                config = Config(**options)
            kwargs: dict[str, Any] = {"config": config, "region_name": self.region}
            if self.endpoint:
                kwargs["endpoint_url"] = self.endpoint
            if access_key_id and secret_access_key:
                kwargs["aws_access_key_id"] = access_key_id
                kwargs["aws_secret_access_key"] = secret_access_key
            # a private session: never touch boto3's module-level default session
            client = boto3.session.Session().client("s3", **kwargs)
        self.client = client

    @classmethod
    def from_config(cls, storage: Mapping[str, Any]) -> S3Store:
        """From ``object_storage`` of a runtime configuration (with secrets)."""
        bucket = storage.get("bucket")
        if not bucket:
            raise PublishError("config", "object storage needs a bucket")
        auth = storage.get("auth") or {}
        key_id = secret = None
        if (auth.get("type") or "credentials") == "credentials":
            key_id, secret = auth.get("access_key_id"), auth.get("secret_access_key")
            if not key_id or not secret:
                raise PublishError(
                    "config", "object storage credentials need an access key id and a secret"
                )
        return cls(
            bucket,
            prefix=storage.get("prefix") or "",
            endpoint=storage.get("endpoint"),
            public_endpoint=storage.get("public_endpoint"),
            region=storage.get("region"),
            access_key_id=key_id,
            secret_access_key=secret,
        )

    def describe(self) -> str:
        return f"bucket {self.bucket}"

    def object_key(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _error(self, action: str, key: str, exc: Exception) -> PublishError:
        return PublishError(
            "upload",
            scrub(
                f"cannot {action} {key} in bucket {self.bucket}: {_describe_error(exc)}",
                self._secrets,
            ),
        )

    def head(self, key: str) -> dict[str, Any] | None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            answer = self.client.head_object(Bucket=self.bucket, Key=self.object_key(key))
        except ClientError as exc:
            if _error_code(exc) in ("404", "NoSuchKey", "NotFound"):
                return None
            raise self._error("check", key, exc) from None
        except BotoCoreError as exc:
            raise self._error("check", key, exc) from None
        metadata = {k.lower(): v for k, v in (answer.get("Metadata") or {}).items()}
        return {"sha256": metadata.get(SHA_METADATA_KEY), "size": answer.get("ContentLength")}

    def put(self, key: str, path: os.PathLike[str] | str, sha256: str) -> PutStatus:
        from botocore.exceptions import BotoCoreError, ClientError

        current = self.head(key)
        if current is not None and current.get("sha256") == sha256:
            return "reused"
        extra: dict[str, Any] = {
            "Bucket": self.bucket,
            "Key": self.object_key(key),
            "Metadata": {SHA_METADATA_KEY: sha256},
            "ContentType": "application/gzip",
        }
        try:
            if current is None and self._conditional_put:
                try:
                    with open(path, "rb") as body:
                        self.client.put_object(Body=body, IfNoneMatch="*", **extra)
                    return "created"
                except ClientError as exc:
                    code = _error_code(exc)
                    if code in ("PreconditionFailed", "412", "ConditionalRequestConflict"):
                        # someone created it meanwhile: theirs unless the content differs
                        again = self.head(key)
                        if again is not None and again.get("sha256") == sha256:
                            return "reused"
                        current = again
                    elif code in ("NotImplemented", "501"):
                        self._conditional_put = False  # store without conditional writes
                    else:
                        raise
            with open(path, "rb") as body:
                self.client.put_object(Body=body, **extra)
            return "replaced" if current is not None else "created"
        except (ClientError, BotoCoreError) as exc:
            raise self._error("upload", key, exc) from None
        except OSError as exc:
            raise PublishError(
                "upload", f"cannot read bundle for {key}: {exc.strerror or exc}"
            ) from None

    def delete(self, key: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.delete_object(Bucket=self.bucket, Key=self.object_key(key))
        except (ClientError, BotoCoreError) as exc:
            raise self._error("delete", key, exc) from None

    def url(self, key: str) -> str:
        object_key = quote(self.object_key(key))
        base = self.public_endpoint or self.endpoint
        if base:
            return f"{base}/{self.bucket}/{object_key}"
        return f"https://{self.bucket}.s3.{self.region}.amazonaws.com/{object_key}"


def _error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    code = str((response.get("Error") or {}).get("Code") or "")
    if not code:
        code = str((response.get("ResponseMetadata") or {}).get("HTTPStatusCode") or "")
    return code


def _describe_error(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if response:
        error = response.get("Error") or {}
        code = error.get("Code") or "error"
        message = error.get("Message") or ""
        return f"{code} {message}".strip()
    return str(exc) or type(exc).__name__


def verify_bundles(bundles: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Check each bundle (``node_id``, ``key``, ``sha256``, ``path``): a safe key, a sha256 that matches
    the file. Returns plain dicts."""
    checked: list[dict[str, Any]] = []
    seen: dict[str, str] = {}
    for bundle in bundles:
        key = check_key(str(bundle.get("key", "")))
        sha = check_sha256(str(bundle.get("sha256", "")).lower())
        path = bundle.get("path")
        if not path or not Path(path).is_file():
            raise PublishError("validate", f"bundle file for {key} is missing")
        actual = file_sha256(path)
        if actual != sha:
            raise PublishError("validate", f"bundle file for {key} does not match its sha256")
        if seen.get(key, sha) != sha:
            raise PublishError(
                "validate", f"two bundles share the key {key} with different content"
            )
        if key in seen:
            continue
        seen[key] = sha
        checked.append(
            {"node_id": bundle.get("node_id"), "key": key, "sha256": sha, "path": str(path)}
        )
    return checked
