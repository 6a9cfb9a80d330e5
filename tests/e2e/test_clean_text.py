"""Names, descriptions and an expense's note through REST: bidi and control characters are refused
naming the field; line breaks stay where a field is multi-line."""

from __future__ import annotations

import pytest

from tests.e2e.test_expense_journey import error_field as field
from tests.support import Api, paid_by_one

pytestmark = pytest.mark.e2e

SPOOF = "a\u202egnp.exe"


def test_spoofing_and_control_characters_are_refused_where_people_type(api: Api) -> None:
    asha = api.sign_in()
    group = api.call("POST", "/v1/groups", asha, json={"displayName": SPOOF, "kind": "HOME"})
    assert group.status_code == 400 and field(group) == "group.displayName", group.text
    profile = api.call(
        "PATCH",
        "/v1/users/me",
        asha,
        json={"displayName": "Asha\u009b"},
        params={"updateMask": "displayName"},
    )
    assert profile.status_code == 400 and field(profile) == "user.displayName", profile.text

    made = api.call(
        "POST", "/v1/groups", asha, json={"displayName": "Flat", "kind": "HOME", "description": "rent\nwifi"}
    )
    assert made.status_code == 200, made.text
    assert made.json()["description"] == "rent\nwifi"  # multi-line: the break stays
    name = made.json()["name"]
    body = paid_by_one(asha.user_id, [asha.user_id], 1000, description="Tea\u007f")
    expense = api.call("POST", f"/v1/{name}/expenses", asha, json=body)
    assert expense.status_code == 400 and field(expense) == "expense.description", expense.text
    ok = api.call(
        "POST",
        f"/v1/{name}/expenses",
        asha,
        json={**paid_by_one(asha.user_id, [asha.user_id], 1000), "note": "a\nb"},
    )
    assert ok.status_code == 200 and ok.json()["note"] == "a\nb", ok.text
    comment = api.call("POST", f"/v1/{ok.json()['name']}/comments", asha, json={"text": f"see {SPOOF}"})
    assert comment.status_code == 400 and field(comment) == "comment.text", comment.text
