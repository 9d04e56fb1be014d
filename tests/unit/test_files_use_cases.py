"""File use cases: a worker reaches only the inputs and result folders of jobs it holds."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from domain.errors import (
    FileNotFound,
    Forbidden,
    IllegalTransition,
    NotAssigned,
    PathNotAllowed,
)
from domain.jobs import FileKind, Job, Status
from domain.use_cases.files import DownloadFile, DownloadRequest, UploadFile, UploadRequest
from domain.workers import Principal
from tests.fakes.clock import FakeClock
from tests.fakes.store import InMemoryJobStore
from tests.unit.factories import claimed, new_job, worker
from tests.unit.fake_files import InMemoryFileStore

W1, W2 = worker("w1"), worker("w2")
INPUTS = {"/data/frames.tif": "users/u1/in/frames.tif", "/data/calib.mat": "users/u1/calib.mat"}
FOLDER = "users/u1/jobs/1"
ESCAPES = ["../x", "a/../../x", "/etc", "a\\..\\b", "..", "a/\x00"]


@pytest.fixture
def files() -> InMemoryFileStore:
    blobs = {key: key.encode() for key in INPUTS.values()} | {"users/u2/secret": b"no"}
    return InMemoryFileStore(blobs)


@pytest.fixture
async def held(store: InMemoryJobStore, clock: FakeClock) -> Job:
    return await claimed(store, clock, W1, inputs=INPUTS, folder=FOLDER)


async def chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def test_download_request_for_an_input_of_a_held_job(
    store: InMemoryJobStore, files: InMemoryFileStore, held: Job
) -> None:
    request = await DownloadRequest(store, files)(W1, "users/u1/in/frames.tif")
    assert (request.method, request.url) == ("GET", "/files/users/u1/in/frames.tif/download")


async def test_a_file_id_is_normalised_before_the_check(
    store: InMemoryJobStore, files: InMemoryFileStore, held: Job
) -> None:
    request = await DownloadRequest(store, files)(W1, "users/u1/x/../in/./frames.tif")
    assert request.url == "/files/users/u1/in/frames.tif/download"


@pytest.mark.parametrize(
    "file_id", ["users/u2/secret", "users/u1/in", "users/u1/in/frames.tif.bak", "users"]
)
async def test_anything_but_an_input_is_not_allowed(
    store: InMemoryJobStore, files: InMemoryFileStore, held: Job, file_id: str
) -> None:
    with pytest.raises(PathNotAllowed, match="not an input"):
        await DownloadRequest(store, files)(W1, file_id)


@pytest.mark.parametrize("file_id", ["../users/u1/calib.mat", "/users/u1/calib.mat"])
async def test_escaping_file_ids_are_refused(
    store: InMemoryJobStore, files: InMemoryFileStore, held: Job, file_id: str
) -> None:
    with pytest.raises(PathNotAllowed):
        await DownloadRequest(store, files)(W1, file_id)


async def test_inputs_of_a_job_held_by_another_worker_are_not_allowed(
    store: InMemoryJobStore, files: InMemoryFileStore, held: Job
) -> None:
    with pytest.raises(PathNotAllowed):
        await DownloadRequest(store, files)(W2, "users/u1/calib.mat")
    with pytest.raises(Forbidden):
        await DownloadRequest(store, files)(Principal("w1"), "users/u1/calib.mat")


async def test_inputs_are_out_of_reach_once_the_job_is_requeued(
    store: InMemoryJobStore, files: InMemoryFileStore, clock: FakeClock, held: Job
) -> None:
    job = await store.get(held.id)
    await store.save(job, job.expire(clock.now() + timedelta(hours=1), max_retries=2))
    with pytest.raises(PathNotAllowed):
        await DownloadRequest(store, files)(W1, "users/u1/calib.mat")


async def test_inputs_of_a_job_canceled_under_the_worker_say_stop(
    store: InMemoryJobStore, files: InMemoryFileStore, clock: FakeClock, held: Job
) -> None:
    """404 (the stop signal DECODE's fetcher knows), not 403, after the user's deletion."""
    job = await store.get(held.id)
    await store.save(job, job.cancel(clock.now(), "deleted by the user"))
    for use_case in (DownloadRequest(store, files), DownloadFile(store, files)):
        with pytest.raises(NotAssigned, match="canceled"):
            await use_case(W1, "users/u1/calib.mat")
        with pytest.raises(PathNotAllowed):  # another worker: still not its business
            await use_case(W2, "users/u1/calib.mat")
        with pytest.raises(PathNotAllowed):  # not an input of the canceled job
            await use_case(W1, "users/u2/secret")


async def test_uploads_while_in_error_but_not_once_finished(
    store: InMemoryJobStore, files: InMemoryFileStore, clock: FakeClock, held: Job
) -> None:
    job = await store.get(held.id)
    await store.save(job, job.report(W1.username, Status.ERROR, clock.now(), "exit 1"))
    key = await UploadFile(store, files)(
        W1, held.id, FileKind.LOG, "", "run.log", chunks(b"tail"), 100
    )
    assert files.blobs[key] == b"tail"
    other = await claimed(store, clock, W1, user_job_id=3, folder="users/u1/jobs/3")
    job = await store.get(other.id)
    await store.save(job, job.report(W1.username, Status.FINISHED, clock.now()))
    with pytest.raises(IllegalTransition, match="finished"):
        await UploadRequest(store, files)(W1, other.id, FileKind.OUTPUT, "")
    with pytest.raises(IllegalTransition, match="finished"):
        await UploadFile(store, files)(
            W1, other.id, FileKind.OUTPUT, "", "late.txt", chunks(b"x"), 100
        )


async def test_download_file_streams_the_bytes(
    store: InMemoryJobStore, files: InMemoryFileStore, held: Job
) -> None:
    stream = await DownloadFile(store, files)(W1, "users/u1/calib.mat")
    assert b"".join([part async for part in stream]) == b"users/u1/calib.mat"


async def test_a_missing_input_is_not_found(
    store: InMemoryJobStore, files: InMemoryFileStore, held: Job
) -> None:
    del files.blobs["users/u1/calib.mat"]
    with pytest.raises(FileNotFound):
        await DownloadRequest(store, files)(W1, "users/u1/calib.mat")


@pytest.mark.parametrize(
    ("kind", "base_path", "folder"),
    [
        (FileKind.OUTPUT, "", f"{FOLDER}/output"),
        (FileKind.LOG, "", f"{FOLDER}/log"),
        (FileKind.ARTIFACT, "run/1", f"{FOLDER}/artifact/run/1"),
        (FileKind.OUTPUT, "./a//b/", f"{FOLDER}/output/a/b"),
    ],
)
async def test_upload_request_targets_the_job_s_folder(
    store: InMemoryJobStore,
    files: InMemoryFileStore,
    held: Job,
    kind: FileKind,
    base_path: str,
    folder: str,
) -> None:
    request = await UploadRequest(store, files)(W1, held.id, kind, base_path)
    assert request.data == {"key": folder}
    assert files.upload_requests == [(held.id, kind, base_path, folder)]


@pytest.mark.parametrize("base_path", ESCAPES)
async def test_upload_base_path_may_not_escape(
    store: InMemoryJobStore, files: InMemoryFileStore, held: Job, base_path: str
) -> None:
    with pytest.raises(PathNotAllowed):
        await UploadRequest(store, files)(W1, held.id, FileKind.OUTPUT, base_path)
    assert files.upload_requests == []


async def test_upload_into_a_job_not_held_is_not_assigned(
    store: InMemoryJobStore, files: InMemoryFileStore, clock: FakeClock, held: Job
) -> None:
    queued = await store.add(new_job(2), clock.now())
    upload = UploadRequest(store, files)
    with pytest.raises(NotAssigned):
        await upload(W2, held.id, FileKind.OUTPUT, "")
    with pytest.raises(NotAssigned):
        await upload(W1, queued.id, FileKind.OUTPUT, "")
    job = await store.get(held.id)
    await store.save(job, job.cancel(clock.now(), "deleted"))
    with pytest.raises(NotAssigned, match="canceled"):
        await upload(W1, held.id, FileKind.OUTPUT, "")


async def test_upload_file_writes_into_the_folder(
    store: InMemoryJobStore, files: InMemoryFileStore, held: Job
) -> None:
    key = await UploadFile(store, files)(
        W1, held.id, FileKind.LOG, "run", "sub/out.txt", chunks(b"ab", b"cd"), 100
    )
    assert key == f"{FOLDER}/log/run/sub/out.txt"
    assert files.blobs[key] == b"abcd"


@pytest.mark.parametrize("filename", [*ESCAPES, "", ".", "./"])
async def test_upload_file_names_may_not_escape(
    store: InMemoryJobStore, files: InMemoryFileStore, held: Job, filename: str
) -> None:
    before = dict(files.blobs)
    with pytest.raises(PathNotAllowed):
        await UploadFile(store, files)(
            W1, held.id, FileKind.OUTPUT, "", filename, chunks(b"x"), 100
        )
    assert files.blobs == before


async def test_upload_file_into_a_job_not_held(
    store: InMemoryJobStore, files: InMemoryFileStore, held: Job
) -> None:
    with pytest.raises(NotAssigned):
        await UploadFile(store, files)(W2, held.id, FileKind.OUTPUT, "", "x.txt", chunks(b"x"), 100)
    assert (await store.get(held.id)).status is Status.PULLED


async def test_a_bad_input_of_one_held_job_does_not_block_another_job_s_inputs(
    store: InMemoryJobStore, files: InMemoryFileStore, clock: FakeClock
) -> None:
    await claimed(store, clock, W1, user_job_id=2, inputs={"/data/x": "../elsewhere/x"})
    await claimed(store, clock, W1, inputs=INPUTS, folder=FOLDER)
    request = await DownloadRequest(store, files)(W1, "users/u1/calib.mat")
    assert request.url == "/files/users/u1/calib.mat/download"


async def test_a_job_whose_upload_folder_is_the_root_gets_no_upload_grant(
    store: InMemoryJobStore, files: InMemoryFileStore, clock: FakeClock
) -> None:
    from dataclasses import replace

    from domain.jobs import UploadPaths
    from domain.matching import WorkerOffer
    from tests.unit.factories import new_job

    added = await store.add(replace(new_job(), paths_upload=UploadPaths("", "", "")), clock.now())
    await store.claim(
        WorkerOffer(W1.username, W1.environment), 1, clock.now(), retry_different=False
    )
    with pytest.raises(PathNotAllowed):
        await UploadRequest(store, files)(W1, added.id, FileKind.OUTPUT, "")
