"""Receipts through pre-signed S3 URLs, CSV/PDF exports built in the background, and the Splitwise import."""

from __future__ import annotations

import csv
import io
import time
from datetime import date
from typing import Any

import httpx
import pytest
from pypdf import PdfReader

from tests.support import Api, Session, paid_by_one

pytestmark = pytest.mark.e2e


def group_of(api: Api, owner: Session, *others: Session) -> str:
    name = api.call("POST", "/v1/groups", owner, json={"displayName": "Goa trip", "kind": "TRIP"}).json()[
        "name"
    ]
    link = api.call("POST", f"/v1/{name}/inviteLinks", owner, json={}).json()
    for other in others:
        assert api.call("POST", "/v1/groups:join", other, json={"token": link["token"]}).status_code == 200
    return str(name)


def expense(
    api: Api, who: Session, group: str, users: list[str], amount: int, description: str
) -> dict[str, Any]:
    body = paid_by_one(who.user_id, users, amount, description=description, day=date(2026, 3, 1))
    created = api.call("POST", f"/v1/{group}/expenses", who, json=body)
    assert created.status_code == 200, created.text
    return dict(created.json())


def test_receipt_upload_attach_and_download(api: Api) -> None:
    asha, ravi, stranger = api.sign_in(), api.sign_in(), api.sign_in()
    api.buy_pro(asha)
    group = group_of(api, asha, ravi)
    exp = expense(api, asha, group, [asha.user_id, ravi.user_id], 90000, "Dinner")

    upload = api.call(
        "POST",
        f"/v1/{exp['name']}:createReceiptUpload",
        asha,
        json={"contentType": "image/jpeg", "sizeBytes": 5},
    )
    assert upload.status_code == 200, upload.text
    post = upload.json()
    photo = b"\xff\xd8\xff\xe0!"
    sent = httpx.post(
        post["url"], data=post["fields"], files={"file": ("r.jpg", photo, "image/jpeg")}, timeout=10
    )
    assert sent.status_code in (200, 201, 204), sent.text

    attached = api.call("POST", f"/v1/{exp['name']}:attachReceipt", asha, json={"key": post["key"]})
    assert attached.status_code == 200, attached.text
    assert attached.json()["receipt"]["hasReceipt"] is True

    # The other member (no pack needed to look) opens it through a short-lived URL.
    link = api.call("GET", f"/v1/{exp['name']}:receiptUrl", ravi)
    assert link.status_code == 200, link.text
    assert httpx.get(link.json()["url"], timeout=10).content == photo

    for path in (f"/v1/{exp['name']}:receiptUrl",):
        assert api.call("GET", path, stranger).status_code == 404
    refused = api.call(
        "POST",
        f"/v1/{exp['name']}:createReceiptUpload",
        stranger,
        json={"contentType": "image/png", "sizeBytes": 5},
    )
    assert refused.status_code in (403, 404)
    # Without the receipts feature the member is told which pack unlocks it.
    gated = api.call(
        "POST",
        f"/v1/{exp['name']}:createReceiptUpload",
        ravi,
        json={"contentType": "image/png", "sizeBytes": 5},
    )
    assert gated.status_code == 403
    bad_type = api.call(
        "POST",
        f"/v1/{exp['name']}:createReceiptUpload",
        asha,
        json={"contentType": "image/gif", "sizeBytes": 5},
    )
    assert bad_type.status_code == 400 and "contentType" in bad_type.json()["message"]


def _wait_export(api: Api, who: Session, name: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        got = api.call("GET", f"/v1/{name}", who).json()
        if got["state"] in ("SUCCEEDED", "FAILED"):
            return dict(got)
        time.sleep(0.2)
    raise AssertionError("export did not finish")


def test_csv_export_round_trips_the_balances(api: Api) -> None:
    asha, ravi = api.sign_in(), api.sign_in()
    api.buy_pro(asha)
    api.call("PATCH", "/v1/users/me?updateMask=displayName", asha, json={"displayName": "Asha"})
    api.call("PATCH", "/v1/users/me?updateMask=displayName", ravi, json={"displayName": "Ravi"})
    group = group_of(api, asha, ravi)
    expense(api, asha, group, [asha.user_id, ravi.user_id], 90001, "Dinner, beach shack")
    expense(api, ravi, group, [asha.user_id, ravi.user_id], 3000, "Ferry")

    started = api.call("POST", f"/v1/{group}:exportCsv", asha, json={})
    assert started.status_code == 200, started.text
    done = _wait_export(api, asha, started.json()["name"])
    assert done["state"] == "SUCCEEDED", done
    rows = list(csv.reader(io.StringIO(httpx.get(done["downloadUrl"], timeout=10).text)))
    header = rows[0]
    assert header[:7] == ["Date", "Type", "Description", "Category", "Currency", "Total", "Paid by"]
    assert {"Asha", "Ravi"} <= set(header[7:])
    assert any(r[2] == "Dinner, beach shack" and r[5] == "900.01" for r in rows[1:])
    balance = next(r for r in rows if r[1] == "balance")
    from_csv = {header[i]: balance[i] for i in range(7, len(header))}
    # The requester hears about it in their inbox, with a link that works.
    deadline = time.monotonic() + 30
    ready: list[dict[str, Any]] = []
    while not ready and time.monotonic() < deadline:
        inbox = api.call("GET", "/v1/users/me/notifications", asha).json().get("notifications", [])
        ready = [n for n in inbox if n["eventType"] == "EXPORT_READY"]
        time.sleep(0.3)
    assert ready, "no export notification"
    assert not [
        n
        for n in api.call("GET", "/v1/users/me/notifications", ravi).json().get("notifications", [])
        if n["eventType"] == "EXPORT_READY"
    ]
    nets = inr_nets(api, asha, group)
    assert from_csv["Asha"] == f"{nets[asha.user_id] // 100}.{nets[asha.user_id] % 100:02d}"
    assert nets[asha.user_id] + nets[ravi.user_id] == 0
    assert nets[asha.user_id] in (43500, 43501)  # paid 900.01, owes half of it; Ravi paid 30.00


def test_pdf_export_is_gated_and_shows_balances(api: Api) -> None:
    asha, ravi = api.sign_in(), api.sign_in()
    api.call("PATCH", "/v1/users/me?updateMask=displayName", asha, json={"displayName": "Asha"})
    group = group_of(api, asha, ravi)
    expense(api, asha, group, [asha.user_id, ravi.user_id], 50000, "Hotel")
    gated = api.call("POST", f"/v1/{group}:exportPdf", asha, json={})
    assert gated.status_code == 403
    api.buy_pro(asha)
    started = api.call("POST", f"/v1/{group}:exportPdf", asha, json={})
    assert started.status_code == 200, started.text
    done = _wait_export(api, asha, started.json()["name"])
    assert done["state"] == "SUCCEEDED", done
    pdf = PdfReader(io.BytesIO(httpx.get(done["downloadUrl"], timeout=10).content))
    text = "\n".join(page.extract_text() for page in pdf.pages)
    assert "Goa trip" in text and "Balances" in text and "Asha" in text and "250.00" in text


SPLITWISE = """Date,Description,Category,Cost,Currency,Asha S,Ravi K,Meera
2026-03-01,Dinner,Dining out,900.00,INR,600.00,-300.00,-300.00
2026-03-02,Hotel,Hotel,3000.00,INR,-1000.00,1500.00,-500.00
2026-03-03,Ravi paid Asha,Payment,300.00,INR,-300.00,300.00,0.00
2026-03-04,Broken,General,abc,INR,1.00,-1.00,0.00

2026-03-06,Total balance, , ,INR,-700.00,1500.00,-800.00
"""


def test_splitwise_import_matches_its_balances_and_is_idempotent(api: Api) -> None:
    asha, ravi, meera = api.sign_in(), api.sign_in(), api.sign_in()
    group = group_of(api, asha, ravi, meera)
    mapping = {"Asha S": f"users/{asha.user_id}", "Ravi K": f"users/{ravi.user_id}"}
    partial = api.call(
        "POST",
        f"/v1/{group}:importSplitwiseCsv",
        asha,
        json={"csvContent": SPLITWISE, "memberMapping": mapping},
    )
    assert partial.status_code == 200, partial.text
    assert partial.json()["unmappedColumns"] == ["Meera"] and partial.json()["createdExpenseCount"] == 0

    mapping["Meera"] = f"users/{meera.user_id}"
    body = {"csvContent": SPLITWISE, "memberMapping": mapping}
    report = api.call("POST", f"/v1/{group}:importSplitwiseCsv", asha, json=body)
    assert report.status_code == 200, report.text
    got = report.json()
    assert (got["createdExpenseCount"], got["createdSettlementCount"]) == (2, 1)
    assert [s["line"] for s in got["skippedRows"]] == [5]

    expected = {asha.user_id: -70000, ravi.user_id: 150000, meera.user_id: -80000}
    assert inr_nets(api, asha, group) == expected

    again = api.call("POST", f"/v1/{group}:importSplitwiseCsv", asha, json=body).json()
    assert again["createdExpenseCount"] == 0 and again["createdSettlementCount"] == 0
    assert inr_nets(api, asha, group) == expected


def inr_nets(api: Api, who: Session, group: str) -> dict[str, int]:
    members = api.call("GET", f"/v1/{group}/balances", who).json()["members"]
    return {
        m["user"].removeprefix("users/"): int(n["amountMinor"])
        for m in members
        for n in m["net"]
        if n["currencyCode"] == "INR"
    }
