"""File transfers of the worker: downloads of held jobs' inputs, uploads of their results."""

from __future__ import annotations

import posixpath
from collections.abc import AsyncIterator

from domain.errors import NotAssigned, PathNotAllowed
from domain.jobs import FileKind, Job
from domain.ports import FileStore, JobStore
from domain.transfers import TransferRequest
from domain.workers import Principal

# How many of the worker's most recently canceled jobs a refused download is checked against.
_CANCELED_LOOKED_AT = 20


def inside(key: str, folder: str) -> bool:
    return folder in ("", ".") or key == folder or key.startswith(folder.rstrip("/") + "/")


def safe_relative(path: str, what: str) -> str:
    """A relative path without `..`: refused (PathNotAllowed) rather than interpreted."""
    if path.startswith(("/", "\\")) or "\\" in path or "\x00" in path:
        raise PathNotAllowed(path, f"is not a plain relative {what}")
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise PathNotAllowed(path, f"may not contain '..' ({what})")
    return posixpath.join(*parts) if parts else ""


class _FileUseCase:
    def __init__(self, store: JobStore, files: FileStore) -> None:
        self._store = store
        self._files = files

    async def _held_job(self, principal: Principal, job_id: int) -> Job:
        worker = principal.require_worker()
        job = await self._store.get(job_id)
        job.ensure_takes_uploads_from(worker)
        return job

    async def _input_key(self, principal: Principal, file_id: str) -> str:
        """The key of an input of a job the worker holds; NotAssigned (404: stop) when it is
        an input of a job canceled under it, PathNotAllowed (403) otherwise."""
        worker = principal.require_worker()
        key = self._files.locate(file_id)
        if any(self._is_input(job, key) for job in await self._store.held_by(worker)):
            return key
        for job in await self._store.canceled_under(worker, _CANCELED_LOOKED_AT):
            if self._is_input(job, key):
                raise NotAssigned(job.id, "was canceled")
        raise PathNotAllowed(file_id, "is not an input of a job this worker holds")

    def _is_input(self, job: Job, key: str) -> bool:
        return any(self._locates_to(input_id, key) for input_id in job.spec.input_files)

    def _locates_to(self, input_id: str, key: str) -> bool:
        """A job input that cannot be located matches nothing (and blocks nothing)."""
        try:
            return self._files.locate(input_id) == key
        except PathNotAllowed:
            return False

    async def _upload_folder(
        self, principal: Principal, job_id: int, kind: FileKind, base_path: str
    ) -> tuple[Job, str]:
        job = await self._held_job(principal, job_id)
        folder = self._files.locate(job.paths_upload.folder(kind))
        if not folder:  # the whole root (or bucket) is never a job's folder
            raise PathNotAllowed(job.paths_upload.folder(kind), f"is not a {kind} folder")
        relative = safe_relative(base_path, "base_path")
        target = self._files.locate(posixpath.join(folder, relative)) if relative else folder
        if not inside(target, folder):
            raise PathNotAllowed(base_path, f"leaves the job's {kind} folder")
        return job, target


class DownloadRequest(_FileUseCase):
    async def __call__(self, principal: Principal, file_id: str) -> TransferRequest:
        return await self._files.download_request(await self._input_key(principal, file_id))


class DownloadFile(_FileUseCase):
    async def __call__(self, principal: Principal, file_id: str) -> AsyncIterator[bytes]:
        return self._files.read(await self._input_key(principal, file_id))


class UploadRequest(_FileUseCase):
    async def __call__(
        self, principal: Principal, job_id: int, kind: FileKind, base_path: str
    ) -> TransferRequest:
        job, folder = await self._upload_folder(principal, job_id, kind, base_path)
        return await self._files.upload_request(job.id, kind, base_path, folder)


class UploadFile(_FileUseCase):
    async def __call__(
        self,
        principal: Principal,
        job_id: int,
        kind: FileKind,
        base_path: str,
        filename: str,
        chunks: AsyncIterator[bytes],
        max_bytes: int,
    ) -> str:
        """Store one uploaded file in the job's folder; returns its key."""
        _, folder = await self._upload_folder(principal, job_id, kind, base_path)
        name = safe_relative(filename, "file name")
        if not name:
            raise PathNotAllowed(filename, "is not a file name")
        key = self._files.locate(posixpath.join(folder, name))
        if not inside(key, folder):
            raise PathNotAllowed(filename, "leaves the upload folder")
        await self._files.write(key, chunks, max_bytes)
        return key
