"""The CLI in-process: migrations, tokens, and configuration errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient

from adapters.auth.local import LocalIssuer
from entrypoints.cli import main
from entrypoints.http.app import create_app
from entrypoints.http.user.app import create_user_app
from entrypoints.http.user.settings import UserSettings
from entrypoints.settings import load_settings


def test_db_upgrade_creates_the_queue(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["db", "upgrade", "--data-dir", str(tmp_path)])
    assert "up to date" in capsys.readouterr().out
    assert (tmp_path / "queue.db").stat().st_size > 0


def test_token_prints_a_token_the_issuer_accepts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["token", "--username", "gpu7", "--group", "workers", "--data-dir", str(tmp_path)])
    token = capsys.readouterr().out.strip()
    assert token.count(".") == 2
    assert LocalIssuer(tmp_path).mint("x", ["workers"], 60).count(".") == 2


def test_a_bad_ttl_is_a_configuration_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["token", "--username", "u", "--ttl", "0", "--data-dir", str(tmp_path)])
    assert stopped.value.code == 2
    assert "--ttl" in capsys.readouterr().err


async def test_access_info_names_the_cognito_pool(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "JOBCLOUD_DATA_DIR": str(tmp_path),
            "INTERNAL_API_KEY_SECRET": "k",
            "COGNITO_USER_POOL_ID": "eu-central-1_AbC",
            "COGNITO_REGION": "eu-central-1",
            "COGNITO_CLIENT_ID": "client-1",
        }
    )
    async with AsyncTestClient(create_app(settings, run_scheduler=False)) as client:
        info = (await client.get("/access_info")).json()
        assert info["cognito"] == {
            "user_pool_id": "eu-central-1_AbC",
            "client_id": "client-1",
            "region": "eu-central-1",
        }
        assert (await client.get("/.well-known/jwks.json")).status_code == 404
        assert (
            await client.get("/jobs", headers={"Authorization": "Bearer x.y.z"})
        ).status_code == 401


def test_porch_token_prints_an_admin_token_and_revokes_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from litestar.testing import TestClient

    monkeypatch.setenv("JOBCLOUD_DATA_DIR", str(tmp_path))  # main sets it: restored after
    main(["porch-token", "--description", "ops", "--data-dir", str(tmp_path)])
    token = capsys.readouterr().out.strip()
    assert len(token) == 32
    assert int(token, 16) >= 0
    settings = load_settings({"JOBCLOUD_DATA_DIR": str(tmp_path), "JOBCLOUD_SCHEDULER": "0"})
    admin = {"Authorization": f"Bearer {token}"}
    pipeline = {"name": "p", "uri": "u", "version": "1"}
    with TestClient(create_user_app(settings, UserSettings())) as client:  # the user API's
        assert client.post("/porch/pipelines/", json=pipeline, headers=admin).status_code == 201
    main(["porch-token", "--description", "ops", "--revoke", "--data-dir", str(tmp_path)])
    assert "revoked 1" in capsys.readouterr().out
    with TestClient(create_user_app(settings, UserSettings())) as client:
        assert client.get("/porch/pipelines/", headers=admin).status_code == 401


def test_porch_token_is_minted_in_the_user_apis_own_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Split topology: with DATABASE_URL the porch API keeps its tokens there."""
    from litestar.testing import TestClient

    user_db = f"sqlite:///{tmp_path / 'user.db'}"
    monkeypatch.setenv("JOBCLOUD_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("DATABASE_URL", user_db)
    main(["porch-token", "--data-dir", str(tmp_path)])
    admin = {"Authorization": f"Bearer {capsys.readouterr().out.strip()}"}
    settings = load_settings({"JOBCLOUD_DATA_DIR": str(tmp_path), "JOBCLOUD_SCHEDULER": "0"})
    with TestClient(create_user_app(settings, UserSettings(database_url=user_db))) as client:
        pipeline = {"name": "p", "uri": "u", "version": "1"}
        assert client.post("/porch/pipelines/", json=pipeline, headers=admin).status_code == 201
