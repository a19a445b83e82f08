"""The runner's view of the object store: get and put files and small JSON documents by key.

``--store local --root PATH`` keeps objects as files ``<root>/[<prefix>/]<key>``; ``--store s3``
talks to an S3-compatible bucket with the runner's own client (s3.py, standard library only).
S3 credentials come from the pod's environment only (see s3.py for the sources).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from .errors import S3Error, StoreError

TYPE_CHECKING = False  # typing is not imported when the runner starts (a faster start)
if TYPE_CHECKING:
    from typing import Any

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
        from .notebook import load_site

        load_site()
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
    """A bucket of an S3-compatible store, through the runner's own SigV4 client (s3.py)."""

    def __init__(
        self, bucket: str, prefix: str = "", endpoint: str | None = None, region: str | None = None
    ):
        self.bucket = bucket
        self.prefix = (prefix or "").strip("/")
        from .s3 import S3Client  # sockets, hashing, signing: only for S3 stores

        self.client = S3Client(bucket, endpoint or None, region or None)

    def describe(self) -> str:
        return f"bucket {self.bucket}"

    def object_key(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _fail(self, action: str, key: str, exc: S3Error) -> StoreError:
        from .s3 import CREDENTIAL_CODES

        if (
            exc.code in ("Credentials", "Connection", "NoSuchBucket")
            or exc.code in CREDENTIAL_CODES
        ):
            return StoreError(str(exc))  # the same for every key: say it once, plainly
        return StoreError(f"cannot {action} {key} in {self.describe()}: {exc}")

    def get_file(self, key: str, dest: Path) -> None:
        try:
            with open(dest, "wb") as fh:
                self.client.get_to(self.object_key(key), fh)
        except S3Error as exc:
            dest.unlink(missing_ok=True)
            if exc.missing:
                raise StoreError(f"{key} does not exist in {self.describe()}") from None
            raise self._fail("download", key, exc) from None
        except OSError as exc:
            raise StoreError(f"cannot write {dest}: {exc.strerror or exc}") from None

    def get_json(self, key: str) -> Any | None:
        try:
            body = self.client.get_bytes(self.object_key(key))
        except S3Error as exc:
            if exc.missing:
                return None
            raise self._fail("read", key, exc) from None
        try:
            return json.loads(body)
        except ValueError:
            raise StoreError(f"{key} in {self.describe()} is not valid JSON") from None

    def put_file(self, key: str, path: Path, content_type: str | None = None) -> None:
        try:
            self.client.put_file(self.object_key(key), str(path), content_type)
        except S3Error as exc:
            raise self._fail("upload", key, exc) from None
        except OSError as exc:
            raise StoreError(f"cannot read {path} to upload it: {exc.strerror or exc}") from None

    def put_json(self, key: str, data: Any) -> None:
        payload = json.dumps(data, indent=2, sort_keys=True).encode("utf-8") + b"\n"
        try:
            self.client.put_bytes(self.object_key(key), payload, "application/json")
        except S3Error as exc:
            raise self._fail("upload", key, exc) from None


def open_store(args: Any) -> Store:
    """The store named by parsed runner arguments."""
    if args.store == "local":
        return LocalStore(args.root, args.prefix or "")
    return S3Store(args.bucket, args.prefix or "", args.endpoint, args.region)
