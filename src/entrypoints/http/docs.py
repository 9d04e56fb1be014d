"""The published API description: the OpenAPI document, the error answers of every operation,
and the docs page at /schema, rendered from Swagger UI assets this service serves itself (the
pinned `swagger-ui-bundle-v2` package), so the page works without internet."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import msgspec
from litestar import Router
from litestar.openapi import OpenAPIConfig, ResponseSpec
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import (
    Components,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Reference,
    RequestBody,
    Schema,
    SecurityScheme,
)
from litestar.static_files import create_static_files_router
from swagger_ui_bundle import swagger_ui_path

ASSETS = "/schema/assets"


class ErrorBody(msgspec.Struct):
    """The body of every error answer."""

    status_code: int
    detail: str
    extra: dict[str, Any] | list[Any] | None = None


MEANING = {
    400: "Malformed request: a missing or ill-typed parameter (`extra` names it), or an "
    "operation the configured file store does not offer",
    401: "No, or no valid, bearer token or API key",
    403: "Authenticated, but not allowed: not in the `workers` group, or a path outside the "
    "job's files",
    404: "No such job or file, or the worker does not hold the job (any more): the worker's "
    "signal to stop",
    409: "Not possible in the job's current status (a backward move, a finished job)",
    413: "Larger than the configured limit",
    422: "Well-formed, but an unacceptable value (the detail names the field)",
    503: "A dependency (the database, the file store) cannot be reached right now; retry",
}


def errors(*codes: int, meaning: Mapping[int, str] = MEANING) -> dict[int, ResponseSpec]:
    """The documented error answers of an operation: one entry per status it can return
    (`meaning`: what each status means for the API, the worker API's by default)."""
    return {
        code: ResponseSpec(data_container=ErrorBody, description=meaning[code]) for code in codes
    }


@dataclass
class DescriptionOrBytes(Operation):
    """`/files/<id>/url` answers a description (JSON), `/files/<id>/download` the bytes."""

    def __post_init__(self) -> None:
        ok = (self.responses or {}).get("200")
        if not isinstance(ok, OpenAPIResponse):
            return
        ok.description = "`/url`: the request description; `/download`: the file's bytes"
        ok.content = {
            "application/json": OpenAPIMediaType(
                schema=Reference(ref="#/components/schemas/TransferRequestOut")
            ),
            "*/*": OpenAPIMediaType(
                schema=Schema(
                    type=OpenAPIType.STRING,
                    format="binary",  # type: ignore[arg-type]
                    description="the bytes, with the content type of the file's name",
                )
            ),
        }


@dataclass
class MultipartUpload(Operation):
    """The upload operation: its body is read as a stream, so it is described here."""

    def __post_init__(self) -> None:
        file_part = Schema(
            type=OpenAPIType.STRING,
            format="binary",  # type: ignore[arg-type]
            description="a file; its part's filename names it inside the upload folder "
            "(several `file` parts may be sent)",
        )
        self.request_body = RequestBody(
            required=True,
            description="multipart/form-data with one or more `file` parts",
            content={
                "multipart/form-data": OpenAPIMediaType(
                    schema=Schema(
                        type=OpenAPIType.OBJECT,
                        properties={"file": file_part},
                        required=["file"],
                    )
                )
            },
        )


SWAGGER_UI = SwaggerRenderPlugin(
    js_url=f"{ASSETS}/swagger-ui-bundle.js",
    css_url=f"{ASSETS}/swagger-ui.css",
    standalone_preset_js_url=f"{ASSETS}/swagger-ui-standalone-preset.js",
    path=["/", "/swagger"],
    favicon=f"<link rel='icon' type='image/png' href='{ASSETS}/favicon-32x32.png'>",
)

OPENAPI = OpenAPIConfig(
    title="jobcloud",
    version="0.1.0",
    description="Job queue for compute workers; DECODE OpenCloud worker API compatible. "
    "Sizes are in MiB, durations in seconds. Every error answer has the body `ErrorBody`.",
    path="/schema",
    render_plugins=[SWAGGER_UI],
    components=Components(
        security_schemes={
            "BearerToken": SecurityScheme(type="http", scheme="bearer", bearer_format="JWT"),
            "ApiKey": SecurityScheme(type="apiKey", name="x-api-key", security_scheme_in="header"),
        }
    ),
)


def docs_assets() -> Router:
    """The Swagger UI files, from the installed package, at ASSETS."""
    return create_static_files_router(
        path=ASSETS,
        directories=[str(swagger_ui_path)],
        include_in_schema=False,
        name="docs-assets",
    )
