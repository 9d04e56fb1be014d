"""The scheduler: independent loops for leadership, lease sweeping, status delivery, the
DECODE keep-alive probe and the backlog watch. A slow, hanging or dead user API delays only
delivery: leases expire on time whatever it does.

Any number may run (API replicas, `jobcloud scheduler` processes, on PostgreSQL or on one
SQLite folder): the one holding the leader lease acts, and every write it makes is fenced
by that lease (`adapters.sql.leader`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from dishka import AsyncContainer
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sql.leader import LeaderLease
from adapters.sql.outbox import SqlOutbox
from adapters.sql.store import SqlJobStore
from domain.pipelines.operations import SweepTaskLeases
from domain.policy import QueuePolicy
from domain.ports import Clock, StatusSink
from domain.transfers import Backlog
from domain.use_cases.forwarding import ForwardUpdates
from domain.use_cases.keepalive import ProbeActiveJobs
from domain.use_cases.leases import SweepLeases
from entrypoints import metrics
from entrypoints.notify_loop import notification_loop
from entrypoints.settings import Settings
from entrypoints.streaks import Streaks

log = logging.getLogger("jobcloud.scheduler")

BACKLOG_EVERY = 10.0  # seconds between looks at the outbox backlog
BACKLOG_WARN = 1000  # undelivered messages worth a log line when their number grows
DELIVERY_POLL = 0.2  # seconds between looks at an empty outbox


class Loop:
    """One independent loop; `lag` (seconds it is behind its schedule) is for /metrics."""

    def __init__(self, name: str, interval: float) -> None:
        self.name = name
        self.interval = interval
        self._due = time.monotonic()

    @property
    def lag(self) -> float:
        return max(0.0, time.monotonic() - self._due)

    def until_due(self) -> float:
        return max(0.0, self._due - time.monotonic())

    def beat(self, interval: float | None = None) -> None:
        """A round starts now; the next is due one interval later."""
        metrics.loop_lag.labels(self.name).set(self.lag)
        self._due = time.monotonic() + (self.interval if interval is None else interval)


@dataclass
class Parts:
    lease: LeaderLease
    sweep: SweepLeases
    forward: ForwardUpdates | None
    probe: ProbeActiveJobs | None
    outbox: SqlOutbox


class Scheduler:
    def __init__(self, container: AsyncContainer, settings: Settings) -> None:
        self._container = container
        self._settings = settings
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._parts: Parts | None = None
        s = settings
        self.loops = {
            "leadership": Loop("leadership", s.leader_lease / 3),
            "sweep": Loop("sweep", s.scheduler_interval),
            "delivery": Loop("delivery", DELIVERY_POLL),
            "keepalive": Loop("keepalive", s.keepalive_forward_interval),
            "backlog": Loop("backlog", BACKLOG_EVERY),
        }
        self.backlog = Backlog(0, None)
        self._streaks = Streaks(log)
        self._led = False

    @property
    def leading(self) -> bool:
        return self._parts is not None and self._parts.lease.held()

    async def parts(self) -> Parts:
        if self._parts is None:
            self._parts = await self._build()
        return self._parts

    async def _build(self) -> Parts:
        s, c = self._settings, self._container
        engine = await c.get(AsyncEngine)
        clock = await c.get(Clock)
        lease = LeaderLease(engine, ttl=s.leader_lease)
        decode = s.userfacing_api_url is not None
        forwarding = decode or s.in_process_status  # the user side in this process, or not
        store = SqlJobStore(engine, outbox=forwarding, fence=lease.fence)
        outbox = SqlOutbox(engine, fence=lease.fence)
        forward = probe = None
        if forwarding:
            forward = ForwardUpdates(
                store,
                outbox,
                clock,
                await c.get(StatusSink),
                concurrency=s.forward_concurrency,
                attempt_timeout=s.forward_timeout,
                may_send=lease.held,
            )
        if decode:  # a remote user API learns of nothing but what is forwarded
            interval = timedelta(seconds=s.keepalive_forward_interval)
            probe = ProbeActiveJobs(outbox, clock, interval)
        sweep = SweepLeases(store, clock, await c.get(QueuePolicy))
        return Parts(lease, sweep, forward, probe, outbox)

    async def tick(self) -> None:
        """One round of everything, in turn (tests): sweep, then deliver all that is due."""
        parts = await self.parts()
        if not await parts.lease.try_acquire():
            return
        await self._sweep(parts)
        if parts.forward is not None:
            while await parts.forward() > 0:
                pass

    async def _sweep(self, parts: Parts) -> None:
        result = await parts.sweep()
        if result.requeued or result.failed:
            log.info("leases expired: %d requeued, %d failed", result.requeued, result.failed)
        # The porch tracker's leases: swept by the leader (its writes are not fenced yet).
        swept = await (await self._container.get(SweepTaskLeases))()
        if swept:
            log.info("porch task leases expired: %d back to PENDING", swept)

    async def run(self) -> None:
        parts = await self.parts()
        loops: list[Awaitable[None]] = [
            self._every(self.loops["leadership"], lambda: self._lead(parts), always=True),
            self._every(self.loops["sweep"], lambda: self._sweep(parts)),
        ]
        if parts.forward is not None:
            loops += [
                self._deliver(parts.forward, parts.lease),
                self._every(self.loops["backlog"], lambda: self._watch(parts.outbox), always=True),
            ]
        if (probe := parts.probe) is not None:
            loops.append(self._every(self.loops["keepalive"], lambda: self._probe(probe)))
        try:
            async with contextlib.AsyncExitStack() as notifying:
                if self._settings.in_process_status:  # the user side's notifications are here
                    engine = await self._container.get(AsyncEngine)
                    await notifying.enter_async_context(notification_loop(self._settings, engine))
                await asyncio.gather(*loops)
        finally:
            await parts.lease.release()

    async def _lead(self, parts: Parts) -> None:
        leads = await parts.lease.try_acquire()
        if leads and not self._led:
            log.info("this scheduler leads (epoch %s)", parts.lease.epoch)
        elif self._led and not leads:
            # INFO: its cause, a database outage or a takeover, is logged where it happens
            log.info("this scheduler lost its leadership: standing by")
        self._led = leads

    async def _probe(self, probe: ProbeActiveJobs) -> None:
        if probed := await probe():
            log.debug("keep-alive probe: the status of %d active jobs queued", probed)

    async def _watch(self, outbox: SqlOutbox) -> None:
        previous, self.backlog = self.backlog, await outbox.backlog()
        if self.backlog.count >= BACKLOG_WARN and self.backlog.count > previous.count:
            log.warning(
                "status backlog growing: %d updates undelivered (was %d %gs ago)",
                self.backlog.count,
                previous.count,
                BACKLOG_EVERY,
            )

    async def _every(
        self, loop: Loop, body: Callable[[], Awaitable[None]], *, always: bool = False
    ) -> None:
        """Run `body` every `loop.interval` seconds (only while leading, unless `always`)."""
        while not self._stopping.is_set():
            loop.beat()
            if always or self.leading:
                await self._guarded(loop, body)
            await self._pause(loop.until_due())

    async def _deliver(self, forward: ForwardUpdates, lease: LeaderLease) -> None:
        loop = self.loops["delivery"]

        def active() -> bool:
            loop.beat()
            return lease.held() and not self._stopping.is_set()

        while not self._stopping.is_set():
            loop.beat()
            if lease.held():
                await self._guarded(loop, lambda: forward.run(active, DELIVERY_POLL))
            await self._pause(DELIVERY_POLL)

    async def _guarded(self, loop: Loop, body: Callable[[], Awaitable[None]]) -> None:
        """Run one round; a failure is logged once per streak, not once per round."""
        await self._streaks.run(loop.name, body)

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    def request_stop(self) -> None:
        self._stopping.set()

    def start(self) -> None:
        self._stopping.clear()
        self._task = asyncio.create_task(self.run(), name="jobcloud-scheduler")

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            await self._task
            self._task = None
