"""Property tests: many workers, random claims, reports, lease expiries, cancels, forwarding.

A RuleBasedStateMachine drives the real use cases on the in-memory store and checks each
answer against a model written from docs/architecture.md ("The lifecycle"), then checks the
invariants after every step: one holder per active job, terminal jobs stay put, attempts
bounded, every transition an event in order, and the user side told of them in order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, invariant, rule

from domain.errors import IllegalTransition, NotAssigned
from domain.jobs import Status
from domain.matching import WorkerOffer
from domain.policy import QueuePolicy
from domain.use_cases.forwarding import ForwardUpdates
from domain.use_cases.leases import SweepLeases
from domain.use_cases.pull import PullJobs
from domain.use_cases.report import ReportStatus
from tests.fakes.clock import FakeClock
from tests.fakes.store import InMemoryJobStore
from tests.unit.factories import new_job, worker
from tests.unit.fake_sink import FakeSink

T = TypeVar("T")
MAX_RETRIES = 2
LEASE = timedelta(seconds=300)
WORKERS = ("w1", "w2", "w3")
# The forward line of docs/architecture.md, written out again rather than imported.
LINE = ("pulled", "preprocessing", "running", "postprocessing", "finished")
Transition = tuple[Status | None, Status]


@dataclass
class Expected:
    """What the model believes about one job."""

    status: Status = Status.QUEUED
    worker: str | None = None
    attempts: int = 0
    last_seen: datetime | None = None
    tried: set[str] = field(default_factory=set)
    details: str | None = None
    transitions: list[Transition] = field(default_factory=list)
    notified: list[Status] = field(default_factory=list)

    def move(self, to: Status, *, notify: bool = True) -> None:
        self.transitions.append((self.status, to))
        if notify:
            self.notified.append(to)
        self.status = to


def report_outcome(job: Expected, who: str, status: Status) -> str | type[Exception]:
    """The answer docs/architecture.md promises to a report."""
    if job.status is Status.CANCELED or job.worker != who or job.status is Status.QUEUED:
        return NotAssigned
    if status is job.status:
        return "keep-alive"
    if job.status is Status.ERROR:
        return "ignored"  # the holder's late report after its own `error` (DECODE's fetcher)
    if job.status.terminal:
        return IllegalTransition
    if status is Status.ERROR:
        return "move"
    if status.value in LINE and LINE.index(status.value) > LINE.index(job.status.value):
        return "move"
    return IllegalTransition


class QueueMachine(RuleBasedStateMachine):
    jobs = Bundle("jobs")

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.store = InMemoryJobStore()
        self.clock = FakeClock()
        self.model: dict[int, Expected] = {}
        self.terminal: dict[int, Status] = {}
        self.user_side_down = False
        self.sink = FakeSink(lambda update: "down" if self.user_side_down else "ok")
        self.retry_different = True

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coro)

    def teardown(self) -> None:
        self.loop.close()

    @initialize(retry_different=st.booleans())
    def configure(self, retry_different: bool) -> None:
        self.retry_different = retry_different
        policy = QueuePolicy(MAX_RETRIES, LEASE, retry_different, max_pull=3)
        self.pull = PullJobs(self.store, self.clock, policy)
        self.report = ReportStatus(self.store, self.clock)
        self.sweep = SweepLeases(self.store, self.clock, policy)
        self.forward = ForwardUpdates(self.store, self.store, self.clock, self.sink)

    @rule(target=jobs, priority=st.integers(0, 3))
    def submit(self, priority: int) -> int:
        job = self.run(self.store.add(new_job(priority=priority), self.clock.now()))
        self.model[job.id] = Expected()
        return job.id

    @rule(who=st.sampled_from(WORKERS), limit=st.integers(1, 3))
    def claim(self, who: str, limit: int) -> None:
        offer = WorkerOffer(worker="ignored", environment=worker(who).environment)
        got = self.run(self.pull(worker(who), offer, limit))
        eligible = [
            job_id
            for job_id, job in self.model.items()
            if job.status is Status.QUEUED and not (self.retry_different and who in job.tried)
        ]
        assert len(got) == min(limit, len(eligible))
        for job in got:
            assert job.id in eligible, f"job {job.id} handed out while not claimable"
            expected = self.model[job.id]
            expected.move(Status.PULLED)
            expected.worker, expected.last_seen = who, self.clock.now()
            expected.attempts += 1
            expected.tried.add(who)
            assert job.worker == who

    @rule(
        job_id=jobs,
        who=st.sampled_from(("holder", "holder", *WORKERS)),
        status=st.sampled_from(list(Status)),
        steer=st.integers(0, 7),
    )
    def report_status(self, job_id: int, who: str, status: Status, steer: int) -> None:
        active = sorted(i for i, job in self.model.items() if job.status.active)
        if steer and active:  # steer most reports to active jobs, where the rules bite
            job_id = active[steer % len(active)]
        expected = self.model[job_id]
        if who == "holder":  # steer most reports to the worker holding the job
            who = expected.worker or WORKERS[0]
        outcome = report_outcome(expected, who, status)
        answer = self._report(who, job_id, status)
        succeeded = outcome in ("move", "keep-alive")
        accepted = succeeded or outcome == "ignored"
        assert answer == ("ok" if accepted else outcome), f"{outcome} expected, got {answer}"
        if not succeeded:
            return  # refused, or accepted and ignored: nothing changed (the invariants check)
        details = f"{who}:{status}"
        if outcome == "move":
            expected.move(status)
        elif details != expected.details:
            expected.notified.append(status)  # a keep-alive with new details is news
        expected.last_seen = self.clock.now()
        expected.details = details  # runtime details are kept

    def _report(self, who: str, job_id: int, status: Status) -> str | type[Exception]:
        try:
            self.run(self.report(worker(who), job_id, status, f"{who}:{status}"))
        except (NotAssigned, IllegalTransition) as exc:
            return type(exc)
        return "ok"

    @rule(seconds=st.sampled_from([1, 60, 120, 299, 301, 1000]), user_side_down=st.booleans())
    def scheduler_tick(self, seconds: int, user_side_down: bool) -> None:
        """Time passes; the scheduler sweeps leases, then forwards the outbox."""
        self.clock.advance(seconds)
        self._sweep_leases()
        self.user_side_down = user_side_down
        self.run(self.forward())

    def _sweep_leases(self) -> None:
        now, requeued, failed = self.clock.now(), 0, 0
        for expected in self.model.values():
            last_seen = expected.last_seen
            if not expected.status.active or last_seen is None or now - last_seen <= LEASE:
                continue
            if expected.attempts > MAX_RETRIES:
                expected.move(Status.ERROR)
                failed += 1
            else:
                expected.move(Status.QUEUED)
                requeued += 1
            expected.worker = expected.last_seen = None
        result = self.run(self.sweep())
        assert (result.requeued, result.failed) == (requeued, failed)

    @rule(job_id=jobs, dice=st.integers(0, 3))
    def user_cancels(self, job_id: int, dice: int) -> None:
        if dice:  # cancel one time in four: canceled jobs have little left to explore
            return
        job = self.run(self.store.get(job_id))
        self.run(self.store.save(job, job.cancel(self.clock.now(), "canceled by the user")))
        expected = self.model[job_id]
        if not expected.status.terminal:
            expected.move(Status.CANCELED, notify=False)

    @invariant()
    def store_agrees_with_the_model(self) -> None:
        for job in self.store.all_jobs():
            expected = self.model[job.id]
            assert (job.status, job.attempts) == (expected.status, expected.attempts)
            assert job.runtime_details == expected.details
            if job.status is not Status.CANCELED:
                assert job.worker == expected.worker

    @invariant()
    def one_holder_per_active_job(self) -> None:
        held = [job.id for who in WORKERS for job in self.run(self.store.held_by(who))]
        assert len(held) == len(set(held)), "a job is held by two workers"
        active = [job for job in self.store.all_jobs() if job.status.active]
        assert sorted(held) == sorted(job.id for job in active)
        assert all(job.worker in WORKERS and job.last_seen for job in active)

    @invariant()
    def terminal_jobs_stay_terminal(self) -> None:
        for job in self.store.all_jobs():
            if job.id in self.terminal:
                assert job.status is self.terminal[job.id]
            elif job.status.terminal:
                self.terminal[job.id] = job.status

    @invariant()
    def attempts_are_bounded(self) -> None:
        for job in self.store.all_jobs():
            assert job.attempts <= MAX_RETRIES + 1
            assert job.attempts <= MAX_RETRIES or job.status is not Status.QUEUED

    @invariant()
    def every_transition_is_an_event_in_order(self) -> None:
        for job_id, expected in self.model.items():
            events = self.run(self.store.events(job_id))
            assert [(e.from_status, e.to_status) for e in events] == expected.transitions
            assert [e.at for e in events] == sorted(e.at for e in events)

    @invariant()
    def the_user_side_hears_a_prefix_in_order(self) -> None:
        told: dict[int, list[Status]] = {}
        for update in self.sink.delivered:
            told.setdefault(update.job_id, []).append(update.status)
        for job_id, statuses in told.items():
            notified = self.model[job_id].notified
            assert statuses == notified[: len(statuses)]


QueueMachine.TestCase.settings = settings(
    max_examples=100,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestQueueMachine = QueueMachine.TestCase
