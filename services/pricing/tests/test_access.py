"""Who may call pricing's internal RPCs: admins (listed or in the Cognito group) and service identities."""

from __future__ import annotations

from libs.auth.caller import Caller, is_internal
from services.pricing.servicer import is_admin


def test_admins_are_listed_users_or_members_of_the_admin_group() -> None:
    assert is_admin(Caller("u1", "t"), {"u1"})
    assert is_admin(Caller("u2", "t", {"cognito:groups": ["hisaab-admins"]}), set())
    assert not is_admin(Caller("u2", "t", {"cognito:groups": ["testers"]}), {"u1"})
    assert not is_admin(Caller("u2", "t", {"cognito:groups": "hisaab-admins"}), set())  # must be a list


def test_only_tokens_with_the_internal_scope_are_service_identities() -> None:
    assert is_internal(Caller("service:notification", "t", {"scope": "hisaab/internal"}))
    assert is_internal(Caller("client", "t", {"scope": "openid hisaab/internal"}))
    assert not is_internal(Caller("u1", "t", {"scope": "aws.cognito.signin.user.admin"}))
    assert not is_internal(Caller("u1", "t", {"scope": "hisaab/internal-ish"}))
    assert not is_internal(Caller("u1", "t"))
