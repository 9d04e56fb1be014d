"""The porch API's error answers, as its OpenAPI lists them: the statuses each operation can
return, with the error body `ErrorBody` (the same table as the worker API's)."""

from __future__ import annotations

from litestar.openapi import ResponseSpec

from entrypoints.http import docs

# The porch router's limit on a request body (Litestar's default size, made explicit).
MAX_BODY_BYTES = 10_000_000

MEANING = {
    400: "Malformed request: a missing or ill-typed parameter or body field, or a value beyond "
    "its bounds (`extra` names it), or JSON nested too deeply",
    401: "No porch token, or not a valid one (32 hexadecimal characters, known, not revoked)",
    403: "The token may not do this: an admin token is needed, or the token is another pipeline's",
    404: "No such pipeline, or no such task of the pipeline",
    409: "A pipeline of that name exists, or a change of status the task rules forbid",
    413: f"The request body is larger than {MAX_BODY_BYTES:,} bytes",
    422: "Well-formed, but an unacceptable value: an unknown status, a pipeline without uri "
    "or version (the detail names the field)",
    503: "The database cannot be reached right now; retry",
}


def errors(*codes: int) -> dict[int, ResponseSpec]:
    """The documented error answers of a porch operation."""
    return docs.errors(*codes, meaning=MEANING)
