"""Run once and re-runs through POST /_jobs and /_jobs/{id}/rerun|attempts (the real app)."""

from __future__ import annotations

import asyncio
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.conftest import TokenFactory
from tests.e2e.jobs import submitted

Client = AsyncTestClient[Litestar]


def body(**extra: Any) -> dict[str, Any]:
    return {**submitted(user_job_id=77), **extra}


async def run_to(client: Client, auth: TokenFactory, job_id: int, status: str) -> None:
    worker = auth("gpu-1")
    pulled = (await client.get("/jobs", params={"memory": 1000}, headers=worker)).json()
    assert list(pulled) == [str(job_id)]
    reply = await client.put(f"/jobs/{job_id}/status", params={"status": status}, headers=worker)
    assert reply.status_code == 204


async def test_a_key_field_a_header_or_a_derived_key_makes_one_job(
    client: Client, internal: dict[str, str]
) -> None:
    first = await client.post("/_jobs", json=body(key="run-1"), headers=internal)
    assert first.status_code == 201, first.text
    assert first.json() == {
        "id": first.json()["id"],
        "status": "queued",
        "namespace": "default",
        "key": "run-1",
    }
    header = {**internal, "Idempotency-Key": "run-1"}
    again = await client.post("/_jobs", json=body(), headers=header)
    assert (again.status_code, again.json()["id"]) == (200, first.json()["id"])
    derived = [
        await client.post("/_jobs", json=body(derive_key=True, namespace="n2"), headers=internal)
        for _ in range(2)
    ]
    assert [r.status_code for r in derived] == [201, 200]
    assert len(derived[0].json()["key"]) == 64
    plain = [await client.post("/_jobs", json=body(), headers=internal) for _ in range(2)]
    assert [r.status_code for r in plain] == [201, 201]


async def test_bad_key_fields_are_refused_naming_the_field(
    client: Client, internal: dict[str, str]
) -> None:
    too_long = await client.post("/_jobs", json=body(key="k" * 256), headers=internal)
    assert too_long.status_code == 400
    assert "key" in too_long.text
    scope = await client.post("/_jobs", json=body(key="k", key_scope="always"), headers=internal)
    assert scope.status_code == 400
    assert "key_scope" in scope.text
    lonely = await client.post("/_jobs", json=body(namespace="x"), headers=internal)
    assert lonely.status_code == 422
    assert "key" in lonely.text
    clash = {**internal, "Idempotency-Key": "a"}
    differ = await client.post("/_jobs", json=body(key="b"), headers=clash)
    assert differ.status_code == 422


async def test_concurrent_identical_submissions_make_one_job(
    client: Client, internal: dict[str, str]
) -> None:
    replies = await asyncio.gather(
        *(client.post("/_jobs", json=body(key="burst"), headers=internal) for _ in range(64))
    )
    assert sorted(r.status_code for r in replies) == [200] * 63 + [201]
    assert len({r.json()["id"] for r in replies}) == 1


async def test_rerun_by_the_owner_keeps_the_history(
    client: Client, internal: dict[str, str], auth: TokenFactory
) -> None:
    created = await client.post(
        "/_jobs", json=body(key="r", owner="alice", key_scope="forever"), headers=internal
    )
    job_id = created.json()["id"]
    alice, bob = auth("alice", "users"), auth("bob", "users")
    early = await client.post(f"/_jobs/{job_id}/rerun", headers=alice)
    assert early.status_code == 409  # still queued: nothing to re-run
    await run_to(client, auth, job_id, "error")
    assert (await client.post(f"/_jobs/{job_id}/rerun", headers=bob)).status_code == 403
    assert (await client.post(f"/_jobs/{job_id}/rerun")).status_code == 401
    assert (await client.post("/_jobs/999999/rerun", headers=internal)).status_code == 404
    rerun = await client.post(f"/_jobs/{job_id}/rerun", headers=alice)
    assert rerun.status_code == 200, rerun.text
    assert rerun.json()["status"] == "queued"
    await run_to(client, auth, job_id, "finished")
    admin = await client.post(f"/_jobs/{job_id}/rerun", headers=auth("root", "admins"))
    assert admin.status_code == 200
    history = (await client.get(f"/_jobs/{job_id}/attempts", headers=alice)).json()
    assert (history["id"], history["owner"], history["key"]) == (job_id, "alice", "r")
    rows = [
        (a["number"], a["requested_by"], a["status"], a["workers"]) for a in history["attempts"]
    ]
    assert rows == [
        (1, "alice", "error", ["gpu-1"]),
        (2, "alice", "finished", ["gpu-1"]),
        (3, "root", "queued", []),
    ]
    assert history["attempts"][0]["ended_at"] is not None
    assert history["attempts"][2]["ended_at"] is None
    assert (await client.get(f"/_jobs/{job_id}/attempts", headers=bob)).status_code == 403
