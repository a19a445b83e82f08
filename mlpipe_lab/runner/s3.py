"""A small S3 client on the standard library: AWS Signature Version 4, GET/PUT of objects.

The runner needs only four operations (get an object to a file, get a small object, put a file,
put bytes), so it carries this instead of botocore (which alone is ~100 MB unpacked). It talks to
AWS S3 and to S3-compatible stores (MinIO, Ceph, moto). Path-style addressing with an explicit
endpoint, virtual-hosted style on AWS.

Credentials, first found wins (as in the AWS SDKs' default chain, less the parts pods do not use):

1. ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` (``AWS_SESSION_TOKEN``) in the environment:
   what a Kubernetes Secret reference gives the pod;
2. web identity (IAM roles for service accounts, IRSA): ``AWS_WEB_IDENTITY_TOKEN_FILE`` and
   ``AWS_ROLE_ARN``, exchanged with STS ``AssumeRoleWithWebIdentity`` (``AWS_STS_REGIONAL_ENDPOINTS``
   / ``AWS_ENDPOINT_URL_STS`` respected);
3. container credentials (EKS Pod Identity, ECS): ``AWS_CONTAINER_CREDENTIALS_FULL_URI`` or
   ``AWS_CONTAINER_CREDENTIALS_RELATIVE_URI``, with ``AWS_CONTAINER_AUTHORIZATION_TOKEN(_FILE)``;
4. the shared credentials file (``AWS_SHARED_CREDENTIALS_FILE``, default ``~/.aws/credentials``,
   profile ``AWS_PROFILE``).

Every failure is an :class:`S3Error` whose message is one line a person can act on.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import hmac
import io
import json
import os
import socket
import sys
import time
import urllib.parse

from .errors import S3Error

# typing is not imported when the runner starts; ssl, xml and configparser are imported when
# used: a faster start
TYPE_CHECKING = False
if TYPE_CHECKING:
    import xml.etree.ElementTree as ET
    from typing import Any, BinaryIO

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
CHUNK = 1 << 20
RETRIES = 4  # attempts for connection errors, 5xx and throttling
CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 120.0
# Objects above this size are uploaded in parts (S3 refuses single PUTs above 5 GiB).
MULTIPART_THRESHOLD = 256 * CHUNK
PART_SIZE = 64 * CHUNK
# Bounds on what a server can make the client hold: answers read into memory (error bodies,
# listings, get_bytes' small objects; streamed downloads are not bounded), header lines.
MAX_MEMORY_BODY = 64 * CHUNK
MAX_HEADERS = 100
MAX_INTERIM = 10  # 1xx answers before the real one


CREDENTIAL_CODES = {
    "InvalidAccessKeyId": "the access key id is not known to the store",
    "SignatureDoesNotMatch": "the secret access key does not match the access key id",
    "ExpiredToken": "the session token has expired",
    "InvalidToken": "the session token is invalid",
    "TokenRefreshRequired": "the session token has expired",
}


# -- credentials ----------------------------------------------------------------------------------


class Credentials:
    def __init__(
        self,
        key: str,
        secret: str,
        token: str | None = None,
        source: str = "",
        expires: float | None = None,
    ):
        self.key = key
        self.secret = secret
        self.token = token
        self.source = source
        self.expires = expires  # epoch seconds, for temporary credentials

    def fresh(self) -> bool:
        return self.expires is None or self.expires - time.time() > 300


def _env(name: str) -> str:
    return os.environ.get(name, "").strip()


def _iso_epoch(text: str) -> float | None:
    try:
        return (
            _dt.datetime.strptime(text.strip()[:19], "%Y-%m-%dT%H:%M:%S")
            .replace(tzinfo=_dt.timezone.utc)
            .timestamp()
        )
    except ValueError:
        return None


def _read_secret_file(path: str, what: str) -> str:
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read().strip()
    except OSError as exc:
        raise S3Error(
            f"cannot read the {what} {path}: {exc.strerror or exc}", "Credentials"
        ) from None


def _web_identity(region: str) -> Credentials | None:
    token_file, role = _env("AWS_WEB_IDENTITY_TOKEN_FILE"), _env("AWS_ROLE_ARN")
    if not token_file or not role:
        return None
    token = _read_secret_file(token_file, "web identity token file (AWS_WEB_IDENTITY_TOKEN_FILE)")
    endpoint = _env("AWS_ENDPOINT_URL_STS")
    if not endpoint:
        regional = _env("AWS_STS_REGIONAL_ENDPOINTS").lower() != "legacy"
        endpoint = (
            f"https://sts.{region}.amazonaws.com"
            if regional and region
            else "https://sts.amazonaws.com"
        )
    query = urllib.parse.urlencode(
        {
            "Action": "AssumeRoleWithWebIdentity",
            "Version": "2011-06-15",
            "RoleArn": role,
            "RoleSessionName": _env("AWS_ROLE_SESSION_NAME") or f"mlpipe-runner-{int(time.time())}",
            "WebIdentityToken": token,
        }
    )
    status, _, body = _request(
        "POST",
        endpoint.rstrip("/") + "/",
        {"Content-Type": "application/x-www-form-urlencoded"},
        query.encode(),
        what=f"the STS endpoint {endpoint}",
    )
    root = _xml(body)
    if status != 200:
        code, message = _error_fields(root)
        raise S3Error(
            f"STS refused the web identity of role {role}: {code or status} {message}".rstrip(),
            "Credentials",
            status,
        )
    found = {el.tag.rsplit("}", 1)[-1]: (el.text or "") for el in root.iter()}
    if not found.get("AccessKeyId"):
        raise S3Error(f"STS gave no credentials for role {role}", "Credentials")
    return Credentials(
        found["AccessKeyId"],
        found.get("SecretAccessKey", ""),
        found.get("SessionToken") or None,
        f"web identity (role {role})",
        _iso_epoch(found.get("Expiration", "")),
    )


def _container() -> Credentials | None:
    full, relative = (
        _env("AWS_CONTAINER_CREDENTIALS_FULL_URI"),
        _env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"),
    )
    if not full and not relative:
        return None
    url = full or "http://169.254.170.2" + relative
    headers = {}
    token_file = _env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")
    token = (
        _read_secret_file(token_file, "container authorization token file")
        if token_file
        else _env("AWS_CONTAINER_AUTHORIZATION_TOKEN")
    )
    if token:
        headers["Authorization"] = token
    status, _, body = _request("GET", url, headers, b"", what=f"the credentials endpoint {url}")
    if status != 200:
        raise S3Error(f"the credentials endpoint {url} answered HTTP {status}", "Credentials")
    try:
        data = json.loads(body)
        return Credentials(
            data["AccessKeyId"],
            data["SecretAccessKey"],
            data.get("Token") or None,
            "container credentials",
            _iso_epoch(data.get("Expiration", "")),
        )
    except (ValueError, KeyError, TypeError):
        raise S3Error(
            f"the credentials endpoint {url} gave no credentials", "Credentials"
        ) from None


def _shared_file() -> Credentials | None:
    path = _env("AWS_SHARED_CREDENTIALS_FILE") or os.path.expanduser("~/.aws/credentials")
    if not os.path.isfile(path):
        return None
    profile = _env("AWS_PROFILE") or "default"
    import configparser

    parser = configparser.RawConfigParser()
    try:
        parser.read(path, encoding="utf-8")
    except (OSError, configparser.Error):
        raise S3Error(f"cannot read the credentials file {path}", "Credentials") from None
    if not parser.has_option(profile, "aws_access_key_id"):
        return None
    return Credentials(
        parser.get(profile, "aws_access_key_id").strip(),
        parser.get(profile, "aws_secret_access_key", fallback="").strip(),
        parser.get(profile, "aws_session_token", fallback="").strip() or None,
        f"credentials file {path} (profile {profile})",
    )


def find_credentials(region: str) -> Credentials:
    key, secret = _env("AWS_ACCESS_KEY_ID"), _env("AWS_SECRET_ACCESS_KEY")
    if key or secret:
        if not (key and secret):
            missing = "AWS_SECRET_ACCESS_KEY" if key else "AWS_ACCESS_KEY_ID"
            raise S3Error(
                f"{missing} is not set while its partner is (check the pod's credentials Secret)",
                "Credentials",
            )
        return Credentials(key, secret, _env("AWS_SESSION_TOKEN") or None, "environment")
    for source in (lambda: _web_identity(region), _container, _shared_file):
        found = source()
        if found is not None:
            return found
    raise S3Error(
        "no object store credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (the runtime "
        "configuration's pod credentials Secret) or give the pod an IAM role (IRSA)",
        "Credentials",
    )


# -- HTTP -----------------------------------------------------------------------------------------


class HTTPError(Exception):
    """An answer that is not HTTP, or one cut short (what http.client.HTTPException was here)."""


# The store's HTTP/1.1 exchanges are our own few lines over a socket, not http.client: importing
# http.client (email's parser, and ssl even for http://) costs ~14 ms of CPU at every start of
# the runner, before the user's code (docs/benchmarks.md). One request per connection.


def _decimal(text: str) -> int | None:
    """An ASCII decimal number (str.isdigit also accepts '²', which int() refuses)."""
    text = text.strip()
    return int(text) if text.isascii() and text.isdigit() else None


def _connect(url: urllib.parse.SplitResult, timeout: float) -> socket.socket:
    host = url.hostname or ""
    if url.scheme not in ("http", "https"):
        raise S3Error(f"unsupported URL scheme in {url.geturl()}", "Endpoint")
    sock = socket.create_connection(
        (host, url.port or (443 if url.scheme == "https" else 80)), timeout
    )
    if url.scheme == "https":
        import ssl

        try:
            sock = ssl.create_default_context().wrap_socket(sock, server_hostname=host)
        except BaseException:
            sock.close()
            raise
    return sock


def _send(
    sock: socket.socket,
    method: str,
    url: urllib.parse.SplitResult,
    path: str,
    headers: dict[str, str],
    body: Any,
) -> None:
    lines = [f"{method} {path} HTTP/1.1"]
    names = {k.lower() for k in headers}
    if "host" not in names:
        lines.append(f"Host: {url.netloc}")
    data = body if isinstance(body, (bytes, bytearray)) else None
    if "content-length" not in names and (data or method in ("PUT", "POST")):
        if data is None and body is not None:
            raise HTTPError("a streamed body needs a Content-Length")
        lines.append(f"Content-Length: {len(data or b'')}")
    lines += [f"{k}: {v}" for k, v in headers.items()]
    lines += ["Accept-Encoding: identity", "Connection: close", "", ""]
    sock.sendall("\r\n".join(lines).encode("latin-1"))
    if data:
        sock.sendall(data)
    elif body is not None and data is None:
        while True:
            block = body.read(1 << 16)
            if not block:
                break
            sock.sendall(block)


class _Timed(io.RawIOBase):
    """The socket's bytes, with a deadline over many reads while one is set: a server sending a
    byte now and then keeps each recv within the socket timeout, but not the whole answer."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.deadline: float | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        wait = READ_TIMEOUT
        if self.deadline is not None:
            wait = min(wait, self.deadline - time.monotonic())
        try:
            if wait <= 0:
                raise socket.timeout
            self.sock.settimeout(wait)
            return self.sock.recv_into(b)
        except socket.timeout:
            if self.deadline is None:
                raise
            raise HTTPError(f"the answer took longer than {READ_TIMEOUT:g} s") from None


class _Response:
    """Status, headers (lower-case names) and a body read by Content-Length, chunks, or to the
    end of the connection."""

    def __init__(self, sock: socket.socket, method: str):
        # the status and headers within READ_TIMEOUT in all (bodies: see read_all)
        self.raw = _Timed(sock)
        self.raw.deadline = time.monotonic() + READ_TIMEOUT
        self.fp = io.BufferedReader(self.raw)
        for _ in range(MAX_INTERIM + 1):
            line = self.fp.readline(65537)
            if not line:
                raise HTTPError("the server closed the connection without an answer")
            parts = line.decode("latin-1").split(None, 2)
            status = _decimal(parts[1]) if len(parts) >= 2 else None
            if status is None or not parts[0].startswith("HTTP/"):
                raise HTTPError(f"not an HTTP answer: {line[:60]!r}")
            self.status = status
            self.headers = self._headers()
            if not 100 <= self.status < 200:
                break  # 1xx (100 Continue): its headers read, the real answer follows
        else:
            raise HTTPError(f"more than {MAX_INTERIM} interim (1xx) answers and no real one")
        self.chunked = "chunked" in self.headers.get("transfer-encoding", "").lower()
        length = self.headers.get("content-length")
        self.left: int | None = _decimal(length) if length else None
        if method == "HEAD" or self.status in (204, 304):
            self.chunked, self.left = False, 0
        self.chunk_left = 0
        self.done = False
        self.raw.deadline = None  # a streamed body: each read within READ_TIMEOUT

    def _headers(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for _ in range(MAX_HEADERS + 1):
            line = self.fp.readline(65537)
            if line in (b"\r\n", b"\n", b""):
                return out
            name, _, value = line.decode("latin-1").partition(":")
            name, value = name.strip().lower(), value.strip()
            out[name] = f"{out[name]}, {value}" if name in out else value
        raise HTTPError(f"too many header lines in the answer (more than {MAX_HEADERS})")

    def _exact(self, n: int) -> bytes:
        data = self.fp.read(n)
        if len(data) < n:
            raise HTTPError(f"the answer ended early ({len(data)} of {n} more bytes)")
        return data

    def read_all(self, limit: int) -> bytes:
        """The whole body, into memory: at most ``limit`` bytes, else HTTPError."""
        if self.left is not None and self.left > limit:
            raise HTTPError(f"the answer is longer than {limit} bytes ({self.left} announced)")
        self.raw.deadline = time.monotonic() + READ_TIMEOUT
        data = self.read(limit + 1)
        if len(data) > limit or not self.done and self.read(1):
            raise HTTPError(f"the answer is longer than {limit} bytes")
        return data

    def read(self, size: int = -1) -> bytes:
        if self.done:
            return b""
        if self.chunked:
            out = bytearray()
            while size < 0 or len(out) < size:
                if self.chunk_left == 0:
                    line = self.fp.readline(65537)
                    size_text = line.split(b";")[0].strip()
                    # hex digits only: int() would take '-1' (a read to the end) or '+1', '0x1'
                    if not size_text or size_text.strip(b"0123456789abcdefABCDEF"):
                        raise HTTPError(f"a bad chunk size: {line[:40]!r}")
                    self.chunk_left = int(size_text, 16)
                    if self.chunk_left == 0:
                        self._headers()  # trailers
                        self.done = True
                        break
                n = self.chunk_left if size < 0 else min(self.chunk_left, size - len(out))
                out += self._exact(n)
                self.chunk_left -= n
                if self.chunk_left == 0:
                    self._exact(2)  # the chunk's CRLF
            return bytes(out)
        if self.left is None:  # to the end of the connection
            data = self.fp.read() if size < 0 else self.fp.read(size)
            self.done = not data
            return data
        n = self.left if size < 0 else min(size, self.left)
        data = self._exact(n) if n else b""
        self.left -= n
        self.done = self.left == 0
        return data


def _request(
    method: str,
    url: str,
    headers: dict[str, str],
    body: bytes,
    what: str,
    sink: BinaryIO | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """One HTTP exchange, retried on connection errors and 5xx. With ``sink``, a 200 body is
    streamed there (and b"" returned)."""
    parts = urllib.parse.urlsplit(url)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    last = ""
    start = body.tell() if hasattr(body, "tell") else None
    for attempt in range(RETRIES):
        if attempt:
            time.sleep(min(0.2 * 2**attempt, 3.0))
        if start is not None:
            body.seek(start)  # a retried upload sends its file again from the start
        try:
            sock = _connect(parts, CONNECT_TIMEOUT)
            try:
                sock.settimeout(READ_TIMEOUT)
                _send(sock, method, parts, path, headers, body or None)
                response = _Response(sock, method)
                status = response.status
                got = response.headers
                if status >= 500 or status == 429:
                    last = f"HTTP {status}"
                    continue  # the connection is closed, its body unread
                if sink is not None and status in (200, 206):
                    while True:
                        chunk = response.read(CHUNK)
                        if not chunk:
                            break
                        sink.write(chunk)
                    return status, got, b""
                return status, got, response.read_all(MAX_MEMORY_BODY)
            finally:
                sock.close()
        except (OSError, HTTPError) as exc:
            if sink is not None and sink.tell() > 0:
                sink.seek(0)
                sink.truncate()
            reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or str(exc)
            if isinstance(exc, socket.timeout):
                reason = "timed out"
            last = f"{type(exc).__name__}: {reason}" if not isinstance(reason, str) else reason
            ssl = sys.modules.get("ssl")  # imported by _connect for https
            if ssl is not None and isinstance(exc, ssl.SSLCertVerificationError):
                # the reason alone (CERTIFICATE_VERIFY_FAILED) does not say what is wrong
                last = f"TLS certificate verify failed: {exc.verify_message}"
                break
    raise S3Error(f"cannot reach {what}: {last}", "Connection")


def _xml(body: bytes) -> ET.Element:
    import xml.etree.ElementTree as ET

    try:
        return ET.fromstring(body) if body.strip() else ET.Element("Empty")
    except ET.ParseError:
        return ET.Element("Unparsable")


def _error_fields(root: ET.Element) -> tuple[str, str]:
    code = message = ""
    for el in root.iter():
        tag = el.tag.rsplit("}", 1)[-1]
        if tag == "Code" and not code:
            code = (el.text or "").strip()
        elif tag == "Message" and not message:
            message = (el.text or "").strip()
    return code, message


# -- signing --------------------------------------------------------------------------------------


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()


def _quote(text: str, safe: str = "-_.~") -> str:
    return urllib.parse.quote(text, safe=safe)


def sign(
    method: str,
    host: str,
    path: str,
    query: dict[str, str],
    headers: dict[str, str],
    payload_sha256: str,
    creds: Credentials,
    region: str,
    now: _dt.datetime | None = None,
    service: str = "s3",
) -> dict[str, str]:
    """Headers for a SigV4-signed request (``path`` already URI-encoded)."""
    now = now or _dt.datetime.now(_dt.timezone.utc)
    stamp, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    out = dict(headers)
    out["host"] = host
    out["x-amz-date"] = stamp
    out["x-amz-content-sha256"] = payload_sha256
    if creds.token:
        out["x-amz-security-token"] = creds.token
    lower = {k.lower(): " ".join(str(v).strip().split()) for k, v in out.items()}
    names = sorted(lower)
    canonical_query = "&".join(
        f"{_quote(k)}={_quote(v)}" for k, v in sorted((k, v) for k, v in query.items())
    )
    canonical = "\n".join(
        [
            method,
            path,
            canonical_query,
            "".join(f"{n}:{lower[n]}\n" for n in names),
            ";".join(names),
            payload_sha256,
        ]
    )
    scope = f"{day}/{region}/{service}/aws4_request"
    to_sign = "\n".join(
        [
            "AWS4-HMAC-SHA256",
            stamp,
            scope,
            hashlib.sha256(canonical.encode("utf-8")).hexdigest(),
        ]
    )
    key = _hmac(("AWS4" + creds.secret).encode("utf-8"), day)
    for part in (region, service, "aws4_request"):
        key = _hmac(key, part)
    signature = hmac.new(key, to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
    out["Authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={creds.key}/{scope}, "
        f"SignedHeaders={';'.join(names)}, Signature={signature}"
    )
    return out


# -- the client -----------------------------------------------------------------------------------


def _file_sha256(fh: BinaryIO, start: int = 0, length: int | None = None) -> str:
    digest = hashlib.sha256()
    fh.seek(start)
    left = length
    while left is None or left > 0:
        chunk = fh.read(CHUNK if left is None else min(CHUNK, left))
        if not chunk:
            break
        digest.update(chunk)
        if left is not None:
            left -= len(chunk)
    fh.seek(start)
    return digest.hexdigest()


class _Slice:
    """A window of a file, sent in blocks (a part of a multipart upload)."""

    def __init__(self, fh: BinaryIO, start: int, length: int):
        self.fh, self.start, self.length = fh, start, length
        self.seek(0)

    def tell(self) -> int:
        return self.length - self.left

    def seek(self, offset: int) -> None:
        self.fh.seek(self.start + offset)
        self.left = self.length - offset

    def read(self, size: int = -1) -> bytes:
        if self.left <= 0:
            return b""
        size = self.left if size is None or size < 0 else min(size, self.left)
        data = self.fh.read(size)
        self.left -= len(data)
        return data


class S3Client:
    """``bucket`` in the store at ``endpoint`` (None: AWS in ``region``)."""

    def __init__(self, bucket: str, endpoint: str | None = None, region: str | None = None):
        self.bucket = bucket
        self.region = region or _env("AWS_REGION") or _env("AWS_DEFAULT_REGION") or "us-east-1"
        endpoint = (endpoint or _env("AWS_ENDPOINT_URL_S3") or _env("AWS_ENDPOINT_URL")).rstrip("/")
        if endpoint:
            if "://" not in endpoint:
                endpoint = "https://" + endpoint
            parts = urllib.parse.urlsplit(endpoint)
            # user:password@ is no S3 credential (requests are signed): never sent nor said
            parts = parts._replace(netloc=parts.netloc.rpartition("@")[2])
            endpoint = urllib.parse.urlunsplit(parts)
            self.base = f"{parts.scheme}://{parts.netloc}"
            self.path_prefix = parts.path.rstrip("/") + "/" + _quote(bucket)
            self.host = parts.netloc
        else:
            virtual = "." not in bucket
            self.host = (
                f"{bucket}.s3.{self.region}.amazonaws.com"
                if virtual
                else f"s3.{self.region}.amazonaws.com"
            )
            self.base = "https://" + self.host
            self.path_prefix = "" if virtual else "/" + _quote(bucket)
        self.where = endpoint or f"AWS S3 ({self.region})"
        self._creds: Credentials | None = None

    def credentials(self) -> Credentials:
        if self._creds is None or not self._creds.fresh():
            self._creds = find_credentials(self.region)
        return self._creds

    def _call(
        self,
        method: str,
        key: str,
        *,
        query: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        body: Any = b"",
        payload_sha256: str = EMPTY_SHA256,
        sink: BinaryIO | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        query = query or {}
        path = self.path_prefix + "/" + _quote(key, safe="-_.~/")
        signed = sign(
            method,
            self.host,
            path,
            query,
            headers or {},
            payload_sha256,
            self.credentials(),
            self.region,
        )
        if query:
            path += "?" + "&".join(f"{_quote(k)}={_quote(v)}" for k, v in sorted(query.items()))
        status, got, data = _request(
            method, self.base + path, signed, body, f"the object store at {self.where}", sink
        )
        if status >= 300:
            raise self._error(status, data, key)
        return status, got, data

    def _error(self, status: int, body: bytes, key: str) -> S3Error:
        code, message = _error_fields(_xml(body))
        if status == 404 and code in ("", "NoSuchKey", "NotFound"):
            return S3Error(f"{key} does not exist in bucket {self.bucket}", "NoSuchKey", 404)
        if code == "NoSuchBucket":
            return S3Error(f"bucket {self.bucket} does not exist at {self.where}", code, status)
        if code in CREDENTIAL_CODES:
            source = self._creds.source if self._creds else "?"
            return S3Error(
                f"wrong object store credentials ({source}): {CREDENTIAL_CODES[code]} ({code})",
                code,
                status,
            )
        if status == 403:
            return S3Error(
                f"access denied to {key} in bucket {self.bucket}"
                + (f" ({code}: {message})" if code else ""),
                code or "AccessDenied",
                status,
            )
        detail = f"{code}: {message}" if code else f"HTTP {status}"
        return S3Error(f"{detail.rstrip(': ')}", code, status)

    # -- operations -------------------------------------------------------------------------------

    def list_keys(self, prefix: str) -> list[str]:
        """Every key that starts with ``prefix`` (ListObjectsV2, all pages)."""
        keys: list[str] = []
        token = ""
        seen: set[str] = set()
        while True:
            query = {"list-type": "2", "prefix": prefix}
            if token:
                query["continuation-token"] = token
            root = _xml(self._call("GET", "", query=query)[2])
            token = ""
            for el in root.iter():
                tag = el.tag.rsplit("}", 1)[-1]
                if tag == "Key":
                    keys.append(el.text or "")
                elif tag == "NextContinuationToken":
                    token = (el.text or "").strip()
            if not token:
                return keys
            if token in seen:  # a store answering the same page again: no end to reach
                raise S3Error(
                    f"listing {prefix!r} in bucket {self.bucket}: the store repeated a "
                    "continuation token",
                    "Listing",
                )
            seen.add(token)

    def get_to(self, key: str, sink: BinaryIO) -> None:
        self._call("GET", key, sink=sink)

    def get_bytes(self, key: str) -> bytes:
        return self._call("GET", key)[2]

    def put_bytes(self, key: str, data: bytes, content_type: str | None = None) -> None:
        headers = {"Content-Type": content_type} if content_type else {}
        headers["Content-Length"] = str(len(data))
        self._call(
            "PUT",
            key,
            headers=headers,
            body=data,
            payload_sha256=hashlib.sha256(data).hexdigest(),
        )

    def put_file(self, key: str, path: str, content_type: str | None = None) -> None:
        size = os.path.getsize(path)
        with open(path, "rb") as fh:
            if size > MULTIPART_THRESHOLD:
                self._multipart(key, fh, size, content_type)
                return
            headers = {"Content-Type": content_type} if content_type else {}
            headers["Content-Length"] = str(size)
            self._call(
                "PUT",
                key,
                headers=headers,
                body=fh,
                payload_sha256=_file_sha256(fh),
            )

    def _multipart(self, key: str, fh: BinaryIO, size: int, content_type: str | None) -> None:
        headers = {"Content-Type": content_type} if content_type else {}
        body = self._call("POST", key, query={"uploads": ""}, headers=headers)[2]
        upload = next(
            (el.text for el in _xml(body).iter() if el.tag.rsplit("}", 1)[-1] == "UploadId"), None
        )
        if not upload:
            raise S3Error(f"the store did not start a multipart upload of {key}", "Multipart")
        etags = []
        try:
            for number, start in enumerate(range(0, size, PART_SIZE), start=1):
                length = min(PART_SIZE, size - start)
                digest = _file_sha256(fh, start, length)
                _, got, _ = self._call(
                    "PUT",
                    key,
                    query={"partNumber": str(number), "uploadId": upload},
                    headers={"Content-Length": str(length)},
                    body=_Slice(fh, start, length),
                    payload_sha256=digest,
                )
                etags.append((number, got.get("etag", "")))
            done = (
                "<CompleteMultipartUpload>"
                + "".join(
                    f"<Part><PartNumber>{n}</PartNumber><ETag>{e}</ETag></Part>" for n, e in etags
                )
                + "</CompleteMultipartUpload>"
            ).encode()
            self._call(
                "POST",
                key,
                query={"uploadId": upload},
                headers={"Content-Length": str(len(done))},
                body=done,
                payload_sha256=hashlib.sha256(done).hexdigest(),
            )
        except BaseException:
            try:
                self._call("DELETE", key, query={"uploadId": upload})
            except S3Error:
                pass
            raise
