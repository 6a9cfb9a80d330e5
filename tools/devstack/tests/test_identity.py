"""A stack identity's token is minted once and reused while fresh, like a service's own."""

from __future__ import annotations

from pathlib import Path

import jwt
import pytest

from libs.auth.caller import INTERNAL_SCOPE
from tools.devstack import identity
from tools.devstack.identity import StackIdentity


def test_the_token_is_reused_while_fresh_then_minted_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    expense = StackIdentity(tmp_path, "expense")
    first = expense.token()
    assert expense.token() is first
    claims = jwt.decode(first, options={"verify_signature": False})
    assert claims["sub"].endswith("expense") and INTERNAL_SCOPE in claims["scope"]
    monkeypatch.setattr(identity, "REUSE_SECONDS", -1.0)  # as if the minute had passed
    assert expense.token() != first
