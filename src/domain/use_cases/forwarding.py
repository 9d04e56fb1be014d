"""Status delivery to the user side: at least once, strictly in order per job, concurrently
across jobs, with a timeout per attempt and backoff while the user side is down."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from domain.errors import ConcurrentUpdate, NotFound, Rejected, Unavailable
from domain.jobs import Status
from domain.ports import Clock, JobStore, Outbox, StatusSink
from domain.transfers import Retry, StatusUpdate

log = logging.getLogger("jobcloud.forwarding")

BACKOFF_BASE = timedelta(seconds=1)
BACKOFF_MAX = timedelta(minutes=5)
DEFAULT_CONCURRENCY = 64  # benchmarks/README: at full rate 64 left less undelivered than 32
DEFAULT_ATTEMPT_TIMEOUT = 10.0  # seconds
SETTLE_EVERY = 0.02  # seconds an answer may wait to be recorded with others
GATHER = 0.05  # seconds between looks at an outbox found (nearly) empty: updates gather


def backoff(attempts: int) -> timedelta:
    """1 s, 2 s, 4 s, ... capped at 5 minutes."""
    return min(BACKOFF_BASE * (1 << min(attempts, 20)), BACKOFF_MAX)


def skippable(messages: Sequence[StatusUpdate]) -> set[int]:
    """The messages of one job (in order) the user side loses nothing without: DECODE's user
    API applies the latest status it gets, takes `date_started` from the first `pulled`, and
    keeps every terminal status and every runtime_details. So only a step between two others
    that carries no details may be left out (`running` when `finished` already follows)."""
    return {
        m.message_id
        for m in messages[:-1]
        if m.status is not Status.PULLED and not m.status.terminal and not m.runtime_details
    }


@dataclass(slots=True)
class Outcome:
    """What delivering one job's messages came to."""

    job_id: int
    delivered: list[int] = field(default_factory=list)  # sent, or left out before one sent
    retry: Retry | None = None
    gone: StatusUpdate | None = None  # the user side deleted the job


class ForwardUpdates:
    """Deliver the outbox to the user side.

    A job's messages go one after the other; jobs go concurrently (at most `concurrency` at
    a time). A NotFound answer means the user deleted the job: it is canceled, and the
    worker's next report gets 404. `may_send` is asked before every attempt: a scheduler
    that lost its leadership sends nothing more.
    """

    def __init__(
        self,
        store: JobStore,
        outbox: Outbox,
        clock: Clock,
        sink: StatusSink,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        attempt_timeout: float = DEFAULT_ATTEMPT_TIMEOUT,
        may_send: Callable[[], bool] = lambda: True,
    ) -> None:
        self._store = store
        self._outbox = outbox
        self._clock = clock
        self._sink = sink
        self._concurrency = concurrency
        self._timeout = attempt_timeout
        self._may_send = may_send
        self._failing = 0  # failed attempts in the current streak
        # Outcomes not yet recorded (the database failed): recorded before anything else
        # is sent, so that a cut-off scheduler does not send the same messages again.
        self._unsettled: list[Outcome] = []
        self.delivered_total = 0

    async def __call__(self, batch: int = 100) -> int:
        """One pass: the due messages of up to `batch` jobs; how many were settled."""
        settled = await self.settle([]) if self._unsettled else 0
        jobs = _by_job(await self._outbox.pending_updates(self._clock.now(), batch))
        gate = asyncio.Semaphore(self._concurrency)

        async def one(messages: list[StatusUpdate]) -> Outcome:
            async with gate:
                return await self.deliver_job(messages)

        outcomes = await asyncio.gather(*(one(messages) for messages in jobs))
        return settled + await self.settle(outcomes)

    async def run(self, active: Callable[[], bool], idle: float) -> None:
        """Deliver while `active()`, keeping up to `concurrency` jobs in flight; answers are
        recorded together (at most `SETTLE_EVERY` seconds late), so one statement serves
        many; poll every `idle` seconds when nothing is due.

        A look at the outbox that found fewer due jobs than free slots is not repeated for
        `GATHER` seconds: at a low rate the updates of that time go together (one read, one
        write for several) instead of one round each, for at most that much delay."""
        flying: dict[asyncio.Task[Outcome], int] = {}  # until settled, done or not
        first_done = 0.0
        next_look = 0.0  # loop time before which the outbox is not read again
        clock = asyncio.get_running_loop().time
        try:
            while active():
                if self._unsettled:
                    await self.settle([])
                running = [task for task in flying if not task.done()]
                free = self._concurrency - len(running)
                if len(running) <= self._concurrency // 2 and clock() >= next_look:
                    if (found := await self._launch(flying, free)) < free:
                        next_look = clock() + (GATHER if found else idle)
                    running = [task for task in flying if not task.done()]
                done = [task for task in flying if task.done()]
                loop_time = clock()
                if done and not first_done:
                    first_done = loop_time
                if done and (not running or loop_time - first_done >= SETTLE_EVERY):
                    for task in done:
                        del flying[task]  # from here on, `settle` keeps them until written
                    first_done = 0.0
                    await self.settle([task.result() for task in done])
                    continue
                if not running:  # nor done: the outbox had nothing more
                    await asyncio.sleep(max(0.0, next_look - clock()))
                    continue
                wait = SETTLE_EVERY if done else idle
                await asyncio.wait(running, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
        finally:
            await self._land(flying)

    async def _launch(self, flying: dict[asyncio.Task[Outcome], int], free: int) -> int:
        """Start delivering the due jobs not in flight, up to `free` of them; how many."""
        busy = {*flying.values(), *(outcome.job_id for outcome in self._unsettled)}
        due = _by_job(await self._outbox.pending_updates(self._clock.now(), free, busy))
        for messages in due:
            flying[asyncio.create_task(self.deliver_job(messages))] = messages[0].job_id
        return len(due)

    async def _land(self, flying: dict[asyncio.Task[Outcome], int]) -> None:
        """Sends under way when delivery stops were made: wait for their answers (one
        attempt's time at most) and keep the outcomes to record, rather than send again."""
        if not flying:
            return
        done, late = await asyncio.wait(flying, timeout=self._timeout)
        for task in late:
            task.cancel()  # no answer: whoever leads next sends it again
        self._unsettled += [task.result() for task in done if not task.cancelled()]
        flying.clear()

    async def deliver_job(self, messages: Sequence[StatusUpdate]) -> Outcome:
        """Send the first message of one job that must be sent (leaving out those before it
        that may be): ONE message per job between settlements, so that whatever happens to
        this process, at most that one is sent again, and never after a later one."""
        outcome = Outcome(messages[0].job_id)
        skip = skippable(messages)
        message = next(m for m in messages if m.message_id not in skip)
        covered = [m.message_id for m in messages if m.message_id < message.message_id]
        if not self._may_send():
            return outcome
        try:
            await self._send(message)
        except NotFound:
            outcome.gone = message
            return outcome
        except Unavailable as exc:
            self._failed(message, exc)
            at = self._clock.now() + backoff(messages[0].attempts)
            outcome.retry = Retry(messages[0].message_id, at, str(exc))  # the job's head
            return outcome
        except Rejected as exc:
            log.error(
                "user side rejected update %s of job %s for good, dropped: %s",
                message.status,
                message.job_id,
                exc,
            )
        else:
            self._succeeded()
        outcome.delivered = [*covered, message.message_id]
        return outcome

    async def _send(self, message: StatusUpdate) -> None:
        try:
            async with asyncio.timeout(self._timeout):
                await self._sink.send(message)
        except TimeoutError as exc:
            raise Unavailable(f"user API gave no answer within {self._timeout:g} s") from exc
        except (NotFound, Rejected, Unavailable):
            raise
        except Exception as exc:
            # Anything else (the user's job changed meanwhile, a bug in a sink) is tried again
            # later: it must not stop delivery for every job.
            raise Unavailable(f"{type(exc).__name__}: {exc}") from exc

    def _failed(self, message: StatusUpdate, exc: Exception) -> None:
        if self._failing == 0:
            log.warning(
                "forwarding to the user API fails (job %s, %s): %s; retrying with backoff",
                message.job_id,
                message.status,
                exc,
            )
        self._failing += 1

    def _succeeded(self) -> None:
        if self._failing:
            log.info(
                "forwarding to the user API works again after %d failed attempts", self._failing
            )
            self._failing = 0

    async def settle(self, outcomes: Iterable[Outcome]) -> int:
        """Record what was delivered and what waits, in one call; cancel deleted jobs."""
        outcomes = self._unsettled = [*self._unsettled, *outcomes]
        delivered = [m for outcome in outcomes for m in outcome.delivered]
        retries = [outcome.retry for outcome in outcomes if outcome.retry is not None]
        if delivered or retries:
            await self._outbox.settle(delivered, retries)
        for n, outcome in enumerate(outcomes):
            if outcome.gone is not None:
                self._unsettled = outcomes[n:]
                await self._cancel(outcome.gone)
        self._unsettled = []
        settled = len(delivered) + sum(1 for outcome in outcomes if outcome.gone)
        self.delivered_total += settled
        return settled

    async def _cancel(self, update: StatusUpdate) -> None:
        log.info(
            "user side deleted job %s: canceling queue job %s", update.user_job_id, update.job_id
        )
        await self._outbox.drop_updates(update.job_id)
        for _ in range(5):
            job = await self._store.get(update.job_id)
            event = job.cancel(self._clock.now(), "deleted by the user")
            try:
                await self._store.save(job, event)
            except ConcurrentUpdate:
                continue
            return


def _by_job(messages: Collection[StatusUpdate]) -> list[list[StatusUpdate]]:
    jobs: dict[int, list[StatusUpdate]] = {}
    for message in messages:
        jobs.setdefault(message.job_id, []).append(message)
    return [sorted(group, key=lambda m: m.message_id) for group in jobs.values()]
