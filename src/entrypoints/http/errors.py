"""Domain errors -> HTTP, in one table. Anything unmapped is a 500 without internals."""

from __future__ import annotations

import logging
from typing import Any

from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException

from adapters.sql.errors import describe, outage_cause
from domain import errors

log = logging.getLogger("jobcloud.http")

STATUS_OF: tuple[tuple[type[errors.DomainError], int], ...] = (
    (errors.NotFound, 404),
    (errors.Conflict, 409),
    (errors.NotAuthenticated, 401),
    (errors.Forbidden, 403),
    (errors.TooLarge, 413),
    (errors.InvalidInput, 422),
    (errors.UnsupportedOperation, 400),
    (errors.Unavailable, 503),
)


def status_of(exc: errors.DomainError) -> int:
    return next((code for kind, code in STATUS_OF if isinstance(exc, kind)), 500)


def problem(
    status: int, detail: str, headers: dict[str, str] | None = None
) -> Response[dict[str, object]]:
    return Response(
        {"status_code": status, "detail": detail},
        status_code=status,
        media_type=MediaType.JSON,
        headers=headers,
    )


def domain_error_handler(_: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, object]]:
    assert isinstance(exc, errors.DomainError)
    status = status_of(exc)
    if status == 500:
        log.error("unmapped domain error", exc_info=exc)
        return problem(500, "internal server error")
    if status == 503 and not isinstance(exc, errors.StoreUnavailable):  # the store logs those
        log.warning("dependency unavailable: %s", exc)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return problem(status, str(exc), headers)


def internal_error_handler(
    request: Request[Any, Any, Any], exc: Exception
) -> Response[dict[str, object]]:
    if isinstance(exc, HTTPException):
        detail = exc.detail
        if exc.extra:
            return Response(
                {"status_code": exc.status_code, "detail": detail, "extra": exc.extra},
                status_code=exc.status_code,
                media_type=MediaType.JSON,
                headers=exc.headers,
            )
        return problem(exc.status_code, detail, exc.headers)
    if isinstance(exc, RecursionError):  # msgspec, decoding a body nested too deep
        return problem(400, "request body nested too deeply")
    cause = outage_cause(exc)
    if cause is not None:  # a database refusal that escaped its store: still a 503
        log.warning(
            "database unavailable on %s %s: %s", request.method, request.url.path, describe(cause)
        )
        return problem(503, f"database unavailable: {type(cause).__name__}")
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem(500, "internal server error")
