"""The catalogue from a YAML file (DECODE's APPLICATION_CONFIG_FILE), reloaded on change.

A reload that fails keeps the last good catalogue and logs why; the first load must succeed
(start-up stops naming the entry).
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

import yaml

from domain.catalogue.model import Catalogue, CatalogueError, parse_catalogue

log = logging.getLogger("jobcloud.catalogue")


def load_catalogue(path: Path) -> Catalogue:
    """Parse and validate; CatalogueError with the file and the entry."""
    try:
        document = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise CatalogueError(f"cannot read {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise CatalogueError(f"{path}: not valid YAML: {exc}") from None
    return parse_catalogue(document)


class YamlCatalogue:
    def __init__(self, path: Path | None) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._catalogue = Catalogue()
        if path is not None:
            self._stamp = self._stat()
            self._catalogue = load_catalogue(path)

    def _stat(self) -> tuple[int, int] | None:
        assert self._path is not None
        try:
            info = os.stat(self._path)
        except OSError:
            return None
        return info.st_mtime_ns, info.st_size

    def current(self) -> Catalogue:
        if self._path is None:
            return self._catalogue
        stamp = self._stat()
        if stamp is None or stamp == self._stamp:
            return self._catalogue
        with self._lock:
            if stamp != self._stamp:
                self._stamp = stamp
                try:
                    self._catalogue = load_catalogue(self._path)
                    log.info("catalogue reloaded from %s", self._path)
                except CatalogueError as exc:
                    log.error("catalogue not reloaded, keeping the last good one: %s", exc)
        return self._catalogue
