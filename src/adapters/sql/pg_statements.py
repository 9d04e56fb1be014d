"""The PostgreSQL hot path's statements, built once with SQLAlchemy and compiled for asyncpg.

Each is ONE statement and its own transaction: a claim updates the jobs and records the
attempts, events (and outbox messages) in data-modifying CTEs; a report locks the jobs, checks
them against `Report.accepted_from` and writes them the same way. `PostgresJobStore`
(`adapters.sql.postgres`) runs them on its asyncpg pool."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import (
    ARRAY,
    BigInteger,
    Integer,
    String,
    Text,
    and_,
    any_,
    bindparam,
    case,
    func,
    insert,
    literal,
    literal_column,
    null,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.sql.selectable import CTE, TableValuedAlias

from adapters.sql.claim import claim_order, picked
from adapters.sql.once import LIVE_KEY, add_once_statement
from adapters.sql.store import get_statement
from adapters.sql.tables import job_attempts, job_events, jobs, outbox
from domain.jobs import Status

_DIALECT = PGDialect_asyncpg()  # type: ignore[no-untyped-call]
TIME = DateTimeUTC(timezone=True)

EVENT_COLUMNS = ["job_id", "at", "from_status", "to_status", "worker", "details", "notify"]
OUTBOX_COLUMNS = [
    "job_id",
    "user_job_id",
    "status",
    "runtime_details",
    "attempts",
    "created_at",
    "next_attempt_at",
]


@dataclass(frozen=True, slots=True)
class Prepared:
    """A statement compiled once for asyncpg: its SQL and how to order its arguments."""

    sql: str
    names: tuple[str, ...]
    constants: Mapping[str, Any]

    @classmethod
    def of(cls, statement: Any) -> Prepared:
        compiled = statement.compile(dialect=_DIALECT)
        names = tuple(compiled.positiontup or ())
        # Literals of the statement keep their value; every other parameter must be given.
        constants = {name: v for name, v in compiled.params.items() if v is not None}
        return cls(compiled.string, names, constants)

    def args(self, params: Mapping[str, Any]) -> list[Any]:
        return [params[n] if n in params else self.constants[n] for n in self.names]


def _param(name: str, type_: Any = None) -> Any:
    return bindparam(name, type_=type_)


ADD = Prepared.of(
    insert(jobs)
    .values({column.name: bindparam(column.name) for column in jobs.c if column.name != "id"})
    .returning(jobs)
)

GET = Prepared.of(get_statement("postgresql"))

# Run once (`adapters.sql.once` on SQLAlchemy): INSERT ... ON CONFLICT DO NOTHING, else the
# job holding the key, in one statement.
ADD_ONCE = Prepared.of(add_once_statement())
GET_LIVE_KEY = Prepared.of(LIVE_KEY)


# -- claims ---------------------------------------------------------------------------------


@functools.cache
def prepared_claims(retry_different: bool, by_group: bool, with_outbox: bool) -> Prepared:
    """Claim for a batch of workers with the same offer but their names (`p_workers`, each
    wanting `p_wanted` jobs; `p_limit` their sum): lock up to `p_limit` matching jobs in
    claim order, none tried by any of them, and hand them out in that order, the first worker
    its `wanted` first, and so on. In the same statement, record who tried them, the events
    and (with a user API) the outbox messages. Returns the claimed rows, each with `member`,
    the position (from 1) of its worker in the batch."""
    picks = picked(
        retry_different=retry_different, by_group=by_group, groups_array=True, batch=True
    ).cte("picked")
    now = _param("p_now", TIME)
    done = _claimed(_assigned(picks, _members()), now)
    return Prepared.of(select(done).add_cte(*_claim_records(done, now, with_outbox)))


def _members() -> CTE:
    """The batch's workers in order, each with the rank range of the jobs it gets."""
    member = (
        func.unnest(_param("p_workers", ARRAY(String)), _param("p_wanted", ARRAY(Integer)))
        .table_valued("worker", "wanted", with_ordinality="n")
        .render_derived(name="member")
    )
    upto = func.sum(member.c.wanted).over(order_by=member.c.n)
    return select(
        member.c.worker, member.c.n, (upto - member.c.wanted).label("after"), upto.label("upto")
    ).cte("members")


def _assigned(picks: CTE, members: CTE) -> CTE:
    """Each picked job, ranked in claim order, given to the member whose range holds it."""
    ranked = select(
        picks.c.id, func.row_number().over(order_by=claim_order(picks.c)).label("rank")
    ).cte("ranked")
    return (
        select(ranked.c.id, members.c.worker, members.c.n)
        .join_from(
            ranked, members, and_(ranked.c.rank > members.c.after, ranked.c.rank <= members.c.upto)
        )
        .cte("assigned")
    )


def _claimed(assigned: CTE, now: Any) -> CTE:
    return (
        update(jobs)
        .where(
            # `= ANY(ARRAY(subquery))`: the picked ids are computed first, then each row is
            # found by its key. (`IN (subquery)` let a generic plan hash-join a scan of the
            # table.)
            jobs.c.id == any_(func.array(select(assigned.c.id).scalar_subquery())),
            jobs.c.id == assigned.c.id,
        )
        .values(
            status=Status.PULLED.value,
            worker=assigned.c.worker,
            last_seen=now,
            updated_at=now,
            attempts=jobs.c.attempts + 1,
            version=jobs.c.version + 1,
        )
        .returning(*jobs.c, assigned.c.n.label("member"))
        .cte("claimed")
    )


def _claim_records(done: CTE, now: Any, with_outbox: bool) -> list[CTE]:
    """Who tried each claimed job, its event and (with a user API) its outbox message."""
    attempts = (
        postgresql.insert(job_attempts)
        .from_select(["job_id", "worker"], select(done.c.id, done.c.worker))
        .on_conflict_do_nothing()
        .cte("attempts")
    )
    pulled, queued = literal(Status.PULLED.value), literal(Status.QUEUED.value)
    events = (
        insert(job_events)
        .from_select(
            EVENT_COLUMNS,
            select(done.c.id, now, queued, pulled, done.c.worker, null(), literal(1)),
        )
        .cte("events")
    )
    ctes = [attempts, events]
    if with_outbox:
        messages = select(done.c.id, done.c.user_job_id, pulled, null(), literal(0), now, now)
        ctes.append(insert(outbox).from_select(OUTBOX_COLUMNS, messages).cte("messages"))
    return ctes


# -- reports --------------------------------------------------------------------------------


@functools.cache
def prepared_reports(with_outbox: bool) -> Prepared:
    """Apply a batch of reports (one array parameter per `Report` field, `p_from` each
    report's `accepted_from` joined by commas; at most one report per job): lock, in id
    order, each job its worker holds in a status its report is accepted from, write the
    report and, if the status changed, its event (and outbox message). Returns the batch
    positions (from 1) of the reports applied."""
    written = _written(_held(_reports()))
    return Prepared.of(select(written.c.n).add_cte(*_report_records(written, with_outbox)))


def _reports() -> TableValuedAlias:
    return (
        func.unnest(
            _param("p_id", ARRAY(BigInteger)),
            _param("p_worker", ARRAY(String)),
            _param("p_from", ARRAY(String)),
            _param("p_status", ARRAY(String)),
            _param("p_details", ARRAY(Text)),
            _param("p_now", ARRAY(TIME)),
        )
        .table_valued("id", "worker", "accepted", "status", "details", "at", with_ordinality="n")
        .render_derived(name="report")
    )


def _held(report: TableValuedAlias) -> CTE:
    """The jobs each report's worker holds in a status its report is accepted from, locked."""
    return (
        select(
            jobs.c.id,
            jobs.c.status.label("from_status"),
            report.c.status.label("to_status"),
            report.c.details,
            report.c.at,
            report.c.n,
            jobs.c.runtime_details.label("old_details"),
        )
        .join_from(jobs, report, jobs.c.id == report.c.id)
        .where(
            # The ids again, as an array: whatever the plan, the jobs are found by their key.
            jobs.c.id == any_(_param("p_id", ARRAY(BigInteger))),
            jobs.c.worker == report.c.worker,
            jobs.c.status == any_(func.string_to_array(report.c.accepted, literal_column("','"))),
        )
        # Locked in one order by every batch: two batches never wait for each other in turn.
        .order_by(jobs.c.id)
        .with_for_update(of=jobs)
        .cte("held")
    )


def _written(held: CTE) -> CTE:
    moved = held.c.from_status != held.c.to_status
    return (
        update(jobs)
        .where(jobs.c.id == held.c.id)
        .values(
            status=held.c.to_status,
            last_seen=held.c.at,
            runtime_details=func.coalesce(held.c.details, jobs.c.runtime_details),
            updated_at=case((moved, held.c.at), else_=jobs.c.updated_at),
            version=jobs.c.version + 1,
        )
        .returning(
            jobs.c.id,
            jobs.c.user_job_id,
            jobs.c.worker,
            held.c.from_status,
            held.c.to_status,
            held.c.details,
            held.c.at,
            held.c.n,
            held.c.old_details,
        )
        .cte("written")
    )


def _report_records(written: CTE, with_outbox: bool) -> list[CTE]:
    """The event of each change and (with a user API) the outbox message of each change or
    keep-alive with new details (`Report.news`)."""
    w, changed = written.c, written.c.from_status != written.c.to_status
    events = (
        insert(job_events)
        .from_select(
            EVENT_COLUMNS,
            select(w.id, w.at, w.from_status, w.to_status, w.worker, w.details, literal(1)).where(
                changed
            ),
        )
        .cte("events")
    )
    if not with_outbox:
        return [events]
    news = and_(w.details.is_not(None), w.details.is_distinct_from(w.old_details))
    messages = select(w.id, w.user_job_id, w.to_status, w.details, literal(0), w.at, w.at).where(
        or_(changed, news)
    )
    return [events, insert(outbox).from_select(OUTBOX_COLUMNS, messages).cte("messages")]
