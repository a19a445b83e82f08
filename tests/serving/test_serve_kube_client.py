"""The serve tasks' Kubernetes client (serving/tasks/kube.py) as a hostile or careless setting
would test it: a kubeconfig's inline client key does not stay on disk, TLS checks the server's
name, an endless answer is refused. Servers on 127.0.0.1, stopped after each test; certificates
made with openssl."""

from __future__ import annotations

import base64
import http.server
import shutil
import ssl
import subprocess
import tempfile
import threading

import pytest
import yaml

from mlpipe_lab.serving.tasks import kube

pytestmark = pytest.mark.skipif(not shutil.which("openssl"), reason="needs openssl")


def make_cert(folder, name: str, san: str):
    key, crt = folder / f"{name}.key", folder / f"{name}.crt"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", f"/CN={name}", "-addext", f"subjectAltName={san}",
         "-keyout", str(key), "-out", str(crt)],
        check=True, capture_output=True,
    )  # fmt: skip
    return crt, key


def b64(path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def kubeconfig(path, server: str, ca, user: dict) -> str:
    doc = {
        "current-context": "c",
        "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}],
        "clusters": [
            {"name": "k", "cluster": {"server": server, "certificate-authority-data": b64(ca)}}
        ],
        "users": [{"name": "u", "user": user}],
    }
    path.write_text(yaml.safe_dump(doc))
    return str(path)


class Server:
    def __init__(self, body: bytes, cert=None):
        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        if cert:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*map(str, cert))
            self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_port
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_an_inline_client_key_does_not_stay_on_disk(tmp_path, monkeypatch):
    ca, _ = make_cert(tmp_path, "ca", "DNS:localhost")
    crt, key = make_cert(tmp_path, "client", "DNS:client")
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    path = kubeconfig(
        tmp_path / "config",
        "https://127.0.0.1:6443",
        ca,
        {"client-certificate-data": b64(crt), "client-key-data": b64(key)},
    )
    api = kube.kubeconfig_api(path)
    assert api.context is not None
    assert list(scratch.iterdir()) == []


def test_tls_checks_the_api_servers_name(tmp_path):
    cert = make_cert(tmp_path, "api", "DNS:api.elsewhere.example")
    with Server(b"{}", cert) as server:
        path = kubeconfig(
            tmp_path / "config", f"https://127.0.0.1:{server.port}", cert[0], {"token": "t"}
        )
        with pytest.raises(kube.KubeError, match="cannot reach the API server"):
            kube.kubeconfig_api(path).request("GET", "/version")
    good = make_cert(tmp_path, "api2", "IP:127.0.0.1")
    with Server(b'{"major": "1"}', good) as server:
        path = kubeconfig(
            tmp_path / "config", f"https://127.0.0.1:{server.port}", good[0], {"token": "t"}
        )
        assert kube.kubeconfig_api(path).request("GET", "/version") == {"major": "1"}


def test_an_endless_answer_is_refused(monkeypatch):
    monkeypatch.setattr(kube, "MAX_BODY", 1000)
    with Server(b"[" + b"1," * 5000 + b"1]") as server:
        api = kube.Api(f"http://127.0.0.1:{server.port}", token="t")
        with pytest.raises(kube.KubeError, match="longer than 1000 bytes"):
            api.request("GET", "/api/v1/pods")


def test_certificate_authority_data_that_is_not_base64_is_one_line(tmp_path):
    ca = tmp_path / "ca"
    ca.write_bytes(b"x")
    path = kubeconfig(tmp_path / "config", "https://127.0.0.1:6443", ca, {"token": "t"})
    doc = yaml.safe_load((tmp_path / "config").read_text())
    doc["clusters"][0]["cluster"]["certificate-authority-data"] = "abc"
    (tmp_path / "config").write_text(yaml.safe_dump(doc))
    with pytest.raises(kube.KubeError, match="certificate-authority-data"):
        kube.kubeconfig_api(path)


def test_a_broken_kubeconfig_is_one_line_without_its_text(tmp_path):
    path = tmp_path / "config"
    path.write_text("users:\n- name: u\n  user:\n    token: s3cretTOKEN: x\n")
    with pytest.raises(kube.KubeError) as err:
        kube.kubeconfig_api(str(path))
    assert "s3cret" not in str(err.value) and "\n" not in str(err.value)
    assert "line 4" in str(err.value)
