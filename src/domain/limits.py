"""The bounds of every value the queue keeps, declared once: the tables are this wide, the
HTTP edge refuses what is beyond them (400 naming the field), and every store checks them
before a value joins a shared statement, so one bad value can fail only its own request.

PostgreSQL's integers are 32-bit (`Integer`) or 64-bit (`BigInteger`), its text refuses NUL
and its `String(n)` columns refuse longer values; SQLite accepts all of these: the checks make
both backends (and the in-memory reference) answer the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from domain.errors import InvalidInput
from domain.jobs import FileKind, NewJob, Report
from domain.matching import WorkerOffer

INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1
ID_MAX = INT64_MAX  # job ids and the user side's job ids
NAME_MAX = 255  # worker names, groups, GPU models and architectures (String(255) columns)
PATH_MAX = 4096  # file ids, upload folders, base paths
FILENAME_MAX = 255  # one uploaded file's name
DETAILS_MAX = 65_536  # runtime details of one report
# `older_than`: ~68 years, so that `now - older_than` is always a date a database keeps.
OLDER_THAN_MAX = INT32_MAX
GROUPS_MAX = 64  # groups in one pull
JSON_DEPTH_MAX = 32  # nesting of a submitted JobSpecs document
NUL = "\x00"


def check_int(field: str, value: int | None, *, high: int, low: int = 0) -> None:
    if value is not None and not low <= value <= high:
        raise InvalidInput(f"{field} must be between {low} and {high}")


def check_text(field: str, value: str | None, max_length: int | None = None) -> None:
    if value is None:
        return
    if NUL in value:
        raise InvalidInput(f"{field} must not contain NUL characters")
    if max_length is not None and len(value) > max_length:
        raise InvalidInput(f"{field} must be at most {max_length} characters")


def check_path(field: str, value: str | None) -> None:
    """A file id or folder: no NUL, at most `PATH_MAX` characters, no name in it longer
    than a file system keeps (`FILENAME_MAX` bytes)."""
    check_text(field, value, PATH_MAX)
    for name in (value or "").split("/"):
        if len(name.encode()) > FILENAME_MAX:
            raise InvalidInput(f"{field}: a name in it is longer than {FILENAME_MAX} bytes")


def check_id(field: str, value: int) -> None:
    check_int(field, value, high=ID_MAX)


def check_older_than(seconds: int) -> timedelta:
    check_int("older_than", seconds, high=OLDER_THAN_MAX)
    return timedelta(seconds=seconds)


def check_document(field: str, value: Any, depth: int = 0) -> None:
    """A JSON document to store: nested at most `JSON_DEPTH_MAX` deep, integers within 64
    bits, no NUL in any key or string."""
    if depth > JSON_DEPTH_MAX:
        raise InvalidInput(f"{field} is nested deeper than {JSON_DEPTH_MAX} levels")
    if isinstance(value, str):
        check_text(field, value)
    elif isinstance(value, bool) or value is None or isinstance(value, float):
        return
    elif isinstance(value, int):
        check_int(field, value, low=-INT64_MAX - 1, high=INT64_MAX)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            check_text(f"{field} key", str(key))
            check_document(f"{field}.{key}", item, depth + 1)
    elif isinstance(value, list | tuple):
        for item in value:
            check_document(field, item, depth + 1)


def check_offer(offer: WorkerOffer, limit: int) -> None:
    """A pull's values, before it joins a claim: each field within its column."""
    check_text("worker", offer.worker, NAME_MAX)
    check_int("cpu_cores", offer.cpu_cores, high=INT32_MAX)
    check_int("memory", offer.memory, high=INT64_MAX)
    check_int("gpu_mem", offer.gpu_mem, high=INT64_MAX)
    check_text("gpu_model", offer.gpu_model, NAME_MAX)
    check_text("gpu_archi", offer.gpu_archi, NAME_MAX)
    check_older_than(offer.older_than)
    if len(offer.groups) > GROUPS_MAX:
        raise InvalidInput(f"groups: at most {GROUPS_MAX}")
    for group in offer.groups:
        check_text("groups", group, NAME_MAX)
    check_int("limit", limit, low=1, high=INT32_MAX)


def check_report(report: Report) -> None:
    """A report's values, before it joins a batch of reports."""
    check_id("job_id", report.job_id)
    check_text("worker", report.worker, NAME_MAX)
    check_text("runtime_details", report.details, DETAILS_MAX)


def check_new_job(new: NewJob) -> None:
    """A submitted job's values, before it is stored."""
    spec, hw = new.spec, new.spec.hardware
    check_id("job.meta.job_id", spec.meta.job_id)
    check_int("priority", new.priority, low=-INT32_MAX - 1, high=INT32_MAX)
    check_text("group", new.group, NAME_MAX)
    if new.key is not None:
        check_text("namespace", new.key.namespace, NAME_MAX)
        check_text("key", new.key.key, NAME_MAX)
    check_int("job.hardware.cpu_cores", hw.cpu_cores, high=INT32_MAX)
    check_int("job.hardware.memory", hw.memory, high=INT64_MAX)
    check_int("job.hardware.gpu_mem", hw.gpu_mem, high=INT64_MAX)
    check_text("job.hardware.gpu_model", hw.gpu_model, NAME_MAX)
    check_text("job.hardware.gpu_archi", hw.gpu_archi, NAME_MAX)
    for kind in FileKind:
        check_path(f"paths_upload.{kind.value}", new.paths_upload.folder(kind))
    check_document("job", spec.document())
