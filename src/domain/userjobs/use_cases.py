"""What users do with jobs, and how status from the queue reaches them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from domain.accounts.identity import require_user
from domain.accounts.profile import Profiles, new_webhook_secret
from domain.catalogue.model import check_env
from domain.catalogue.ports import CatalogueSource
from domain.jobs import NewJob, Status
from domain.notify.model import check_webhook_url
from domain.ports import Clock
from domain.transfers import StatusUpdate
from domain.userfiles.ports import UserFileStore
from domain.userfiles.tree import UserTree
from domain.userjobs.inputs import resolve_inputs
from domain.userjobs.model import JobQuery, JobRequest, UserJob, check_job_name
from domain.userjobs.notices import Notice, NotifyRule
from domain.userjobs.ports import Advanced, Step, UserJobStore
from domain.userjobs.spec import build_new_job, complete_hardware, files_down
from domain.workers import Principal


class SubmitUserJob:
    """Build the worker's JobSpecs from the catalogue and queue the job, atomically."""

    def __init__(
        self,
        store: UserJobStore,
        files: UserFileStore,
        catalogue: CatalogueSource,
        clock: Clock,
        profiles: Profiles,
    ) -> None:
        self._store = store
        self._files = files
        self._catalogue = catalogue
        self._clock = clock
        self._profiles = profiles

    async def __call__(
        self, principal: Principal, request: JobRequest, idempotency_key: str | None = None
    ) -> tuple[UserJob, bool]:
        username = require_user(principal)
        check_job_name(request.job_name)
        if request.webhook_url is not None:
            check_webhook_url(request.webhook_url, "notify.webhook_url")
            await self._profiles.ensure(username, new_webhook_secret())  # signs its webhooks
        app = request.application
        entry = (await self._catalogue.current()).find(app.application, app.version, app.entrypoint)
        check_env(entry, request.env_vars)
        tree = UserTree(self._files, username)
        down = files_down(entry, await resolve_inputs(tree, request.inputs))
        now = self._clock.now()
        hardware = complete_hardware(request.hardware, entry.hardware)
        draft = UserJob(0, username, request, hardware, now)

        def queue_job(user_job_id: int) -> NewJob:
            return build_new_job(
                user_job_id=user_job_id,
                username=username,
                request=request,
                entry=entry,
                hardware=hardware,
                down=down,
                created=now,
            )

        return await self._store.submit(draft, idempotency_key, queue_job)


class GetUserJob:
    def __init__(self, store: UserJobStore) -> None:
        self._store = store

    async def __call__(self, principal: Principal, job_id: int) -> UserJob:
        return await self._store.get(require_user(principal), job_id)


class ListUserJobs:
    def __init__(self, store: UserJobStore) -> None:
        self._store = store

    async def __call__(
        self, principal: Principal, offset: int, limit: int, status: Status | None
    ) -> list[UserJob]:
        query = JobQuery(require_user(principal), offset, limit, status)
        return await self._store.page(query)


class DeleteUserJob:
    """Cancel the job in the queue (the worker's next report: 404), forget it, and delete
    its output, log and artifact folders, as DECODE does."""

    def __init__(self, store: UserJobStore, files: UserFileStore, clock: Clock) -> None:
        self._store = store
        self._files = files
        self._clock = clock

    async def __call__(self, principal: Principal, job_id: int) -> UserJob:
        username = require_user(principal)
        job = await self._store.delete(username, job_id, self._clock.now())
        tree = UserTree(self._files, username)
        for folder in job.paths_out().values():
            await self._files.delete(tree.key(folder))
        return job


class ApplyUserStatus:
    """A status from the queue (in-process) or a remote worker API (PUT /_job_status):
    forward only; the notice of a notifying status is recorded with the change."""

    def __init__(self, store: UserJobStore, clock: Clock, rule: NotifyRule) -> None:
        self._store = store
        self._clock = clock
        self._rule = rule

    async def __call__(
        self,
        status: Status,
        details: str | None,
        *,
        user_job_id: int | None = None,
        queue_job_id: int | None = None,
    ) -> UserJob | None:
        step = self._step(status, details, self._clock.now())
        return await self._store.advance(step, user_job_id=user_job_id, queue_job_id=queue_job_id)

    async def from_queue(self, updates: Sequence[StatusUpdate]) -> list[Advanced]:
        """Several queue jobs' statuses (each job at most once) in one transaction: one
        outcome per update, in order (UserJobNotFound for a job no user job owns)."""
        now = self._clock.now()
        steps = [(u.job_id, self._step(u.status, u.runtime_details, now)) for u in updates]
        return await self._store.advance_many(steps)

    def _step(self, status: Status, details: str | None, now: datetime) -> Step:
        def step(job: UserJob) -> tuple[UserJob, Notice | None] | None:
            after = job.advanced(status, details, now)
            if after is None:
                return None
            return after, self._rule.notice(job.status, after, now)

        return step
