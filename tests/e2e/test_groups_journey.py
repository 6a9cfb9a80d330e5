"""The Foundation journey over REST through Envoy: sign in, group, invite, join, and bad input."""

from __future__ import annotations

import time
import uuid

import pytest

from tests.support import Api, random_phone

pytestmark = pytest.mark.e2e


def _error(resp: object) -> dict[str, object]:
    body = resp.json()  # type: ignore[attr-defined]
    assert resp.headers["content-type"].startswith("application/json")  # type: ignore[attr-defined]
    return body  # type: ignore[no-any-return]


def _reason(body: dict[str, object]) -> str:
    for detail in body.get("details", []):  # type: ignore[attr-defined]
        if detail["@type"].endswith("google.rpc.ErrorInfo"):
            return str(detail["reason"])
    return ""


def test_sign_in_group_invite_join(api: Api) -> None:
    asha = api.sign_in()
    me = api.call("GET", "/v1/users/me", asha).json()
    assert me["phoneNumber"] == asha.phone and me["state"] == "ACTIVE"

    created = api.call(
        "POST", "/v1/groups", asha, json={"displayName": "Goa trip", "kind": "TRIP", "defaultCurrency": "INR"}
    )
    assert created.status_code == 200, created.text
    group = created.json()
    assert group["myRole"] == "OWNER" and group["memberCount"] == 1
    name = group["name"]

    # Invite by phone: the invitee has no account yet, so a placeholder member appears.
    ravi_phone = random_phone()
    invited = api.call(
        "POST", f"/v1/{name}/members", asha, json={"phoneNumber": ravi_phone, "displayName": "Ravi"}
    )
    assert invited.status_code == 200, invited.text
    assert invited.json()["state"] == "INVITED"

    # The invitee signs in for the first time and already sees the group.
    ravi = api.sign_in(ravi_phone)
    assert ravi.user_id == invited.json()["user"].removeprefix("users/")
    groups = api.call("GET", "/v1/groups", ravi).json()["groups"]
    assert [g["name"] for g in groups] == [name]
    members = api.call("GET", f"/v1/{name}/members", asha).json()["members"]
    assert {m["state"] for m in members} == {"ACTIVE"}

    # Join by link.
    link = api.call("POST", f"/v1/{name}/inviteLinks", asha, json={}).json()
    meera = api.sign_in()
    preview = api.call("GET", f"/v1/invites/{link['token']}", meera).json()
    assert preview["displayName"] == "Goa trip" and preview["alreadyMember"] is False
    joined = api.call("POST", "/v1/groups:join", meera, json={"token": link["token"]})
    assert joined.status_code == 200, joined.text
    assert joined.json()["memberCount"] == 3

    # A revoked link no longer works.
    api.call("POST", f"/v1/{link['name']}:revoke", asha, json={})
    late = api.sign_in()
    refused = api.call("POST", "/v1/groups:join", late, json={"token": link["token"]})
    assert refused.status_code == 404 and _reason(_error(refused)) == "INVITE_INVALID"

    # A non-member gets 404 for the group and never sees it listed.
    stranger = api.sign_in()
    hidden = api.call("GET", f"/v1/{name}", stranger)
    assert hidden.status_code == 404
    assert "Goa trip" not in hidden.text
    assert api.call("GET", "/v1/groups", stranger).json()["groups"] == []
    assert api.call("GET", f"/v1/{name}/members", stranger).status_code == 404


def test_create_is_idempotent_by_request_id(api: Api) -> None:
    user = api.sign_in()
    body = {"displayName": "Flat 4B", "kind": "HOME"}
    rid = str(uuid.uuid4())
    first = api.call("POST", f"/v1/groups?requestId={rid}", user, json=body)
    again = api.call("POST", f"/v1/groups?requestId={rid}", user, json=body)
    assert first.status_code == again.status_code == 200
    assert first.json()["name"] == again.json()["name"]
    assert len(api.call("GET", "/v1/groups", user).json()["groups"]) == 1
    other = api.call("POST", f"/v1/groups?requestId={rid}", user, json={**body, "displayName": "Other"})
    assert other.status_code == 409 and _reason(_error(other)) == "REQUEST_ID_REUSED"


def test_update_with_stale_etag_is_409(api: Api) -> None:
    user = api.sign_in()
    group = api.call("POST", "/v1/groups", user, json={"displayName": "Couple", "kind": "COUPLE"}).json()
    renamed = api.call(
        "PATCH",
        f"/v1/{group['name']}?updateMask=displayName",
        user,
        json={"displayName": "Us", "etag": group["etag"]},
    )
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["displayName"] == "Us"
    stale = api.call(
        "PATCH",
        f"/v1/{group['name']}?updateMask=displayName",
        user,
        json={"displayName": "X", "etag": group["etag"]},
    )
    assert stale.status_code == 409 and _reason(_error(stale)) == "ETAG_MISMATCH"
    assert api.call("GET", f"/v1/{group['name']}", user).json()["displayName"] == "Us"


def test_direct_group_is_one_per_pair(api: Api) -> None:
    a, b = api.sign_in(), api.sign_in()
    first = api.call("POST", "/v1/groups:openDirect", a, json={"phoneNumber": b.phone})
    second = api.call("POST", "/v1/groups:openDirect", b, json={"user": f"users/{a.user_id}"})
    assert first.status_code == second.status_code == 200
    assert first.json()["name"] == second.json()["name"]
    assert first.json()["kind"] == "DIRECT" and first.json()["memberCount"] == 2
    add = api.call("POST", f"/v1/{first.json()['name']}/members", a, json={"phoneNumber": random_phone()})
    assert add.status_code == 400


def test_bad_input_gets_json_errors_and_changes_nothing(api: Api) -> None:
    user = api.sign_in()

    malformed = api.call(
        "POST", "/v1/groups", user, content=b'{"displayName": ', headers={"content-type": "application/json"}
    )
    assert malformed.status_code == 400 and "message" in _error(malformed)

    bad_phone = api.call("POST", "/v1/auth:startSignIn", json={"phoneNumber": "12345"})
    assert bad_phone.status_code == 400
    body = _error(bad_phone)
    assert _reason(body) == "INVALID_FIELD" and "phoneNumber" in str(body["message"])

    long_name = api.call("POST", "/v1/groups", user, json={"displayName": "x" * 101, "kind": "TRIP"})
    assert long_name.status_code == 400 and "group.displayName" in str(_error(long_name)["message"])

    no_kind = api.call("POST", "/v1/groups", user, json={"displayName": "Trip"})
    assert no_kind.status_code == 400 and "group.kind" in str(_error(no_kind)["message"])

    missing = api.call("GET", "/v1/groups")
    assert missing.status_code == 401 and _reason(_error(missing)) == "TOKEN_INVALID"

    issuer_key_expired = _expired_token(api, user.user_id)
    expired = api.call("GET", "/v1/groups", headers={"Authorization": f"Bearer {issuer_key_expired}"})
    assert expired.status_code == 401 and _reason(_error(expired)) == "TOKEN_EXPIRED"

    forged = api.call("GET", "/v1/groups", headers={"Authorization": "Bearer not.a.token"})
    assert forged.status_code == 401

    unknown_query = api.call("GET", "/v1/groups?colour=red", user)
    assert unknown_query.status_code == 400

    unknown_path = api.call("GET", "/v1/nowhere", user)
    assert unknown_path.status_code == 404 and "message" in _error(unknown_path)

    too_big = api.call(
        "POST", "/v1/groups", user, json={"displayName": "x", "kind": "TRIP", "description": "y" * 2_000_000}
    )
    assert too_big.status_code == 413

    # None of the refused requests created anything.
    assert api.call("GET", "/v1/groups", user).json()["groups"] == []


def _expired_token(api: Api, user_id: str) -> str:
    """A token signed by the real local issuer key, but expired an hour ago."""
    from libs.settings import LOCAL_CLIENT_ID, LOCAL_ISSUER
    from services.auth.providers.local import LocalIssuer

    issuer = LocalIssuer(api.stack.data_dir, issuer=LOCAL_ISSUER, client_id=LOCAL_CLIENT_ID)
    now = int(time.time())
    return issuer.mint_access_token(user_id, iat=now - 7200, exp=now - 3600, auth_time=now - 7200)


def test_otp_rules_through_rest(api: Api) -> None:
    phone = random_phone()
    started = api.call("POST", "/v1/auth:startSignIn", json={"phoneNumber": phone}).json()
    again = api.call("POST", "/v1/auth:startSignIn", json={"phoneNumber": phone})
    assert again.status_code == 429 and _reason(_error(again)) == "OTP_THROTTLED"
    for _ in range(5):
        wrong = api.call(
            "POST", "/v1/auth:verifySignIn", json={"challengeId": started["challengeId"], "code": "000000"}
        )
        assert wrong.status_code == 400 and _reason(_error(wrong)) == "OTP_INVALID"
    # After five wrong tries even the right code is refused.
    code = api.code_for(phone, 0)
    locked = api.call(
        "POST", "/v1/auth:verifySignIn", json={"challengeId": started["challengeId"], "code": code}
    )
    assert locked.status_code == 400


def test_refresh_and_sign_out(api: Api) -> None:
    user = api.sign_in()
    refreshed = api.call("POST", "/v1/auth:refresh", json={"refreshToken": user.refresh_token})
    assert refreshed.status_code == 200, refreshed.text
    token = refreshed.json()["accessToken"]
    assert api.call("GET", "/v1/users/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert api.call("POST", "/v1/auth:signOut", json={"refreshToken": user.refresh_token}).status_code == 200
    assert api.call("POST", "/v1/auth:refresh", json={"refreshToken": user.refresh_token}).status_code == 401


def test_profile_update_validates_fields(api: Api) -> None:
    user = api.sign_in()
    ok = api.call(
        "PATCH",
        "/v1/users/me?updateMask=displayName,upiVpa,defaultCurrency",
        user,
        json={"displayName": "Asha", "upiVpa": "asha@okbank", "defaultCurrency": "USD"},
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["upiVpa"] == "asha@okbank" and ok.json()["defaultCurrency"] == "USD"
    bad = api.call("PATCH", "/v1/users/me?updateMask=defaultCurrency", user, json={"defaultCurrency": "XYZ"})
    assert bad.status_code == 400 and "user.defaultCurrency" in bad.json()["message"]
    device = api.call(
        "POST", "/v1/users/me/devices", user, json={"platform": "ANDROID", "pushToken": "fcm-token-1"}
    )
    assert device.status_code == 200, device.text
    assert len(api.call("GET", "/v1/users/me/devices", user).json()["devices"]) == 1
    gone = api.call("DELETE", f"/v1/{device.json()['name'].replace(user.user_id, 'me')}", user)
    assert gone.status_code == 200
    assert api.call("GET", "/v1/users/me/devices", user).json()["devices"] == []
