"""Which queued jobs a worker may take, and in which order (docs/architecture.md, "Matching").

The SQL stores implement the same rules as queries; the store contract suite runs them
against this reference through the in-memory store.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from domain.jobs import Environment, Job, Status


@dataclass(frozen=True, slots=True)
class WorkerOffer:
    """What a pulling worker can run."""

    worker: str
    environment: Environment
    cpu_cores: int = 1
    memory: int = 0
    gpu_mem: int = 0
    gpu_model: str | None = None
    gpu_archi: str | None = None
    groups: frozenset[str] = frozenset()
    older_than: int = 0  # seconds a job for any environment waits before this worker takes it

    def any_environment_cutoff(self, now: datetime) -> datetime:
        """Jobs for any environment created before this instant are old enough."""
        return now - timedelta(seconds=self.older_than)


def fits(job: Job, offer: WorkerOffer) -> bool:
    hw = job.spec.hardware
    return (
        (hw.cpu_cores is None or hw.cpu_cores <= offer.cpu_cores)
        and (hw.memory is None or hw.memory <= offer.memory)
        and (hw.gpu_mem is None or hw.gpu_mem <= offer.gpu_mem)
        and (hw.gpu_model is None or hw.gpu_model == offer.gpu_model)
        and (hw.gpu_archi is None or hw.gpu_archi == offer.gpu_archi)
    )


def environment_allows(job: Job, offer: WorkerOffer, now: datetime) -> bool:
    if job.environment is None:
        return job.created_at <= offer.any_environment_cutoff(now)
    return job.environment is offer.environment


def matches(job: Job, offer: WorkerOffer, now: datetime, *, retry_different: bool) -> bool:
    return (
        job.status is Status.QUEUED
        and fits(job, offer)
        and environment_allows(job, offer, now)
        and not (retry_different and offer.worker in job.tried_by)
    )


@dataclass(frozen=True, slots=True)
class OrderKey:
    """One key of the claim order: a job attribute (and column) and its direction."""

    field: str
    descending: bool = False


CLAIM_ORDER: tuple[OrderKey, ...] = (
    OrderKey("priority", descending=True),
    OrderKey("created_at"),
    OrderKey("id"),
)
"""The claim order, declared once (docs/architecture.md, "Where each rule lives"): higher
priority first, then the oldest, then the lowest id. Jobs of the worker's groups come before
all of these (`claim_order`; the stores claim in two passes). Read by the in-memory store, the
SQL claim statements (`adapters.sql.claim.claim_order`) and the partial claim-order indexes
(`adapters.sql.tables`; the migration restates them and `tests/contract/test_sql_schema.py`
ties it to this)."""


def order_values(values: Callable[[str], Any]) -> tuple[Any, ...]:
    """The claim-order sort key of one job or row; `values(field)` reads a field. Descending
    keys are numbers (negated)."""
    return tuple(-values(k.field) if k.descending else values(k.field) for k in CLAIM_ORDER)


def claim_order(job: Job, offer: WorkerOffer) -> tuple[Any, ...]:
    """Sort key: jobs of the worker's groups first, then `CLAIM_ORDER`."""
    return (job.group not in offer.groups, *order_values(lambda field: getattr(job, field)))
