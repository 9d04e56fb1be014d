"""Builders of domain objects for the unit tests (plain functions, no I/O)."""

from __future__ import annotations

from datetime import datetime

from domain.jobs import (
    App,
    Environment,
    Handler,
    Hardware,
    Job,
    JobSpec,
    Meta,
    NewJob,
    UploadPaths,
)
from domain.matching import WorkerOffer
from domain.workers import Principal
from tests.fakes.clock import FakeClock
from tests.fakes.store import InMemoryJobStore

T0 = FakeClock().now()


def spec(
    user_job_id: int = 1,
    hardware: Hardware | None = None,
    inputs: dict[str, str] | None = None,
) -> JobSpec:
    return JobSpec(
        app=App(cmd=("decode", "fit")),
        handler=Handler(image_url="registry/decode:1", files_down=inputs),
        meta=Meta(job_id=user_job_id, date_created="2026-01-01T00:00:00"),
        hardware=hardware or Hardware(),
    )


def new_job(
    user_job_id: int = 1,
    *,
    hardware: Hardware | None = None,
    environment: Environment | None = None,
    group: str | None = None,
    priority: int = 5,
    inputs: dict[str, str] | None = None,
    folder: str = "users/u1/jobs/1",
) -> NewJob:
    return NewJob(
        spec=spec(user_job_id, hardware, inputs),
        paths_upload=UploadPaths(f"{folder}/output", f"{folder}/log", f"{folder}/artifact"),
        environment=environment,
        group=group,
        priority=priority,
    )


def job(job_id: int = 1, created_at: datetime = T0, **kwargs: object) -> Job:
    return Job.create(job_id, new_job(**kwargs), created_at)  # type: ignore[arg-type]


def worker(name: str = "gpu-1", *groups: str) -> Principal:
    return Principal(name, frozenset({"workers", *groups}))


async def claimed(
    store: InMemoryJobStore, clock: FakeClock, principal: Principal, **kwargs: object
) -> Job:
    """Add one job and let `principal` claim it (through the store, as PullJobs does)."""
    added = await store.add(new_job(**kwargs), clock.now())  # type: ignore[arg-type]
    offer = WorkerOffer(principal.username, principal.environment)
    [got] = await store.claim(offer, 1, clock.now(), retry_different=False)
    assert got.id == added.id
    return got
