"""Notification settings: DECODE's EMAIL_SENDER_* names, SMTP_*, and errors naming the variable."""

from __future__ import annotations

from pathlib import Path

import pytest
from dishka import make_async_container

from domain.jobs import Status
from domain.notify.model import Channel, NotifyPolicy
from entrypoints.ioc import SettingsProvider
from entrypoints.notify_loop import NotifyProvider, notify_policy
from entrypoints.settings import SettingsError, load_settings


def test_by_default_webhooks_only_on_finished_and_error(tmp_path: Path) -> None:
    s = load_settings({}, data_dir=tmp_path)
    assert s.notify.email_sender_service is None
    assert s.notify.on == {Status.FINISHED, Status.ERROR}
    policy = notify_policy(s)
    assert policy.channels == {Channel.WEBHOOK}
    assert policy.statuses == {Status.FINISHED, Status.ERROR}


def test_decode_mailjet_variables(tmp_path: Path) -> None:
    s = load_settings(
        {
            "EMAIL_SENDER_SERVICE": "mailjet",
            "EMAIL_SENDER_ADDRESS": "noreply@decode.example.org",
            "EMAIL_SENDER_API_KEY": "k",
            "EMAIL_SENDER_SECRET_KEY": "s",
            "JOBCLOUD_NOTIFY_ON": "all",
        },
        data_dir=tmp_path,
    )
    n = s.notify
    assert (n.email_sender_service, n.email_sender_address) == (
        "mailjet",
        "noreply@decode.example.org",
    )
    assert (n.email_sender_api_key, n.email_sender_secret_key) == ("k", "s")
    assert n.email_sender_api_url == "https://api.mailjet.com"
    assert notify_policy(s).channels == set(Channel)
    assert n.on == set(Status)


def test_smtp_variables_and_port_defaults(tmp_path: Path) -> None:
    base = {
        "EMAIL_SENDER_SERVICE": "smtp",
        "EMAIL_SENDER_ADDRESS": "jobs@lab.org",
        "SMTP_HOST": "mail.lab.org",
    }
    s = load_settings(base, data_dir=tmp_path).notify
    assert (s.smtp_host, s.smtp_port, s.smtp_starttls, s.smtp_tls) == (
        "mail.lab.org",
        587,
        True,
        False,
    )
    tls = load_settings({**base, "SMTP_TLS": "1"}, data_dir=tmp_path).notify
    assert (tls.smtp_port, tls.smtp_starttls, tls.smtp_tls) == (465, False, True)
    plain = load_settings({**base, "SMTP_STARTTLS": "0"}, data_dir=tmp_path).notify
    assert plain.smtp_port == 25
    full = load_settings(
        {**base, "SMTP_PORT": "2525", "SMTP_USERNAME": "u", "SMTP_PASSWORD": "p"},
        data_dir=tmp_path,
    ).notify
    assert (full.smtp_port, full.smtp_username, full.smtp_password) == (2525, "u", "p")


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"JOBCLOUD_NOTIFY_ON": "finished,done"}, "JOBCLOUD_NOTIFY_ON"),
        ({"EMAIL_SENDER_SERVICE": "sendgrid"}, "EMAIL_SENDER_SERVICE"),
        ({"EMAIL_SENDER_SERVICE": "mailjet"}, "EMAIL_SENDER_ADDRESS"),
        (
            {"EMAIL_SENDER_SERVICE": "mailjet", "EMAIL_SENDER_ADDRESS": "a@b.org"},
            "EMAIL_SENDER_API_KEY",
        ),
        ({"EMAIL_SENDER_SERVICE": "smtp", "EMAIL_SENDER_ADDRESS": "a@b.org"}, "SMTP_HOST"),
        ({"EMAIL_SENDER_ADDRESS": "not an address"}, "EMAIL_SENDER_ADDRESS"),
        ({"EMAIL_SENDER_API_URL": "api.mailjet.com"}, "EMAIL_SENDER_API_URL"),
        ({"SMTP_PORT": "70000"}, "SMTP_PORT"),
        ({"SMTP_PORT": "smtp"}, "SMTP_PORT"),
        ({"SMTP_USERNAME": "u"}, "SMTP_USERNAME"),
        ({"SMTP_TLS": "1", "SMTP_STARTTLS": "1"}, "SMTP_STARTTLS"),
        ({"SMTP_CA_FILE": "/no/such/ca.pem"}, "SMTP_CA_FILE"),
        ({"JOBCLOUD_NOTIFY_TIMEOUT": "0"}, "JOBCLOUD_NOTIFY_TIMEOUT"),
        ({"JOBCLOUD_NOTIFY_CONCURRENCY": "0"}, "JOBCLOUD_NOTIFY_CONCURRENCY"),
        ({"JOBCLOUD_NOTIFY_MAX_ATTEMPTS": "x"}, "JOBCLOUD_NOTIFY_MAX_ATTEMPTS"),
        ({"JOBCLOUD_NOTIFY_INTERVAL": "-1"}, "JOBCLOUD_NOTIFY_INTERVAL"),
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], variable: str, tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=f"^{variable}"):
        load_settings(env, data_dir=tmp_path)


async def test_the_container_provides_the_policy(tmp_path: Path) -> None:
    settings = load_settings({"JOBCLOUD_NOTIFY_ON": "all"}, data_dir=tmp_path)
    container = make_async_container(SettingsProvider(settings), NotifyProvider())
    try:
        policy = await container.get(NotifyPolicy)
    finally:
        await container.close()
    assert policy == notify_policy(settings)
    assert policy.statuses == set(Status)
