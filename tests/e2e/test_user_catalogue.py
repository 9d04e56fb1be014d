"""The catalogue: checked at start-up (one line naming the variable and the entry),
reloaded when its file changes, the last good one kept when the new one is broken."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from adapters.catalogue.yaml_file import S3Source, YamlCatalogue
from entrypoints.http.user.app import create_user_app
from entrypoints.http.user.ioc import catalogue_source
from entrypoints.http.user.settings import UserSettings
from entrypoints.settings import Settings, SettingsError
from tests.contract.s3_support import REGION
from tests.e2e.test_server_process import BIN
from tests.e2e.user_support import CATALOGUE, write_catalogue

BROKEN = CATALOGUE.replace('image_url: "registry.example/decode:0.10.1"', "image_url: 3", 1)


def names(client_reply: Any) -> set[str]:
    return {f"{a['application']}/{a['version']}/{a['entrypoint']}" for a in client_reply.json()}


async def test_the_catalogue_reloads_when_its_file_changes(
    settings: Settings, tmp_path: Path, user_auth: Any
) -> None:
    path = write_catalogue(tmp_path)
    app: Litestar = create_user_app(settings, UserSettings(application_config_file=str(path)))
    alice = user_auth("alice")
    async with AsyncTestClient(app) as client:
        assert names(await client.get("/jobs/applications", headers=alice)) == {
            "decode/v0_10_1/train",
            "decode/v0_10_1/fit",
        }
        path.write_text(CATALOGUE.replace("    fit:", "    predict:"))
        os.utime(path, ns=(1, 1))  # a new stamp even within the clock's resolution
        assert "decode/v0_10_1/predict" in names(
            await client.get("/jobs/applications", headers=alice)
        )
        path.write_text(BROKEN)
        os.utime(path, ns=(2, 2))
        kept = names(await client.get("/jobs/applications", headers=alice))
        assert "decode/v0_10_1/predict" in kept


def test_a_broken_catalogue_stops_start_up_naming_the_entry(
    settings: Settings, tmp_path: Path
) -> None:
    path = write_catalogue(tmp_path, BROKEN)
    with pytest.raises(
        SettingsError, match=r"APPLICATION_CONFIG_FILE: decode/v0_10_1/train: handler.image_url"
    ):
        create_user_app(settings, UserSettings(application_config_file=str(path)))
    env = {**os.environ, "APPLICATION_CONFIG_FILE": str(path)}
    result = subprocess.run(
        [str(BIN / "jobcloud"), "serve", "--data-dir", str(tmp_path / "d")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "APPLICATION_CONFIG_FILE" in result.stderr
    assert "decode/v0_10_1/train" in result.stderr


async def test_a_catalogue_in_s3_is_read_and_reloaded(
    settings: Settings, s3_client: Any, bucket: str, aws_env: str, user_auth: Any
) -> None:
    s3_client.put_object(Bucket=bucket, Key="conf/apps.yaml", Body=CATALOGUE.encode())
    s3 = msgspec.structs.replace(settings, s3_region=REGION, s3_endpoint_url=aws_env)
    url = f"s3://{bucket}/conf/apps.yaml"
    source = catalogue_source(UserSettings(application_config_file=url), s3)
    assert isinstance(source, S3Source)
    ticks = iter(range(0, 1000, 20))
    catalogue = YamlCatalogue(source, clock=lambda: float(next(ticks)))
    assert len((await catalogue.current()).entries) == 2
    s3_client.put_object(
        Bucket=bucket, Key="conf/apps.yaml", Body=CATALOGUE.replace("    fit:", "    predict:")
    )
    entries = (await catalogue.current()).entries
    assert "predict" in {e.entrypoint for e in entries}
    app = create_user_app(s3, UserSettings(application_config_file=url))
    async with AsyncTestClient(app) as client:
        listed = names(await client.get("/jobs/applications", headers=user_auth("alice")))
        assert "decode/v0_10_1/predict" in listed
    with pytest.raises(SettingsError, match="APPLICATION_CONFIG_FILE: cannot read s3://"):
        create_user_app(s3, UserSettings(application_config_file=f"s3://{bucket}/missing.yaml"))
