"""The serve tasks' MLflow REST client keeps the tracking server's credentials to that server:
never in an error message (a tracking URI with user:password), never sent to another host a
redirect names. Plain http.server on 127.0.0.1, stopped after each test."""

from __future__ import annotations

import http.server
import threading

import pytest

from mlpipe_lab.serving import mlflow_rest


class Server:
    def __init__(self, handle):
        seen = self.seen = []

        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                seen.append(dict(self.headers))
                handle(self)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def answer(status: int, body: bytes = b"", **headers: str):
    def handle(h):
        h.send_response(status)
        for k, v in headers.items():
            h.send_header(k.replace("_", "-"), v)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    return handle


@pytest.fixture(autouse=True)
def no_env_credentials(monkeypatch):
    for name in ("MLFLOW_TRACKING_TOKEN", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
        monkeypatch.delenv(name, raising=False)


def test_credentials_in_the_tracking_uri_are_used_and_never_said():
    with Server(answer(502, b"bad gateway")) as server:
        uri = server.url.replace("http://", "http://alice:s3cret@")
        with pytest.raises(mlflow_rest.RestError) as err:
            mlflow_rest.Client(uri).check_version("m", "1")
        assert server.seen[0].get("Authorization") == "Basic YWxpY2U6czNjcmV0"
    assert "s3cret" not in str(err.value)
    assert "HTTP 502" in str(err.value)
    with pytest.raises(mlflow_rest.RestError) as err:  # nothing listens on port 9
        mlflow_rest.Client("http://alice:s3cret@127.0.0.1:9").check_version("m", "1")
    assert "s3cret" not in str(err.value)
    assert "127.0.0.1:9" in str(err.value)


def test_a_redirect_to_another_host_gets_no_credentials(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "tok-s3cret")
    with Server(answer(200, b"{}", Content_Type="application/json")) as other:
        with Server(answer(302, Location=other.url + "/elsewhere")) as tracking:
            mlflow_rest.Client(tracking.url).check_version("m", "1")
            assert tracking.seen[0].get("Authorization") == "Bearer tok-s3cret"
        assert len(other.seen) == 1
        assert "Authorization" not in other.seen[0]


def test_an_answer_cut_short_is_one_line():
    def cut(h):
        h.send_response(200)
        h.send_header("Content-Length", "1000")
        h.end_headers()
        h.wfile.write(b'{"model_version": ')
        h.close_connection = True

    with Server(cut) as server:
        with pytest.raises(mlflow_rest.RestError, match="reading the answer to .* failed"):
            mlflow_rest.Client(server.url).check_version("m", "1")


def test_an_artifact_cut_short_is_not_a_truncated_file(tmp_path):
    def handle(h):
        if "artifacts?" in h.path:  # the listing
            body = b'{"files": [{"path": "model/MLmodel", "is_dir": false}]}'
            answer(200, body, Content_Type="application/json")(h)
            return
        h.send_response(200)
        h.send_header("Content-Length", "1000")
        h.end_headers()
        h.wfile.write(b"flavors: {")
        h.close_connection = True

    with Server(handle) as server:
        with pytest.raises(mlflow_rest.RestError, match="cut short"):
            mlflow_rest.Client(server.url).download("mlflow-artifacts:/model", tmp_path / "dl")


def test_artifacts_on_another_server_get_no_credentials(monkeypatch, tmp_path):
    # the artifact URI comes from the model version (whoever registered it chose it)
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "tok-s3cret")

    def handle(h):
        if "artifacts?" in h.path:
            body = b'{"files": [{"path": "model/MLmodel", "is_dir": false}]}'
        else:
            body = b"flavors: {}\n"
        answer(200, body)(h)

    with Server(handle) as other, Server(answer(404)) as tracking:
        where = other.url.replace("http://", "mlflow-artifacts://") + "/model"
        mlflow_rest.Client(tracking.url).download(where, tmp_path / "dl")
        assert (tmp_path / "dl" / "MLmodel").read_bytes() == b"flavors: {}\n"
        assert other.seen and all("Authorization" not in h for h in other.seen)
