"""Where a user is told of their jobs, over HTTP: an e-mail address on POST /user, PUT /user
for the address and a webhook for all jobs, a webhook per job on POST /jobs, the webhook
secret shown to its owner on GET /user; bad values are 422 naming the field."""

from __future__ import annotations

from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sql.tables import notifications
from tests.e2e.test_user_accounts import PASSWORD
from tests.e2e.test_user_jobs import with_inputs
from tests.e2e.user_support import job_body

Client = AsyncTestClient[Litestar]
HOOK = "https://hooks.example.org/alice"
JOB_HOOK = "https://hooks.example.org/one-job"


async def test_an_account_made_with_an_email_shows_it(user_client: Client) -> None:
    form = {"username": "alice", "password": PASSWORD, "email": "alice@lab.example.org"}
    assert (await user_client.post("/user", data=form)).status_code == 201
    token = await user_client.post("/token", data={"username": "alice", "password": PASSWORD})
    bearer = {"Authorization": f"Bearer {token.json()['id_token']}"}
    me = (await user_client.get("/user", headers=bearer)).json()
    assert me["email"] == "alice@lab.example.org"
    assert me["webhook_url"] is None
    assert len(me["webhook_secret"]) >= 40

    bad = {"username": "bob", "password": PASSWORD, "email": "bob at lab"}
    refused = await user_client.post("/user", data=bad)
    assert refused.status_code == 422
    assert refused.json()["detail"].startswith("email:")
    bob = await user_client.post("/token", data={"username": "bob", "password": PASSWORD})
    assert bob.status_code == 401  # no account was made
    empty = {"username": "carol", "password": PASSWORD, "email": ""}
    assert (await user_client.post("/user", data=empty)).status_code == 201  # no address


async def test_a_user_sets_and_clears_their_email_and_webhook(
    user_client: Client, user_auth: Any
) -> None:
    alice = user_auth("alice")
    secret = (await user_client.get("/user", headers=alice)).json()["webhook_secret"]
    body = {"email": "alice@lab.example.org", "webhook_url": HOOK}
    reply = await user_client.put("/user", json=body, headers=alice)
    assert reply.status_code == 200, reply.text
    assert reply.json() == {
        "username": "alice",
        "groups": ["users"],
        "email": "alice@lab.example.org",
        "webhook_url": HOOK,
        "webhook_secret": secret,
    }
    cleared = await user_client.put("/user", json={"email": None}, headers=alice)
    assert (cleared.json()["email"], cleared.json()["webhook_url"]) == (None, HOOK)
    rotated = await user_client.put("/user", json={"new_webhook_secret": True}, headers=alice)
    assert rotated.json()["webhook_secret"] not in (secret, None)
    assert (await user_client.get("/user", headers=alice)).json() == rotated.json()
    # another user sees only their own
    bob = (await user_client.get("/user", headers=user_auth("bob"))).json()
    assert (bob["webhook_url"], bob["email"]) == (None, None)
    assert bob["webhook_secret"] != rotated.json()["webhook_secret"]


async def test_bad_profiles_are_4xx_naming_the_field(user_client: Client, user_auth: Any) -> None:
    alice = user_auth("alice")
    cases: list[tuple[Any, int, str]] = [
        ({"email": "not-an-address"}, 422, "email"),
        ({"email": "a@b.org\r\nBcc: x@y.org"}, 422, "email"),
        ({"webhook_url": "ftp://h.example.org/x"}, 422, "webhook_url"),
        ({"webhook_url": "javascript:alert(1)"}, 422, "webhook_url"),
        ({"webhook_url": "https://h.example.org/" + "x" * 2001}, 422, "webhook_url"),
        ({"webhook_url": 3}, 400, "webhook_url"),
        ({"colour": "blue"}, 400, "colour"),
        ([], 400, ""),
    ]
    for body, status, field in cases:
        reply = await user_client.put("/user", json=body, headers=alice)
        assert reply.status_code == status, (body, reply.text)
        assert field in reply.text
    me = (await user_client.get("/user", headers=alice)).json()
    assert (me["email"], me["webhook_url"]) == (None, None)  # nothing was stored
    worker = user_auth("gpu-1", "workers")
    assert (await user_client.put("/user", json={}, headers=worker)).status_code == 403
    as_worker = (await user_client.get("/user", headers=worker)).json()
    assert as_worker["webhook_secret"] is None  # workers have no profile


async def test_a_job_may_carry_its_own_webhook(user_client: Client, user_auth: Any) -> None:
    alice = user_auth("alice")
    await with_inputs(user_client, alice)
    hooked = {**job_body("hooked"), "notify": {"webhook_url": JOB_HOOK}}
    created = await user_client.post("/jobs", json=hooked, headers=alice)
    assert created.status_code == 201, created.text
    assert created.json()["notify"] == {"webhook_url": JOB_HOOK}
    plain = await user_client.post("/jobs", json=job_body("plain"), headers=alice)
    assert plain.status_code == 201  # a DECODE client sends no notify
    assert plain.json()["notify"] is None
    got = await user_client.get(f"/jobs/{created.json()['id']}", headers=alice)
    assert got.json()["notify"] == {"webhook_url": JOB_HOOK}
    for url in ("gopher://h.example.org/", "https://h.example.org/a b", "x" * 3000):
        bad = {**job_body("bad"), "notify": {"webhook_url": url}}
        reply = await user_client.post("/jobs", json=bad, headers=alice)
        assert reply.status_code == 422, reply.text
        assert reply.json()["detail"].startswith("notify.webhook_url:")
    # a job's webhook gave the user a secret to check it with
    assert (await user_client.get("/user", headers=alice)).json()["webhook_secret"]


async def test_notifications_go_where_the_user_and_the_job_say(
    user_client: Client, user_auth: Any, internal: dict[str, str]
) -> None:
    alice = user_auth("alice")
    await with_inputs(user_client, alice)
    body = {"email": "alice@lab.example.org", "webhook_url": HOOK}
    secret = (await user_client.put("/user", json=body, headers=alice)).json()["webhook_secret"]
    hooked = {**job_body("hooked"), "notify": {"webhook_url": JOB_HOOK}}
    ids = [
        (await user_client.post("/jobs", json=job, headers=alice)).json()["id"]
        for job in (hooked, job_body("plain"))
    ]
    for job_id in ids:
        done = {"job_id": job_id, "status": "finished", "runtime_details": "ok"}
        assert (await user_client.put("/_job_status", json=done, headers=internal)).is_success
    engine = await user_client.app.state.dishka_container.get(AsyncEngine)
    async with engine.connect() as c:
        rows = (await c.execute(select(notifications).order_by(notifications.c.id))).all()
    sent = {(r.job_id, r.channel): (r.address, r.secret) for r in rows}
    assert sent == {
        (ids[0], "webhook"): (JOB_HOOK, secret),  # the job's URL wins over the user's
        (ids[1], "webhook"): (HOOK, secret),
    }  # no e-mail sender is configured in these tests: webhooks only
