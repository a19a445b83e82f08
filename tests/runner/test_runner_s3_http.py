"""The runner's own HTTP/1.1 client (runner/s3.py) against a hostile server on 127.0.0.1: every
broken answer is one S3Error line, and nothing reads without bound or waits for a socket timeout
when the answer is already known to be wrong."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import threading
import time

import pytest

from mlpipe_lab.runner import s3
from mlpipe_lab.runner.errors import S3Error


class Hostile:
    """Answers every connection with ``answer(conn)``; stops after ``max_seconds``."""

    def __init__(self, answer, max_seconds: float = 30.0, read_request: bool = True):
        self.answer, self.read_request = answer, read_request
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.stop_at = time.monotonic() + max_seconds
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self):
        while not self.stopped.is_set() and time.monotonic() < self.stop_at:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(5)
                try:
                    if self.read_request:
                        conn.recv(65536)  # the request (small: a GET)
                    self.answer(conn)
                except OSError:
                    pass

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopped.set()
        self.thread.join(5)
        self.sock.close()


@pytest.fixture(autouse=True)
def fast(monkeypatch):
    monkeypatch.setattr(s3, "RETRIES", 1)
    monkeypatch.setattr(s3, "READ_TIMEOUT", 3.0)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "k")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s")


def client(server: Hostile) -> s3.S3Client:
    return s3.S3Client("b", f"http://127.0.0.1:{server.port}")


def test_a_negative_chunk_size_is_a_bad_chunk_not_a_read_to_the_end(monkeypatch):
    def answer(conn):
        conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\nabc")
        time.sleep(4)  # the connection stays open: reading to its end waits for the timeout

    with Hostile(answer) as server:
        start = time.monotonic()
        with pytest.raises(S3Error, match="bad chunk size") as err:
            client(server).get_bytes("k")
        assert time.monotonic() - start < 2.5
    assert "\n" not in str(err.value)


def test_endless_headers_are_refused():
    def answer(conn):
        conn.sendall(b"HTTP/1.1 200 OK\r\n")
        for _ in range(2000):
            conn.sendall(b"X-Filler: " + b"a" * 1000 + b"\r\n")
        conn.sendall(b"Content-Length: 0\r\n\r\n")

    with Hostile(answer) as server:
        with pytest.raises(S3Error, match="too many header"):
            client(server).get_bytes("k")


def test_a_body_read_into_memory_is_bounded(monkeypatch):
    monkeypatch.setattr(s3, "MAX_MEMORY_BODY", 1 << 16)

    def endless(conn):  # no length: the body lasts as long as the connection
        conn.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
        for _ in range(64):
            conn.sendall(b"x" * 4096)

    def announced(conn):
        conn.sendall(b"HTTP/1.1 403 No\r\nContent-Length: 99999999999\r\n\r\nxx")
        time.sleep(4)

    for answer in (endless, announced):
        with Hostile(answer) as server:
            start = time.monotonic()
            with pytest.raises(S3Error, match="answer is longer than 65536 bytes"):
                client(server).get_bytes("k")
            assert time.monotonic() - start < 2.5  # said before the body arrives


@pytest.mark.parametrize(
    "head",
    [
        b"HTTP/1.1 2\xb2 OK\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: \xb2\r\n\r\n",
    ],
)
def test_digits_that_are_not_ascii_are_not_a_traceback(head):
    # a status of '2²' is no HTTP answer; a length of '²' is no length (read to the end)
    with Hostile(lambda conn: conn.sendall(head)) as server:
        try:
            assert client(server).get_bytes("k") == b""
        except S3Error as exc:
            assert "not an HTTP answer" in str(exc)


def test_user_info_in_the_endpoint_is_never_said_nor_sent():
    # S3 authenticates by signature; user:password@ in the endpoint URL is no credential
    with pytest.raises(S3Error) as err:
        s3.S3Client("b", "http://alice:s3cret@127.0.0.1:9").get_bytes("k")
    assert "s3cret" not in str(err.value)
    assert "127.0.0.1:9" in str(err.value)

    def answer(conn):
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")

    with Hostile(answer) as server:
        c = s3.S3Client("b", f"http://alice:s3cret@127.0.0.1:{server.port}")
        assert c.host == f"127.0.0.1:{server.port}"
        assert c.get_bytes("k") == b"ok"


@pytest.mark.skipif(not shutil.which("openssl"), reason="needs openssl")
def test_https_checks_the_certificate_and_its_name(tmp_path, monkeypatch):
    key, crt = tmp_path / "k.pem", tmp_path / "c.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=store", "-addext", "subjectAltName=DNS:store.elsewhere.example",
         "-keyout", str(key), "-out", str(crt)],
        check=True, capture_output=True,
    )  # fmt: skip
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(crt), str(key))

    def answer(conn):
        try:
            with ctx.wrap_socket(conn, server_side=True) as tls:
                tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        except (OSError, ssl.SSLError):
            pass

    monkeypatch.setattr(s3, "RETRIES", 3)
    with Hostile(answer, read_request=False) as server:
        c = s3.S3Client("b", f"https://127.0.0.1:{server.port}")
        with pytest.raises(S3Error, match="certificate verify failed: self.signed"):
            c.get_bytes("k")  # an unknown issuer
        monkeypatch.setenv("SSL_CERT_FILE", str(crt))  # trusted now, but named for another host
        with pytest.raises(
            S3Error, match="certificate verify failed: (IP address|Hostname) mismatch"
        ):
            c.get_bytes("k")


def test_endless_interim_answers_are_refused():
    def answer(conn):
        for _ in range(5000):  # 100 Continue after 100 Continue: the real answer never comes
            conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")

    with Hostile(answer) as server:
        with pytest.raises(S3Error, match="interim"):
            client(server).get_bytes("k")


def test_an_answer_trickled_byte_by_byte_ends_at_the_timeout():
    # every byte arrives within the socket timeout (3 s here), the whole answer never does
    def answer(conn):
        conn.sendall(b"HTTP/1.1 200 OK\r\n")
        for _ in range(24):
            conn.sendall(b"X")
            time.sleep(0.5)
        conn.sendall(b": y\r\nContent-Length: 2\r\n\r\nok")

    with Hostile(answer) as server:
        start = time.monotonic()
        with pytest.raises(S3Error, match="took longer than 3 s"):
            client(server).get_bytes("k")
        assert time.monotonic() - start < 6


def test_a_listing_that_repeats_its_continuation_token_ends():
    page = (
        b'<?xml version="1.0"?><ListBucketResult><IsTruncated>true</IsTruncated>'
        b"<Contents><Key>a</Key></Contents>"
        b"<NextContinuationToken>same</NextContinuationToken></ListBucketResult>"
    )

    def answer(conn):
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(page) + page)

    with Hostile(answer, max_seconds=15) as server:
        with pytest.raises(S3Error, match="continuation token"):
            client(server).list_keys("")
