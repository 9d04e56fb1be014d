"""A user's notification profile: who is told where, what PUT /user may change, and that
accounts made with an e-mail address keep it."""

from __future__ import annotations

from dataclasses import replace

import pytest

from domain.accounts.model import CreateAccount
from domain.accounts.profile import (
    KEEP,
    GetProfile,
    Profile,
    ProfileUpdate,
    UpdateProfile,
    recipients_of,
)
from domain.errors import Forbidden, InvalidInput, Unavailable
from domain.notify.model import Recipients
from domain.workers import Principal
from tests.fakes.profiles import InMemoryProfiles

ALICE = Principal("alice", frozenset({"users"}))
HOOK = "https://hooks.example.org/alice"


class RecordingAccounts:
    def __init__(self) -> None:
        self.made: list[tuple[str, str | None]] = []

    async def create(
        self, username: str, password: str, groups: frozenset[str], email: str | None = None
    ) -> None:
        self.made.append((username, email))

    async def login(self, username: str, password: str) -> object:
        raise NotImplementedError


class ProviderEmails:
    """An identity provider's copies of addresses; down (Unavailable) when told so."""

    def __init__(self, profiles: InMemoryProfiles) -> None:
        self.emails: dict[str, str | None] = {}
        self.down = False
        self._profiles = profiles
        self.profile_when_set: list[Profile | None] = []

    async def set_email(self, username: str, email: str | None) -> None:
        self.profile_when_set.append(self._profiles.rows.get(username))
        if self.down:
            raise Unavailable("cognito unreachable: EndpointConnectionError")
        self.emails[username] = email


def test_the_jobs_webhook_wins_and_the_users_secret_signs_it() -> None:
    profile = Profile("alice", "key", email="alice@lab.org", webhook_url=HOOK)
    assert profile.recipients() == Recipients("alice@lab.org", HOOK, "key")
    job_hook = "https://other.example.org/job"
    assert profile.recipients(job_hook) == Recipients("alice@lab.org", job_hook, "key")


def test_an_address_username_is_told_when_no_email_is_set() -> None:
    assert Profile("ada@lab.org", "k").recipients().email == "ada@lab.org"
    assert Profile("ada@lab.org", "k", email="ada@home.org").recipients().email == "ada@home.org"
    assert Profile("ada", "k").recipients().email is None
    assert recipients_of("ada@lab.org", None, None) == Recipients(email="ada@lab.org")
    assert recipients_of("bob", None, HOOK) == Recipients(webhook_url=HOOK)  # default secret


async def test_a_profile_is_made_on_first_use_with_a_random_secret() -> None:
    profiles = InMemoryProfiles()
    get = GetProfile(profiles)
    first = await get(ALICE)
    assert first is not None
    assert len(first.webhook_secret) >= 40
    assert await get(ALICE) == first
    bob = await get(Principal("bob", frozenset({"users"})))
    assert bob is not None
    assert bob.webhook_secret != first.webhook_secret
    assert await get(Principal("gpu-1", frozenset({"workers"}))) is None  # not a user


async def test_an_update_changes_what_it_names_and_rotates_on_demand() -> None:
    profiles = InMemoryProfiles()
    update = UpdateProfile(profiles)
    made = await update(ALICE, ProfileUpdate(email="alice@lab.org"))
    assert (made.email, made.webhook_url) == ("alice@lab.org", None)
    hooked = await update(ALICE, ProfileUpdate(webhook_url=HOOK))
    assert hooked == replace(made, webhook_url=HOOK)
    rotated = await update(ALICE, ProfileUpdate(email=None, new_webhook_secret=True))
    assert rotated.email is None
    assert rotated.webhook_url == HOOK
    assert rotated.webhook_secret != made.webhook_secret
    assert profiles.rows["alice"] == rotated
    with pytest.raises(Forbidden):
        await update(Principal("gpu-1", frozenset({"workers"})), ProfileUpdate(email=None))


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"email": "nope"}, "email"),
        ({"email": "a@b.org\r\nBcc: c@d.org"}, "email"),
        ({"webhook_url": "ftp://h.org/x"}, "webhook_url"),
        ({"webhook_url": "https://"}, "webhook_url"),
        ({"webhook_url": "http://h.org:99999/x"}, "webhook_url"),
        ({"webhook_url": "https://h.org/" + "x" * 2000}, "webhook_url"),
    ],
)
def test_bad_updates_are_refused_naming_the_field(kwargs: dict[str, str], field: str) -> None:
    with pytest.raises(InvalidInput, match=f"^{field}:"):
        ProfileUpdate(**kwargs)  # type: ignore[arg-type]


def test_kept_fields_are_not_validated_or_changed() -> None:
    profile = Profile("alice", "k", "alice@lab.org", HOOK)
    assert ProfileUpdate(email=KEEP, webhook_url=KEEP).applied(profile) == profile


async def test_an_account_made_with_an_email_has_it_in_its_profile() -> None:
    accounts, profiles = RecordingAccounts(), InMemoryProfiles()
    create = CreateAccount(accounts, profiles)
    await create(
        "alice", "long enough", frozenset(), caller=None, internal=False, email="alice@lab.org"
    )
    await create("bob", "long enough", frozenset(), caller=None, internal=False)
    assert accounts.made == [("alice", "alice@lab.org"), ("bob", None)]
    assert profiles.rows["alice"].email == "alice@lab.org"
    assert "bob" not in profiles.rows
    with pytest.raises(InvalidInput, match=r"^email:"):
        await create("carol", "long enough", frozenset(), caller=None, internal=False, email="x")
    assert [name for name, _ in accounts.made] == ["alice", "bob"]  # nothing made for carol


async def test_an_email_given_goes_to_the_identity_provider_before_the_profile() -> None:
    profiles = InMemoryProfiles()
    provider = ProviderEmails(profiles)
    update = UpdateProfile(profiles, provider)
    made = await update(ALICE, ProfileUpdate(email="alice@lab.org"))
    assert provider.emails == {"alice": "alice@lab.org"}
    assert provider.profile_when_set == [Profile("alice", made.webhook_secret)]  # not saved yet
    await update(ALICE, ProfileUpdate(webhook_url=HOOK))  # no email named: not sent
    assert len(provider.profile_when_set) == 1
    cleared = await update(ALICE, ProfileUpdate(email=None))
    assert provider.emails == {"alice": None}
    assert cleared.email is None


async def test_a_provider_failure_changes_nothing() -> None:
    profiles = InMemoryProfiles()
    provider = ProviderEmails(profiles)
    update = UpdateProfile(profiles, provider)
    before = await update(ALICE, ProfileUpdate(email="alice@lab.org"))
    provider.down = True
    with pytest.raises(Unavailable):
        await update(ALICE, ProfileUpdate(email="alice@home.org", webhook_url=HOOK))
    assert profiles.rows["alice"] == before
    assert provider.emails == {"alice": "alice@lab.org"}
    provider.down = False  # the caller retries: both change
    after = await update(ALICE, ProfileUpdate(email="alice@home.org", webhook_url=HOOK))
    assert (after.email, after.webhook_url) == ("alice@home.org", HOOK)
    assert provider.emails == {"alice": "alice@home.org"}
