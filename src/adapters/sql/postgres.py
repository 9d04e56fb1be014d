"""The PostgreSQL hot path: submit, claim, report and read, each ONE prepared statement.

SQLAlchemy builds each statement once (the claim from the same matching rules as on SQLite)
and compiles it for asyncpg; asyncpg runs it as a prepared statement on a pool of its own.
Each statement is its own transaction: a claim updates the jobs and records the attempts and
events (and outbox messages) in data-modifying CTEs; a report locks the job, checks it against
`Report.accepted_from` and writes it the same way. Claims, and reports, that arrive while one
of their kind is in the database go together in the next statement (`Batcher`): under load,
one statement and one commit serve many workers. Measured on 2 cores, a statement costs the
server a third of the CPU of a SQLAlchemy transaction (BEGIN, statements, COMMIT, each a round
trip), which had made it CPU-bound at under a quarter of the target throughput.

Everything off the hot path (leases, outbox delivery, events, saves) stays on `SqlJobStore`.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Hashable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import msgspec
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sql.batch import Batcher, Failed, each_alone
from adapters.sql.claim import claim_in_passes, claim_params
from adapters.sql.codec import job_from_row, new_job_row
from adapters.sql.errors import describe, latch_of, outage_cause
from adapters.sql.once import ADD_ATTEMPTS
from adapters.sql.pg_failures import as_domain, item_can_cause
from adapters.sql.pg_statements import (
    ADD,
    ADD_ONCE,
    GET,
    GET_LIVE_KEY,
    Prepared,
    prepared_claims,
    prepared_reports,
)
from adapters.sql.release import give_back
from adapters.sql.store import SqlJobStore, job_with_tried
from adapters.sql.url import libpq_url
from domain.errors import JobNotFound, StoreUnavailable, Unavailable
from domain.jobs import Job, NewJob, Report
from domain.limits import ID_MAX, check_new_job, check_offer, check_report
from domain.matching import WorkerOffer

_ACQUIRE_TIMEOUT_S = 10.0
_CLAIM_ATTEMPTS = 5
_BUSY = frozenset({"55P03"})  # lock_not_available
_CLAIM_PARAMS = (
    "p_cpu_cores",
    "p_memory",
    "p_gpu_mem",
    "p_gpu_model",
    "p_gpu_archi",
    "p_cutoff",
    "p_now",
)


async def _init_connection(connection: Any, *, outbox: bool) -> None:
    for kind in ("json", "jsonb"):
        await connection.set_type_codec(
            kind, schema="pg_catalog", encoder=_encode_json, decoder=msgspec.json.decode
        )
    # Prepare (and plan) the hot statements now, with arguments that match nothing, so that
    # no request pays for it later: the first pulls after a start are as fast as any.
    for statement, params in _warm_up(outbox):
        await connection.fetch(statement.sql, *statement.args(params))


def _warm_up(outbox: bool) -> list[tuple[Prepared, dict[str, Any]]]:
    nothing: dict[str, Any] = {"p_id": -1}
    no_reports: dict[str, Any] = {
        key: [] for key in ("p_id", "p_worker", "p_from", "p_status", "p_details", "p_now")
    }
    claims: list[tuple[Prepared, dict[str, Any]]] = [
        (
            prepared_claims(retry_different, by_group, outbox),
            {
                **dict.fromkeys(_CLAIM_PARAMS),
                "p_limit": 0,
                "p_environment": "",
                "p_workers": [],
                "p_wanted": [],
                **({"p_groups": []} if by_group else {}),
            },
        )
        for retry_different in (True, False)
        for by_group in (True, False)
    ]
    return [*claims, (prepared_reports(outbox), no_reports), (GET, nothing)]


def _encode_json(value: Any) -> str:
    return msgspec.json.encode(value).decode()


async def _reset(connection: Any) -> None:
    """Between uses a connection needs no reset (no session state is ever set on it), only
    a rollback should a statement have been interrupted inside a transaction."""
    if connection.is_in_transaction():
        await connection.execute("ROLLBACK")


@asynccontextmanager
async def postgres_store(
    engine: AsyncEngine,
    *,
    size: int,
    outbox: bool,
    server_settings: Mapping[str, str] | None = None,
) -> AsyncIterator[PostgresJobStore]:
    """The store on `engine`'s database, with its hot path on an asyncpg pool of `size`
    connections, opened (and their statements prepared) now and kept open."""
    try:
        pool = await asyncpg.create_pool(
            libpq_url(engine.url),
            min_size=size,
            max_size=size,
            max_inactive_connection_lifetime=0,  # a reopened connection is a cold one
            init=functools.partial(_init_connection, outbox=outbox),
            reset=_reset,
            server_settings={
                "jit": "off",
                "lock_timeout": "5s",
                "application_name": "jobcloud",
                # The hot statements are planned once per connection, not at each execution:
                # their plans (the partial claim-order index, primary keys) do not depend on
                # the values. Measured: +20% throughput for the claim.
                "plan_cache_mode": "force_generic_plan",
                **(server_settings or {}),
            },
        )
    except Exception as exc:
        cause = outage_cause(exc)
        if cause is None:
            raise
        raise StoreUnavailable(f"database unavailable: {describe(cause)}") from exc
    try:
        yield PostgresJobStore(engine, pool, outbox=outbox)
    finally:
        await pool.close()


@dataclass(frozen=True, slots=True)
class _ClaimPass:
    """One pass of a worker's claim (`claim_in_passes`), to be batched with others."""

    offer: WorkerOffer
    groups: frozenset[str] | None
    wanted: int
    now: datetime
    retry_different: bool
    cutoff: datetime  # computed before the pass joins a batch: its arithmetic is its own

    def shape(self) -> Hashable:
        """Passes of one shape can share a statement: they differ only in the worker's name,
        how many jobs it wants and when it asked."""
        o = self.offer
        hardware = (o.cpu_cores, o.memory, o.gpu_mem, o.gpu_model, o.gpu_archi)
        return (self.retry_different, self.groups, o.environment, o.older_than, hardware)


# The rows a pass claimed, and whether it shared its statement with other workers.
_Claimed = tuple[list[Any], bool]


class PostgresJobStore(SqlJobStore):
    def __init__(self, engine: AsyncEngine, pool: Any, *, outbox: bool) -> None:
        super().__init__(engine, outbox=outbox)
        self._pool = pool
        self._outage = latch_of(engine)
        # Calls that arrive while a batch of their kind is in the database go together in
        # the next: one batch of each kind at a time per server process.
        self._reports = Batcher(self._apply_reports, key=_job_id)
        self._claims = Batcher(self._claim_passes, max_size=64, orphaned=self._give_back)

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Any]:
        """A connection of the hot path's pool (for other stores' hot statements)."""
        async with self._connection() as connection:
            yield connection

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[Any]:
        try:
            async with self._pool.acquire(timeout=_ACQUIRE_TIMEOUT_S) as connection:
                yield connection
        except Exception as exc:
            # Connection lost, server shutting down or out of resources, a row locked past
            # lock_timeout: the request may succeed later (503), it is not a bug (500).
            cause = outage_cause(exc)
            if cause is not None:
                raise self._outage.refused(cause) from exc
            if getattr(exc, "sqlstate", None) in _BUSY:
                raise Unavailable(f"database busy: {type(exc).__name__}") from exc
            raise
        if self._outage.down:
            self._outage.answered()

    async def add(self, new: NewJob, now: datetime) -> Job:
        check_new_job(new)
        if new.key is not None:
            return (await self.add_once(new, now))[0]
        async with self._connection() as connection:
            row = await connection.fetchrow(ADD.sql, *ADD.args(new_job_row(new, now)))
        return job_from_row(row)

    async def add_once(self, new: NewJob, now: datetime) -> tuple[Job, bool]:
        """ONE statement inserts or, when the key is taken, reads its holder; only when the
        insert had to wait for a concurrent holder (whose row the statement's snapshot cannot
        see) does a second statement read it."""
        if new.key is None:
            return await self.add(new, now), True
        check_new_job(new)
        params = new_job_row(new, now)
        async with self._connection() as connection:
            for _ in range(ADD_ATTEMPTS):
                row = await connection.fetchrow(ADD_ONCE.sql, *ADD_ONCE.args(params))
                if row is None:
                    row = await connection.fetchrow(GET_LIVE_KEY.sql, *GET_LIVE_KEY.args(params))
                    if row is not None:
                        return job_from_row(row), False
                    continue
                return job_from_row(row), bool(row["created"])
        raise Unavailable(f"key {new.key.key!r}: its holder keeps changing; try again")

    async def get(self, job_id: int) -> Job:
        if not 0 <= job_id <= ID_MAX:
            raise JobNotFound(job_id)
        async with self._connection() as connection:
            row = await connection.fetchrow(GET.sql, *GET.args({"p_id": job_id}))
        return job_with_tried(job_id, row)

    async def claim(
        self, offer: WorkerOffer, limit: int, now: datetime, *, retry_different: bool
    ) -> list[Job]:
        check_offer(offer, limit)  # every value checked before it joins a batch
        cutoff = offer.any_environment_cutoff(now)

        taken: list[Any] = []  # every row claimed so far: given back if this call fails

        async def claim_pass(groups: frozenset[str] | None, wanted: int) -> Sequence[Any]:
            one = _ClaimPass(offer, groups, wanted, now, retry_different, cutoff)
            rows, shared = await self._claims(one)
            taken.extend(rows)
            if shared and retry_different and len(rows) < wanted:
                # The batch kept from this worker the jobs that others in it had tried: ask
                # alone for the rest, as a lone claim would have had them.
                rest = replace(one, wanted=wanted - len(rows))
                async with self._connection() as connection:
                    more = (await self._claim_batch(connection, [rest]))[0]
                taken.extend(more)
                rows = [*rows, *more]
            return rows

        try:
            return await claim_in_passes(offer, limit, claim_pass)
        except BaseException:
            ids = [row["id"] for row in taken]
            await asyncio.shield(give_back(self._engine, ids, offer.worker, now))
            raise

    async def _claim_passes(self, passes: Sequence[_ClaimPass]) -> list[_Claimed | Failed]:
        """One statement for each shape of pass in the batch, in the order they came. Each
        statement commits on its own, so each shape's outcome is its members' alone: a
        failed statement is split until only the culprit fails."""
        shapes: dict[Hashable, list[int]] = {}
        for i, one in enumerate(passes):
            shapes.setdefault(one.shape(), []).append(i)
        claimed: list[_Claimed | Failed] = [([], False)] * len(passes)
        async with self._connection() as connection:
            for members in shapes.values():
                outcomes = await each_alone(
                    functools.partial(self._claim_batch, connection),
                    [passes[i] for i in members],
                    splittable=item_can_cause,
                )
                for i, outcome in zip(members, outcomes, strict=True):
                    claimed[i] = (
                        as_domain(outcome)
                        if isinstance(outcome, Failed)
                        else (
                            outcome,
                            len(members) > 1,
                        )
                    )
        return claimed

    async def _claim_batch(self, connection: Any, passes: Sequence[_ClaimPass]) -> list[list[Any]]:
        """Passes of one shape, in one statement; the rows each claimed."""
        first = passes[0]
        wanted = [one.wanted for one in passes]
        # The claim happens now, for every pass of the batch: at the latest of their times.
        now = max(one.now for one in passes)
        params = claim_params(first.offer, sum(wanted), now, first.groups)
        params["p_cutoff"] = max(one.cutoff for one in passes)
        params["p_workers"] = [one.offer.worker for one in passes]
        params["p_wanted"] = wanted
        statement = prepared_claims(
            first.retry_different, first.groups is not None, self._with_outbox
        )
        rows = await _retrying_lock_timeouts(connection, statement, params)
        claimed: list[list[Any]] = [[] for _ in passes]
        for row in rows:
            claimed[row["member"] - 1].append(row)
        return claimed

    async def _give_back(self, one: _ClaimPass, claimed: _Claimed) -> None:
        """A pass whose caller was cancelled before it got its jobs: requeue them."""
        rows, _ = claimed
        await give_back(self._engine, [row["id"] for row in rows], one.offer.worker, one.now)

    async def apply_report(self, report: Report) -> bool:
        check_report(report)  # every value checked before it joins a batch
        return await self._reports(report)

    async def _apply_reports(self, reports: Sequence[Report]) -> list[bool | Failed]:
        async with self._connection() as connection:
            outcomes = await each_alone(
                functools.partial(self._report_batch, connection),
                reports,
                splittable=item_can_cause,
            )
        return [as_domain(o) if isinstance(o, Failed) else o for o in outcomes]

    async def _report_batch(self, connection: Any, reports: Sequence[Report]) -> list[bool]:
        statement = prepared_reports(self._with_outbox)
        params = {
            "p_id": [r.job_id for r in reports],
            "p_worker": [r.worker for r in reports],
            "p_from": [",".join(s.value for s in r.accepted_from) for r in reports],
            "p_status": [r.status.value for r in reports],
            "p_details": [r.details for r in reports],
            "p_now": [r.at for r in reports],
        }
        rows = await connection.fetch(statement.sql, *statement.args(params))
        applied = {row[0] for row in rows}
        return [n in applied for n in range(1, len(reports) + 1)]


def _job_id(report: Report) -> int:
    return report.job_id


async def _retrying_lock_timeouts(
    connection: Any, statement: Prepared, params: Mapping[str, Any]
) -> Sequence[Any]:
    for attempt in range(_CLAIM_ATTEMPTS):
        try:
            rows: Sequence[Any] = await connection.fetch(statement.sql, *statement.args(params))
            return rows
        except asyncpg.LockNotAvailableError:
            if attempt == _CLAIM_ATTEMPTS - 1:
                raise
            await asyncio.sleep(0.01 * (attempt + 1))
    return []
