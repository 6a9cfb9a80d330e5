"""Receipt scanning end to end through Envoy on the real stack: upload a photo to S3, scan it
(the worker reads it off the queue), poll the draft, assign items to three people, create the
itemized expense, and check balances; plus the free monthly quota and bad requests."""

from __future__ import annotations

import random
import time
import uuid
from datetime import date
from typing import Any

import httpx
import pytest

from libs import clock
from tests.support import Api, Session, paid_by_one
from tools.bench.receipts import Label, LabelItem, Style, font_files, render

pytestmark = pytest.mark.e2e

SCAN_DEADLINE_SECONDS = 90


def indian_dinner() -> Label:
    label = Label(merchant="SPICE GARDEN", day=date(2026, 11, 14), currency="INR")
    label.items = [
        LabelItem("Paneer Tikka", 2, 25000, 50000),
        LabelItem("Butter Naan", 4, 4500, 18000),
        LabelItem("Dal Makhani", 1, 132050, 132050),
    ]
    base = label.subtotal_minor  # 200050
    label.taxes = [
        ("SERVICE_CHARGE", "Service Charge 5%", 10003),
        ("CGST", "CGST @ 2.5%", 5001),
        ("SGST", "SGST @ 2.5%", 5001),
    ]
    label.total_minor = base + 20005
    return label


def photo(label: Label, *, indian_grouping: bool = True) -> bytes:
    style = Style(
        font=font_files()[0],
        size=20,
        width=600,
        layout="table",
        indian_grouping=indian_grouping,
        comma_decimal=False,
        rupee_sign=False,
        angle=1.2,
        noise=8,
        blur=False,
        quality=85,
    )
    return render(label, style, random.Random(16))


def group_of(api: Api, owner: Session, *others: Session) -> str:
    made = api.call("POST", "/v1/groups", owner, json={"displayName": "Dinner club", "kind": "OTHER"})
    name = str(made.json()["name"])
    link = api.call("POST", f"/v1/{name}/inviteLinks", owner, json={}).json()
    for other in others:
        assert api.call("POST", "/v1/groups:join", other, json={"token": link["token"]}).status_code == 200
    return name


def upload(api: Api, who: Session, group: str, image: bytes) -> str:
    policy = api.call(
        "POST",
        f"/v1/{group}/receiptScans:createUpload",
        who,
        json={"contentType": "image/jpeg", "sizeBytes": len(image)},
    )
    assert policy.status_code == 200, policy.text
    post = policy.json()
    sent = httpx.post(
        post["url"], data=post["fields"], files={"file": ("r.jpg", image, "image/jpeg")}, timeout=20
    )
    assert sent.status_code in (200, 201, 204), sent.text
    return str(post["key"])


def scan(api: Api, who: Session, group: str, key: str) -> httpx.Response:
    return api.call(
        "POST",
        f"/v1/{group}/receiptScans:scan",
        who,
        json={"key": key, "currencyCode": "INR"},
        params={"requestId": str(uuid.uuid4())},
    )


def finished(api: Api, who: Session, name: str) -> dict[str, Any]:
    deadline = time.monotonic() + SCAN_DEADLINE_SECONDS
    while time.monotonic() < deadline:
        got = api.call("GET", f"/v1/{name}", who)
        assert got.status_code == 200, got.text
        if got.json()["state"] in ("SUCCEEDED", "FAILED"):
            return dict(got.json())
        time.sleep(0.2)
    raise AssertionError(f"scan {name} did not finish in {SCAN_DEADLINE_SECONDS} s")


def test_photo_to_draft_to_itemized_expense_for_three(api: Api) -> None:
    asha, ravi, meera = api.sign_in(), api.sign_in(), api.sign_in()
    api.buy_pro(asha)
    group = group_of(api, asha, ravi, meera)
    label = indian_dinner()
    key = upload(api, asha, group, photo(label))

    started = scan(api, asha, group, key)
    assert started.status_code == 200, started.text
    assert started.json()["state"] == "PENDING"
    done = finished(api, ravi, started.json()["name"])  # any member may look
    assert done["state"] == "SUCCEEDED", done
    draft = done["draft"]
    assert draft["currencyCode"] == "INR"
    assert draft["date"] == {"year": 2026, "month": 11, "day": 14}
    assert [int(i["amount"]["amountMinor"]) for i in draft["items"]] == [50000, 18000, 132050]
    assert draft["items"][0]["quantity"] == "2"
    assert int(draft["items"][0]["unitPrice"]["amountMinor"]) == 25000
    kinds = {t["kind"]: int(t["amount"]["amountMinor"]) for t in draft["taxes"]}
    assert kinds == {"SERVICE_CHARGE": 10003, "CGST": 5001, "SGST": 5001}
    assert int(draft["totalDue"]["money"]["amountMinor"]) == label.total_minor
    assert draft["reconciliation"]["balanced"] is True
    assert all(0 < i["confidencePercent"] <= 100 for i in draft["items"])

    users = [f"users/{p.user_id}" for p in (asha, ravi, meera)]
    body: dict[str, Any] = {
        "assignments": [
            {"item": 0, "participants": [users[0]]},
            {"item": 1, "participants": [users[1], users[2]]},
            {"item": 2, "participants": users},
        ],
        "payers": [{"user": users[0], "paidMinor": str(label.total_minor)}],
        "category": "FOOD",
    }
    outsider = {
        **body,
        "assignments": [*body["assignments"][:2], {"item": 2, "participants": ["users/nobody"]}],
    }
    refused = api.call("POST", f"/v1/{done['name']}:createExpense", asha, json=outsider)
    assert refused.status_code == 400 and "assignments[2].participants[0]" in refused.text, refused.text
    rid = str(uuid.uuid4())
    made = api.call("POST", f"/v1/{done['name']}:createExpense", asha, json=body, params={"requestId": rid})
    assert made.status_code == 200, made.text
    expense = made.json()
    assert expense["description"] == draft["merchant"]
    assert int(expense["total"]["amountMinor"]) == label.total_minor
    assert expense["receipt"]["hasReceipt"] is True
    itemized = expense["split"]["itemized"]
    assert int(itemized["taxMinor"]) == 20005 and len(itemized["items"]) == 3
    owed = {s["user"]: int(s.get("owedMinor", "0")) for s in expense["shares"]}
    assert sum(owed.values()) == label.total_minor
    # Asha has 50000 + 132050/3 of the items, Ravi and Meera 9000 + 132050/3 each; the
    # 200.05 of service charge and GST (10% of the items) follows those shares.
    expected = {users[0]: 103418.33, users[1]: 58318.33, users[2]: 58318.33}
    assert all(abs(owed[u] - expected[u]) < 2 for u in users), owed

    again = api.call("POST", f"/v1/{done['name']}:createExpense", asha, json=body, params={"requestId": rid})
    assert again.json()["name"] == expense["name"]
    twice = api.call("POST", f"/v1/{done['name']}:createExpense", asha, json=body)
    assert twice.status_code == 400 and expense["name"] in twice.text
    assert api.call("GET", f"/v1/{done['name']}", asha).json()["expense"] == expense["name"]

    balances = api.call("GET", f"/v1/{group}/balances", meera)
    assert balances.status_code == 200, balances.text
    text = balances.text
    assert str(label.total_minor - owed[users[0]]) in text

    # The receipt stays viewable through the expense.
    link = api.call("GET", f"/v1/{expense['name']}:receiptUrl", meera)
    assert link.status_code == 200 and httpx.get(link.json()["url"], timeout=10).content[:2] == b"\xff\xd8"


def test_scan_requests_are_checked(api: Api) -> None:
    asha, stranger = api.sign_in(), api.sign_in()
    group = group_of(api, asha)
    wrong_type = api.call(
        "POST",
        f"/v1/{group}/receiptScans:createUpload",
        asha,
        json={"contentType": "application/pdf", "sizeBytes": 9},
    )
    assert wrong_type.status_code == 400 and "contentType" in wrong_type.text
    missing = api.call(
        "POST", f"/v1/{group}/receiptScans:scan", asha, json={"key": f"receipts/{group[7:]}/scans/x.jpg"}
    )
    assert missing.status_code == 400, missing.text
    foreign = api.call(
        "POST", f"/v1/{group}/receiptScans:scan", asha, json={"key": "receipts/other/scans/x.jpg"}
    )
    assert foreign.status_code == 400 and "key" in foreign.text
    assert (
        api.call(
            "POST",
            f"/v1/{group}/receiptScans:createUpload",
            stranger,
            json={"contentType": "image/png", "sizeBytes": 9},
        ).status_code
        == 404
    )


def test_a_receipt_that_does_not_add_up_is_shown_not_fixed(api: Api) -> None:
    asha, ravi = api.sign_in(), api.sign_in()
    api.buy_pro(asha)
    api.buy_pro(ravi)
    group = group_of(api, asha, ravi)
    label = indian_dinner()
    label.total_minor += 1000  # the printed total is ten rupees more than the lines
    image = photo(label, indian_grouping=False)
    # This time the photo is the receipt of an expense already added.
    body = paid_by_one(asha.user_id, [asha.user_id, ravi.user_id], label.total_minor)
    expense = api.call("POST", f"/v1/{group}/expenses", asha, json=body).json()["name"]
    policy = api.call(
        "POST",
        f"/v1/{expense}:createReceiptUpload",
        asha,
        json={"contentType": "image/jpeg", "sizeBytes": len(image)},
    ).json()
    files = {"file": ("r.jpg", image, "image/jpeg")}
    assert httpx.post(policy["url"], data=policy["fields"], files=files, timeout=20).status_code < 300
    assert (
        api.call("POST", f"/v1/{expense}:attachReceipt", asha, json={"key": policy["key"]}).status_code == 200
    )
    started = api.call("POST", f"/v1/{group}/receiptScans:scan", ravi, json={"expense": expense})
    assert started.status_code == 200, started.text
    assert started.json()["sourceExpense"] == expense
    done = finished(api, asha, started.json()["name"])
    verdict = done["draft"]["reconciliation"]
    assert verdict["balanced"] is False and int(verdict.get("differenceMinor", "0")) == 1000
    assert int(done["draft"]["totalDue"]["money"]["amountMinor"]) == label.total_minor
    body = {
        "assignments": [{"item": i, "participants": [f"users/{asha.user_id}"]} for i in range(3)],
        "payers": [{"user": f"users/{asha.user_id}", "paidMinor": str(label.total_minor)}],
    }
    refused = api.call("POST", f"/v1/{done['name']}:createExpense", asha, json=body)
    assert refused.status_code == 400 and "does not add up" in refused.text


@pytest.mark.clock
def test_free_users_get_a_few_scans_a_month(api: Api) -> None:
    limit = int(
        next(
            q for q in api.call("GET", "/v1/quotas").json()["quotas"] if q["key"] == "receipt_scans_per_month"
        )["limit"]
    )
    for _ in range(2):  # a second try only if the business month turned during the first
        month = clock.business_today().strftime("%Y-%m")
        ravi = api.sign_in()
        group = group_of(api, ravi)
        key = upload(api, ravi, group, photo(indian_dinner()))
        answers = [scan(api, ravi, group, key).status_code for _ in range(limit + 1)]
        if clock.business_today().strftime("%Y-%m") == month:
            break
    assert answers == [200] * limit + [429], answers
