"""Accounts with AUTH=1: sign up, tokens, the login cookie, and who may create what."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

from entrypoints.http.user.app import create_user_app
from entrypoints.http.user.settings import UserSettings
from entrypoints.settings import Settings

Client = AsyncTestClient[Litestar]
PASSWORD = "correct horse battery"


async def sign_up(client: Client, username: str, *groups: str, **kw: Any):  # type: ignore[no-untyped-def]
    form = {"username": username, "password": PASSWORD, "groups": ",".join(groups)}
    return await client.post("/user", data=form, **kw)


async def test_sign_up_token_and_who_am_i(user_client: Client) -> None:
    created = await sign_up(user_client, "alice")
    assert created.status_code == 201, created.text
    assert created.json() == {"username": "alice", "groups": ["users"]}
    assert (await sign_up(user_client, "alice")).status_code == 409

    token = await user_client.post("/token", data={"username": "alice", "password": PASSWORD})
    assert token.status_code == 200, token.text
    bearer = {"Authorization": f"Bearer {token.json()['id_token']}"}
    me = (await user_client.get("/user", headers=bearer)).json()
    assert {k: me[k] for k in ("username", "groups", "email", "webhook_url")} == {
        "username": "alice",
        "groups": ["users"],
        "email": None,
        "webhook_url": None,
    }
    assert len(me["webhook_secret"]) >= 40  # made by the service, shown to its owner
    assert (await user_client.get("/files", headers=bearer)).status_code == 200

    wrong = await user_client.post("/token", data={"username": "alice", "password": "nope-nope"})
    assert wrong.status_code == 401
    nobody = await user_client.post("/token", data={"username": "zed", "password": PASSWORD})
    assert nobody.status_code == 401
    assert wrong.json()["detail"] == nobody.json()["detail"]


async def test_the_login_cookie_is_httponly_and_accepted(user_client: Client) -> None:
    await sign_up(user_client, "alice")
    reply = await user_client.post("/login", data={"username": "alice", "password": PASSWORD})
    assert reply.status_code == 200, reply.text
    cookie = reply.headers["set-cookie"]
    assert "jobcloud_token=" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie or "SameSite=Strict" in cookie
    me = await user_client.get("/user")  # the client sends the cookie back
    assert me.status_code == 200
    assert me.json()["username"] == "alice"
    user_client.cookies.clear()
    assert (await user_client.get("/user")).status_code == 401


async def test_only_an_admin_creates_privileged_accounts(
    user_client: Client, user_auth: Any, internal: dict[str, str]
) -> None:
    for group in ("workers", "cloud", "admin"):
        refused = await sign_up(user_client, f"sneaky-{group}", group)
        assert refused.status_code == 403, refused.text
        as_user = await sign_up(user_client, f"sneaky2-{group}", group, headers=user_auth("alice"))
        assert as_user.status_code == 403
    made = await sign_up(user_client, "gpu-box", "workers", headers=internal)
    assert made.status_code == 201
    made = await sign_up(
        user_client, "gpu-box-2", "workers", "cloud", headers=user_auth("root", "admin")
    )
    assert made.status_code == 201
    assert made.json()["groups"] == ["cloud", "workers"]


async def test_bad_sign_ups_are_4xx_naming_the_field(user_client: Client) -> None:
    cases = [
        ({"username": "../bob", "password": PASSWORD}, 422, "username"),
        ({"username": "alice", "password": "short"}, 422, "password"),
        ({"username": "alice", "password": PASSWORD, "groups": "root"}, 422, "groups"),
        ({"password": PASSWORD}, 422, "username"),
    ]
    for form, status, field in cases:
        reply = await user_client.post("/user", data=form)
        assert reply.status_code == status, (form, reply.text)
        assert field in reply.json()["detail"]


async def test_without_auth_there_are_no_account_endpoints(
    settings: Settings, tmp_path: Path, user_auth: Any
) -> None:
    app = create_user_app(settings, UserSettings(auth=False))
    async with AsyncTestClient(app) as client:
        assert (await sign_up(client, "alice")).status_code == 404
        assert (
            await client.post("/token", data={"username": "a", "password": "b"})
        ).status_code == 404
        # tokens minted by `jobcloud token --group users` work
        assert (await client.get("/user", headers=user_auth("alice"))).status_code == 200
        info = (await client.get("/access_info")).json()
        assert "cognito" in info
        assert (await client.get("/jobs/applications", headers=user_auth("alice"))).json() == []


async def test_the_user_api_has_its_own_openapi(user_client: Client) -> None:
    schema = (await user_client.get("/schema/openapi.json")).json()
    assert schema["info"]["title"] == "jobcloud user API"
    assert {"/jobs", "/jobs/applications", "/files/{rest}", "/user", "/_job_status"} <= set(
        schema["paths"]
    )


async def test_odd_input_is_never_a_500(user_client: Client, user_auth: Any) -> None:
    alice = user_auth("alice")
    odd = [
        ("POST", "/files/data/x/upload", {"content": b"not multipart"}),
        ("PUT", "/files/data/x", {"content": b"{not json"}),
        ("PUT", "/files/data/x", {"json": {"path": 3}}),
        ("GET", "/files/data/a%00b/download", {}),
        ("GET", "/jobs", {"params": {"limit": "0"}}),
        ("GET", "/jobs", {"params": {"offset": "-1"}}),
        ("GET", "/jobs/abc", {}),
        ("POST", "/jobs", {"content": b"[]"}),
        ("POST", "/jobs", {"json": {"job_name": "x", "application": {}}}),
        ("POST", "/jobs", {"json": {"job_name": "x", "environment": "mars"}}),
        ("DELETE", "/files", {}),
        ("PUT", "/files/config", {"json": {"path": "data"}}),
        ("POST", "/files/" + "a" * 300 + "/upload", {"files": {"file": ("f", b"x")}}),
    ]
    for method, path, kw in odd:
        reply = await user_client.request(method, path, headers=alice, **kw)
        assert 400 <= reply.status_code < 500, (method, path, reply.status_code, reply.text)
