"""Error mapping, page tokens and etags behave as the API promises."""

from __future__ import annotations

import grpc
import pytest
from google.rpc import error_details_pb2

from libs import etag, pagination
from libs.errors import EtagMismatch, InvalidArgument, NotFound, internal_status, to_status


def _details(status: object) -> list[object]:
    out: list[object] = []
    for any_msg in status.details:  # type: ignore[attr-defined]
        for kind in (error_details_pb2.ErrorInfo, error_details_pb2.BadRequest):
            if any_msg.Is(kind.DESCRIPTOR):
                msg = kind()
                any_msg.Unpack(msg)
                out.append(msg)
    return out


def test_invalid_argument_names_the_field() -> None:
    status = to_status(InvalidArgument("group.display_name", "is required"))
    assert status.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    info, bad = _details(status)
    assert isinstance(info, error_details_pb2.ErrorInfo)
    assert info.reason == "INVALID_FIELD"
    assert info.domain == "hisaab.app"
    assert info.metadata["field"] == "group.display_name"
    assert isinstance(bad, error_details_pb2.BadRequest)
    assert bad.field_violations[0].field == "group.display_name"


def test_codes_follow_the_error_kind() -> None:
    assert to_status(NotFound("x")).code == grpc.StatusCode.NOT_FOUND.value[0]
    assert to_status(EtagMismatch("x")).code == grpc.StatusCode.ABORTED.value[0]


def test_internal_status_says_nothing_internal() -> None:
    status = internal_status()
    assert status.message == "internal error"
    assert status.code == grpc.StatusCode.INTERNAL.value[0]


def test_page_token_round_trip_and_binding() -> None:
    query = {"group": "g1"}
    token = pagination.encode(["2026-01-01T00:00:00+00:00", "id-9"], query)
    cursor = pagination.decode(token, query)
    assert cursor is not None and cursor.key == ["2026-01-01T00:00:00+00:00", "id-9"]
    assert pagination.decode("", query) is None
    with pytest.raises(InvalidArgument) as other:
        pagination.decode(token, {"group": "g2"})
    assert other.value.field == "page_token"
    with pytest.raises(InvalidArgument):
        pagination.decode("%%%not-base64", query)


def test_page_size_bounds() -> None:
    assert pagination.page_size(0) == pagination.DEFAULT_PAGE_SIZE
    assert pagination.page_size(10_000) == pagination.MAX_PAGE_SIZE
    with pytest.raises(InvalidArgument):
        pagination.page_size(-1)


def test_etag_changes_with_version_and_stale_is_aborted() -> None:
    a, b = etag.make("groups/1", 1), etag.make("groups/1", 2)
    assert a != b
    etag.check("", "groups/1", 2)  # no precondition
    etag.check(b, "groups/1", 2)
    with pytest.raises(EtagMismatch):
        etag.check(a, "groups/1", 2)
