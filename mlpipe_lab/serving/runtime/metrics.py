"""Prometheus metrics shared by all worker processes.

The supervisor points ``PROMETHEUS_MULTIPROC_DIR`` at a fresh folder before any worker starts, so
every worker's counters land in memory-mapped files and any worker can answer a scrape with the
sum over all of them (``prometheus_client`` multiprocess mode).

Exported:
- ``mlpipe_serving_requests_total{method,code,service}`` and
  ``mlpipe_serving_request_duration_seconds{method,code,service}`` (histogram) for every request;
- ``seldon_api_model_feedback_total`` and ``seldon_api_model_feedback_reward_total``, as seldon-core;
- ``mlpipe_serving_logger_events_total{outcome}`` for the request logger (sent, failed, dropped);
- every key the Predictor's ``metrics()`` returns: COUNTER as a counter (incremented by value),
  GAUGE as a gauge (most recent value), TIMER (milliseconds, Seldon's unit) as a histogram in
  seconds; its ``tags`` become labels, plus ``method`` (predict or feedback).
"""

from __future__ import annotations

import logging
import os
import re
import threading

log = logging.getLogger("mlpipe_lab.serving")

LATENCY_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.0075,
    0.01,
    0.015,
    0.02,
    0.03,
    0.05,
    0.075,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
_NAME_BAD = re.compile(r"[^a-zA-Z0-9_:]")


def metric_name(key: str) -> str:
    name = _NAME_BAD.sub("_", key)
    return "_" + name if name[:1].isdigit() else name


class Metrics:
    """Request, feedback, logger and custom metrics of one worker process."""

    def __init__(self) -> None:
        import prometheus_client as pc

        self._pc = pc
        self.registry = pc.CollectorRegistry(auto_describe=True)  # for this worker's objects
        self.multiprocess = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
        reg = self.registry
        self.requests = pc.Counter(
            "mlpipe_serving_requests",
            "HTTP requests served",
            ["method", "code", "service"],
            registry=reg,
        )
        self.latency = pc.Histogram(
            "mlpipe_serving_request_duration_seconds",
            "HTTP request latency",
            ["method", "code", "service"],
            buckets=LATENCY_BUCKETS,
            registry=reg,
        )
        self.feedback = pc.Counter("seldon_api_model_feedback", "Feedback requests", registry=reg)
        self.reward = pc.Counter(
            "seldon_api_model_feedback_reward", "Summed feedback reward", registry=reg
        )
        self.logger_events = pc.Counter(
            "mlpipe_serving_logger_events", "Request logger events", ["outcome"], registry=reg
        )
        self._custom: dict[tuple[str, str], tuple[object, tuple[str, ...]]] = {}
        self._lock = threading.Lock()
        self._children: dict[tuple, object] = {}

    def observe_request(self, method: str, code: int, service: str, seconds: float) -> None:
        key = (method, code, service)
        pair = self._children.get(key)
        if pair is None:
            labels = (method, str(code), service)
            pair = (self.requests.labels(*labels), self.latency.labels(*labels))
            self._children[key] = pair
        pair[0].inc()
        pair[1].observe(seconds)

    def observe_custom(self, metrics: list, method: str) -> None:
        for m in metrics:
            try:
                self._observe_one(m, method)
            except Exception as exc:  # a bad custom metric must not fail the request
                log.warning("custom metric %r not exported: %s", m, exc)

    def _observe_one(self, m: dict, method: str) -> None:
        pc = self._pc
        kind, name = m["type"], metric_name(m["key"])
        tags = {metric_name(k): str(v) for k, v in (m.get("tags") or {}).items()}
        tags.setdefault("method", method)
        labelnames = tuple(sorted(tags))
        with self._lock:
            entry = self._custom.get((name, kind))
            if entry is None:
                if any(n == name for n, _ in self._custom):
                    raise ValueError(f"{name} already exported with another type")
                if kind == "COUNTER":
                    obj = pc.Counter(
                        name, f"custom counter {name}", labelnames, registry=self.registry
                    )
                elif kind == "GAUGE":
                    obj = pc.Gauge(
                        name,
                        f"custom gauge {name}",
                        labelnames,
                        registry=self.registry,
                        multiprocess_mode="mostrecent",
                    )
                else:
                    obj = pc.Histogram(
                        name, f"custom timer {name} (seconds)", labelnames, registry=self.registry
                    )
                entry = self._custom[(name, kind)] = (obj, labelnames)
        obj, names = entry
        if names != labelnames:
            raise ValueError(f"{name} was first exported with labels {names}, now {labelnames}")
        child = obj.labels(**tags)  # type: ignore[attr-defined]
        value = float(m["value"])
        if kind == "COUNTER":
            child.inc(value)
        elif kind == "GAUGE":
            child.set(value)
        else:
            child.observe(value / 1000.0)

    def exposition(self) -> tuple[bytes, str]:
        """The text exposition of all workers (multiprocess) or this process."""
        pc = self._pc
        if self.multiprocess:
            from prometheus_client import multiprocess

            registry = pc.CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
        else:
            registry = self.registry
        return pc.generate_latest(registry), pc.CONTENT_TYPE_LATEST
