"""The catalogue from DECODE's YAML (APPLICATION_CONFIG_FILE: a local path or s3://bucket/key),
reloaded when it changes. A reload that fails keeps the last good catalogue and logs why; the
first load must succeed (start-up stops naming the entry)."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable
from typing import Any

import yaml
from botocore.exceptions import BotoCoreError, ClientError

from domain.catalogue.model import Catalogue, CatalogueError, parse_catalogue

log = logging.getLogger("jobcloud.catalogue")
S3_CHECK_INTERVAL = 10.0  # seconds between two looks at an S3 catalogue's ETag

Stamp = Any  # what tells one version of the file from another (mtime and size; an ETag)


def parse_text(text: str, where: str) -> Catalogue:
    try:
        return parse_catalogue(yaml.safe_load(text))
    except yaml.YAMLError as exc:
        raise CatalogueError(f"{where}: not valid YAML: {exc}") from None


class LocalSource:
    def __init__(self, path: str) -> None:
        self.path = path
        self.interval = 0.0

    def stamp(self) -> Stamp:
        try:
            info = os.stat(self.path)
        except OSError:
            return None
        return (info.st_mtime_ns, info.st_size)

    def read(self) -> str:
        try:
            with open(self.path) as f:
                return f.read()
        except OSError as exc:
            raise CatalogueError(f"cannot read {self.path}: {exc.strerror}") from None


class S3Source:
    def __init__(self, url: str, client: Any) -> None:
        self.path = url
        self.interval = S3_CHECK_INTERVAL
        self._bucket, _, self._key = url.removeprefix("s3://").partition("/")
        self._client = client

    def stamp(self) -> Stamp:
        try:
            return self._client.head_object(Bucket=self._bucket, Key=self._key)["ETag"]
        except (ClientError, BotoCoreError):
            return None

    def read(self) -> str:
        try:
            body = self._client.get_object(Bucket=self._bucket, Key=self._key)["Body"]
            return str(body.read().decode())
        except (ClientError, BotoCoreError) as exc:
            raise CatalogueError(f"cannot read {self.path}: {exc}") from None


def load_catalogue(source: LocalSource | S3Source) -> Catalogue:
    """Parse and validate; CatalogueError with the file and the entry."""
    return parse_text(source.read(), source.path)


class YamlCatalogue:
    def __init__(
        self, source: LocalSource | S3Source | None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._source = source
        self._clock = clock
        self._stamp: Stamp = None
        self._checked = 0.0
        self._catalogue = Catalogue()
        if source is not None:
            self._stamp = source.stamp()
            self._catalogue = load_catalogue(source)
            self._checked = clock()

    async def current(self) -> Catalogue:
        source = self._source
        if source is None or self._clock() - self._checked < source.interval:
            return self._catalogue
        self._checked = self._clock()
        stamp = await asyncio.to_thread(source.stamp)
        if stamp is None or stamp == self._stamp:
            return self._catalogue
        self._stamp = stamp
        try:
            self._catalogue = await asyncio.to_thread(load_catalogue, source)
            log.info("catalogue reloaded from %s", source.path)
        except CatalogueError as exc:
            log.error("catalogue not reloaded, keeping the last good one: %s", exc)
        return self._catalogue
