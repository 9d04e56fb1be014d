"""The request descriptions workers send as given (DECODE's `requests.request(**d)`)."""

from __future__ import annotations

from adapters.wire.decode import transfer_out
from domain.transfers import TransferRequest

OWN = "http://api.example/jobs/4/files/upload?base_path=fits&type=output"


def test_this_api_s_own_endpoint_carries_the_caller_s_authorization_verbatim() -> None:
    out = transfer_out(TransferRequest("post", None), OWN, "Bearer eyJ.abc.def")
    assert (out.method, out.url, out.headers, out.data) == (
        "post",
        OWN,
        {"authorization": "Bearer eyJ.abc.def"},
        {},
    )


def test_without_an_authorization_header_the_headers_are_empty() -> None:
    assert transfer_out(TransferRequest("get", None), OWN, None).headers == {}


def test_a_pre_signed_request_carries_no_header_of_the_caller() -> None:
    signed = TransferRequest("post", "https://s3.example/bucket", data={"key": "a/${filename}"})
    out = transfer_out(signed, OWN, "Bearer eyJ.abc.def")
    assert (out.url, out.headers, out.data) == (
        "https://s3.example/bucket",
        {},
        {"key": "a/${filename}"},
    )
