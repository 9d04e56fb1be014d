"""The Profiles port on SQLite and PostgreSQL (a user's e-mail, webhook and webhook secret),
a job's own webhook kept with the job, and the notifications they address: the profile as
it is when the status change commits; the job's webhook wins over the user's."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sql.tables import notifications
from adapters.sql.user_jobs import SqlUserJobStore
from adapters.sql.user_notifications import SqlUserNotifications
from adapters.sql.user_profiles import SqlProfiles
from domain.accounts.profile import Profile
from domain.jobs import Hardware, Status
from domain.notify.model import NotifyPolicy
from domain.userjobs.model import Application, JobRequest, UserJob
from tests.contract.sql_support import sql_engine
from tests.contract.test_user_job_store import T0, queue_job, step_to

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
JOB_HOOK = "https://hooks.example.org/job"
USER_HOOK = "https://hooks.example.org/user"


@pytest.fixture(params=BACKENDS)
async def engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    async with sql_engine(request.param, tmp_path) as engine:
        yield engine


def draft(name: str, user: str, webhook_url: str | None = None) -> UserJob:
    request = JobRequest(name, Application("decode", "v1", "train"), webhook_url=webhook_url)
    return UserJob(0, user, request, Hardware(cpu_cores=2), T0)


async def addressed(engine: AsyncEngine, job_id: int) -> dict[str, tuple[str, str | None]]:
    """channel -> (address, secret) of the job's notifications."""
    statement = select(notifications).where(notifications.c.job_id == job_id)
    async with engine.connect() as c:
        rows = (await c.execute(statement)).mappings().all()
    return {r["channel"]: (r["address"], r["secret"]) for r in rows}


async def finish(store: SqlUserJobStore, job: UserJob) -> None:
    await store.advance(step_to(Status.FINISHED, "done"), user_job_id=job.id)


async def test_a_profile_is_made_once_with_its_secret(engine: AsyncEngine) -> None:
    profiles = SqlProfiles(engine)
    first = await profiles.ensure("alice", "secret-1")
    assert first == Profile("alice", "secret-1")
    assert await profiles.ensure("alice", "secret-2") == first  # kept, not replaced
    # first uses at once agree on one secret
    made = await asyncio.gather(*(profiles.ensure("bob", f"s-{i}") for i in range(5)))
    assert len({p.webhook_secret for p in made}) == 1


async def test_saved_profiles_are_read_back_and_private(engine: AsyncEngine) -> None:
    profiles = SqlProfiles(engine)
    alice = Profile("alice", "k" * 43, email="alice@lab.example.org", webhook_url=USER_HOOK)
    await profiles.save(alice)  # made by save alone
    assert await profiles.ensure("alice", "other") == alice
    cleared = replace(alice, email=None, webhook_url=None, webhook_secret="rotated")
    await profiles.save(cleared)
    assert await profiles.ensure("alice", "other") == cleared
    assert (await profiles.ensure("bob", "b")).email is None
    long_url = "https://hooks.example.org/" + "x" * 1900
    await profiles.save(replace(cleared, webhook_url=long_url))
    assert (await profiles.ensure("alice", "other")).webhook_url == long_url


async def test_a_jobs_own_webhook_is_kept_with_it(engine: AsyncEngine) -> None:
    store = SqlUserJobStore(engine)
    job, _ = await store.submit(draft("hooked", "alice", JOB_HOOK), None, queue_job)
    plain, _ = await store.submit(draft("plain", "alice"), None, queue_job)
    assert (await store.get("alice", job.id)).request.webhook_url == JOB_HOOK
    assert (await store.get("alice", plain.id)).request.webhook_url is None


async def test_notifications_are_addressed_from_the_profile(engine: AsyncEngine) -> None:
    profiles = SqlProfiles(engine)
    store = SqlUserJobStore(engine, SqlUserNotifications(NotifyPolicy()))
    await profiles.save(Profile("alice", "alice-key", "alice@lab.example.org", USER_HOOK))
    hooked, _ = await store.submit(draft("hooked", "alice", JOB_HOOK), None, queue_job)
    plain, _ = await store.submit(draft("plain", "alice"), None, queue_job)
    for job in (hooked, plain):
        await finish(store, job)
    assert await addressed(engine, hooked.id) == {
        "email": ("alice@lab.example.org", None),
        "webhook": (JOB_HOOK, "alice-key"),  # the job's URL wins, signed with her secret
    }
    assert await addressed(engine, plain.id) == {
        "email": ("alice@lab.example.org", None),
        "webhook": (USER_HOOK, "alice-key"),
    }


async def test_without_a_profile_an_address_username_still_gets_mail(
    engine: AsyncEngine,
) -> None:
    store = SqlUserJobStore(engine, SqlUserNotifications(NotifyPolicy()))
    ada, _ = await store.submit(draft("a", "ada@lab.example.org"), None, queue_job)
    bob, _ = await store.submit(draft("b", "bob", JOB_HOOK), None, queue_job)
    for job in (ada, bob):
        await finish(store, job)
    assert await addressed(engine, ada.id) == {"email": ("ada@lab.example.org", None)}
    # no profile: the service's default secret signs it (JOBCLOUD_WEBHOOK_SECRET)
    assert await addressed(engine, bob.id) == {"webhook": (JOB_HOOK, None)}
    # a profile's own address wins over the username
    await SqlProfiles(engine).save(Profile("ada@lab.example.org", "k", "ada@home.example.org"))
    later, _ = await store.submit(draft("c", "ada@lab.example.org"), None, queue_job)
    await finish(store, later)
    assert await addressed(engine, later.id) == {"email": ("ada@home.example.org", None)}


async def test_the_profile_as_it_is_at_the_change_is_used(engine: AsyncEngine) -> None:
    profiles = SqlProfiles(engine)
    store = SqlUserJobStore(engine, SqlUserNotifications(NotifyPolicy()))
    job, _ = await store.submit(draft("j", "carol"), None, queue_job)
    profile = await profiles.ensure("carol", "first")
    await profiles.save(replace(profile, email="carol@lab.example.org"))  # after submitting
    await finish(store, job)
    assert await addressed(engine, job.id) == {"email": ("carol@lab.example.org", None)}
