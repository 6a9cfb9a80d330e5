"""The OpenAPI document through Envoy: served as committed, and good enough for a generated client.

openapi-python-client turns the document the gateway serves into a typed
package in a temp dir; the journey below uses only that package: sign in, a
group, an invite by phone, an expense two people paid for, balances, simplified
debts, a settle-up and the activity feed.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.support import Api, random_phone
from tools import openapi

pytestmark = pytest.mark.e2e

PACKAGE = "hisaab_openapi_client"
GENERATOR_CONFIG = f"package_name_override: {PACKAGE}\nproject_name_override: {PACKAGE}\npost_hooks: []\n"


def test_gateway_serves_the_committed_document(api: Api) -> None:
    served = api.call("GET", openapi.SERVED_PATH)
    assert served.status_code == 200
    assert served.headers["content-type"] == "application/json"
    assert served.content == openapi.DOC.read_bytes()


@pytest.fixture(scope="module")
def client_package(api: Api, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    out = tmp_path_factory.mktemp("openapi-client")
    document = out / "openapi.json"
    served = api.call("GET", openapi.SERVED_PATH)
    assert served.status_code == 200, served.text
    document.write_bytes(served.content)
    config = out / "generator.yaml"
    config.write_text(GENERATOR_CONFIG)
    generator = Path(sys.executable).parent / "openapi-python-client"
    args = ["--path", str(document), "--config", str(config), "--meta", "none"]
    result = subprocess.run(
        [str(generator), "generate", *args, "--output-path", str(out / PACKAGE)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # Every operation made it into the client: the generator skips what it cannot type.
    assert "Warning" not in result.stdout, result.stdout
    sys.path.insert(0, str(out))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(out))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


class Typed:
    """The generated package's modules, looked up by name (it does not exist before the test runs)."""

    def __init__(self, package: ModuleType) -> None:
        self.package = package
        self.models = importlib.import_module(f"{PACKAGE}.models")

    def op(self, service: str, operation: str) -> Any:
        return importlib.import_module(f"{PACKAGE}.api.{service}.{operation}")


def _sign_in(api: Api, typed: Typed, phone: str) -> tuple[Any, str]:
    """An authenticated client for ``phone`` and the user's resource name."""
    m = typed.models
    anonymous = typed.package.Client(base_url=api.stack.rest_url)
    before = api.otp_lines()
    started = typed.op("auth_service", "start_sign_in").sync(
        client=anonymous, body=m.StartSignInBody(phone_number=phone)
    )
    assert isinstance(started, m.StartSignInResponse), started
    code = api.code_for(phone, before)
    session = typed.op("auth_service", "verify_sign_in").sync(
        client=anonymous, body=m.VerifySignInBody(challenge_id=started.challenge_id, code=code)
    )
    assert isinstance(session, m.Session), session
    authed = typed.package.AuthenticatedClient(base_url=api.stack.rest_url, token=session.access_token)
    return authed, f"users/{session.user.user_id}"


def _net(typed: Typed, client: Any, group_id: str, user: str) -> int:
    balances = typed.op("settlement_service", "get_group_balances").sync(
        group_id, client=client, currency_code="INR"
    )
    assert isinstance(balances, typed.models.GroupBalances), balances
    entry = next(b for b in balances.members if b.user == user)
    return sum(int(n.amount_minor) for n in entry.net)


def test_journey_through_the_generated_client(api: Api, client_package: ModuleType) -> None:
    typed = Typed(client_package)
    m = typed.models
    asha, asha_user = _sign_in(api, typed, random_phone())

    group = typed.op("group_service", "create_group").sync(
        client=asha,
        body=m.Group(display_name="Goa trip", kind=m.GroupKind.TRIP, default_currency="INR"),
        request_id=str(uuid.uuid4()),
    )
    assert isinstance(group, m.Group), group
    group_id = group.name.removeprefix("groups/")

    ravi_phone = random_phone()
    invited = typed.op("group_service", "add_member").sync(
        group_id, client=asha, body=m.AddMemberBody(phone_number=ravi_phone, display_name="Ravi")
    )
    assert isinstance(invited, m.Member), invited
    assert invited.state == m.MemberState.INVITED
    ravi, ravi_user = _sign_in(api, typed, ravi_phone)
    assert ravi_user == invited.user

    # ₹900 dinner: Asha paid ₹600 and Ravi ₹300, split equally.
    expense = typed.op("expense_service", "create_expense").sync(
        group_id,
        client=asha,
        request_id=str(uuid.uuid4()),
        body=m.Expense(
            description="Dinner",
            category=m.ExpenseCategory.FOOD,
            transaction_date=m.Date(year=2026, month=11, day=1),
            total=m.Money(currency_code="INR", amount_minor="90000"),
            payers=[
                m.Payer(user=asha_user, paid_minor="60000"),
                m.Payer(user=ravi_user, paid_minor="30000"),
            ],
            split=m.Split(equal=m.EqualSplit(participants=[asha_user, ravi_user])),
        ),
    )
    assert isinstance(expense, m.Expense), expense
    assert {(s.user, s.paid_minor, s.owed_minor) for s in expense.shares} == {
        (asha_user, "60000", "45000"),
        (ravi_user, "30000", "45000"),
    }

    assert _net(typed, ravi, group_id, asha_user) == 15000
    assert _net(typed, ravi, group_id, ravi_user) == -15000

    debts = typed.op("settlement_service", "list_simplified_debts").sync(
        group_id, client=asha, currency_code="INR"
    )
    assert isinstance(debts, m.ListSimplifiedDebtsResponse), debts
    assert [(t.payer, t.payee, t.amount.amount_minor) for t in debts.transfers] == [
        (ravi_user, asha_user, "15000")
    ]

    settled = typed.op("settlement_service", "create_settlement").sync(
        group_id,
        client=ravi,
        request_id=str(uuid.uuid4()),
        body=m.Settlement(
            payer=ravi_user, payee=asha_user, amount=m.Money(currency_code="INR", amount_minor="15000")
        ),
    )
    assert isinstance(settled, m.Settlement), settled
    assert _net(typed, asha, group_id, ravi_user) == 0
    debts = typed.op("settlement_service", "list_simplified_debts").sync(
        group_id, client=asha, currency_code="INR"
    )
    assert isinstance(debts, m.ListSimplifiedDebtsResponse) and debts.transfers == [], debts

    feed = typed.op("expense_service", "list_activities").sync(group_id, client=ravi)
    assert isinstance(feed, m.ListActivitiesResponse), feed
    assert expense.name in {a.subject for a in feed.activities}

    # Errors come back typed too: an unknown group is a Status, not an exception.
    missing = typed.op("group_service", "get_group").sync("no-such-group", client=asha)
    assert isinstance(missing, m.Status) and missing.code in (5, 7), missing
