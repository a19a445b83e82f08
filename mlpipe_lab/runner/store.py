"""The runner's view of the object store: get and put files and small JSON documents by key.

``--store local --root PATH`` keeps objects as files ``<root>/[<prefix>/]<key>``; ``--store s3``
talks to an S3-compatible bucket with boto3, imported only when needed (a runtime image that
runs S3-backed DAGs must have it). S3 credentials come from the environment only.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from .errors import StoreError

DATA_DIR_ENV = "MLPIPE_LAB_DATA_DIR"


def check_key(key: str) -> str:
    parts = key.split("/") if isinstance(key, str) else []
    if (
        not parts
        or key.startswith("/")
        or "\\" in key
        or any(p in ("", ".", "..") for p in parts)
        or any(ord(c) < 32 for c in key)
    ):
        raise StoreError(f"invalid object key {key!r}")
    return key


class Store:
    """Objects by key (relative to the store's prefix)."""

    def describe(self) -> str:  # pragma: no cover - overridden
        return type(self).__name__

    def get_file(self, key: str, dest: Path) -> None:
        """Copy the object to ``dest``; StoreError (saying so) when it does not exist."""
        raise NotImplementedError

    def get_json(self, key: str) -> Any | None:
        """The parsed JSON object, or None when the key does not exist."""
        raise NotImplementedError

    def put_file(self, key: str, path: Path, content_type: str | None = None) -> None:
        raise NotImplementedError

    def put_json(self, key: str, data: Any) -> None:
        raise NotImplementedError


def _data_dir() -> Path:
    env = os.environ.get(DATA_DIR_ENV)
    if env:
        return Path(env).expanduser()
    try:
        from jupyter_core.paths import jupyter_data_dir
    except ImportError:  # a bare runtime image: ~/.local/share/jupyter like Jupyter's default
        return Path.home() / ".local" / "share" / "jupyter" / "mlpipe-lab"
    return Path(jupyter_data_dir()) / "mlpipe-lab"


class LocalStore(Store):
    def __init__(self, root: str, prefix: str = ""):
        path = Path(root).expanduser()
        self.root = path if path.is_absolute() else _data_dir() / path
        self.prefix = (prefix or "").strip("/")

    def describe(self) -> str:
        return f"folder {self.root}"

    def path(self, key: str) -> Path:
        check_key(key)
        base = self.root / self.prefix if self.prefix else self.root
        return base / key

    def get_file(self, key: str, dest: Path) -> None:
        source = self.path(key)
        try:
            shutil.copyfile(source, dest)
        except FileNotFoundError:
            raise StoreError(f"{key} does not exist in {self.describe()}") from None
        except OSError as exc:
            raise StoreError(
                f"cannot read {key} from {self.describe()}: {exc.strerror or exc}"
            ) from None

    def get_json(self, key: str) -> Any | None:
        source = self.path(key)
        try:
            text = source.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StoreError(
                f"cannot read {key} from {self.describe()}: {exc.strerror or exc}"
            ) from None
        try:
            return json.loads(text)
        except ValueError:
            raise StoreError(f"{key} in {self.describe()} is not valid JSON") from None

    def _write(self, key: str, writer) -> None:
        target = self.path(key)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
            try:
                with os.fdopen(fd, "wb") as fh:
                    writer(fh)
                os.chmod(tmp, 0o644)
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise StoreError(
                f"cannot write {key} to {self.describe()}: {exc.strerror or exc}"
            ) from None

    def put_file(self, key: str, path: Path, content_type: str | None = None) -> None:
        def copy(fh):
            with open(path, "rb") as src:
                shutil.copyfileobj(src, fh, 1 << 20)

        self._write(key, copy)

    def put_json(self, key: str, data: Any) -> None:
        payload = json.dumps(data, indent=2, sort_keys=True).encode("utf-8") + b"\n"
        self._write(key, lambda fh: fh.write(payload))


class S3Store(Store):
    def __init__(
        self, bucket: str, prefix: str = "", endpoint: str | None = None, region: str | None = None
    ):
        try:
            import boto3
            from botocore.config import Config
        except ImportError:
            raise StoreError(
                "the s3 store needs boto3, which this runtime image lacks "
                "(pip install 'mlpipe_lab[runner]')"
            ) from None
        self.bucket = bucket
        self.prefix = (prefix or "").strip("/")
        self.endpoint = (endpoint or "").rstrip("/") or None
        region = (
            region
            or os.environ.get("AWS_REGION")
            or os.environ.get("AWS_DEFAULT_REGION")
            or "us-east-1"
        )
        options: dict[str, Any] = {
            "region_name": region,
            "signature_version": "s3v4",
            "connect_timeout": 10,
            "read_timeout": 120,
            "retries": {"max_attempts": 5, "mode": "standard"},
            "s3": {"addressing_style": "path" if self.endpoint else "auto"},
        }
        try:  # newer botocore sends CRC checksums some S3-compatible stores refuse
            config = Config(
                **options,
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
            )
        except TypeError:
            config = Config(**options)
        kwargs: dict[str, Any] = {"config": config, "region_name": region}
        if self.endpoint:
            kwargs["endpoint_url"] = self.endpoint
        # credentials: boto3's default chain (AWS_* environment, web identity); never arguments
        self.client = boto3.session.Session().client("s3", **kwargs)

    def describe(self) -> str:
        return f"bucket {self.bucket}"

    def object_key(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _fail(self, action: str, key: str, exc: Exception) -> StoreError:
        response = getattr(exc, "response", None) or {}
        error = response.get("Error") or {}
        detail = (
            f"{error.get('Code', '')} {error.get('Message', '')}".strip()
            or str(exc)
            or type(exc).__name__
        )
        return StoreError(f"cannot {action} {key} in {self.describe()}: {detail}")

    @staticmethod
    def _missing(exc: Exception) -> bool:
        response = getattr(exc, "response", None) or {}
        code = str((response.get("Error") or {}).get("Code") or "")
        status = (response.get("ResponseMetadata") or {}).get("HTTPStatusCode")
        return code in ("404", "NoSuchKey", "NotFound") or status == 404

    def get_file(self, key: str, dest: Path) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.download_file(self.bucket, self.object_key(key), str(dest))
        except ClientError as exc:
            if self._missing(exc):
                raise StoreError(f"{key} does not exist in {self.describe()}") from None
            raise self._fail("download", key, exc) from None
        except BotoCoreError as exc:
            raise self._fail("download", key, exc) from None

    def get_json(self, key: str) -> Any | None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            body = self.client.get_object(Bucket=self.bucket, Key=self.object_key(key))[
                "Body"
            ].read()
        except ClientError as exc:
            if self._missing(exc):
                return None
            raise self._fail("read", key, exc) from None
        except BotoCoreError as exc:
            raise self._fail("read", key, exc) from None
        try:
            return json.loads(body)
        except ValueError:
            raise StoreError(f"{key} in {self.describe()} is not valid JSON") from None

    def put_file(self, key: str, path: Path, content_type: str | None = None) -> None:
        from boto3.exceptions import S3UploadFailedError
        from botocore.exceptions import BotoCoreError, ClientError

        extra = {"ContentType": content_type} if content_type else None
        try:
            self.client.upload_file(str(path), self.bucket, self.object_key(key), ExtraArgs=extra)
        except (ClientError, BotoCoreError) as exc:
            raise self._fail("upload", key, exc) from None
        except S3UploadFailedError as exc:  # wraps the ClientError's text
            detail = str(exc).rsplit(": ", 1)[-1]
            raise StoreError(f"cannot upload {key} to {self.describe()}: {detail}") from None
        except OSError as exc:
            raise StoreError(f"cannot read {path} to upload it: {exc.strerror or exc}") from None

    def put_json(self, key: str, data: Any) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        payload = json.dumps(data, indent=2, sort_keys=True).encode("utf-8") + b"\n"
        try:
            self.client.put_object(
                Bucket=self.bucket,
                Key=self.object_key(key),
                Body=payload,
                ContentType="application/json",
            )
        except (ClientError, BotoCoreError) as exc:
            raise self._fail("upload", key, exc) from None


def open_store(args: Any) -> Store:
    """The store named by parsed runner arguments."""
    if args.store == "local":
        return LocalStore(args.root, args.prefix or "")
    return S3Store(args.bucket, args.prefix or "", args.endpoint, args.region)
