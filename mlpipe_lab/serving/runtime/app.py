"""The ASGI application of one worker: Seldon v1 and Open Inference Protocol (V2) REST routes,
metrics and request logging, the same for both protocols.

A bare ASGI callable (no framework) keeps the per-request overhead small. Model calls run on a
small thread pool (``threads``) so that ``/health/ping`` and ``/prometheus`` still answer while a
long prediction runs; with one thread, quick calls run on the event loop instead (see
``CallPlacement``); with none, all do.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
import urllib.parse
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import protocol, v2
from .model import MicroserviceError, UserModel
from .reqlogger import FEEDBACK, REQUEST, RESPONSE, RequestLogger

log = logging.getLogger("mlpipe_lab.serving")

JSON = b"application/json"
UNSUPPORTED_MEDIA_TYPE = (
    "415 Unsupported Media Type: Did not attempt to load JSON data because the request "
    "Content-Type was not 'application/json'."
)
PREDICT_PATHS = ("/api/v1.0/predictions", "/predict", "/api/v0.1/predictions")
FEEDBACK_PATHS = ("/api/v1.0/feedback", "/send-feedback", "/api/v0.1/feedback")


@dataclass
class AppConfig:
    metrics_path: str = "/prometheus"
    threads: int = 1
    inline_budget: float = 0.02  # seconds; see CallPlacement
    max_body: int = 64 * 1024 * 1024
    include_metrics_in_response: bool = True
    unit_id: str = ""
    model_name: str = ""  # the V2 model name; default: the metadata's name
    extra_headers: list[tuple[bytes, bytes]] = field(default_factory=list)


class CallPlacement:
    """Where the next model call runs: on the event loop, or on the worker's thread pool.

    Handing a call to a pool thread and back costs a fast model about a third of its requests per
    second and most of its tail latency (the GIL passes between the loop and the pool thread twice
    per call). With one model thread the calls are serial either way, so they run on the loop while
    each finishes within ``budget`` seconds. A slower call sends the next ``window`` calls to the
    pool, where a long call no longer holds up health probes and metrics scrapes. A slow call soon
    after coming back (within ``window`` calls) doubles the window, so a model that is often slow
    stays on the pool, while a rare hiccup of the host costs one window. ``budget`` <= 0: always
    the pool."""

    def __init__(self, budget: float, window: int = 1000, max_window: int = 1 << 24) -> None:
        self.budget = budget
        self.base_window = self.window = window
        self.max_window = max_window
        self.pool_calls_left = 0 if budget > 0 else -1  # -1: always the pool
        self._loop_calls = window  # on the loop since the last switch back

    def on_loop(self) -> bool:
        if self.pool_calls_left == 0:
            return True
        if self.pool_calls_left > 0:
            self.pool_calls_left -= 1
            if self.pool_calls_left == 0:
                self._loop_calls = 0
        return False

    def took(self, seconds: float) -> bool:
        """Record a call made on the loop; True when it was slow and the next calls go to the pool."""
        if seconds <= self.budget:
            self._loop_calls += 1
            return False
        relapse = self._loop_calls < self.base_window
        self.window = min(self.window * 2, self.max_window) if relapse else self.base_window
        self.pool_calls_left = self.window
        return True


def _error_from(exc: BaseException) -> tuple[int, dict]:
    """Status and body for an exception from a Predictor or from request parsing."""
    status = getattr(exc, "status_code", None)
    if isinstance(exc, MicroserviceError) or (
        isinstance(status, int) and hasattr(exc, "to_dict") and hasattr(exc, "reason")
    ):
        try:
            body = exc.to_dict()  # type: ignore[attr-defined]
        except Exception:
            body = protocol.error_body(str(exc), getattr(exc, "reason", protocol.INTERNAL_ERROR))
        return int(status or 500), body
    return 500, protocol.error_body(str(exc), protocol.INTERNAL_ERROR)


class _V2Routes:
    """The Open Inference Protocol routes of :class:`SeldonApp` (see :mod:`.v2`)."""

    def _v2_route(self, path: str) -> tuple | None:
        """``(methods, handler, service)`` for a ``/v2`` path, or None (404)."""
        parts = path.split("/")[2:]
        if not parts:
            return ("GET",), self._v2_server_metadata, "v2_metadata"
        if parts[0] == "health" and len(parts) == 2 and parts[1] in ("live", "ready"):
            return ("GET",), self._v2_health, "v2_health"
        if parts[0] != "models" or len(parts) < 2 or not parts[1]:
            return None
        name, rest, version = parts[1], parts[2:], None
        if rest[:1] == ["versions"]:
            if len(rest) < 2 or not rest[1]:
                return None
            version, rest = rest[1], rest[2:]
        if not rest:
            handler, methods, service = self._v2_model_metadata, ("GET",), "v2_metadata"
        elif rest == ["ready"]:
            handler, methods, service = self._v2_model_ready, ("GET",), "v2_health"
        elif rest == ["infer"]:
            handler, methods, service = self._v2_infer, ("POST",), "infer"
        else:
            return None

        async def bound(scope: dict, receive: Callable) -> tuple:
            return await handler(scope, receive, name, version)

        return methods, bound, service

    def v2_metadata(self) -> dict:
        """The model's V2 metadata: the Predictor's ``v2_metadata()``, else its Seldon
        ``init_metadata()``; named by ``--model-name`` when given."""
        if self._v2_meta is None:
            raw = None
            hook = getattr(self.model.obj, "v2_metadata", None)
            if callable(hook):
                raw = hook()
            if not isinstance(raw, dict):
                status, body = self.metadata_document()
                raw = json.loads(body) if status == 200 else {}
            name = self.config.model_name or raw.get("name") or self.model.name
            self._v2_meta = v2.model_metadata(raw, name)
        return self._v2_meta

    def _v2_check_model(self, name: str, version: str | None) -> dict:
        meta = self.v2_metadata()
        if name != meta["name"] or (version is not None and version not in meta["versions"]):
            raise v2.not_found(name, version)
        return meta

    @staticmethod
    def _v2_answer(exc: v2.V2Error) -> tuple:
        return exc.status, v2.dumps(exc.body()), JSON, []

    async def _v2_server_metadata(self, scope: dict, receive: Callable) -> tuple:
        from . import __version__

        doc = {"name": "mlpipe-serving", "version": __version__, "extensions": []}
        return 200, v2.dumps(doc), JSON, []

    async def _v2_health(self, scope: dict, receive: Callable) -> tuple:
        # a worker serves only after load(): live is ready
        return 200, b"", b"", []

    async def _v2_model_ready(self, scope, receive, name: str, version: str | None) -> tuple:
        try:
            self._v2_check_model(name, version)
        except v2.V2Error as exc:
            return self._v2_answer(exc)
        return 200, b"", b"", []

    async def _v2_model_metadata(self, scope, receive, name: str, version: str | None) -> tuple:
        try:
            meta = self._v2_check_model(name, version)
        except v2.V2Error as exc:
            return self._v2_answer(exc)
        return 200, v2.dumps(meta), JSON, []

    async def _v2_infer(self, scope, receive, name: str, version: str | None) -> tuple:
        body = await self._read_body(receive)
        try:
            doc = v2.parse_request(body)
            meta = self._v2_check_model(name, version)
        except v2.V2Error as exc:
            return self._v2_answer(exc)
        request_id = doc.get("id") or str(uuid.uuid4())
        rlog = self._logging(scope)
        if rlog is not None:
            rlog.log(REQUEST, request_id, body, protocol="v2")
        status, out = await self._call(self._v2_infer_sync, doc, meta, request_id)
        if rlog is not None:
            rlog.log(RESPONSE, request_id, out, protocol="v2")
        return status, out, JSON, []

    def _v2_infer_sync(self, doc: dict, meta: dict, request_id: str) -> tuple[int, bytes]:
        try:
            features, names, _content = v2.decode_request(doc, meta)
        except v2.V2Error as exc:
            return exc.status, v2.dumps(exc.body())
        try:
            data, _tags, metrics = protocol.unwrap(self.model.predict(features, names, None))
            if metrics and self.metrics is not None:
                self.metrics.observe_custom(protocol.validate_metrics(list(metrics)), "predict")
            model_metrics = self.model.metrics()
            if model_metrics and self.metrics is not None:
                self.metrics.observe_custom(protocol.validate_metrics(model_metrics), "predict")
            version = meta["versions"][0] if meta["versions"] else None
            out = v2.encode_response(data, meta["name"], version, request_id)
            return 200, v2.dumps(out)
        except v2.V2Error as exc:
            return exc.status, v2.dumps(exc.body())
        except Exception as exc:
            err = v2.model_error(exc)
            if err.status >= 500:
                log.exception("V2 inference failed")
            return err.status, v2.dumps(err.body())


class SeldonApp(_V2Routes):
    def __init__(
        self,
        model: UserModel,
        config: AppConfig | None = None,
        metrics: Any = None,
        request_logger: RequestLogger | None = None,
    ) -> None:
        self.model = model
        self.config = config or AppConfig()
        self.metrics = metrics
        self.request_logger = request_logger
        self.executor = (
            ThreadPoolExecutor(self.config.threads, thread_name_prefix="predict")
            if self.config.threads > 0
            else None
        )
        # Several model threads are for models that release the GIL: their calls overlap on the pool.
        self.placement = CallPlacement(self.config.inline_budget if self.config.threads == 1 else 0)
        self._metadata: tuple[int, bytes] | None = None
        self._v2_meta: dict | None = None
        routes: dict[str, tuple[tuple[str, ...], Callable[..., Awaitable[tuple]], str]] = {}
        for p in PREDICT_PATHS:
            routes[p] = (("POST", "GET"), self._predict, "predictions")
        for p in FEEDBACK_PATHS:
            routes[p] = (("POST",), self._feedback, "feedback")
        routes["/health/ping"] = (("GET",), self._ping, "ping")
        routes["/health/status"] = (("GET",), self._health, "health")
        routes["/metadata"] = (("GET",), self._metadata_route, "metadata")
        routes[self.config.metrics_path] = (("GET",), self._prometheus, "prometheus")
        self.routes = routes

    # -- ASGI ----------------------------------------------------------------------------------

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await self._lifespan(receive, send)
            return
        if kind != "http":
            return
        start = time.perf_counter()
        method, path = scope["method"], scope["path"]
        route = self.routes.get(path)
        is_v2 = route is None and (path == "/v2" or path.startswith("/v2/"))
        if is_v2:
            route = self._v2_route(path)
        headers: list[tuple[bytes, bytes]] = []
        service = "other"
        if route is None and is_v2:  # FastAPI's answers, as a V2 client gets from MLServer
            status, body, ctype = 404, b'{"detail":"Not Found"}', JSON
        elif route is None:
            status, body, ctype = (
                404,
                protocol.dumps(protocol.error_body(f"Not found: {path}", "NOT_FOUND")),
                JSON,
            )
        elif method == "OPTIONS":
            status, body, ctype = 200, b"", b"text/plain"
            headers = [
                (b"access-control-allow-methods", ", ".join(route[0]).encode()),
                (b"access-control-allow-headers", b"*"),
            ]
        elif method not in route[0] and not (method == "HEAD" and "GET" in route[0]):
            if is_v2:
                body = b'{"detail":"Method Not Allowed"}'
            else:
                body = protocol.dumps(
                    protocol.error_body(f"Method {method} not allowed", "METHOD_NOT_ALLOWED")
                )
            status, ctype = 405, JSON
            headers = [(b"allow", ", ".join(route[0]).encode())]
        else:
            service = route[2]
            try:
                status, body, ctype, headers = await route[1](scope, receive)
            except Exception as exc:  # never let a bug take the worker down
                log.exception("unhandled error on %s", path)
                status, err = _error_from(exc)
                body, ctype = protocol.dumps(err), JSON
        out = [
            *(((b"content-type", ctype),) if ctype else ()),
            (b"content-length", str(len(body)).encode()),
            (b"access-control-allow-origin", b"*"),
            *headers,
            *self.config.extra_headers,
        ]
        await send({"type": "http.response.start", "status": status, "headers": out})
        await send({"type": "http.response.body", "body": body if method != "HEAD" else b""})
        if self.metrics is not None:
            self.metrics.observe_request(method, status, service, time.perf_counter() - start)

    async def _lifespan(self, receive: Callable, send: Callable) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.request_logger is not None:
                    self.request_logger.close(timeout=5.0)
                if self.executor is not None:
                    self.executor.shutdown(wait=False)
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _read_body(self, receive: Callable) -> bytes:
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise MicroserviceError("client disconnected", 400)
            chunk = message.get("body", b"")
            if chunk:
                size += len(chunk)
                if size > self.config.max_body:
                    raise MicroserviceError(
                        f"request body larger than {self.config.max_body} bytes", 413
                    )
                chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    async def _call(self, fn: Callable, *args: Any) -> Any:
        if self.executor is None:
            return fn(*args)
        placement = self.placement
        if not placement.on_loop():
            return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)
        start = time.perf_counter()
        try:
            return fn(*args)
        finally:
            took = time.perf_counter() - start
            if placement.took(took):
                log.info(
                    "a model call took %.0f ms on the event loop (budget %.0f ms): the next %d calls "
                    "run on the thread pool",
                    took * 1000,
                    placement.budget * 1000,
                    placement.pool_calls_left,
                )

    @staticmethod
    def _header(scope: dict, name: bytes) -> bytes | None:
        for key, value in scope["headers"]:
            if key == name:
                return value
        return None

    def _payload(self, scope: dict, body: bytes) -> bytes:
        """The JSON text of a request: a form field ``json``, ``?json=`` or a JSON body.

        As in seldon-core (Flask), a body is only read as JSON when its Content-Type is
        ``application/json`` or ``application/*+json``; anything else answers 500
        ``MICROSERVICE_INTERNAL_ERROR`` with Werkzeug's 415 wording, which is what clients of a
        seldon-core model container get today (pinned by the contract test).
        """
        ctype = (self._header(scope, b"content-type") or b"").split(b";", 1)[0].strip().lower()
        if ctype == b"application/x-www-form-urlencoded":
            values = urllib.parse.parse_qs(body.decode("utf-8", "replace")).get("json")
            if values:
                return values[0].encode()
        qs = scope.get("query_string") or b""
        if qs and b"json=" in qs:
            values = urllib.parse.parse_qs(qs.decode("latin-1")).get("json")
            if values:
                return values[0].encode()
        if ctype != b"application/json" and not (
            ctype.startswith(b"application/") and ctype.endswith(b"+json")
        ):
            raise MicroserviceError(UNSUPPORTED_MEDIA_TYPE, 500, protocol.INTERNAL_ERROR)
        return body

    def _puid(self, scope: dict, request: Any) -> str:
        if isinstance(request, dict):
            meta = request.get("meta")
            if isinstance(meta, dict) and isinstance(meta.get("puid"), str) and meta["puid"]:
                return meta["puid"]
        header = self._header(scope, b"seldon-puid")
        if header:
            return header.decode("latin-1")
        return str(uuid.uuid4())

    def _logging(self, scope: dict) -> RequestLogger | None:
        if self.request_logger is None:
            return None
        skip = self._header(scope, b"seldon-skip-logging")
        if skip is not None and skip.strip().lower() in (b"true", b"1", b"yes"):
            return None
        return self.request_logger

    # -- routes --------------------------------------------------------------------------------

    async def _predict(self, scope: dict, receive: Callable) -> tuple:
        body = await self._read_body(receive)
        try:
            body = self._payload(scope, body)
            request = protocol.loads_request(body)
        except MicroserviceError as exc:
            request = None
            puid = self._puid(scope, None)
            status, err = _error_from(exc)
            return status, protocol.dumps(err), JSON, [(b"seldon-puid", puid.encode())]
        puid = self._puid(scope, request)
        rlog = self._logging(scope)
        if rlog is not None:
            rlog.log(REQUEST, puid, body)
        status, out = await self._call(self._predict_sync, request)
        if rlog is not None:
            rlog.log(RESPONSE, puid, out)
        return status, out, JSON, [(b"seldon-puid", puid.encode("latin-1", "replace"))]

    def _predict_sync(self, request: Any) -> tuple[int, bytes]:
        model = self.model
        try:
            if model.predict_raw is not None:
                result = model.predict_raw(request)
                if isinstance(result, dict):
                    return 200, protocol.dumps(self._raw_response(result, "predict"))
                data, tags, metrics = protocol.unwrap(result)
                features_request = request if isinstance(request, dict) else {}
                meta = (
                    features_request.get("meta")
                    if isinstance(features_request.get("meta"), dict)
                    else None
                )
            else:
                features, names, meta, _kind, _ = protocol.extract(request)
                data, tags, metrics = protocol.unwrap(model.predict(features, names, meta))
                features_request = request
            response = protocol.build_data(model, features_request, data)
            response["meta"] = self._meta(meta, tags, metrics, "predict")
            return 200, protocol.dumps(response)
        except Exception as exc:
            status, err = _error_from(exc)
            if status >= 500:
                log.exception("prediction failed")
            return status, protocol.dumps(err)

    def _meta(
        self, request_meta: dict | None, tags: dict | None, metrics: list | None, method: str
    ) -> dict:
        model = self.model
        protocol.validate_metrics(list(metrics or []))
        all_metrics = protocol.validate_metrics(model.metrics()) + list(metrics or [])
        if all_metrics and self.metrics is not None:
            self.metrics.observe_custom(all_metrics, method)
        all_tags = model.tags()
        if tags:
            all_tags.update(tags)
        return protocol.build_meta(
            request_meta, all_tags, all_metrics, self.config.include_metrics_in_response
        )

    def _raw_response(self, response: dict, method: str) -> dict:
        meta = response.get("meta")
        if isinstance(meta, dict) and meta.get("metrics"):
            metrics = protocol.validate_metrics(list(meta["metrics"]))
            if self.metrics is not None:
                self.metrics.observe_custom(metrics, method)
            if not self.config.include_metrics_in_response:
                response = {**response, "meta": {k: v for k, v in meta.items() if k != "metrics"}}
        return response

    async def _feedback(self, scope: dict, receive: Callable) -> tuple:
        body = await self._read_body(receive)
        try:
            body = self._payload(scope, body)
            feedback = protocol.loads_request(body)
        except MicroserviceError as exc:
            status, err = _error_from(exc)
            return status, protocol.dumps(err), JSON, []
        puid = self._puid(scope, feedback.get("response") if isinstance(feedback, dict) else None)
        rlog = self._logging(scope)
        if rlog is not None:
            rlog.log(FEEDBACK, puid, body)
        status, out = await self._call(self._feedback_sync, feedback)
        return status, out, JSON, [(b"seldon-puid", puid.encode("latin-1", "replace"))]

    def _feedback_sync(self, feedback: Any) -> tuple[int, bytes]:
        try:
            if not isinstance(feedback, dict):
                raise protocol.bad_data("Invalid feedback: expected an object")
            request = feedback.get("request") or {}
            reward = feedback.get("reward", 0.0)
            if not isinstance(reward, (int, float)) or isinstance(reward, bool):
                raise protocol.bad_data("Invalid feedback: reward must be a number")
            # seldon-core parses feedback into protobuf: arrays arrive as doubles, and the
            # model gets an empty array where a part is missing.
            features, names = _feedback_array(request)
            truth = _feedback_array(feedback.get("truth"))[0]
            routing = None
            response = feedback.get("response")
            if isinstance(response, dict) and isinstance(response.get("meta"), dict):
                routing = (response["meta"].get("routing") or {}).get(self.config.unit_id)
            if self.metrics is not None:
                self.metrics.feedback.inc()
                self.metrics.reward.inc(max(float(reward), 0.0))
            result = self.model.send_feedback(features, names, float(reward), truth, routing)
            data, tags, metrics = protocol.unwrap(result)
            if data is None:
                data = np.array([])
            out = protocol.build_data(
                self.model, request if isinstance(request, dict) else {}, data
            )
            out["meta"] = self._meta(None, tags, metrics, "feedback")
            return 200, protocol.dumps(protocol.as_proto_json(out))
        except Exception as exc:
            status, err = _error_from(exc)
            if status >= 500:
                log.exception("feedback failed")
            return status, protocol.dumps(err)

    async def _ping(self, scope: dict, receive: Callable) -> tuple:
        return (
            200,
            b"pong",
            b"text/html; charset=utf-8",
            [],
        )  # Flask's type for a str, as seldon-core

    async def _health(self, scope: dict, receive: Callable) -> tuple:
        status, body = await self._call(self._health_sync)
        return status, body, JSON, []

    def _health_sync(self) -> tuple[int, bytes]:
        try:
            # seldon-core answers "healthy" for a Predictor without health_status()
            result = "healthy" if self.model.health_status is None else self.model.health_status()
            data, tags, metrics = protocol.unwrap(result)
            out = protocol.build_data(self.model, {}, data)
            out["meta"] = self._meta(None, tags, metrics, "health")
            return 200, protocol.dumps(out)
        except Exception as exc:
            log.exception("health_status failed")
            status, err = _error_from(exc)
            return status, protocol.dumps(err)

    def metadata_document(self) -> tuple[int, bytes]:
        if self._metadata is None:
            default_name = self.config.unit_id or self.model.name
            try:
                raw = self.model.init_metadata() if self.model.init_metadata is not None else {}
                self._metadata = (
                    200,
                    protocol.dumps(protocol.validate_metadata(raw, default_name)),
                )
            except Exception as exc:
                status, err = _error_from(exc)
                if not isinstance(exc, MicroserviceError):
                    status, err = 500, protocol.error_body(str(exc), protocol.BAD_METADATA)
                self._metadata = (status, protocol.dumps(err))
        return self._metadata

    async def _metadata_route(self, scope: dict, receive: Callable) -> tuple:
        status, body = self.metadata_document()
        return status, body, JSON, []

    async def _prometheus(self, scope: dict, receive: Callable) -> tuple:
        if self.metrics is None:
            return 404, b"metrics are disabled\n", b"text/plain; charset=utf-8", []
        body, ctype = self.metrics.exposition()
        return 200, body, ctype.encode(), []


def env_flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in ("1", "true", "t", "yes", "y")


def _feedback_array(part: Any) -> tuple[np.ndarray, list]:
    """Features (as float64) and names of the ``request``/``truth`` part of a feedback message."""
    if not isinstance(part, dict) or not isinstance(part.get("data"), dict):
        return np.array([]), []
    features, names, _meta, _kind, _ = protocol.extract(part)
    if isinstance(features, np.ndarray) and np.issubdtype(features.dtype, np.number):
        features = features.astype(np.float64)
    return features, names
