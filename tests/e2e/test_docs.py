"""The published docs: an OpenAPI document that tells the truth, and a /schema page that
renders in a real browser with no network beyond this machine."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.e2e.test_server_process import server

__all__ = ["server"]  # the fixture: a real `jobcloud serve`

CHROMIUM = "/usr/bin/chromium"
WORKER_OPERATIONS = {
    ("get", "/jobs"): {401, 403, 422, 503},
    ("get", "/jobs/{job_id}/status"): {401, 403, 404, 503},
    ("put", "/jobs/{job_id}/status"): {401, 403, 404, 409, 503},
    ("post", "/jobs/{job_id}/files/url"): {401, 403, 404, 409, 503},
    ("post", "/jobs/{job_id}/files/upload"): {401, 403, 404, 409, 413, 503},
    ("get", "/files/{file_path}"): {400, 401, 403, 404, 503},
    ("post", "/_jobs"): {401, 413, 422, 503},
}

# The operations Swagger UI drew: (method, path) of every operation block on the page.
OPERATIONS_SHOWN = """[...document.querySelectorAll('.opblock')].map(block => [
    block.querySelector('.opblock-summary-method').textContent,
    block.querySelector('.opblock-summary-path').dataset.path,
])"""


@pytest.fixture
async def openapi(client: AsyncTestClient[Litestar]) -> dict[str, Any]:
    reply = await client.get("/schema/openapi.json")
    assert reply.status_code == 200
    document: dict[str, Any] = reply.json()
    return document


def test_every_operation_lists_the_errors_it_can_return(openapi: dict[str, Any]) -> None:
    error_body = {"$ref": "#/components/schemas/ErrorBody"}
    for (method, path), codes in WORKER_OPERATIONS.items():
        responses = openapi["paths"][path][method]["responses"]
        assert codes <= {int(code) for code in responses}, (method, path)
        for code in codes:
            schema = responses[str(code)]["content"]["application/json"]["schema"]
            assert schema == error_body, (method, path, code)
            assert responses[str(code)]["description"]
    body = openapi["components"]["schemas"]["ErrorBody"]
    assert set(body["required"]) == {"status_code", "detail"}


def test_meta_shows_its_required_fields(openapi: dict[str, Any]) -> None:
    meta = openapi["components"]["schemas"]["JobSpecs"]["properties"]["meta"]
    assert set(meta["required"]) == {"job_id", "date_created"}
    assert meta["properties"]["job_id"]["type"] == "integer"
    assert meta["additionalProperties"] is True


def test_the_upload_body_is_described(openapi: dict[str, Any]) -> None:
    upload = openapi["paths"]["/jobs/{job_id}/files/upload"]["post"]
    schema = upload["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert schema["properties"]["file"] == schema["properties"]["file"] | {
        "type": "string",
        "format": "binary",
    }
    assert schema["required"] == ["file"]


def test_units_and_meanings_are_on_the_parameters(openapi: dict[str, Any]) -> None:
    pull = {p["name"]: p for p in openapi["paths"]["/jobs"]["get"]["parameters"]}
    assert "MiB" in pull["memory"]["description"]
    assert "MiB" in pull["gpu_mem"]["description"]
    assert "seconds" in pull["older_than"]["description"]
    assert "groups" in pull["groups"]["description"]
    assert "at once" in pull["limit"]["description"]
    report = openapi["paths"]["/jobs/{job_id}/status"]["put"]["parameters"]
    details = next(p for p in report if p["name"] == "runtime_details")
    assert "forwarded" in details["description"]
    hardware = openapi["components"]["schemas"]["HardwareSpecs"]["properties"]
    assert "MiB" in str(hardware["memory"])
    assert "MiB" in str(hardware["gpu_mem"])


async def test_the_docs_page_loads_nothing_from_elsewhere(
    client: AsyncTestClient[Litestar],
) -> None:
    page = (await client.get("/schema")).text
    assert "swagger-ui-bundle.js" in page
    assert "cdn" not in page.lower()
    assert "https://" not in page
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "swagger-ui-standalone-preset.js"):
        reply = await client.get(f"/schema/assets/{asset}")
        assert reply.status_code == 200
        assert len(reply.content) > 1000


def _chromium() -> str:
    if shutil.which(CHROMIUM):
        return CHROMIUM
    if os.environ.get("JOBCLOUD_REQUIRE_CHROMIUM") == "1":
        pytest.fail(f"JOBCLOUD_REQUIRE_CHROMIUM=1 but {CHROMIUM} is missing")
    pytest.skip(f"{CHROMIUM} is missing (set JOBCLOUD_REQUIRE_CHROMIUM=1 to fail instead)")


def test_the_docs_page_renders_offline_in_chromium(server: tuple[str, Path]) -> None:
    """Swagger UI renders /schema from this service's own assets; any request to another
    host is refused (and recorded), so a CDN reference fails the test."""
    executable = _chromium()
    from playwright.sync_api import Route, sync_playwright

    base, _ = server
    refused: list[str] = []

    def only_this_machine(route: Route) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable,
            args=["--no-sandbox", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"],
        )
        try:
            page = browser.new_page()
            page.route("**/*", only_this_machine)
            page.goto(f"{base}/schema", wait_until="networkidle")
            page.wait_for_selector(".opblock-summary-path", timeout=20_000)
            shown = {(method.lower(), path) for method, path in page.evaluate(OPERATIONS_SHOWN)}
        finally:
            browser.close()
    assert set(WORKER_OPERATIONS) <= shown, shown
    assert refused == []


def test_answers_are_typed(openapi: dict[str, Any]) -> None:
    status = openapi["paths"]["/jobs/{job_id}/status"]["get"]["responses"]["200"]
    assert status["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Status"
    }
    files = openapi["paths"]["/files/{file_path}"]["get"]["responses"]["200"]["content"]
    assert files["application/json"]["schema"] == {
        "$ref": "#/components/schemas/TransferRequestOut"
    }
    assert files["*/*"]["schema"]["format"] == "binary"
    pull = openapi["paths"]["/jobs"]["get"]["responses"]["200"]["content"]["application/json"]
    assert pull["schema"]["additionalProperties"] == {"$ref": "#/components/schemas/JobSpecs"}
