"""Unit tests of the serving runtime's pure parts: parameters, payloads, responses, the logger."""

from __future__ import annotations

import time

import pytest

np = pytest.importorskip("numpy")

from mlpipe_lab.serving.runtime import (  # noqa: E402
    MicroserviceError,
    ParameterError,
    SeldonResponse,
    parse_parameters,
    protocol,
)
from mlpipe_lab.serving.runtime.model import UserModel, import_predictor_class  # noqa: E402
from mlpipe_lab.serving.runtime.reqlogger import REQUEST, RESPONSE, RequestLogger  # noqa: E402


def test_parameters_all_types():
    raw = """[{"name":"a","value":"3","type":"INT"},{"name":"b","value":"0.5","type":"FLOAT"},
              {"name":"c","value":2,"type":"DOUBLE"},{"name":"d","value":7,"type":"STRING"},
              {"name":"e","value":"false","type":"BOOL"},{"name":"f","value":true,"type":"bool"}]"""
    assert parse_parameters(raw) == {"a": 3, "b": 0.5, "c": 2.0, "d": "7", "e": False, "f": True}
    assert (
        parse_parameters("") == {} and parse_parameters("[]") == {} and parse_parameters(None) == {}
    )


@pytest.mark.parametrize(
    "raw",
    [
        "{",
        '{"name":"a"}',
        '[{"name":"a","value":1}]',
        '[{"name":"a","value":"x","type":"INT"}]',
        '[{"name":"a","value":1,"type":"LONG"}]',
        '[{"name":"not valid","value":1,"type":"INT"}]',
        '[{"name":"a","value":"maybe","type":"BOOL"}]',
    ],
)
def test_bad_parameters(raw):
    with pytest.raises(ParameterError):
        parse_parameters(raw)


class Plain:
    def predict(self, X, features_names):
        return X


class WithNames:
    class_names = ["a", "b"]

    def predict(self, X, features_names, **kwargs):
        return X


def test_user_model_hooks_default():
    m = UserModel(Plain())
    assert m.metrics() == [] and m.tags() == {} and m.class_names(3) == ["t:0", "t:1", "t:2"]
    assert UserModel(WithNames()).class_names(2) == ["a", "b"]  # an attribute works too
    with pytest.raises(TypeError):
        UserModel(object())


def test_import_predictor_class(tmp_path):
    (tmp_path / "MyModel.py").write_text(
        "class MyModel:\n    def predict(self, X, n):\n        return X\n"
        "class Other(MyModel):\n    pass\n"
    )
    assert import_predictor_class("MyModel", str(tmp_path)).__name__ == "MyModel"
    assert import_predictor_class("MyModel.Other", str(tmp_path)).__name__ == "Other"
    with pytest.raises(ImportError):
        import_predictor_class("MyModel.Missing", str(tmp_path))


def test_build_data_kinds():
    m = UserModel(Plain())
    nd = {"data": {"ndarray": [[1]]}}
    assert protocol.build_data(m, nd, np.array([[1, 2]])) == {
        "data": {"names": ["t:0", "t:1"], "ndarray": [[1, 2]]}
    }
    assert protocol.build_data(m, nd, [1, 2]) == {"data": {"names": [], "ndarray": [1, 2]}}
    assert protocol.build_data(m, nd, np.array(["x"])) == {"data": {"names": [], "ndarray": ["x"]}}
    # a request without data answers numeric arrays as tensor (seldon-core does the same)
    assert protocol.build_data(m, {"strData": "a"}, np.array([1.5])) == {
        "data": {"names": [], "tensor": {"shape": [1], "values": [1.5]}}
    }
    assert protocol.build_data(m, nd, {"a": 1}) == {"jsonData": {"a": 1}}
    assert protocol.build_data(m, nd, b"\x02\x01") == {"binData": "AgE="}
    assert protocol.build_data(m, nd, "s") == {"strData": "s"}
    with pytest.raises(MicroserviceError) as info:
        protocol.build_data(m, nd, object())
    assert info.value.status_code == 500


def test_meta_echo_and_request_path(monkeypatch):
    meta = protocol.build_meta(
        {"puid": "p", "tags": {"a": 1}, "metrics": [{"key": "k"}]}, {"b": 2}, [{"key": "m"}]
    )
    assert meta == {"puid": "p", "tags": {"a": 1, "b": 2}, "metrics": [{"key": "k"}, {"key": "m"}]}
    assert protocol.build_meta(None, {}, [{"key": "m"}], include_metrics=False) == {}
    monkeypatch.setenv("PREDICTIVE_UNIT_ID", "classifier")
    monkeypatch.setenv("PREDICTIVE_UNIT_IMAGE", "reg/model:1")
    assert protocol.build_meta(None, {}, []) == {"requestPath": {"classifier": "reg/model:1"}}


def test_unwrap_and_metric_validation():
    assert protocol.unwrap(SeldonResponse([1], {"t": 1}, [])) == ([1], {"t": 1}, [])
    assert protocol.unwrap([1]) == ([1], None, None)
    protocol.validate_metrics([{"key": "a", "type": "TIMER", "value": 1.5, "tags": {"x": "y"}}])
    for bad in (
        {"key": "a", "type": "HISTOGRAM", "value": 1},
        {"key": "a", "type": "GAUGE", "value": "1"},
        {"type": "GAUGE", "value": 1},
        "x",
    ):
        with pytest.raises(MicroserviceError):
            protocol.validate_metrics([bad])


def test_metadata_validation():
    doc = protocol.validate_metadata(None, "m")
    assert doc == {
        "name": "m",
        "versions": [],
        "platform": "",
        "inputs": [],
        "outputs": [],
        "custom": {},
    }
    for bad in ([], {"versions": "1"}, {"inputs": [{"name": "x"}]}, {"custom": 1}):
        with pytest.raises(MicroserviceError) as info:
            protocol.validate_metadata(bad, "m")
        assert info.value.reason == "MICROSERVICE_BAD_METADATA"


def test_dumps_matches_flask_jsonify_bytes():
    assert (
        protocol.dumps({"meta": {}, "data": {"ndarray": np.array([1])}})
        == b'{"data":{"ndarray":[1]},"meta":{}}\n'
    )


def test_logger_never_blocks_and_drops_when_full():
    import http.server
    import threading

    outcomes = []

    class Slow(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            time.sleep(0.5)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        rl = RequestLogger(
            f"http://127.0.0.1:{srv.server_address[1]}/",
            "request",
            source="http://x:9000/",
            threads=1,
            queue_size=3,
            on_outcome=outcomes.append,
        )
        t0 = time.perf_counter()
        for i in range(20):
            rl.log(REQUEST, f"r{i}", b"{}")
            rl.log(RESPONSE, f"r{i}", b"{}")  # mode=request: not queued at all
        assert time.perf_counter() - t0 < 0.2
        assert outcomes.count("dropped") >= 15
        assert rl.flush(timeout=5)
        assert 1 <= outcomes.count("sent") <= 4
    finally:
        srv.shutdown()
        srv.server_close()


def test_logger_rejects_bad_config():
    with pytest.raises(ValueError):
        RequestLogger("http://x/", "everything", source="s")
    with pytest.raises(ValueError):
        RequestLogger("ftp://x/", "all", source="s")


def test_feedback_response_printed_like_seldon_cores_protobuf():
    """Numbers become doubles, empty names/puid go, a COUNTER metric loses its (zero) type."""
    msg = {
        "data": {"names": [], "ndarray": [[1, 2]]},
        "meta": {
            "puid": "",
            "tags": {"n": 1, "s": "x"},
            "metrics": [
                {"key": "c", "type": "COUNTER", "value": 1},
                {"key": "g", "type": "GAUGE", "value": 2, "tags": {"a": "b"}},
            ],
        },
    }
    assert protocol.as_proto_json(msg) == {
        "data": {"ndarray": [[1.0, 2.0]]},
        "meta": {
            "tags": {"n": 1.0, "s": "x"},
            "metrics": [
                {"key": "c", "value": 1.0},
                {"key": "g", "type": "GAUGE", "value": 2.0, "tags": {"a": "b"}},
            ],
        },
    }
    tensor = {"data": {"names": ["a"], "tensor": {"shape": [1, 1], "values": [3]}}, "meta": {}}
    assert protocol.as_proto_json(tensor) == {
        "data": {"names": ["a"], "tensor": {"shape": [1, 1], "values": [3.0]}},
        "meta": {},
    }
    assert protocol.as_proto_json({"jsonData": {"x": [1, True, None]}, "meta": {}}) == {
        "jsonData": {"x": [1.0, True, None]},
        "meta": {},
    }


def test_request_meta_tags_and_metrics_merged_in_place():
    """As in seldon-core: a Predictor that returns the meta it was given sees the merged tags."""
    req = {"tags": {"a": "b"}, "metrics": [], "puid": "p"}
    meta = protocol.build_meta(req, {"label": "x"}, [{"key": "k", "type": "GAUGE", "value": 1}])
    assert req["tags"] == {"a": "b", "label": "x"} and meta["tags"] is req["tags"]
    assert req["metrics"] == [{"key": "k", "type": "GAUGE", "value": 1}] and meta["puid"] == "p"
    with pytest.raises(MicroserviceError) as err:
        protocol.validate_metrics([{"key": "k", "type": "NOPE", "value": 1}])
    assert (err.value.status_code, err.value.reason) == (500, "MICROSERVICE_BAD_METRIC")
    assert (
        err.value.message
        == 'Bad metric created during request: [{"key": "k", "type": "NOPE", "value": 1}]'
    )


def test_call_placement_runs_quick_calls_on_the_loop_and_slow_ones_on_the_pool():
    from mlpipe_lab.serving.runtime.app import CallPlacement

    p = CallPlacement(0.02, window=3)

    def run(n: int, seconds: float = 0.001) -> list[bool]:
        """Where n calls went (True = loop); loop calls take ``seconds``."""
        out = []
        for _ in range(n):
            on_loop = p.on_loop()
            if on_loop:
                p.took(seconds)
            out.append(on_loop)
        return out

    assert run(5) == [True] * 5
    assert p.took(0.05)  # a slow call on the loop: the next `window` calls go to the pool
    assert run(4) == [False, False, False, True]
    # Slow again within a window of calls back on the loop: a relapse doubles the window.
    assert p.took(0.5)
    assert run(7) == [False] * 6 + [True]
    assert p.took(0.5)
    assert run(13) == [False] * 12 + [True]
    # A slow call long after the last one (a host hiccup) costs the base window only.
    run(10)
    assert p.took(0.03)
    assert run(4) == [False, False, False, True]
    assert not p.took(0.02)  # the budget itself is not slow

    always_pool = CallPlacement(0)
    assert [always_pool.on_loop() for _ in range(5)] == [False] * 5
