"""The run plan of a job spec: paths, command line, typed arguments, upload list."""

from __future__ import annotations

from typing import Any

import pytest

from domain.commands import Argument, ArgumentType, Command, Stream, StreamType
from domain.errors import InvalidInput
from domain.jobs import FileKind, JobSpec
from domain.runs.plan import Download, Upload, plan_run, render_arguments, run_timeout, uploads_of


def spec(app: dict[str, Any] | None = None, **handler: Any) -> JobSpec:
    hardware = handler.pop("hardware", {})
    meta = {"job_id": 7, "date_created": "2026-11-30", **handler.pop("meta", {})}
    return JobSpec.from_document(
        {
            "app": app or {"cmd": ["decode", "fit", "--config", "param/p.yaml"], "env": {"A": "1"}},
            "handler": {"image_url": "registry/decode:1", **handler},
            "meta": meta,
            "hardware": hardware,
        }
    )


def test_decode_job_downloads_to_its_paths_and_runs_app_cmd_under_sh() -> None:
    plan = plan_run(
        3,
        spec(
            files_down={"param/p.yaml": "u/p.yaml", "frames.tif": "u/data/f.tif"},
            files_up={"output": "out", "log": "log/app", "artifact": "art"},
        ),
        default_timeout=60,
    )
    assert plan.downloads == (
        Download("param/p.yaml", "u/p.yaml"),
        Download("frames.tif", "u/data/f.tif"),
    )
    assert plan.folders == ("art", "log/app", "out")
    assert plan.argv("/files") == ("/bin/sh", "-c", "decode fit --config param/p.yaml")
    assert plan.env == {"A": "1"}
    assert plan.image == "registry/decode:1"
    assert plan.limits.timeout == 60


@pytest.mark.parametrize("bad", ["/etc/passwd", "../up.txt", "a/../../b", ""])
def test_local_paths_must_stay_inside_the_job_folder(bad: str) -> None:
    with pytest.raises(InvalidInput, match="files_down"):
        plan_run(1, spec(files_down={bad: "u/x"}), 60)


def test_files_up_folders_must_stay_inside_the_job_folder() -> None:
    with pytest.raises(InvalidInput, match=r"files_up\.output"):
        plan_run(1, spec(files_up={"output": "../../etc"}), 60)


def test_every_file_under_a_files_up_folder_is_uploaded_with_its_folder_kept() -> None:
    plan = plan_run(1, spec(files_up={"output": "out", "log": "log"}), 60)
    found = {"out": ["out/b.csv", "out/fit/a.h5"], "log": ["log/train.log"]}
    assert uploads_of(plan, found) == [
        Upload("out/b.csv", FileKind.OUTPUT, "out", "b.csv"),
        Upload("out/fit/a.h5", FileKind.OUTPUT, "out/fit", "a.h5"),
        Upload("log/train.log", FileKind.LOG, "log", "train.log"),
    ]


def typed() -> Command:
    return Command(
        arguments=(
            Argument(ArgumentType.PARAMETER, "segment"),
            Argument(ArgumentType.INPUT, "alice/in/img.tif", name="--image"),
            Argument(ArgumentType.PARAMETER, "0.5", name="--threshold"),
            Argument(ArgumentType.OUTPUT, "masks/mask.png", name="-o"),
            Argument(ArgumentType.PARAMETER, "; rm -rf /"),
        ),
        stdin=Stream(StreamType.FILE, "alice/in/list.txt"),
        stdout=Stream(StreamType.FILE, "report.txt"),
        stderr=Stream(StreamType.PIPE, ""),
    )


def test_typed_arguments_render_in_order_name_before_value_paths_under_the_root() -> None:
    assert render_arguments(typed(), "/files") == (
        "segment",
        "--image",
        "/files/inputs/1/img.tif",
        "--threshold",
        "0.5",
        "-o",
        "/files/outputs/masks/mask.png",
        "; rm -rf /",  # one argument, never a shell
    )


def test_a_typed_command_downloads_inputs_and_stdin_and_uploads_outputs() -> None:
    document = {"command": typed_document(), "cmd": None}
    plan = plan_run(5, spec(document), 60)
    assert plan.downloads == (
        Download("inputs/1/img.tif", "alice/in/img.tif"),
        Download("inputs/5/list.txt", "alice/in/list.txt"),
    )
    assert plan.stdin_file == "inputs/5/list.txt"
    assert plan.outputs == (
        Upload("outputs/masks/mask.png", FileKind.OUTPUT, "masks", "mask.png"),
        Upload("outputs/report.txt", FileKind.OUTPUT, "", "report.txt"),
    )
    assert plan.stream_file("stdout") == "outputs/report.txt"
    assert plan.stream_file("stderr") is None  # a pipe: into the logs
    assert plan.folders == ("outputs", "outputs/masks")
    assert plan.argv(".")[0] == "segment"


def typed_document() -> dict[str, Any]:
    return typed().document()


def test_the_typed_command_survives_the_document_round_trip() -> None:
    job = spec({"command": typed_document()})
    assert job.app.command == typed()
    assert JobSpec.from_document(job.document()) == job
    assert "alice/in/img.tif" in job.input_files
    assert "alice/in/list.txt" in job.input_files


@pytest.mark.parametrize("bad", ["../x", "/abs", "", "a/../../b"])
def test_typed_outputs_must_be_plain_relative_paths(bad: str) -> None:
    with pytest.raises(InvalidInput, match=r"app\.command\.arguments\[0\]\.value"):
        Command(arguments=(Argument(ArgumentType.OUTPUT, bad),))


def test_stdin_text_is_fed_as_given() -> None:
    command = {
        "arguments": [{"type": "parameter", "value": "wc"}],
        "stdin": {"type": "pipe", "value": "a b c"},
    }
    plan = plan_run(1, spec({"command": command}), 60)
    assert plan.stdin_text == "a b c"
    assert plan.downloads == ()


def test_the_run_timeout_comes_from_the_job_else_the_catalogue_else_the_default() -> None:
    assert run_timeout(spec(hardware={"timeout": 30}, meta={"timeout": 99}), 60) == 30
    assert run_timeout(spec(meta={"timeout": 99}), 60) == 99
    assert run_timeout(spec(meta={"timeout": "soon"}), 60) == 60
    assert run_timeout(spec(), 60) == 60
    plan = plan_run(1, spec(hardware={"cpu_cores": 2, "memory": 512, "timeout": 5}), 60)
    assert (plan.limits.cpu_cores, plan.limits.memory_mib, plan.limits.timeout) == (2, 512, 5)
