"""`GET /metrics` for Prometheus: the counters of `entrypoints.metrics`, and the queue's
state read at scrape time through the QueueStats port."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from dishka.integrations.litestar import FromDishka
from litestar import Controller, Response, get
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from domain.jobs import Status
from domain.ports import Clock
from domain.stats import QueueSnapshot, QueueStats
from entrypoints.http.docs import errors
from entrypoints.metrics import registry


class SnapshotCollector(Collector):
    """The queue's gauges from one snapshot."""

    def __init__(self, snapshot: QueueSnapshot, now: datetime) -> None:
        self._snapshot = snapshot
        self._now = now

    def collect(self) -> Iterator[GaugeMetricFamily]:
        s = self._snapshot
        jobs = GaugeMetricFamily("jobcloud_jobs", "Jobs by status", labels=["status"])
        for status in Status:
            jobs.add_metric([status.value], s.count(status))
        yield jobs
        yield GaugeMetricFamily(
            "jobcloud_oldest_queued_job_age_seconds",
            "Age (since submission) of the oldest queued job; 0 when none is queued",
            value=self._age(s.oldest_queued_at),
        )
        yield GaugeMetricFamily(
            "jobcloud_outbox_backlog",
            "Status updates not yet delivered to the user side",
            value=s.outbox_backlog,
        )
        yield GaugeMetricFamily(
            "jobcloud_oldest_undelivered_update_age_seconds",
            "Age of the oldest status update not yet delivered; 0 when none waits",
            value=self._age(s.oldest_undelivered_at),
        )

    def _age(self, since: datetime | None) -> float:
        return max(0.0, (self._now - since).total_seconds()) if since else 0.0


class MetricsController(Controller):
    tags = ["service"]

    @get(
        "/metrics",
        summary="Prometheus metrics (text exposition format)",
        description="The queue read at scrape time, counters and request latency per route.",
        media_type="text/plain",
        responses=errors(503),
    )
    async def metrics(
        self, stats: FromDishka[QueueStats], clock: FromDishka[Clock]
    ) -> Response[bytes]:
        snapshot = await stats.snapshot()
        queue = CollectorRegistry(auto_describe=False)
        queue.register(SnapshotCollector(snapshot, clock.now()))
        body = generate_latest(registry()) + generate_latest(queue)
        return Response(body, media_type=CONTENT_TYPE_LATEST)
