"""Judging a canary: its error rate and latency from its ``/prometheus`` metrics, and smoke tests.

The decision is plain code over metric scrapes, so it runs the same against pods in a cluster and
against runtime processes on 127.0.0.1 (the tests):

- :func:`parse_metrics`: our runtime's exposition text to the request counters and latency
  histogram of its prediction routes (Seldon v1 ``predictions`` and V2 ``infer``);
- :class:`Totals`: those numbers summed over the canary's pods; ``later - earlier`` is what
  happened in between (a pod that restarted counts from zero);
- :func:`judge`: promote or roll back for a :class:`Policy`, with the numbers that decided;
- :func:`watch`: scrape and smoke-test for the policy's time, stop early on a clear failure.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

REQUESTS = "mlpipe_serving_requests_total"
LATENCY = "mlpipe_serving_request_duration_seconds_bucket"
PREDICT_SERVICES = frozenset({"predictions", "infer"})


@dataclass(frozen=True)
class Policy:
    watch_seconds: float = 300.0
    interval_seconds: float = 10.0
    max_error_percent: float = 1.0
    max_p99_ms: float = 500.0
    min_requests: int = 20

    @classmethod
    def of(cls, spec, interval_seconds: float | None = None) -> Policy:
        """The policy of a serve node's spec (the ``canary_*`` settings)."""
        watch = float(spec.canary_watch_seconds)
        return cls(
            watch_seconds=watch,
            interval_seconds=interval_seconds or min(10.0, max(1.0, watch / 10)),
            max_error_percent=float(spec.canary_max_error_percent),
            max_p99_ms=float(spec.canary_max_p99_ms),
            min_requests=int(spec.canary_min_requests),
        )


@dataclass
class Totals:
    """Prediction requests by status class and their latency histogram (cumulative buckets)."""

    requests: float = 0.0
    server_errors: float = 0.0  # 5xx
    client_errors: float = 0.0  # 4xx: the caller's fault, not the model's
    buckets: dict[float, float] = field(default_factory=dict)  # upper bound (s) -> count <= it

    def __add__(self, other: Totals) -> Totals:
        bounds = set(self.buckets) | set(other.buckets)
        return Totals(
            self.requests + other.requests,
            self.server_errors + other.server_errors,
            self.client_errors + other.client_errors,
            {b: self.buckets.get(b, 0.0) + other.buckets.get(b, 0.0) for b in bounds},
        )

    def __sub__(self, earlier: Totals) -> Totals:
        """What happened since ``earlier``; a counter that went down restarted from zero."""
        if self.requests < earlier.requests:
            return self
        return Totals(
            self.requests - earlier.requests,
            self.server_errors - earlier.server_errors,
            self.client_errors - earlier.client_errors,
            {b: v - earlier.buckets.get(b, 0.0) for b, v in self.buckets.items()},
        )

    @property
    def error_percent(self) -> float:
        return 100.0 * self.server_errors / self.requests if self.requests else 0.0

    def quantile_ms(self, q: float) -> float | None:
        """The ``q`` quantile of the latency in ms, interpolated within its bucket as
        Prometheus' ``histogram_quantile`` does; None without observations. Above the largest
        finite bucket it is that bucket's bound (a lower bound of the truth)."""
        bounds = sorted(self.buckets)
        if not bounds:
            return None
        total = self.buckets[bounds[-1]]
        if total <= 0:
            return None
        rank = q * total
        lower_bound, lower_count = 0.0, 0.0
        for bound in bounds:
            count = self.buckets[bound]
            if count >= rank:
                if math.isinf(bound):
                    return lower_bound * 1000
                width = count - lower_count
                frac = (rank - lower_count) / width if width > 0 else 1.0
                return (lower_bound + (bound - lower_bound) * frac) * 1000
            lower_bound, lower_count = bound, count
        return lower_bound * 1000


def _labels(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in text.split('",'):
        key, _, value = part.partition("=")
        if key:
            out[key.strip()] = value.strip().strip('"')
    return out


def parse_metrics(text: str, services: Iterable[str] = PREDICT_SERVICES) -> Totals:
    """The prediction routes' totals from one scrape of our runtime's ``/prometheus``."""
    wanted = set(services)
    totals = Totals()
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        if not (line.startswith(REQUESTS) or line.startswith(LATENCY)):
            continue
        head, _, value_text = line.rpartition(" ")
        name, _, label_text = head.partition("{")
        labels = _labels(label_text.rstrip("}"))
        if labels.get("service") not in wanted:
            continue
        try:
            value = float(value_text)
        except ValueError:
            continue
        if name == REQUESTS:
            totals.requests += value
            code = labels.get("code", "")
            if code.startswith("5"):
                totals.server_errors += value
            elif code.startswith("4"):
                totals.client_errors += value
        elif name == LATENCY:
            le = labels.get("le", "")
            bound = math.inf if le in ("+Inf", "Inf", "inf") else float(le)
            totals.buckets[bound] = totals.buckets.get(bound, 0.0) + value
    return totals


@dataclass(frozen=True)
class Verdict:
    decision: str  # "promote" | "rollback"
    reasons: tuple[str, ...]
    requests: int
    server_errors: int
    error_percent: float
    p99_ms: float | None
    smoke_tests: int = 0
    smoke_failures: int = 0
    seconds: float = 0.0

    @property
    def promote(self) -> bool:
        return self.decision == "promote"

    def summary(self) -> str:
        p99 = "no latency data" if self.p99_ms is None else f"p99 {self.p99_ms:.1f} ms"
        numbers = (
            f"{self.requests} requests in {self.seconds:.0f} s, {self.server_errors} server "
            f"errors ({self.error_percent:.2f} %), {p99}, smoke tests {self.smoke_tests - self.smoke_failures}"
            f"/{self.smoke_tests} passed"
        )
        if self.promote:
            return f"promote: {numbers}"
        return f"roll back: {'; '.join(self.reasons)} ({numbers})"


def judge(
    window: Totals,
    policy: Policy,
    smoke_tests: int = 0,
    smoke_failures: list[str] | tuple[str, ...] = (),
    seconds: float = 0.0,
    final: bool = True,
) -> Verdict | None:
    """The verdict on what the canary did in ``window``; ``final=False`` (while watching) gives
    a rollback as soon as the evidence is clear, None otherwise."""
    reasons = []
    if smoke_failures:
        reasons.append(f"smoke test failed: {smoke_failures[0]}")
    enough = window.requests >= max(1, policy.min_requests)
    if enough and window.error_percent > policy.max_error_percent:
        reasons.append(
            f"error rate {window.error_percent:.2f} % > {policy.max_error_percent:g} % "
            f"({int(window.server_errors)} of {int(window.requests)} requests)"
        )
    p99 = window.quantile_ms(0.99)
    if enough and p99 is not None and p99 > policy.max_p99_ms:
        reasons.append(f"p99 latency {p99:.1f} ms > {policy.max_p99_ms:g} ms")
    if final and not enough and policy.min_requests > 0:
        reasons.append(
            f"too little traffic to judge: {int(window.requests)} requests, "
            f"need {policy.min_requests}"
        )
    if not reasons and not final:
        return None
    return Verdict(
        "rollback" if reasons else "promote",
        tuple(reasons),
        int(window.requests),
        int(window.server_errors),
        window.error_percent,
        p99,
        smoke_tests,
        len(smoke_failures),
        seconds,
    )


def watch(
    policy: Policy,
    scrape: Callable[[], dict[str, str]],
    smoke: Callable[[], None] | None = None,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    log: Callable[[str], None] = print,
) -> Verdict:
    """Watch the canary for ``policy.watch_seconds``: every interval run one smoke test
    (``smoke`` raises on failure) and scrape the canary's pods (``scrape`` returns each pod's
    exposition text by pod name). Returns the final verdict, or a rollback as soon as the
    evidence is clear.

    Each pod's first scrape is its baseline: only what happened after it is judged, so requests
    from before the watch (an earlier run of the same version) do not count."""
    start = clock()
    baselines: dict[str, Totals] = {k: parse_metrics(v) for k, v in scrape().items()}
    latest: dict[str, Totals] = dict(baselines)
    smoke_tests, failures = 0, []
    while True:
        if smoke is not None:
            smoke_tests += 1
            try:
                smoke()
            except Exception as exc:  # any failure of the known-good request counts
                failures.append(str(exc)[:500])
        for pod, text in scrape().items():
            latest[pod] = parse_metrics(text)
            baselines.setdefault(pod, latest[pod])
        window = sum((latest[p] - baselines[p] for p in latest), Totals())
        elapsed = clock() - start
        verdict = judge(window, policy, smoke_tests, failures, elapsed, final=False)
        if verdict is not None:
            log(f"canary after {elapsed:.0f} s: {verdict.summary()}")
            return verdict
        p99 = window.quantile_ms(0.99)
        log(
            f"canary after {elapsed:.0f} s: {int(window.requests)} requests, "
            f"{int(window.server_errors)} server errors, p99 "
            + ("-" if p99 is None else f"{p99:.1f} ms")
        )
        if elapsed >= policy.watch_seconds:
            break
        sleep(min(policy.interval_seconds, max(0.0, policy.watch_seconds - elapsed)))
    verdict = judge(window, policy, smoke_tests, failures, clock() - start, final=True)
    assert verdict is not None
    return verdict
