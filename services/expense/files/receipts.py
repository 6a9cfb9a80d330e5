"""Receipt uploads straight to S3 with a pre-signed POST, and short-lived pre-signed GETs.

The POST policy pins the key prefix of this expense, the content type and the
size range, so the app cannot put anything else anywhere else. The policy is
enforced by S3 (the local emulator does not check it; tests decode it).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from libs.errors import FailedPrecondition, InvalidArgument

ALLOWED_TYPES = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/heic": "heic",
    "application/pdf": "pdf",
}
MAX_BYTES = 10 * 1024 * 1024
UPLOAD_TTL = timedelta(minutes=10)
DOWNLOAD_TTL = timedelta(minutes=5)


def presign_get(s3: Any, bucket: str, key: str, ttl: timedelta, now: datetime) -> tuple[str, datetime]:
    """A time-limited GET link to one object, and when it stops working."""
    url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=int(ttl.total_seconds())
    )
    return str(url), now + ttl


@dataclass(frozen=True)
class Upload:
    url: str
    fields: dict[str, str]
    key: str
    expires_at: datetime


@dataclass(frozen=True)
class StoredReceipt:
    key: str
    content_type: str
    size_bytes: int


def prefix(group_id: str, expense_id: str) -> str:
    return f"receipts/{group_id}/{expense_id}/"


def check_request(content_type: str, size_bytes: int) -> str:
    """The file extension for an allowed upload; INVALID_ARGUMENT naming the field otherwise."""
    extension = ALLOWED_TYPES.get(content_type)
    if extension is None:
        raise InvalidArgument("content_type", f"must be one of {', '.join(sorted(ALLOWED_TYPES))}")
    if not 1 <= size_bytes <= MAX_BYTES:
        raise InvalidArgument("size_bytes", f"must be between 1 byte and {MAX_BYTES} bytes")
    return extension


class ReceiptStore:
    def __init__(self, s3: Any, bucket: str, *, clock: Any = None):
        self._s3 = s3
        self._bucket = bucket
        self._now = clock or (lambda: datetime.now(UTC))

    def presign_upload(
        self, group_id: str, expense_id: str, content_type: str, size_bytes: int, *, object_id: str = ""
    ) -> Upload:
        """``object_id`` names the object (a retry with the same one gets the same key); else a new one."""
        extension = check_request(content_type, size_bytes)
        key = f"{prefix(group_id, expense_id)}{object_id or uuid.uuid4()}.{extension}"
        seconds = int(UPLOAD_TTL.total_seconds())
        post = self._s3.generate_presigned_post(
            Bucket=self._bucket,
            Key=key,
            Fields={"Content-Type": content_type},
            Conditions=[
                {"Content-Type": content_type},
                ["content-length-range", 1, MAX_BYTES],
                ["starts-with", "$key", prefix(group_id, expense_id)],
            ],
            ExpiresIn=seconds,
        )
        return Upload(
            url=post["url"],
            fields={k: str(v) for k, v in post["fields"].items()},
            key=key,
            expires_at=self._now() + UPLOAD_TTL,
        )

    def confirm(self, group_id: str, expense_id: str, key: str) -> StoredReceipt:
        """The uploaded object, after checking it is this expense's and really there."""
        if not key.startswith(prefix(group_id, expense_id)) or ".." in key:
            raise InvalidArgument("key", "is not a receipt key of this expense")
        try:
            head = self._s3.head_object(Bucket=self._bucket, Key=key)
        except self._s3.exceptions.ClientError as err:
            if err.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                raise FailedPrecondition("the receipt has not been uploaded yet") from None
            raise
        content_type = str(head.get("ContentType", ""))
        size = int(head.get("ContentLength", 0))
        if content_type not in ALLOWED_TYPES or not 1 <= size <= MAX_BYTES:
            raise FailedPrecondition("the uploaded file is not an allowed receipt")
        return StoredReceipt(key=key, content_type=content_type, size_bytes=size)

    def presign_download(self, key: str) -> tuple[str, datetime]:
        return presign_get(self._s3, self._bucket, key, DOWNLOAD_TTL, self._now())
