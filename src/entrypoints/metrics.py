"""Prometheus metrics that any program may update (the server, the scheduler): counters and
gauges only, cheap enough for the hot path. The queue's own state (jobs by status, backlog,
oldest ages) is read at scrape time instead: `entrypoints.http.metrics`.

Each process has its own values. With PROMETHEUS_MULTIPROC_DIR set (before start-up, an
empty folder), prometheus-client keeps them in files there, and a scrape of any server
process adds up all of them (`registry()`).

A program without an HTTP API of its own (`jobcloud scheduler --metrics-port`) serves its
metrics with `serve_metrics`: prometheus-client's own small server, in a thread.
"""

from __future__ import annotations

import os

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    start_http_server,
)
from prometheus_client.multiprocess import MultiProcessCollector

from entrypoints.settings import SettingsError

jobs_claimed = Counter("jobcloud_jobs_claimed", "Jobs handed to workers by their pulls")
reports = Counter(
    "jobcloud_reports", "Status reports accepted from workers (keep-alives included)", ["status"]
)
request_seconds = Histogram(
    "jobcloud_http_request_duration_seconds",
    "Time to answer a request, by route template (not raw path) and status code",
    ["method", "route", "code"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
loop_lag = Gauge(
    "jobcloud_scheduler_loop_lag_seconds",
    "How late the scheduler's loop started its latest round: loop_lag.labels(loop).set(s)",
    ["loop"],
    multiprocess_mode="max",
)


def registry() -> CollectorRegistry:
    """What a scrape reports: this process's metrics, or all processes' in multiprocess
    mode (PROMETHEUS_MULTIPROC_DIR)."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return REGISTRY
    combined = CollectorRegistry()
    MultiProcessCollector(combined)  # type: ignore[no-untyped-call]
    return combined


def serve_metrics(host: str, port: int) -> None:
    """`GET http://host:port/metrics` in a daemon thread; a port in use stops start-up."""
    try:
        start_http_server(port, addr=host, registry=registry())
    except (OSError, OverflowError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise SettingsError(f"--metrics-port: cannot listen on {host}:{port}: {reason}") from None
