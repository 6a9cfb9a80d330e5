"""Who may call pricing's internal RPCs: admins (listed or in the Cognito group) and service identities."""

from __future__ import annotations

from libs.auth.caller import Caller, has_internal_scope, is_internal
from services.pricing.servicer import is_admin


def test_admins_are_listed_users_or_members_of_the_admin_group() -> None:
    assert is_admin(Caller("u1", "t"), {"u1"})
    assert is_admin(Caller("u2", "t", {"cognito:groups": ["hisaab-admins"]}), set())
    assert not is_admin(Caller("u2", "t", {"cognito:groups": ["testers"]}), {"u1"})
    assert not is_admin(Caller("u2", "t", {"cognito:groups": "hisaab-admins"}), set())  # must be a list


def test_only_verified_service_identities_are_internal() -> None:
    assert has_internal_scope({"scope": "openid hisaab/internal"})
    assert not has_internal_scope({"scope": "hisaab/internal-ish"})
    # The verifier names the service only for an internal-scope token of a service client.
    assert is_internal(
        Caller("service:notification", "t", {"scope": "hisaab/internal"}, service="notification")
    )
    assert not is_internal(Caller("u1", "t", {"scope": "hisaab/internal"}))
    assert not is_internal(Caller("u1", "t", via="expense"))  # a user relayed by a service is still a user
    assert not is_internal(Caller("u1", "t"))
