"""Jobs over HTTP on the embedded default: built from the catalogue, queued atomically,
pulled by a worker on the worker API, status back in-process, deleted while running."""

from __future__ import annotations

from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

from domain.use_cases.forwarding import ForwardUpdates
from tests.e2e.user_support import job_body

Client = AsyncTestClient[Litestar]


async def deliver(app: Litestar) -> None:
    """One round of the scheduler's status delivery (in-process: no HTTP)."""
    forward = await app.state.dishka_container.get(ForwardUpdates)
    while await forward() > 0:
        pass


async def with_inputs(user_client: Client, headers: dict[str, str]) -> None:
    for folder, name, data in (
        ("config/exp1", "param.yaml", b"lr: 0.1\n"),
        ("data/run1", "a.tif", b"A"),
        ("data/run1/sub", "b.tif", b"B"),
        ("data", "single.tif", b"S"),
    ):
        reply = await user_client.post(
            f"/files/{folder}/upload", files={"file": (name, data)}, headers=headers
        )
        assert reply.status_code == 201, reply.text


async def pull(client: Client, worker: dict[str, str]) -> dict[str, Any]:
    reply = await client.get("/jobs", params={"memory": 64000, "cpu_cores": 8}, headers=worker)
    assert reply.status_code == 200, reply.text
    return dict(reply.json())


async def test_the_worker_receives_the_jobspecs_decode_would_build(
    client: Client,
    user_client: Client,
    user_auth: Any,
    auth: Any,
) -> None:
    alice = user_auth("alice")
    await with_inputs(user_client, alice)
    body = job_body(data=["data/run1", "single.tif"], env={"SEED": "7"})
    created = await user_client.post("/jobs", json=body, headers=alice)
    assert created.status_code == 201, created.text
    job = created.json()
    assert job["status"] == "queued"
    assert job["hardware"] == {  # the catalogue's defaults fill what the user left empty
        "cpu_cores": 2,
        "memory": 8000,
        "gpu_model": None,
        "gpu_archi": None,
        "gpu_mem": None,
    }
    assert job["paths_out"] == {
        "output": "output/train-1",
        "log": "log/train-1",
        "artifact": "artifact/train-1",
    }

    pulled = await pull(client, auth("gpu-1", "workers"))
    (spec,) = pulled.values()
    assert spec["app"] == {
        "cmd": ["decode", "train", "--config", "config/param.yaml"],
        "env": {"SEED": "7"},
    }
    assert spec["handler"] == {
        "image_url": "registry.example/decode:0.10.1",
        "image_name": "decode",
        "image_version": "v0_10_1",
        "entrypoint": "train",
        "files_down": {
            "config/param.yaml": "alice/config/exp1/param.yaml",
            "data/a.tif": "alice/data/run1/a.tif",
            "data/sub/b.tif": "alice/data/run1/sub/b.tif",
            "data/single.tif": "alice/data/single.tif",
        },
        "files_up": {"output": "out", "log": "log", "artifact": "model"},
    }
    assert spec["meta"]["job_id"] == job["id"]
    assert spec["meta"]["timeout"] == 3600
    assert spec["hardware"]["cpu_cores"] == 2
    # the worker may fetch the inputs of the job it holds, through the worker API
    grant = await client.get("/files/alice/data/run1/sub/b.tif/url", headers=auth("gpu-1"))
    assert grant.status_code == 200, grant.text


async def test_bad_jobs_are_4xx_naming_the_field(user_client: Client, user_auth: Any) -> None:
    alice = user_auth("alice")
    await with_inputs(user_client, alice)
    cases = [
        (job_body("../../bob/data"), 422, "job_name"),
        (job_body("x", env={"PATH": "/evil"}), 422, "env_vars"),
        (job_body("x", data=["data/nope"]), 422, "data_ids[0]"),
        (job_body("x", data=["%2e%2e/%2e%2e/bob/data"]), 422, "data_ids"),
        (job_body("x", data=["../../bob/data"]), 403, "data_ids[0]"),
        (job_body("x", entrypoint="nope"), 404, "catalogue"),
        ({**job_body("x"), "priority": 9}, 400, "priority"),
        ({**job_body("x"), "hardware": {"cpu_cores": 0}}, 400, "cpu_cores"),
        ({"job_name": "x"}, 400, "application"),
    ]
    for body, status, field in cases:
        reply = await user_client.post("/jobs", json=body, headers=alice)
        assert reply.status_code == status, (body, reply.text)
        assert field in reply.text, (field, reply.text)
    # null hardware, data_ids and artifact_ids mean none
    reply = await user_client.post("/jobs", json=job_body("ok", config=None), headers=alice)
    assert reply.status_code == 201, reply.text


async def test_names_are_unique_per_user_and_retries_are_idempotent(
    user_client: Client, user_auth: Any
) -> None:
    alice, bob = user_auth("alice"), user_auth("bob")
    for who in (alice, bob):
        await with_inputs(user_client, who)
        assert (await user_client.post("/jobs", json=job_body(), headers=who)).status_code == 201
    again = await user_client.post("/jobs", json=job_body(), headers=alice)
    assert again.status_code == 409
    assert "job_name" in again.text

    key = {**alice, "Idempotency-Key": "k-1"}
    first = await user_client.post("/jobs", json=job_body("retried"), headers=key)
    second = await user_client.post("/jobs", json=job_body("retried"), headers=key)
    assert first.status_code == 201
    assert second.status_code == 200
    assert second.json()["id"] == first.json()["id"]


async def test_lists_are_newest_first_paged_filtered_and_private(
    user_client: Client, user_auth: Any
) -> None:
    alice, bob = user_auth("alice"), user_auth("bob")
    await with_inputs(user_client, alice)
    ids = []
    for i in range(5):
        reply = await user_client.post("/jobs", json=job_body(f"job-{i}"), headers=alice)
        ids.append(reply.json()["id"])
    page = (await user_client.get("/jobs", params={"limit": 2}, headers=alice)).json()
    assert [j["id"] for j in page] == [ids[4], ids[3]]
    page = (await user_client.get("/jobs", params={"limit": 2, "offset": 4}, headers=alice)).json()
    assert [j["id"] for j in page] == [ids[0]]
    queued = await user_client.get("/jobs", params={"status": "queued"}, headers=alice)
    assert len(queued.json()) == 5
    finished = await user_client.get("/jobs", params={"status": "finished"}, headers=alice)
    assert finished.json() == []
    bad = await user_client.get("/jobs", params={"status": "done"}, headers=alice)
    assert bad.status_code == 422
    assert (await user_client.get("/jobs", headers=bob)).json() == []
    assert (await user_client.get(f"/jobs/{ids[0]}", headers=bob)).status_code == 404
    assert (await user_client.delete(f"/jobs/{ids[0]}", headers=bob)).status_code == 404
    assert (await user_client.get(f"/jobs/{ids[0]}", headers=alice)).status_code == 200


async def test_status_flows_back_in_process_forward_only(
    app: Litestar, client: Client, user_client: Client, user_auth: Any, auth: Any, internal: Any
) -> None:
    alice, worker = user_auth("alice"), auth("gpu-1")
    await with_inputs(user_client, alice)
    job_id = (await user_client.post("/jobs", json=job_body(), headers=alice)).json()["id"]
    (queue_id,) = await pull(client, worker)
    await deliver(app)
    job = (await user_client.get(f"/jobs/{job_id}", headers=alice)).json()
    assert job["status"] == "pulled"
    assert job["date_started"] is not None
    assert job["date_finished"] is None
    for status in ("running", "finished"):
        reply = await client.put(
            f"/jobs/{queue_id}/status",
            params={"status": status, "runtime_details": f"now {status}"},
            headers=worker,
        )
        assert reply.status_code == 204
    await deliver(app)
    job = (await user_client.get(f"/jobs/{job_id}", headers=alice)).json()
    assert job["status"] == "finished"
    assert job["date_finished"] is not None
    assert job["runtime_details"] == "now finished"
    # a late or duplicate report changes nothing
    for status in ("running", "error", "finished"):
        late = {"job_id": job_id, "status": status, "runtime_details": "late"}
        reply = await user_client.put("/_job_status", json=late, headers=internal)
        assert reply.status_code == 200
        assert reply.json()["changed"] is False
    assert (await user_client.get(f"/jobs/{job_id}", headers=alice)).json() == job
    gone = {"job_id": 999_999, "status": "running"}
    assert (await user_client.put("/_job_status", json=gone, headers=internal)).status_code == 404
    assert (await user_client.put("/_job_status", json=gone)).status_code == 401


async def test_a_job_deleted_while_running_stops_its_worker(
    app: Litestar, client: Client, user_client: Client, user_auth: Any, auth: Any
) -> None:
    alice, worker = user_auth("alice"), auth("gpu-1")
    await with_inputs(user_client, alice)
    job_id = (await user_client.post("/jobs", json=job_body(), headers=alice)).json()["id"]
    (queue_id,) = await pull(client, worker)
    running = await client.put(
        f"/jobs/{queue_id}/status", params={"status": "running"}, headers=worker
    )
    assert running.status_code == 204
    grant = (
        await client.post(f"/jobs/{queue_id}/files/url", params={"type": "output"}, headers=worker)
    ).json()
    uploaded = await client.post(
        grant["url"].removeprefix("http://testserver.local"),
        files={"file": ("result.csv", b"1,2\n")},
        headers=worker,
    )
    assert uploaded.status_code == 201, uploaded.text
    listed = await user_client.get("/files/output/train-1", headers=alice)
    assert [f["path"] for f in listed.json()] == ["output/train-1/result.csv"]

    deleted = await user_client.delete(f"/jobs/{job_id}", headers=alice)
    assert deleted.status_code == 200
    assert deleted.json()["id"] == job_id
    report = await client.put(
        f"/jobs/{queue_id}/status", params={"status": "running"}, headers=worker
    )
    assert report.status_code == 404
    assert (await user_client.get(f"/jobs/{job_id}", headers=alice)).status_code == 404
    assert (await user_client.get("/files/output/train-1", headers=alice)).status_code == 404
    await deliver(app)  # nothing left to deliver for a deleted job, and nothing breaks
    again = await user_client.post("/jobs", json=job_body(), headers=alice)
    assert again.status_code == 201
    assert again.json()["id"] > job_id  # a deleted job's id is never reused
