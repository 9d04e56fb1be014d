"""The operator page, rendered by a real server and read in headless Chromium (Debian's,
driven by playwright with `executable_path`; never a downloaded browser)."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.test_porch_process import PIPE, porch_token, serve

CHROMIUM = os.environ.get("JOBCLOUD_CHROMIUM", "/usr/bin/chromium")


def chromium() -> str:
    if Path(CHROMIUM).exists() or shutil.which(CHROMIUM):
        return CHROMIUM
    if os.environ.get("JOBCLOUD_REQUIRE_CHROMIUM") == "1":
        pytest.fail(f"Chromium required but not found at {CHROMIUM}")
    pytest.skip(f"Chromium not found at {CHROMIUM}")


def test_the_operator_page_in_chromium(tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    executable = chromium()
    data_dir = tmp_path / "data"
    with serve(data_dir) as base, httpx.Client(base_url=f"{base}/porch", timeout=30) as http:
        admin = {"Authorization": f"Bearer {porch_token(data_dir)}"}
        assert http.post("/pipelines/", json=PIPE, headers=admin).status_code == 201
        for i in range(3):
            task = {"pipeline": PIPE, "task_input": {"sample": f"<s{i}>"}}
            assert http.post("/tasks/", json=task, headers=admin).status_code == 201
        assert len(http.post("/tasks/claim?num_tasks=2", json=PIPE, headers=admin).json()) == 2
        for status in ("RUNNING", "FAILED"):
            update = {"pipeline": PIPE, "task_input": {"sample": "<s0>"}, "status": status}
            assert http.put("/tasks/", json=update, headers=admin).status_code == 200
        time.sleep(1.5)  # the claimed task becomes "long-running" past running_for=1

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=executable, args=["--no-sandbox"])
            try:
                context = browser.new_context(extra_http_headers=admin)
                page = context.new_page()
                requested: list[str] = []
                page.on("request", lambda request: requested.append(request.url))
                response = page.goto(f"{base}/porch/ops/page?running_for=1")
                assert response is not None
                assert response.status == 200
                assert page.title() == "jobcloud porch: operators"
                counts = page.locator("#counts tbody tr").all_inner_texts()
                assert sorted(row.split("\t") for row in counts) == [
                    ["align", "CLAIMED", "1"],
                    ["align", "FAILED", "1"],
                    ["align", "PENDING", "1"],
                ]
                long_running = page.locator("#long-running tbody tr").all_inner_texts()
                assert len(long_running) == 1
                assert '{"sample":"<s1>"}' in long_running[0]  # escaped, shown as text
                failed = page.locator("#recently-failed tbody tr").all_inner_texts()
                assert len(failed) == 1
                assert '"<s0>"' in failed[0]
                assert "FAILED" in failed[0]
                assert all(url.startswith(base) for url in requested)  # nothing from outside
                anonymous = browser.new_page()
                denied = anonymous.goto(f"{base}/porch/ops/page")
                assert denied is not None
                assert denied.status == 401
            finally:
                browser.close()
