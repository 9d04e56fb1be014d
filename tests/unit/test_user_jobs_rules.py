"""The user side's pure rules: the JobSpecs build, forward-only status, the catalogue."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.catalogue.model import Catalogue, CatalogueError, check_env, parse_catalogue
from domain.errors import InvalidInput
from domain.jobs import FileKind, Hardware, Status
from domain.userjobs.model import Application, JobRequest, UserJob, check_job_name
from domain.userjobs.notices import NotifyRule
from domain.userjobs.spec import InputFile, build_new_job, complete_hardware, files_down

T0 = datetime(2026, 11, 30, 12, tzinfo=UTC)
DOC = {
    "decode": {
        "v1": {
            "train": {
                "app": {"cmd": ["decode", "train"], "env": ["SEED"]},
                "handler": {
                    "image_url": "img",
                    "files_down": {"config_id": "cfg", "data_ids": "data"},
                    "files_up": {"output": "out"},
                },
                "aws_resources": {"hardware": {"cpu_cores": 4, "gpu_mem": 8}, "timeout": 60},
            }
        }
    }
}


def request(**kw: object) -> JobRequest:
    base: dict[str, object] = {
        "job_name": "j1",
        "application": Application("decode", "v1", "train"),
    }
    return JobRequest(**{**base, **kw})  # type: ignore[arg-type]


def test_the_catalogue_parses_and_finds_entries() -> None:
    entry = parse_catalogue(DOC).find("decode", "v1", "train")
    assert entry.cmd == ("decode", "train")
    assert entry.env_allowed == {"SEED"}
    assert entry.files_up == {FileKind.OUTPUT: "out"}
    assert entry.hardware == Hardware(cpu_cores=4, gpu_mem=8)
    assert entry.timeout == 60
    assert parse_catalogue(None) == Catalogue()


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"handler": {}}, "decode/v1/train: handler.image_url"),
        ({"app": {"cmd": "decode train"}}, "decode/v1/train: app.cmd"),
        ({"handler": {"image_url": "i", "files_down": {"inputs": "x"}}}, "unknown input 'inputs'"),
        ({"handler": {"image_url": "i", "files_up": {"results": "x"}}}, "files_up"),
        ({"aws_resources": {"hardware": {"cpus": 2}}}, "unknown field 'cpus'"),
        ({"aws_resources": {"hardware": {"memory": "lots"}}}, "hardware.memory"),
        ({"aws_resources": {"timeout": -1}}, "timeout"),
    ],
)
def test_a_bad_entry_is_named(change: dict[str, object], named: str) -> None:
    spec = {**DOC["decode"]["v1"]["train"], **change}
    with pytest.raises(CatalogueError, match=named.replace("(", r"\(")):
        parse_catalogue({"decode": {"v1": {"train": spec}}})
    with pytest.raises(CatalogueError, match="decode: expected a mapping"):
        parse_catalogue({"decode": ["v1"]})


def test_env_vars_must_be_allowed() -> None:
    entry = parse_catalogue(DOC).find("decode", "v1", "train")
    check_env(entry, {"SEED": "1"})
    with pytest.raises(InvalidInput, match="'PATH' is not allowed"):
        check_env(entry, {"PATH": "/x"})


@pytest.mark.parametrize("name", ["", ".", "..", "../x", "a/b", "a..b", "-x", "x" * 101, "a b"])
def test_job_names_that_could_name_other_folders_are_refused(name: str) -> None:
    with pytest.raises(InvalidInput, match="job_name"):
        check_job_name(name)


def test_the_build_matches_decode_with_defaults_and_single_files() -> None:
    entry = parse_catalogue(DOC).find("decode", "v1", "train")
    inputs = {
        "config_id": [[InputFile("p.yaml", "al/config/e/p.yaml")]],
        "data_ids": [
            [InputFile("a.tif", "al/data/r/a.tif"), InputFile("s/b.tif", "al/data/r/s/b.tif")],
            [InputFile("one.tif", "al/data/one.tif")],
        ],
        "artifact_ids": [[InputFile("m.pt", "al/artifact/m.pt")]],  # no folder in the entry
    }
    down = files_down(entry, inputs)
    assert down == {
        "cfg/p.yaml": "al/config/e/p.yaml",
        "data/a.tif": "al/data/r/a.tif",
        "data/s/b.tif": "al/data/r/s/b.tif",
        "data/one.tif": "al/data/one.tif",
    }
    hardware = complete_hardware(Hardware(cpu_cores=1, memory=100), entry.hardware)
    assert hardware == Hardware(cpu_cores=1, memory=100, gpu_mem=8)
    new = build_new_job(
        user_job_id=7,
        username="al",
        request=request(env_vars={"SEED": "3"}, priority=2),
        entry=entry,
        hardware=hardware,
        down=down,
        created=T0,
    )
    document = new.spec.document()
    assert document["app"] == {"cmd": ["decode", "train"], "env": {"SEED": "3"}}
    assert document["handler"]["image_name"] == "decode"
    assert document["handler"]["image_version"] == "v1"
    assert document["handler"]["entrypoint"] == "train"
    assert document["handler"]["files_up"] == {"output": "out"}
    assert document["meta"] == {
        "job_id": 7,
        "date_created": T0.isoformat(),
        "username": "al",
        "job_name": "j1",
        "timeout": 60,
    }
    assert (new.paths_upload.output, new.paths_upload.log, new.paths_upload.artifact) == (
        "al/output/j1",
        "al/log/j1",
        "al/artifact/j1",
    )
    assert new.priority == 2


def job(status: Status = Status.QUEUED) -> UserJob:
    return UserJob(1, "al", request(), Hardware(), T0, status=status)


def test_status_moves_forward_only_with_dates() -> None:
    later = T0 + timedelta(minutes=1)
    pulled = job().advanced(Status.PULLED, None, later)
    assert pulled is not None
    assert pulled.date_started == later
    running = pulled.advanced(Status.RUNNING, "epoch 1", later + timedelta(1))
    assert running is not None
    assert running.date_started == later  # the first pull's
    assert running.advanced(Status.RUNNING, "epoch 1", later) is None  # duplicate
    again = running.advanced(Status.RUNNING, "epoch 2", later)  # keep-alive with news
    assert again is not None
    assert again.runtime_details == "epoch 2"
    assert running.advanced(Status.PULLED, None, later) is None  # late arrival
    assert running.advanced(Status.QUEUED, "requeued", later) is None
    done = running.advanced(Status.FINISHED, None, later + timedelta(2))
    assert done is not None
    assert done.date_finished == later + timedelta(2)
    assert done.runtime_details == "epoch 1"
    for status in Status:
        assert done.advanced(status, "late", later + timedelta(3)) is None


def test_a_job_that_skips_pulled_still_gets_its_start_date() -> None:
    after = job().advanced(Status.ERROR, "x" * 20_000, T0)
    assert after is not None
    assert after.date_started == T0
    assert after.date_finished == T0
    assert after.runtime_details is not None
    assert len(after.runtime_details) == 10_000


def test_notices_for_finished_and_error_only_once() -> None:
    rule = NotifyRule()
    running = job(Status.RUNNING)
    done = running.advanced(Status.FINISHED, None, T0)
    assert done is not None
    notice = rule.notice(running.status, done, T0)
    assert notice is not None
    assert (notice.user_job_id, notice.status, notice.job_name) == (1, Status.FINISHED, "j1")
    assert rule.notice(Status.FINISHED, done, T0) is None
    pulled = job().advanced(Status.PULLED, None, T0)
    assert rule.notice(Status.QUEUED, pulled, T0) is None
    assert NotifyRule(frozenset(Status)).notice(Status.QUEUED, pulled, T0) is not None
