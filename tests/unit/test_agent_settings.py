"""`jobcloud worker` settings: options over environment (jobcloud's, then DECODE's names)."""

from __future__ import annotations

import argparse

import pytest

from entrypoints.agent.options import add_options
from entrypoints.agent.settings import agent_settings
from entrypoints.settings import SettingsError


def parse(*argv: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    parser = argparse.ArgumentParser()
    add_options(parser)
    return agent_settings(parser.parse_args(list(argv)), env or {})


def test_decode_fetcher_variables_are_honoured() -> None:
    settings = parse(
        env={
            "API_URL": "https://worker.example/",
            "USERNAME": "gpu-box",
            "PASSWORD": "secret",
            "PATH_BASE": "/data",
            "TIMEOUT_JOB": "5",
            "TIMEOUT_STATUS": "7.5",
        }
    )
    assert settings.api_url == "https://worker.example"
    assert (settings.username, settings.password) == ("gpu-box", "secret")
    assert str(settings.work_dir) == "/data"
    assert (settings.poll_interval, settings.keepalive_interval) == (5, 7.5)


def test_options_win_over_the_environment_and_defaults_fill_the_rest() -> None:
    settings = parse(
        "--api-url",
        "http://127.0.0.1:8001",
        "--slots",
        "2",
        "--runtime",
        "podman",
        "--container-args",
        "--runtime runc --ulimit nofile=1024:1024",
        "--once",
        env={"JOBCLOUD_TOKEN": "t", "JOBCLOUD_SLOTS": "4", "JOBCLOUD_GROUPS": "lab, gpu"},
    )
    assert settings.slots == 2
    assert settings.runtime == "podman"
    assert settings.once
    assert settings.container_args == ("--runtime", "runc", "--ulimit", "nofile=1024:1024")
    assert settings.groups == ("lab", "gpu")
    assert settings.run_timeout == 86400
    assert settings.kill_grace == 10


@pytest.mark.parametrize(
    ("argv", "env", "named"),
    [
        ((), {"JOBCLOUD_TOKEN": "t"}, "API_URL"),
        (("--api-url", "http://x"), {}, "no credentials"),
        (("--api-url", "http://x", "--token", "t", "--slots", "many"), {}, "--slots"),
        (("--api-url", "http://x", "--token", "t"), {"TIMEOUT_STATUS": "-1"}, "TIMEOUT_STATUS"),
        (("--api-url", "http://x", "--token", "t", "--runtime", "lxc"), {}, "--runtime"),
        (("--api-url", "http://x", "--password", "p"), {}, "USERNAME"),
    ],
)
def test_bad_settings_stop_with_the_name(
    argv: tuple[str, ...], env: dict[str, str], named: str
) -> None:
    with pytest.raises(SettingsError, match=named):
        parse(*argv, env=env)


def test_worker_help_names_every_option_with_its_variables_and_default(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from entrypoints.cli import main

    with pytest.raises(SystemExit) as stopped:
        main(["worker", "--help"])
    assert stopped.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    for name in ("API_URL", "USERNAME", "PASSWORD", "PATH_BASE", "TIMEOUT_JOB", "TIMEOUT_STATUS"):
        assert name in text
    for line in text.split(" --")[2:]:  # after the usage line
        assert "default:" in line, line
