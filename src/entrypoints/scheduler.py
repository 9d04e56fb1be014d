"""The scheduler: lease sweeping and outbox delivery on a short interval.

Several may run (API replicas, `jobcloud scheduler` processes): a leadership lock in the
database lets one act at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from dishka import AsyncContainer
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sql.leader import Leadership
from domain.errors import DomainError, StoreUnavailable
from domain.pipelines.operations import SweepTaskLeases
from domain.use_cases.forwarding import ForwardUpdates
from domain.use_cases.leases import SweepLeases
from entrypoints import metrics
from entrypoints.settings import Settings

log = logging.getLogger("jobcloud.scheduler")


class Scheduler:
    def __init__(self, container: AsyncContainer, settings: Settings) -> None:
        self._container = container
        self._settings = settings
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    async def tick(self) -> None:
        """One round: sweep expired leases, then deliver due status updates."""
        sweep = await self._container.get(SweepLeases)
        result = await sweep()
        if result.requeued or result.failed:
            log.info("leases expired: %d requeued, %d failed", result.requeued, result.failed)
        swept = await (await self._container.get(SweepTaskLeases))()
        if swept:
            log.info("porch task leases expired: %d back to PENDING", swept)
        if self._settings.userfacing_api_url is not None or self._settings.in_process_status:
            forward = await self._container.get(ForwardUpdates)
            while await forward() > 0:
                pass

    async def run(self) -> None:
        leadership = Leadership(await self._container.get(AsyncEngine))
        due = time.monotonic()
        try:
            while not self._stopping.is_set():
                metrics.loop_lag.labels("rounds").set(max(0.0, time.monotonic() - due))
                try:
                    if await leadership.try_acquire():
                        await self.tick()
                except StoreUnavailable:
                    pass  # the store logs each outage once, not each round
                except DomainError as exc:
                    log.warning("scheduler round failed: %s", exc)
                except Exception:
                    log.exception(
                        "scheduler round crashed; next round in %ss",
                        self._settings.scheduler_interval,
                    )
                due = time.monotonic() + self._settings.scheduler_interval
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), self._settings.scheduler_interval)
        finally:
            await leadership.release()

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
