"""The serving runtime end to end: Seldon v1 REST responses as measured from seldon-core 1.19,
errors, Prometheus metrics, CloudEvents request logging and several worker processes.

Each server is one ``python -m mlpipe_lab.serving.runtime`` subprocess on 127.0.0.1 with an
ephemeral port, started once per module and stopped by its PID.
"""

from __future__ import annotations

import http.client
import json
import os
import statistics
import threading
import time
import uuid
from datetime import datetime

import pytest

pytest.importorskip("numpy")
pytest.importorskip("uvicorn")
pytest.importorskip("prometheus_client")

from serving_helpers import LoggerSink, ServingServer, call, prometheus_value

ECHO_ENV = {
    "PREDICTIVE_UNIT_ID": "classifier",
    "SELDON_DEPLOYMENT_ID": "mlflowdemo",
    "PREDICTOR_ID": "default",
    "POD_NAMESPACE": "models",
}


@pytest.fixture(scope="module")
def sink():
    with LoggerSink() as s:
        yield s


@pytest.fixture(scope="module")
def echo(sink):
    params = json.dumps(
        [
            {"name": "factor", "value": "10", "type": "INT"},
            {"name": "columns", "value": 2, "type": "INT"},
        ]
    )
    server = ServingServer(
        "serving_helpers.EchoPredictor",
        "--workers",
        "2",
        env={**ECHO_ENV, "PREDICTIVE_UNIT_PARAMETERS": params, "SELDON_LOGGER_URL": sink.url},
    )
    with server:
        yield server


@pytest.fixture(scope="module")
def demo():
    with ServingServer("serving_helpers.DemoPredictor", "--workers", "1") as server:
        yield server


def predict(server, body, path="/api/v1.0/predictions", headers=None):
    status, hdrs, raw = call(server.url + path, "POST", body, headers)
    return status, hdrs, raw


# -- payload kinds: exactly the documented JSON ----------------------------------------------

DOCUMENTED = [
    (
        {"data": {"ndarray": [[2, 1]]}},
        b'{"data":{"names":["t:0","t:1"],"ndarray":[[20,10]]},"meta":{}}',
    ),
    (
        {"data": {"names": ["f0", "f1"], "ndarray": [[2, 1]]}},
        b'{"data":{"names":["t:0","t:1"],"ndarray":[[20,10]]},"meta":{}}',
    ),
    (
        {"data": {"tensor": {"shape": [1, 2], "values": [2, 1]}}},
        b'{"data":{"names":["t:0","t:1"],"tensor":{"shape":[1,2],"values":[20,10]}},"meta":{}}',
    ),
    ({"jsonData": {"x": [[2, 1]]}}, b'{"jsonData":{"x":[[2,1]]},"meta":{}}'),
    ({"strData": "2,1"}, b'{"meta":{},"strData":"2,1"}'),
    ({"binData": "AgE="}, b'{"binData":"AgE=","meta":{}}'),
    (
        {"meta": {"puid": "req-42", "tags": {"client": "lab"}}, "data": {"ndarray": [[2, 1]]}},
        b'{"data":{"names":["t:0","t:1"],"ndarray":[[20,10]]},"meta":{"puid":"req-42","tags":{"client":"lab"}}}',
    ),
    ({"data": {"ndarray": [2, 1]}}, b'{"data":{"names":[],"ndarray":[20,10]},"meta":{}}'),
    (
        {"data": {"ndarray": [[0.5, 1.5]]}},
        b'{"data":{"names":["t:0","t:1"],"ndarray":[[5.0,15.0]]},"meta":{}}',
    ),
]


@pytest.mark.parametrize(
    "request_body,expected",
    DOCUMENTED,
    ids=["ndarray", "names", "tensor", "jsonData", "strData", "binData", "meta", "1-D", "float"],
)
def test_documented_responses(echo, request_body, expected):
    status, headers, body = predict(echo, request_body)
    assert status == 200, body
    assert body.rstrip(b"\n") == expected
    assert headers["content-type"] == "application/json"
    assert headers["access-control-allow-origin"] == "*"


def test_predict_alias_query_and_form(echo):
    body = b'{"data":{"names":["t:0","t:1"],"ndarray":[[20,10]]},"meta":{}}\n'
    assert predict(echo, {"data": {"ndarray": [[2, 1]]}}, path="/predict")[2] == body
    q = "json=" + json.dumps({"data": {"ndarray": [[2, 1]]}}).replace(" ", "")
    status, _, got = call(f"{echo.url}/api/v1.0/predictions?{q}")
    assert (status, got) == (200, body)
    form = "json=" + json.dumps({"data": {"ndarray": [[2, 1]]}})
    status, _, got = call(
        f"{echo.url}/api/v1.0/predictions",
        "POST",
        form,
        {"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert (status, got) == (200, body)


def test_puid_header(echo):
    _, headers, _ = predict(echo, {"meta": {"puid": "req-7"}, "data": {"ndarray": [[2, 1]]}})
    assert headers["seldon-puid"] == "req-7"
    _, headers, body = predict(echo, {"data": {"ndarray": [[2, 1]]}})
    uuid.UUID(headers["seldon-puid"])  # generated
    assert b"puid" not in body  # like seldon-core's model container: not added to meta
    _, headers, _ = predict(echo, {"strData": "x"}, headers={"Seldon-Puid": "from-header"})
    assert headers["seldon-puid"] == "from-header"


# -- errors ----------------------------------------------------------------------------------


def error(status_body):
    status, _, body = status_body
    doc = json.loads(body)
    assert set(doc) == {"status"} and set(doc["status"]) == {"code", "info", "reason", "status"}
    assert doc["status"]["code"] == -1 and doc["status"]["status"] == 1
    return status, doc["status"]["reason"], doc["status"]["info"]


def test_model_error_is_500_internal_error(echo):
    status, reason, info = error(predict(echo, {"data": {"ndarray": [[2, 1, 5]]}}))
    assert (status, reason) == (500, "MICROSERVICE_INTERNAL_ERROR")
    assert info.startswith("Failed to enforce schema")
    assert "Shape of input (1, 3) does not match expected shape (-1, 2)." in info


@pytest.mark.parametrize(
    "body,info",
    [
        (b'{"data":{"ndarray":[[2,1]', "Can't find JSON in data"),
        (b"", "Can't find JSON in data"),
        (b"not json", "Can't find JSON in data"),
        (b'{"foo":1}', "Invalid request data type"),
        (b"[1,2]", "Invalid request data type"),
        (b'{"meta":"x","strData":"a"}', "Invalid request: meta must be an object"),
        (b"null", "Can't find JSON in data"),
    ],
)
def test_bad_payloads_are_400_bad_data(echo, body, info):
    status, reason, got = error(predict(echo, body))
    assert (status, reason) == (400, "MICROSERVICE_BAD_DATA")
    assert got.startswith(info), got


# Malformed arrays fail as in seldon-core 1.19 (tests/serving/test_serving_contract.py): a 500 whose info
# is the Python error's text, which names the problem.
@pytest.mark.parametrize(
    "body,info",
    [
        (b'{"data":{"ndarray":[[1,2],[3]]}}', "setting an array element with a sequence"),
        (
            b'{"data":{"tensor":{"shape":[3,3],"values":[1,2]}}}',
            "cannot reshape array of size 2 into shape (3,3)",
        ),
        (b'{"data":{"tensor":{"shape":[1]}}}', "'values'"),
        (b'{"binData":"AgE"}', "Incorrect padding"),
    ],
)
def test_malformed_arrays_are_500_like_seldon_core(echo, body, info):
    status, reason, got = error(predict(echo, body))
    assert (status, reason) == (500, "MICROSERVICE_INTERNAL_ERROR")
    assert got.startswith(info), got


def test_body_must_be_declared_json(echo):
    for ctype in ("text/plain", ""):
        status, reason, info = error(
            call(
                echo.url + "/api/v1.0/predictions",
                "POST",
                b'{"strData":"x"}',
                {"Content-Type": ctype},
            )
        )
        assert (status, reason) == (500, "MICROSERVICE_INTERNAL_ERROR")
        assert info.startswith("415 Unsupported Media Type")
    status, _, body = call(
        echo.url + "/api/v1.0/predictions",
        "POST",
        b'{"strData":"x"}',
        {"Content-Type": "application/vnd.seldon+json; charset=utf-8"},
    )
    assert status == 200 and json.loads(body)["strData"] == "x"


def test_unknown_route_and_method(echo):
    assert call(echo.url + "/nope")[0] == 404
    status, headers, _ = call(echo.url + "/health/ping", "POST", b"{}")
    assert status == 405 and headers["allow"] == "GET"


# -- health, metadata, Prometheus ------------------------------------------------------------


def test_health_ping_status_and_default_metadata(echo):
    status, _, body = call(echo.url + "/health/ping")
    assert (status, body) == (200, b"pong")
    status, _, body = call(echo.url + "/health/status")
    assert status == 200 and json.loads(body) == {"meta": {}, "strData": "healthy"}
    status, _, body = call(echo.url + "/metadata")
    assert status == 200
    assert json.loads(body) == {
        "custom": {},
        "inputs": [],
        "name": "classifier",
        "outputs": [],
        "platform": "",
        "versions": [],
    }


def test_prometheus_counts_requests_of_all_workers(echo):
    def count():
        text = call(echo.url + "/prometheus")[2].decode()
        return prometheus_value(
            text, "mlpipe_serving_requests_total", method="POST", code="200", service="predictions"
        ), text

    before, text = count()
    assert "mlpipe_serving_request_duration_seconds_bucket" in text
    for _ in range(10):  # fresh connections: both workers take some
        assert predict(echo, {"data": {"ndarray": [[2, 1]]}})[0] == 200
    deadline = time.monotonic() + 3
    while (after := count()[0]) < before + 10 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert after == before + 10
    predict(echo, b"nope")
    time.sleep(0.1)
    text = count()[1]
    assert (
        prometheus_value(text, "mlpipe_serving_requests_total", code="400", service="predictions")
        >= 1
    )


# -- workers ---------------------------------------------------------------------------------


def test_two_workers_both_serve_and_load_once_after_fork(echo):
    seen: dict[str, str] = {}
    lock = threading.Lock()
    deadline = time.monotonic() + 10

    def worker():
        while time.monotonic() < deadline:
            with lock:
                if len(seen) >= 2:
                    return
            _, _, body = predict(echo, {"strData": "whoami"})
            pid, init_pid, loads = json.loads(body)["strData"].split()
            with lock:
                seen[pid] = (init_pid, loads)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(seen) == 2, seen
    for pid, (init_pid, loads) in seen.items():
        assert init_pid != pid  # built once in the supervisor, before the fork
        assert init_pid == str(echo.proc.pid)
        assert loads == "1"  # load() once per worker, in the worker


def test_keep_alive_responses_are_not_delayed(echo):
    """TCP_NODELAY on accepted sockets: no ~40 ms delayed-ACK stall per keep-alive request."""
    conn = http.client.HTTPConnection("127.0.0.1", echo.port, timeout=5)
    body = json.dumps({"data": {"ndarray": [[2, 1]]}})
    times = []
    try:
        for _ in range(30):
            t0 = time.perf_counter()
            conn.request(
                "POST", "/api/v1.0/predictions", body, {"Content-Type": "application/json"}
            )
            resp = conn.getresponse()
            resp.read()
            times.append(time.perf_counter() - t0)
            assert resp.status == 200
    finally:
        conn.close()
    assert statistics.median(times[1:]) < 0.02, times


# -- request logger --------------------------------------------------------------------------


def test_request_and_response_cloudevents_joined_by_request_id(echo, sink):
    request = {"meta": {"puid": "log-1"}, "data": {"ndarray": [[2, 1]]}}
    raw = json.dumps(request).encode()
    _, headers, response = predict(echo, raw)
    assert headers["seldon-puid"] == "log-1"
    events = sink.for_request("log-1", 2)
    by_type = {h["ce-type"]: (h, b) for h, b in events}
    assert set(by_type) == {
        "io.seldon.serving.inference.request",
        "io.seldon.serving.inference.response",
    }
    req_h, req_b = by_type["io.seldon.serving.inference.request"]
    res_h, res_b = by_type["io.seldon.serving.inference.response"]
    assert req_b == raw and res_b == response
    for h in (req_h, res_h):
        assert h["ce-specversion"] == "1.0"
        assert h["ce-requestid"] == "log-1"
        assert h["ce-modelid"] == "classifier"
        assert h["ce-inferenceservicename"] == "mlflowdemo"
        assert h["ce-namespace"] == "models"
        assert h["ce-endpoint"] == "default"
        assert h["ce-protocol"] == "seldon"
        assert h["ce-source"].startswith("http://") and h["ce-source"].endswith(f":{echo.port}/")
        assert h["content-type"] == "application/json"
        datetime.fromisoformat(h["ce-time"].replace("Z", "+00:00"))
        uuid.UUID(h["ce-id"])
    assert req_h["ce-id"] != res_h["ce-id"]


def test_generated_puid_is_the_join_key_and_skip_logging(echo, sink):
    _, headers, _ = predict(echo, {"data": {"ndarray": [[2, 1]]}})
    puid = headers["seldon-puid"]
    assert len(sink.for_request(puid, 2)) == 2
    predict(
        echo, {"meta": {"puid": "skip-1"}, "strData": "a"}, headers={"Seldon-Skip-Logging": "true"}
    )
    predict(echo, {"meta": {"puid": "after-skip"}, "strData": "a"})
    assert len(sink.for_request("after-skip", 2)) == 2
    time.sleep(0.3)
    assert sink.for_request("skip-1", 1, timeout=0) == []


# -- the Predictor hooks ---------------------------------------------------------------------


def test_metrics_and_tags_as_documented(demo):
    status, _, body = predict(demo, {"data": {"ndarray": [[2, 1]]}})
    assert status == 200
    assert body.rstrip(b"\n") == (
        b'{"data":{"names":[],"ndarray":[1]},"meta":{"metrics":[{"key":"mlflowdemo_predictions_total",'
        b'"type":"COUNTER","value":1}],"tags":{"model_uri":"models:/mlflowdemo/1"}}}'
    )
    text = call(demo.url + "/prometheus")[2].decode()
    assert prometheus_value(text, "mlflowdemo_predictions_total", method="predict") >= 1


def test_class_names_seldon_response_and_meta(demo):
    doc = json.loads(predict(demo, {"data": {"ndarray": [[1, 2, 3]]}})[2])
    assert doc["data"] == {"names": ["no", "yes"], "ndarray": [[0.25, 0.75]]}
    doc = json.loads(predict(demo, {"meta": {"tags": {"a": "b"}}, "strData": "with-response"})[2])
    assert doc["data"] == {"names": ["no", "yes"], "tensor": {"shape": [1, 2], "values": [1, 0]}}
    assert doc["meta"]["tags"] == {"a": "b", "model_uri": "models:/mlflowdemo/1", "extra": "yes"}
    assert {m["key"] for m in doc["meta"]["metrics"]} == {
        "mlflowdemo_queue",
        "mlflowdemo_predictions_total",
    }
    text = call(demo.url + "/prometheus")[2].decode()
    assert prometheus_value(text, "mlflowdemo_queue") == 3
    doc = json.loads(predict(demo, {"meta": {"puid": "p"}, "strData": "meta"})[2])
    assert doc["jsonData"] == {"meta_seen": {"puid": "p"}}


def test_health_status_metadata_feedback(demo):
    status, _, body = call(demo.url + "/health/status")
    assert status == 200
    assert json.loads(body)["data"] == {"names": [], "tensor": {"shape": [1], "values": [1]}}
    status, _, body = call(demo.url + "/metadata")
    assert status == 200 and json.loads(body) == {
        "custom": {},
        "inputs": [{"datatype": "INT64", "name": "input", "shape": [-1, 2]}],
        "name": "mlflowdemo",
        "outputs": [{"datatype": "INT64", "name": "output", "shape": [-1]}],
        "platform": "mlflow-sklearn",
        "versions": ["1"],
    }
    feedback = {
        "request": {"data": {"ndarray": [[2, 1]]}},
        "response": {"data": {"ndarray": [1]}, "meta": {"puid": "fb-1"}},
        "reward": 1.0,
        "truth": {"data": {"ndarray": [1]}},
    }
    status, headers, body = call(demo.url + "/api/v1.0/feedback", "POST", feedback)
    assert status == 200, body
    assert headers["seldon-puid"] == "fb-1"
    doc = json.loads(body)
    assert doc["data"] == {"ndarray": []}  # printed from protobuf: empty names left out
    assert doc["meta"]["metrics"] == [{"key": "mlflowdemo_predictions_total", "value": 1.0}]
    text = call(demo.url + "/prometheus")[2].decode()
    assert prometheus_value(text, "seldon_api_model_feedback_total") >= 1
    assert prometheus_value(text, "seldon_api_model_feedback_reward_total") >= 1.0
    status, reason, _ = error(call(demo.url + "/api/v1.0/feedback", "POST", {"reward": "x"}))
    assert (status, reason) == (400, "MICROSERVICE_BAD_DATA")


def test_predict_raw_errors_and_bad_metadata():
    with ServingServer("serving_helpers.RawPredictor", "--threads", "0") as server:
        status, _, body = predict(server, {"strData": "hi"})
        assert status == 200
        assert json.loads(body)["jsonData"] == {"got": {"strData": "hi"}}
        status, reason, info = error(predict(server, {"strData": "boom"}))
        assert (status, reason, info) == (422, "MICROSERVICE_BAD_DATA", "boom is not allowed")
        status, reason, _ = error(call(server.url + "/metadata"))
        assert (status, reason) == (500, "MICROSERVICE_BAD_METADATA")
        text = call(server.url + "/prometheus")[2].decode()
        assert prometheus_value(text, "raw_latency_ms_count", stage="raw") == 1
        assert prometheus_value(text, "raw_latency_ms_sum", stage="raw") == pytest.approx(0.0125)


def test_load_failure_stops_the_server():
    server = ServingServer(
        "serving_helpers.BrokenLoadPredictor", "--workers", "2", start_timeout=30
    )
    t0 = time.monotonic()
    with pytest.raises(RuntimeError, match="the model file is missing"):
        server.start()
    assert time.monotonic() - t0 < 20


def test_sigterm_stops_supervisor_and_workers():
    server = ServingServer("serving_helpers.EchoPredictor", "--workers", "2").start()
    try:
        pids = set()
        for _ in range(40):
            body = json.loads(predict(server, {"strData": "whoami"})[2])
            pids.add(int(body["strData"].split()[0]))
        t0 = time.monotonic()
        assert server.stop() == 0
        assert time.monotonic() - t0 < 10
        for pid in pids:
            with pytest.raises(ProcessLookupError):
                os.kill(pid, 0)
    finally:
        server.stop()


def _thread_of(server, what: str = "thread") -> str:
    status, _, body = predict(server, {"strData": what})
    assert status == 200, body
    return json.loads(body)["strData"]


def test_quick_model_calls_run_on_the_event_loop_slow_ones_on_the_thread():
    """One model thread (the default): quick calls skip the thread hop; after a call longer than
    the budget, calls run on the thread and /health/ping answers while one is running."""
    with ServingServer("serving_helpers.EchoPredictor", "--workers", "1") as server:
        assert {_thread_of(server) for _ in range(5)} == {"MainThread"}
        assert _thread_of(server, "sleep 0.1") == "MainThread"  # measured on the loop: too slow
        assert _thread_of(server).startswith("predict")
        result = {}
        slow = threading.Thread(
            target=lambda: result.setdefault("thread", _thread_of(server, "sleep 2"))
        )
        slow.start()
        time.sleep(0.3)
        t0 = time.perf_counter()
        status, _, _ = call(server.url + "/health/ping")
        ping_s = time.perf_counter() - t0
        slow.join(10)
        assert status == 200 and ping_s < 1.0, ping_s
        assert result["thread"].startswith("predict")


@pytest.mark.parametrize(
    "args, where",
    [
        (("--threads", "0"), "loop"),
        (("--threads", "2"), "pool"),
        (("--inline-budget-ms", "0"), "pool"),
    ],
)
def test_model_call_placement_options(args, where):
    with ServingServer("serving_helpers.EchoPredictor", "--workers", "1", *args) as server:
        names = {_thread_of(server) for _ in range(3)} | {_thread_of(server, "sleep 0.05")}
        names |= {_thread_of(server) for _ in range(3)}
        if where == "loop":
            assert names == {"MainThread"}
        else:
            assert all(n.startswith("predict") for n in names), names


# -- Open Inference Protocol (V2) on the same server -------------------------------------------

V2 = "/v2/models/classifier"  # the Predictor has no metadata: named by PREDICTIVE_UNIT_ID


def _v2_input(shape, data, datatype="INT64", name="input-0", **extra):
    return {"name": name, "shape": shape, "datatype": datatype, "data": data, **extra}


def test_v2_and_seldon_v1_answer_on_the_same_port(echo):
    status, _, body = predict(echo, {"data": {"ndarray": [[2, 1]]}})
    assert status == 200 and json.loads(body)["data"]["ndarray"] == [[20, 10]]
    status, headers, body = predict(
        echo, {"id": "v2-1", "inputs": [_v2_input([1, 2], [2, 1])]}, V2 + "/infer"
    )
    assert status == 200 and headers["content-type"] == "application/json"
    assert json.loads(body) == {
        "model_name": "classifier",
        "id": "v2-1",
        "parameters": {"content_type": "np"},
        "outputs": [
            {
                "name": "output-1",
                "shape": [1, 2],
                "datatype": "INT64",
                "parameters": {"content_type": "np"},
                "data": [20, 10],
            }
        ],
    }
    for path in ("/v2/health/live", "/v2/health/ready", V2 + "/ready"):
        status, headers, body = call(echo.url + path)
        assert (status, body) == (200, b"") and "content-type" not in headers
    meta = json.loads(call(echo.url + V2)[2])
    assert meta == {
        "name": "classifier",
        "versions": [],
        "platform": "",
        "inputs": [],
        "outputs": [],
    }
    assert json.loads(call(echo.url + "/v2")[2])["name"] == "mlpipe-serving"


@pytest.mark.parametrize(
    "datatype, data, want",
    [
        ("FP32", [0.5, 1.5], [5.0, 15.0]),
        ("FP64", [0.25, 2], [2.5, 20.0]),
        ("INT8", [2, 3], [20, 30]),
        ("UINT16", [2, 3], [20, 30]),
        ("BOOL", [True, False], [10, 0]),  # bool * 10 is an integer array
        ("BYTES", ["a", "bc"], ["aaaaaaaaaa", "bcbcbcbcbcbcbcbcbcbc"]),
    ],
)
def test_v2_typed_tensors_round_trip(echo, datatype, data, want):
    request = {"inputs": [_v2_input([1, 2], data, datatype)]}
    status, _, body = predict(echo, request, V2 + "/infer")
    assert status == 200, body
    (out,) = json.loads(body)["outputs"]
    assert out["data"] == want and out["shape"] == [1, 2]
    expected = {"BOOL": "INT64", "BYTES": "BYTES"}.get(datatype, datatype)
    assert out["datatype"] == expected


def test_v2_several_inputs_reach_the_predictor_by_name(echo):
    request = {
        "inputs": [
            _v2_input([2], [1, 2], name="a"),
            _v2_input([2], ["x", "y"], "BYTES", name="b"),
        ]
    }
    status, _, body = predict(echo, request, V2 + "/infer")
    doc = json.loads(body)
    assert status == 200 and doc["parameters"] == {"content_type": "dict"}
    assert [(o["name"], o["datatype"], o["data"]) for o in doc["outputs"]] == [
        ("a", "INT64", [1, 2]),
        ("b", "BYTES", ["x", "y"]),
    ]


def test_v2_base64_bytes_and_nan(echo):
    request = {"inputs": [_v2_input([1], ["aGk="], "BYTES", parameters={"content_type": "base64"})]}
    status, _, body = predict(echo, request, V2 + "/infer")
    assert status == 200 and json.loads(body)["outputs"][0]["data"] == ["hi" * 10]
    request = {"inputs": [_v2_input([1, 2], [1.0, "NaN"], "FP64")]}
    status, _, body = predict(echo, request, V2 + "/infer")
    assert status == 200 and json.loads(body)["outputs"][0]["data"] == [10.0, None]


def test_v2_errors(echo):
    status, _, body = predict(echo, {"inputs": [_v2_input([1, 3], [2, 1, 5])]}, V2 + "/infer")
    error = json.loads(body)["error"]
    assert status == 500 and "does not match expected shape (-1, 2)" in error  # a model error
    status, _, body = predict(echo, {"inputs": [_v2_input([2, 2], [1])]}, V2 + "/infer")
    assert status == 400 and "cannot reshape" in json.loads(body)["error"]
    status, _, body = predict(echo, {"inputs": [{"name": "x"}]}, V2 + "/infer")
    assert status == 422
    assert [e["loc"][-1] for e in json.loads(body)["detail"]] == ["shape", "datatype", "data"]
    status, _, body = predict(echo, {"inputs": []}, "/v2/models/other/infer")
    assert (status, json.loads(body)) == (404, {"error": "Model other not found"})


def test_v2_requests_are_counted_and_logged_like_v1(echo, sink):
    def count(service):
        text = call(echo.url + "/prometheus")[2].decode()
        return prometheus_value(text, "mlpipe_serving_requests_total", service=service, code="200")

    before = count("infer")
    request = {"id": "v2-log-1", "inputs": [_v2_input([1, 2], [2, 1])]}
    assert predict(echo, request, V2 + "/infer")[0] == 200
    deadline = time.monotonic() + 5
    while count("infer") < before + 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert count("infer") == before + 1
    text = call(echo.url + "/prometheus")[2].decode()
    assert (
        prometheus_value(
            text, "mlpipe_serving_request_duration_seconds_count", service="infer", code="200"
        )
        >= 1
    )
    events = sink.for_request("v2-log-1", 2)
    by_type = {h["ce-type"]: (h, b) for h, b in events}
    req_h, req_b = by_type["io.seldon.serving.inference.request"]
    res_h, res_b = by_type["io.seldon.serving.inference.response"]
    assert req_h["ce-protocol"] == res_h["ce-protocol"] == "v2"
    assert json.loads(req_b) == request
    assert json.loads(res_b)["id"] == "v2-log-1"
    assert req_h["ce-inferenceservicename"] == "mlflowdemo"
