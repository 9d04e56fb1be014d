"""The agent's loop: one puller per slot; SIGTERM stops pulling and drains running jobs."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from domain.jobs import JobSpec
from domain.runs.host import HostDescription, SlotOffer, slot_offers
from domain.runs.ports import ApiRefused, ApiUnavailable, WorkerApi
from domain.runs.state import Run
from entrypoints.agent.display import Display
from entrypoints.agent.job import JobRunner, Slot
from entrypoints.agent.settings import AgentSettings

log = logging.getLogger("jobcloud.worker")
MAX_IDLE_BACKOFF = 60.0


class Agent:
    def __init__(
        self,
        settings: AgentSettings,
        api: WorkerApi,
        runner: JobRunner,
        host: HostDescription,
        display: Display,
    ) -> None:
        self._settings, self._api, self._runner = settings, api, runner
        self._host, self._display = host, display
        self._stop = asyncio.Event()
        self._drain_cut = asyncio.Event()
        self._busy: set[asyncio.Task[Run]] = set()
        self.jobs_done = 0

    def request_stop(self, reason: str = "stopping") -> None:
        if not self._stop.is_set():
            log.info("%s: no more pulls; running jobs may finish", reason)
        self._stop.set()

    def drain_now(self) -> None:
        """Stop waiting for running jobs: they are stopped at once."""
        self._drain_cut.set()

    async def run(self) -> None:
        s = self._settings
        offers = slot_offers(self._host, s.slots, s.groups, s.older_than)
        slots = [asyncio.create_task(self._slot(i, offer)) for i, offer in enumerate(offers)]
        await self._stop.wait()
        await self._drain([task for task in self._busy if not task.done()])
        for task in slots:
            task.cancel()
        await asyncio.gather(*slots, return_exceptions=True)

    async def _drain(self, running: list[asyncio.Task[Run]]) -> None:
        if not running:
            return
        timeout = self._settings.drain_timeout
        log.info("draining %d running job(s), at most %g s", len(running), timeout)
        cut = asyncio.create_task(self._drain_cut.wait())
        deadline, pending = time.monotonic() + timeout, set(running)
        while pending and not self._drain_cut.is_set() and time.monotonic() < deadline:
            done, _ = await asyncio.wait(
                [*pending, cut],
                timeout=deadline - time.monotonic(),
                return_when=asyncio.FIRST_COMPLETED,
            )
            pending -= done
        cut.cancel()
        for task in pending:
            log.warning(
                "drain over: %s is stopped and left to lease expiry (the API requeues it "
                "after TIMEOUT_FAILURE while retries remain)",
                task.get_name(),
            )
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    async def _slot(self, index: int, offer: SlotOffer) -> None:
        slot = Slot(index, str(offer.gpu.index) if offer.gpu else None)
        idle_since, attempt = time.monotonic(), 0
        while not self._stop.is_set():
            try:
                jobs = await self._api.pull(offer.params(), 1)
                attempt = 0
            except (ApiUnavailable, ApiRefused) as exc:
                delay = min(MAX_IDLE_BACKOFF, self._settings.poll_interval * 2**attempt)
                self._display.event(index, None, f"pull failed ({exc}); retry in {delay:g} s")
                attempt = min(attempt + 1, 10)
                await self._pause(delay)
                continue
            if not jobs:
                if self._idle_too_long(idle_since):
                    self.request_stop(f"no job for {self._settings.idle_limit:g} s")
                    return
                await self._pause(self._settings.poll_interval)
                continue
            for job_id, spec in jobs.items():
                try:
                    await self._run_one(slot, job_id, spec)
                except Exception:  # nothing but a signal stops the agent
                    log.exception("slot %d: job %d ended in an agent error", index, job_id)
            idle_since = time.monotonic()
            if self._settings.once:
                self.request_stop("--once: one job done")

    async def _run_one(self, slot: Slot, job_id: int, spec: JobSpec) -> None:
        self._display.event(slot.index, job_id, "pulled")
        task = asyncio.create_task(self._runner.run(job_id, spec, slot), name=f"job {job_id}")
        self._busy.add(task)
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            raise
        finally:
            self._busy.discard(task)
            self._display.done(slot.index)
        self.jobs_done += 1

    def _idle_too_long(self, since: float) -> bool:
        limit = self._settings.idle_limit
        return limit > 0 and time.monotonic() - since >= limit

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)
