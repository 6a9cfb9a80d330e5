"""Domain errors and their one mapping to gRPC status codes with ErrorInfo.

Use cases raise these; the server pipeline turns them into a google.rpc.Status
(with ErrorInfo, and BadRequest for field errors). Anything else becomes a bare
INTERNAL so no SQL, stack trace or library message reaches a client.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.protobuf.message import Message
from google.rpc import code_pb2, error_details_pb2, status_pb2

ERROR_DOMAIN = "hisaab.app"


class DomainError(Exception):
    code: grpc.StatusCode = grpc.StatusCode.INTERNAL
    reason: str = "INTERNAL"

    def __init__(
        self,
        message: str,
        *,
        reason: str | None = None,
        metadata: Mapping[str, str] | None = None,
        details: Sequence[Message] = (),
    ):
        super().__init__(message)
        self.message = message
        if reason:
            self.reason = reason
        self.metadata: dict[str, str] = dict(metadata or {})
        # Typed details after the ErrorInfo, for payloads a flat string map cannot carry.
        self.details: tuple[Message, ...] = tuple(details)


class InvalidArgument(DomainError):
    code = grpc.StatusCode.INVALID_ARGUMENT
    reason = "INVALID_FIELD"

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}", metadata={"field": field})
        self.field = field
        self.description = message


class Unauthenticated(DomainError):
    code = grpc.StatusCode.UNAUTHENTICATED
    reason = "TOKEN_INVALID"


class NotFound(DomainError):
    code = grpc.StatusCode.NOT_FOUND
    reason = "RESOURCE_NOT_FOUND"


class NotAllowed(DomainError):
    code = grpc.StatusCode.PERMISSION_DENIED
    reason = "NOT_ALLOWED"


class AlreadyExists(DomainError):
    code = grpc.StatusCode.ALREADY_EXISTS
    reason = "ALREADY_EXISTS"


class FailedPrecondition(DomainError):
    code = grpc.StatusCode.FAILED_PRECONDITION
    reason = "FAILED_PRECONDITION"


class EtagMismatch(DomainError):
    code = grpc.StatusCode.ABORTED
    reason = "ETAG_MISMATCH"


class RequestIdReused(DomainError):
    code = grpc.StatusCode.ALREADY_EXISTS
    reason = "REQUEST_ID_REUSED"


class ResourceExhausted(DomainError):
    code = grpc.StatusCode.RESOURCE_EXHAUSTED
    reason = "QUOTA_EXCEEDED"


class RetryLater(DomainError):
    """Refused for now (a rate limit): RESOURCE_EXHAUSTED with a RetryInfo saying when to retry."""

    code = grpc.StatusCode.RESOURCE_EXHAUSTED
    reason = "RATE_LIMITED"

    def __init__(self, message: str, retry_after_seconds: int, *, reason: str | None = None):
        super().__init__(message, reason=reason, metadata={"retry_after_seconds": str(retry_after_seconds)})
        self.retry_after_seconds = retry_after_seconds


class Unavailable(DomainError):
    code = grpc.StatusCode.UNAVAILABLE
    reason = "UNAVAILABLE"


class DeadlineExceeded(DomainError):
    """The request ran out of time (its budget, or a statement timeout); safe to retry
    with the same request_id."""

    code = grpc.StatusCode.DEADLINE_EXCEEDED
    reason = "DEADLINE_EXCEEDED"


def _pack(message: object) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)  # type: ignore[arg-type]
    return packed


def to_status(error: DomainError) -> status_pb2.Status:
    info = error_details_pb2.ErrorInfo(reason=error.reason, domain=ERROR_DOMAIN, metadata=error.metadata)
    details = [_pack(info)]
    if isinstance(error, InvalidArgument):
        violation = error_details_pb2.BadRequest.FieldViolation(
            field=error.field, description=error.description
        )
        details.append(_pack(error_details_pb2.BadRequest(field_violations=[violation])))
    if isinstance(error, RetryLater):
        delay = duration_pb2.Duration(seconds=error.retry_after_seconds)
        details.append(_pack(error_details_pb2.RetryInfo(retry_delay=delay)))
    details.extend(_pack(detail) for detail in error.details)
    return status_pb2.Status(code=error.code.value[0], message=error.message, details=details)


def internal_status() -> status_pb2.Status:
    info = error_details_pb2.ErrorInfo(reason="INTERNAL", domain=ERROR_DOMAIN)
    return status_pb2.Status(code=code_pb2.INTERNAL, message="internal error", details=[_pack(info)])
