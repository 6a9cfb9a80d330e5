"""Split presets through Envoy: CRUD, a preset or the group default giving an expense its split,
and a preset that names someone who left being refused rather than quietly re-split."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.support import Api, Session

pytestmark = pytest.mark.e2e


def group_of(api: Api, owner: Session, *others: Session) -> str:
    made = api.call("POST", "/v1/groups", owner, json={"displayName": "Flat 4B", "kind": "HOME"})
    assert made.status_code == 200, made.text
    name = str(made.json()["name"])
    link = api.call("POST", f"/v1/{name}/inviteLinks", owner, json={}).json()
    for other in others:
        assert api.call("POST", "/v1/groups:join", other, json={"token": link["token"]}).status_code == 200
    return name


def expense_body(payer: Session, amount: int, **extra: Any) -> dict[str, Any]:
    return {
        "description": "Electricity",
        "transactionDate": {"year": 2026, "month": 10, "day": 3},
        "total": {"currencyCode": "INR", "amountMinor": str(amount)},
        "payers": [{"user": f"users/{payer.user_id}", "paidMinor": str(amount)}],
        **extra,
    }


def default_body(group: str, payer: Session, amount: int) -> dict[str, Any]:
    return expense_body(payer, amount, splitPreset=f"{group}/splitPresets/default")


def owed(expense: dict[str, Any]) -> dict[str, int]:
    return {s["user"].removeprefix("users/"): int(s.get("owedMinor", "0")) for s in expense["shares"]}


def test_presets_give_expenses_their_split(api: Api) -> None:
    asha, ravi, meera = api.sign_in(), api.sign_in(), api.sign_in()
    group = group_of(api, asha, ravi, meera)

    # An expense without a split or a preset names the missing field, and so does asking
    # for the default before the group has one.
    bare = api.call("POST", f"/v1/{group}/expenses", asha, json=expense_body(asha, 1000))
    assert bare.status_code == 400, bare.text
    assert "expense.split" in bare.text
    no_default = expense_body(asha, 1000, splitPreset=f"{group}/splitPresets/default")
    refused = api.call("POST", f"/v1/{group}/expenses", asha, json=no_default)
    assert refused.status_code == 400 and "expense.split: is required" in refused.text

    rooms = {
        "displayName": "Rent by room",
        "mode": "SHARES",
        "entries": [
            {"user": f"users/{asha.user_id}", "value": "2"},
            {"user": f"users/{ravi.user_id}", "value": "1"},
            {"user": f"users/{meera.user_id}", "value": "1"},
        ],
        "isDefault": True,
    }
    request_id = str(uuid.uuid4())
    created = api.call("POST", f"/v1/{group}/splitPresets?requestId={request_id}", asha, json=rooms)
    assert created.status_code == 200, created.text
    preset = created.json()
    assert preset["isDefault"] is True and preset["valid"] is True
    again = api.call("POST", f"/v1/{group}/splitPresets?requestId={request_id}", asha, json=rooms)
    assert again.json()["name"] == preset["name"]

    pair = {
        "displayName": "Asha and Ravi",
        "mode": "PERCENT",
        "entries": [
            {"user": f"users/{asha.user_id}", "value": "7000"},
            {"user": f"users/{ravi.user_id}", "value": "3000"},
        ],
    }
    second = api.call("POST", f"/v1/{group}/splitPresets", ravi, json=pair)
    assert second.status_code == 200, second.text
    listed = api.call("GET", f"/v1/{group}/splitPresets", meera).json()["splitPresets"]
    assert [p["displayName"] for p in listed] == ["Rent by room", "Asha and Ravi"]

    # The default applies when asked for by name, as does any other preset; without either a
    # split or a preset nothing is assumed (a misspelt split is dropped by the gateway).
    by_default = api.call("POST", f"/v1/{group}/expenses", asha, json=default_body(group, asha, 1001))
    assert by_default.status_code == 200, by_default.text
    shares = owed(by_default.json())
    assert sum(shares.values()) == 1001 and shares[asha.user_id] in (500, 501)
    assert by_default.json()["split"]["shares"]["entries"][0]["shares"] == 2

    named = expense_body(asha, 1000, splitPreset=second.json()["name"])
    by_name = api.call("POST", f"/v1/{group}/expenses", asha, json=named)
    assert by_name.status_code == 200, by_name.text
    assert owed(by_name.json()) == {asha.user_id: 700, ravi.user_id: 300}

    both = expense_body(
        asha,
        1000,
        splitPreset=second.json()["name"],
        split={"equal": {"participants": [f"users/{asha.user_id}"]}},
    )
    refused = api.call("POST", f"/v1/{group}/expenses", asha, json=both)
    assert refused.status_code == 400 and "expense.splitPreset" in refused.text

    # Bad presets name their field.
    bad = dict(pair, entries=[{"user": f"users/{asha.user_id}", "value": "9000"}])
    wrong = api.call("POST", f"/v1/{group}/splitPresets", asha, json=bad)
    assert wrong.status_code == 400 and "splitPreset.entries.value" in wrong.text
    stranger = api.sign_in()
    outsider = dict(pair, entries=[{"user": f"users/{stranger.user_id}", "value": "10000"}])
    wrong = api.call("POST", f"/v1/{group}/splitPresets", asha, json=outsider)
    assert wrong.status_code == 400 and "splitPreset.entries[0].user" in wrong.text
    assert api.call("GET", f"/v1/{group}/splitPresets", stranger).status_code == 404

    # A stale etag is refused; the current one moves the default.
    stale = api.call(
        "PATCH",
        f"/v1/{second.json()['name']}?updateMask=isDefault",
        asha,
        json={"isDefault": True, "etag": preset["etag"]},
    )
    assert stale.status_code == 409, stale.text
    moved = api.call(
        "PATCH",
        f"/v1/{second.json()['name']}?updateMask=isDefault",
        asha,
        json={"isDefault": True, "etag": second.json()["etag"]},
    )
    assert moved.status_code == 200, moved.text
    default = api.call("GET", f"/v1/{group}/splitPresets/default", asha).json()
    assert default["name"] == second.json()["name"]
    assert api.call("GET", f"/v1/{preset['name']}", asha).json()["isDefault"] is False


def test_a_preset_naming_someone_who_left_is_refused(api: Api) -> None:
    asha, ravi, meera = api.sign_in(), api.sign_in(), api.sign_in()
    group = group_of(api, asha, ravi, meera)
    trio = {
        "displayName": "Everyone",
        "mode": "EQUAL",
        "entries": [{"user": f"users/{u.user_id}"} for u in (asha, ravi, meera)],
        "isDefault": True,
    }
    created = api.call("POST", f"/v1/{group}/splitPresets", asha, json=trio)
    assert created.status_code == 200, created.text

    assert api.call("POST", f"/v1/{group}:leave", meera, json={}).status_code == 200
    preset = api.call("GET", f"/v1/{created.json()['name']}", asha).json()
    assert preset["valid"] is False and preset["departedUsers"] == [f"users/{meera.user_id}"]

    refused = api.call("POST", f"/v1/{group}/expenses", asha, json=default_body(group, asha, 900))
    assert refused.status_code == 400 or refused.status_code == 412, refused.text
    assert meera.user_id in refused.text and "split_preset" in refused.text

    # Fixed by an update that names the current members; nothing was half-written before.
    entries = [{"user": f"users/{u.user_id}"} for u in (asha, ravi)]
    fixed = api.call(
        "PATCH",
        f"/v1/{created.json()['name']}?updateMask=entries",
        asha,
        json={"entries": entries, "etag": preset["etag"]},
    )
    assert fixed.status_code == 200 and fixed.json()["valid"] is True
    listed = api.call("GET", f"/v1/{group}/expenses", asha).json().get("expenses", [])
    assert listed == []
    ok = api.call("POST", f"/v1/{group}/expenses", asha, json=default_body(group, asha, 900))
    assert ok.status_code == 200, ok.text
    assert owed(ok.json()) == {asha.user_id: 450, ravi.user_id: 450}

    deleted = api.call("DELETE", f"/v1/{created.json()['name']}", asha)
    assert deleted.status_code == 200, deleted.text
    assert api.call("GET", f"/v1/{group}/splitPresets/default", asha).status_code == 404
