"""The UserJobStore port on SQLite and PostgreSQL: atomic submission with the queued job,
privacy, order, idempotency, cancel on delete, forward-only steps with their notices."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sql.store import SqlJobStore
from adapters.sql.tables import job_events, jobs, notifications
from adapters.sql.user_jobs import SqlUserJobStore
from adapters.sql.user_notifications import SqlUserNotifications
from domain.jobs import App, Handler, Hardware, JobSpec, Meta, NewJob, Status, UploadPaths
from domain.notify.model import Channel, NotifyPolicy
from domain.userjobs.model import (
    Application,
    JobNameTaken,
    JobQuery,
    JobRequest,
    UserJob,
    UserJobNotFound,
)
from domain.userjobs.notices import Notice, NotifyRule
from tests.contract.sql_support import sql_engine

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
T0 = datetime(2026, 11, 30, 12, tzinfo=UTC)


class RecordingNotifications:
    def __init__(self, fail: bool = False) -> None:
        self.notices: list[Notice] = []
        self.fail = fail

    async def enqueue(self, transaction: Any, notices: Sequence[Notice]) -> None:
        assert transaction is not None
        if self.fail and notices:
            raise RuntimeError("notifier outbox broken")
        self.notices += notices

    async def forget(self, transaction: Any, user_job_id: int) -> None:
        self.notices = [n for n in self.notices if n.user_job_id != user_job_id]


@pytest.fixture(params=BACKENDS)
async def engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    async with sql_engine(request.param, tmp_path) as engine:
        yield engine


@pytest.fixture
def notes() -> RecordingNotifications:
    return RecordingNotifications()


@pytest.fixture
def store(engine: AsyncEngine, notes: RecordingNotifications) -> SqlUserJobStore:
    return SqlUserJobStore(engine, notes)


def draft(name: str = "j1", user: str = "alice", at: datetime = T0) -> UserJob:
    request = JobRequest(name, Application("decode", "v1", "train"))
    return UserJob(0, user, request, Hardware(cpu_cores=2), at)


def queue_job(user_job_id: int) -> NewJob:
    spec = JobSpec(
        App(cmd=("run",)),
        Handler(image_url="img"),
        Meta(job_id=user_job_id, date_created=T0.isoformat()),
    )
    return NewJob(spec, UploadPaths("a/output/j", "a/log/j", "a/artifact/j"))


async def count(engine: AsyncEngine, table: Any) -> int:
    async with engine.connect() as c:
        return int(await c.scalar(select(func.count()).select_from(table)) or 0)


async def test_submit_writes_the_user_job_and_the_queued_job_together(
    store: SqlUserJobStore, engine: AsyncEngine
) -> None:
    job, created = await store.submit(draft(), None, queue_job)
    assert created
    assert job.status is Status.QUEUED
    queued = await SqlJobStore(engine, outbox=True).get(job.queue_job_id or 0)
    assert queued.spec.meta.job_id == job.id
    assert queued.status is Status.QUEUED
    assert await store.get("alice", job.id) == job


async def test_a_failure_in_the_middle_leaves_nothing(
    store: SqlUserJobStore, engine: AsyncEngine
) -> None:
    def broken(user_job_id: int) -> NewJob:
        raise RuntimeError("spec build failed after the user job was inserted")

    with pytest.raises(RuntimeError):
        await store.submit(draft(), None, broken)
    assert await count(engine, jobs) == 0
    assert await store.page(JobQuery("alice")) == []


async def test_names_are_unique_per_user_and_keys_idempotent(store: SqlUserJobStore) -> None:
    await store.submit(draft("j1"), None, queue_job)
    with pytest.raises(JobNameTaken):
        await store.submit(draft("j1"), None, queue_job)
    await store.submit(draft("j1", user="bob"), None, queue_job)
    first, made = await store.submit(draft("j2"), "key-1", queue_job)
    again, made_again = await store.submit(draft("j3"), "key-1", queue_job)
    assert made
    assert not made_again
    assert again.id == first.id
    racing = await asyncio.gather(
        *(store.submit(draft(f"r{i}"), "key-2", queue_job) for i in range(4))
    )
    assert len({job.id for job, _ in racing}) == 1
    assert sum(made for _, made in racing) == 1


async def test_pages_are_newest_first_private_and_filtered(store: SqlUserJobStore) -> None:
    ids = [(await store.submit(draft(f"j{i}"), None, queue_job))[0].id for i in range(5)]
    await store.submit(draft("other", user="bob"), None, queue_job)
    page = await store.page(JobQuery("alice", offset=1, limit=2))
    assert [j.id for j in page] == [ids[3], ids[2]]
    assert [j.id for j in await store.page(JobQuery("alice", status=Status.QUEUED))] == ids[::-1]
    assert await store.page(JobQuery("alice", status=Status.RUNNING)) == []
    with pytest.raises(UserJobNotFound):
        await store.get("bob", ids[0])


async def test_delete_cancels_the_queued_job_and_ids_are_not_reused(
    store: SqlUserJobStore, engine: AsyncEngine
) -> None:
    job, _ = await store.submit(draft(), None, queue_job)
    with pytest.raises(UserJobNotFound):
        await store.delete("bob", job.id, T0)
    await store.delete("alice", job.id, T0 + timedelta(seconds=1))
    queued = await SqlJobStore(engine, outbox=True).get(job.queue_job_id or 0)
    assert queued.status is Status.CANCELED
    assert await count(engine, job_events) == 1
    with pytest.raises(UserJobNotFound):
        await store.get("alice", job.id)
    later, _ = await store.submit(draft(), None, queue_job)  # the name is free again
    assert later.id > job.id


def step_to(status: Status, details: str | None = None, rule: NotifyRule | None = None) -> Any:
    rule = rule or NotifyRule()

    def step(job: UserJob) -> tuple[UserJob, Notice | None] | None:
        after = job.advanced(status, details, T0)
        return None if after is None else (after, rule.notice(job.status, after, T0))

    return step


async def test_steps_apply_by_either_id_and_record_their_notice(
    store: SqlUserJobStore, notes: RecordingNotifications
) -> None:
    job, _ = await store.submit(draft(), None, queue_job)
    running = await store.advance(step_to(Status.RUNNING), queue_job_id=job.queue_job_id)
    assert running is not None
    assert running.status is Status.RUNNING
    assert await store.advance(step_to(Status.PULLED), user_job_id=job.id) is None
    done = await store.advance(step_to(Status.FINISHED, "ok"), user_job_id=job.id)
    assert done is not None
    assert await store.get("alice", job.id) == done
    assert await store.advance(step_to(Status.FINISHED, "ok"), user_job_id=job.id) is None
    assert [n.status for n in notes.notices] == [Status.FINISHED]
    with pytest.raises(UserJobNotFound):
        await store.advance(step_to(Status.RUNNING), user_job_id=job.id + 1000)


async def test_many_steps_go_in_one_call_each_with_its_own_outcome(
    store: SqlUserJobStore, notes: RecordingNotifications
) -> None:
    jobs_ = [(await store.submit(draft(f"j{n}"), None, queue_job))[0] for n in range(3)]
    first, second, third = (job.queue_job_id or 0 for job in jobs_)
    await store.advance(step_to(Status.RUNNING), queue_job_id=third)
    outcomes = await store.advance_many(
        [
            (first, step_to(Status.FINISHED, "done")),
            (second, step_to(Status.RUNNING, "epoch 1")),
            (third, step_to(Status.PULLED)),  # behind: no change
            (first + second + third, step_to(Status.RUNNING)),  # no user job owns it
        ]
    )
    done, running, unchanged, unknown = outcomes
    assert isinstance(done, UserJob)
    assert (done.status, done.runtime_details) == (Status.FINISHED, "done")
    assert done.date_started is not None
    assert done.date_finished is not None
    assert isinstance(running, UserJob)
    assert (running.status, running.runtime_details) == (Status.RUNNING, "epoch 1")
    assert unchanged is None
    assert isinstance(unknown, UserJobNotFound)
    assert await store.get("alice", jobs_[0].id) == done
    assert await store.get("alice", jobs_[1].id) == running
    assert (await store.get("alice", jobs_[2].id)).status is Status.RUNNING
    assert [(n.user_job_id, n.status) for n in notes.notices] == [(jobs_[0].id, Status.FINISHED)]
    assert await store.advance_many([]) == []


async def test_a_failed_notice_rolls_back_every_step_of_the_call(engine: AsyncEngine) -> None:
    store = SqlUserJobStore(engine, RecordingNotifications(fail=True))
    one, _ = await store.submit(draft("j1"), None, queue_job)
    two, _ = await store.submit(draft("j2"), None, queue_job)
    with pytest.raises(RuntimeError):
        await store.advance_many(
            [
                (one.queue_job_id or 0, step_to(Status.RUNNING)),
                (two.queue_job_id or 0, step_to(Status.ERROR)),
            ]
        )
    assert (await store.get("alice", one.id)).status is Status.QUEUED
    assert (await store.get("alice", two.id)).status is Status.QUEUED


async def test_a_failed_notice_rolls_the_status_back(engine: AsyncEngine) -> None:
    store = SqlUserJobStore(engine, RecordingNotifications(fail=True))
    job, _ = await store.submit(draft(), None, queue_job)
    with pytest.raises(RuntimeError):
        await store.advance(step_to(Status.ERROR), user_job_id=job.id)
    assert (await store.get("alice", job.id)).status is Status.QUEUED


async def test_concurrent_steps_keep_the_furthest(
    store: SqlUserJobStore, notes: RecordingNotifications
) -> None:
    job, _ = await store.submit(draft(), None, queue_job)
    order = [Status.PULLED, Status.RUNNING, Status.FINISHED, Status.PREPROCESSING] * 3
    await asyncio.gather(*(store.advance(step_to(s), user_job_id=job.id) for s in order))
    assert (await store.get("alice", job.id)).status is Status.FINISHED
    assert len(notes.notices) == 1


async def test_remote_mode_writes_the_submission_not_the_queued_job(
    engine: AsyncEngine,
) -> None:
    store = SqlUserJobStore(engine, remote_scope="api-1")
    job, _ = await store.submit(draft(), None, queue_job)
    assert job.queue_job_id is None
    assert await count(engine, jobs) == 0
    (pending,) = await store.pending_submissions(T0, 10)
    assert pending.user_job_id == job.id
    assert pending.idempotency_key == f"api-1:user-job:{job.id}"
    assert pending.job == queue_job(job.id)
    await store.retry_submission(pending.message_id, T0 + timedelta(seconds=5), "down")
    assert await store.pending_submissions(T0, 10) == []
    (again,) = await store.pending_submissions(T0 + timedelta(seconds=5), 10)
    assert again.attempts == 1
    await store.submitted(again, 4242)
    assert (await store.get("alice", job.id)).queue_job_id == 4242
    assert await store.pending_submissions(T0 + timedelta(days=1), 10) == []

    doomed, _ = await store.submit(draft("j2"), None, queue_job)
    await store.delete("alice", doomed.id, T0)
    assert await store.pending_submissions(T0 + timedelta(days=1), 10) == []


async def test_a_finished_job_of_an_addressed_user_is_one_mail_and_deletion_forgets_it(
    engine: AsyncEngine,
) -> None:
    policy = NotifyPolicy(channels=frozenset({Channel.EMAIL}))
    store = SqlUserJobStore(engine, SqlUserNotifications(policy))
    job, _ = await store.submit(draft(user="ada@example.org"), None, queue_job)
    await store.advance(step_to(Status.RUNNING), user_job_id=job.id)
    await store.advance(step_to(Status.FINISHED, "ok"), user_job_id=job.id)
    await store.advance(step_to(Status.FINISHED, "ok"), user_job_id=job.id)  # a repeat
    async with engine.connect() as c:
        rows = (await c.execute(select(notifications))).mappings().all()
    assert [(r["job_id"], r["status"], r["channel"]) for r in rows] == [
        (job.id, "finished", "email")
    ]
    assert rows[0]["address"] == "ada@example.org"
    other, _ = await store.submit(draft("j2", user="bob"), None, queue_job)
    await store.advance(step_to(Status.FINISHED), user_job_id=other.id)  # no address: no mail
    assert await count(engine, notifications) == 1
    await store.delete("ada@example.org", job.id, T0 + timedelta(seconds=1))
    assert await count(engine, notifications) == 0
