"""Receipt pre-signing, CSV/PDF rendering and the Splitwise reader, each on its own."""

from __future__ import annotations

import base64
import csv
import io
import json
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from pypdf import PdfReader

from libs.errors import FailedPrecondition, InvalidArgument
from libs.ledger.postings import nets
from libs.money_format import format_number
from services.expense.files import csv_export, pdf_export, receipts, splitwise_import
from services.expense.files.report_data import ExportData, ExportLine
from tools.devstack.stack import Stack

BUCKET = "hisaab-receipts-test"


@pytest.fixture
def s3(stack: Stack) -> Any:
    # The stack's emulator, not moto's in-process mock: the mock resets the global state
    # the stack's emulator shares with this process.
    assert stack.aws is not None
    env = stack.aws.env
    client = boto3.client(
        "s3",
        endpoint_url=stack.aws.endpoint_url,
        region_name="ap-south-1",
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )
    if BUCKET not in {b["Name"] for b in client.list_buckets()["Buckets"]}:
        client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "ap-south-1"})
    return client


def test_upload_policy_pins_prefix_type_size_and_expiry(s3: Any) -> None:
    now = datetime.now(UTC)
    upload = receipts.ReceiptStore(s3, BUCKET).presign_upload("g1", "e1", "image/jpeg", 2048)
    assert upload.key.startswith("receipts/g1/e1/") and upload.key.endswith(".jpg")
    policy = json.loads(base64.b64decode(upload.fields["policy"]))
    conditions = policy["conditions"]
    assert ["content-length-range", 1, 10 * 1024 * 1024] in conditions
    assert ["starts-with", "$key", "receipts/g1/e1/"] in conditions
    assert {"Content-Type": "image/jpeg"} in conditions
    expiry = datetime.fromisoformat(policy["expiration"])
    assert 0 < (expiry - now).total_seconds() <= 600


@pytest.mark.parametrize(
    ("content_type", "size", "field"),
    [
        ("image/gif", 10, "content_type"),
        ("image/png", 0, "size_bytes"),
        ("application/pdf", 10 * 1024 * 1024 + 1, "size_bytes"),
    ],
)
def test_upload_refuses_other_types_and_sizes(s3: Any, content_type: str, size: int, field: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        receipts.ReceiptStore(s3, BUCKET).presign_upload("g1", "e1", content_type, size)
    assert err.value.field == field


def test_confirm_checks_the_object_and_its_key(s3: Any) -> None:
    store = receipts.ReceiptStore(s3, BUCKET)
    upload = store.presign_upload("g1", "e1", "image/png", 4)
    with pytest.raises(FailedPrecondition):
        store.confirm("g1", "e1", upload.key)  # not uploaded yet
    s3.put_object(Bucket=BUCKET, Key=upload.key, Body=b"\x89PNG", ContentType="image/png")
    stored = store.confirm("g1", "e1", upload.key)
    assert (stored.content_type, stored.size_bytes) == ("image/png", 4)
    with pytest.raises(InvalidArgument):
        store.confirm("g1", "other-expense", upload.key)
    url, expires = store.presign_download(upload.key)
    query = parse_qs(urlsplit(url).query)
    assert query["X-Amz-Expires"] == ["300"] and (expires - datetime.now(UTC)).total_seconds() <= 300


def _data() -> ExportData:
    return ExportData(
        group_name="Goa trip",
        members=["Asha", "Ravi", "Meera"],
        lines=[
            ExportLine(
                date(2026, 3, 1),
                "expense",
                "Dinner, beach shack",
                "FOOD",
                "INR",
                90000,
                "Asha",
                {"Asha": 60000, "Ravi": -30000, "Meera": -30000},
            ),
            ExportLine(
                date(2026, 3, 2),
                "expense",
                "Ferry",
                "TRANSPORT",
                "JPY",
                3000,
                "Ravi",
                {"Ravi": 2000, "Asha": -1000, "Meera": -1000},
            ),
            ExportLine(
                date(2026, 3, 3),
                "settlement",
                "Ravi paid Asha",
                "",
                "INR",
                30000,
                "Ravi",
                {"Ravi": 30000, "Asha": -30000},
            ),
        ],
        balances={
            "INR": {"Asha": 30000, "Meera": -30000},
            "JPY": {"Ravi": 2000, "Asha": -1000, "Meera": -1000},
        },
        generated_on=date(2026, 3, 4),
    )


def test_csv_round_trips() -> None:
    rows = list(csv.reader(io.StringIO(csv_export.render(_data()).decode())))
    assert rows[0] == [*csv_export.FIXED_COLUMNS, "Asha", "Ravi", "Meera"]
    assert rows[1] == ["2026-03-01", "expense", "Dinner, beach shack", "FOOD", "INR", "900.00", "Asha",
                       "600.00", "-300.00", "-300.00"]  # fmt: skip
    assert rows[2][5] == "3000" and rows[2][7:] == ["-1000", "2000", "-1000"]  # JPY has no decimals
    balance_inr = next(r for r in rows if r[1] == "balance" and r[4] == "INR")
    assert balance_inr[7:] == ["300.00", "0.00", "-300.00"]


def test_pdf_shows_summary_and_balances() -> None:
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf_export.render(_data()))).pages)
    assert "Goa trip" in text and "Balances" in text
    assert "300.00" in text and "-300.00" in text and "Dinner, beach shack" in text
    # Written by the kit's formatter: grouped, and yen without decimals.
    assert format_number(3000, "JPY") == "3,000" and "3,000" in text and "3000.00" not in text


SPLITWISE = """Date,Description,Category,Cost,Currency,Asha,Ravi,Meera
2026-03-01,Dinner,Dining out,900.00,INR,600.00,-300.00,-300.00
2026-03-02,Hotel,Hotel,3000.00,INR,-1000.00,1500.00,-500.00
2026-03-02,Taxi split two ways,Taxi,1000.00,INR,250.00,250.00,-500.00
2026-03-03,Ravi paid Asha,Payment,300.00,INR,-300.00,300.00,0.00
2026-03-04,Broken,General,abc,INR,1.00,-1.00,0.00
2026-03-05,Does not add up,General,10.00,INR,5.00,-4.00,0.00
2026-13-01,Bad date,General,10.00,INR,5.00,-5.00,0.00

2026-03-06,Total balance, , ,INR,-450.00,1750.00,-1300.00
"""


def test_splitwise_rows_keep_every_net_and_report_the_rest() -> None:
    parsed = splitwise_import.parse(SPLITWISE)
    assert parsed.people == ["Asha", "Ravi", "Meera"]
    assert [r.kind for r in parsed.rows] == ["expense", "expense", "expense", "settlement"]
    assert [line for line, _ in parsed.skipped] == [6, 7, 8]
    file_nets = [
        {"Asha": 60000, "Ravi": -30000, "Meera": -30000},
        {"Asha": -100000, "Ravi": 150000, "Meera": -50000},
        {"Asha": 25000, "Ravi": 25000, "Meera": -50000},
        {"Asha": -30000, "Ravi": 30000},
    ]
    for row, expected in zip(parsed.rows, file_nets, strict=True):
        assert nets(row.postings) == {k: v for k, v in sorted(expected.items()) if v}
        assert sum(p.paid_minor for p in row.postings.values()) == row.total_minor
        assert sum(p.owed_minor for p in row.postings.values()) == row.total_minor
    dinner, hotel = parsed.rows[0], parsed.rows[1]
    assert dinner.total_minor == 90000 and dinner.postings["Asha"].paid_minor == 90000
    assert hotel.category == "LODGING" and dinner.category == "FOOD"
    # The balances the rows produce match Splitwise's own "Total balance" line.
    totals: dict[str, int] = {}
    for row in parsed.rows:
        for person, net in nets(row.postings).items():
            totals[person] = totals.get(person, 0) + net
    assert totals == {"Asha": -45000, "Ravi": 175000, "Meera": -130000}


def test_splitwise_ids_are_stable_and_headers_checked() -> None:
    assert [r.row_id for r in splitwise_import.parse(SPLITWISE).rows] == [
        r.row_id for r in splitwise_import.parse(SPLITWISE).rows
    ]
    with pytest.raises(splitwise_import.UnreadableFile):
        splitwise_import.parse("Name,Amount\nx,1\n")


@pytest.mark.parametrize("text", ["\u00f3\t\r\u00d2", "Date,Description\x00\n", "a\rb\r\n"])
def test_splitwise_text_that_is_not_csv_is_unreadable_not_a_crash(text: str) -> None:
    with pytest.raises(splitwise_import.UnreadableFile):
        splitwise_import.parse(text)


def test_splitwise_old_mac_line_endings_read_like_any_other() -> None:
    old_mac = SPLITWISE.replace("\n", "\r")
    assert splitwise_import.parse(old_mac).rows == splitwise_import.parse(SPLITWISE).rows


def test_splitwise_cells_that_are_not_amounts_are_reported_by_line_and_column() -> None:
    parsed = splitwise_import.parse(
        "Date,Description,Category,Cost,Currency,Asha,Ravi\n"
        "2026-03-01,Huge,General,Infinity,INR,1.00,-1.00\n"
        "2026-03-02,Odd,General,2.00,INR,abc,-2.00\n"
        "2026-03-03,Too fine,General,2.00,INR,2.005,-2.005\n"
        "2026-03-04,Yen,General,500.00,JPY,500.00,-500.00\n"
    )
    assert parsed.skipped == [
        (2, "column 'Cost': not a decimal number: 'Infinity'"),
        (3, "column 'Asha': not a decimal number: 'abc'"),
        (4, "column 'Asha': INR allows at most 2 decimal places"),
    ]
    assert [(r.line, r.total_minor) for r in parsed.rows] == [(5, 500)]
