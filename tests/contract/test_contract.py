"""Contract checks over the generated descriptor set (gen/hisaab.pb): no servers.

- docs/api.md is in sync with the protos;
- an AIP-style lint of every hisaab.* file: /v1/ paths that name real fields,
  no duplicate routes, request_id on creates and money-moving calls,
  update_mask on updates, etag on updatable resources, pagination on lists,
  known feature keys, money only as hisaab.common.v1.Money (no floats), one
  field name per idea (no name the contract retired before v1 froze), a
  leading comment on every RPC and "Internal:" exactly on the RPCs without
  an HTTP binding.

Every lint rule is also run against a tiny hand-made descriptor, first as is
(it passes) and then with one defect (the rule must report it), so a rule
that silently stopped checking would fail here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest
from google.api import annotations_pb2, resource_pb2
from google.protobuf import descriptor_pb2, text_format
from hisaab.common.v1 import options_pb2

from tools import apidoc, codegen

Files = list[descriptor_pb2.FileDescriptorProto]
FDP = descriptor_pb2.FieldDescriptorProto

MONEY = ".hisaab.common.v1.Money"
FIELD_MASK = ".google.protobuf.FieldMask"

# Feature keys the protos may name (requires_feature, quota lifted_by_feature).
KNOWN_FEATURES = frozenset(
    {
        "receipts",
        "export_pdf",
        "currency_conversion",
        "recurring",
        "unlimited_expenses",
        "charts",
        "receipt_scanning",
    }
)

# RPCs that are not Create* but create something or move money, so a retry
# must not do it twice (AIP-155).
REQUEST_ID_ALSO = frozenset(
    {
        "hisaab.settlement.v1.SettlementService.CreateSettlement",
        "hisaab.pricing.v1.PricingService.CreateOrder",
        "hisaab.pricing.v1.PricingService.ConfirmPayment",
        "hisaab.expense.v1.ExpenseService.ExportGroupCsv",
        "hisaab.expense.v1.ExpenseService.ExportGroupPdf",
        "hisaab.expense.v1.ExpenseService.ImportSplitwiseCsv",
        "hisaab.expense.v1.ExpenseService.ScanReceipt",
    }
)

# List* RPCs that do not page (AIP-158), each with the reason.
PAGINATION_EXCEPTIONS: dict[str, str] = {
    "hisaab.auth.v1.AuthService.ListDevices": "a user has a handful of devices; the list is bounded",
    "hisaab.settlement.v1.SettlementService.ListSimplifiedDebts": (
        "computed, at most members - 1 transfers per currency; there is nothing to page through"
    ),
    "hisaab.settlement.v1.SettlementService.ListConvertedDebts": (
        "computed, at most members - 1 transfers; there is nothing to page through"
    ),
    "hisaab.expense.v1.ExpenseService.ListCurrencies": (
        "reference data: the ISO 4217 currencies with a minor unit, under two hundred; one page"
    ),
    "hisaab.expense.v1.ExpenseService.ListExpenseChanges": (
        "a resumable change feed: cursor/next_cursor/has_more, where next_cursor is never empty "
        "(stored by the client to resume later), unlike next_page_token"
    ),
    "hisaab.settlement.v1.SettlementService.ListSettlementChanges": (
        "a resumable change feed of the same shape as ListExpenseChanges (libs.change_feed)"
    ),
    "hisaab.group.v1.GroupService.ListGroupChanges": (
        "a resumable change feed of the same shape as ListExpenseChanges (libs.change_feed)"
    ),
}

# Violations in protos outside this area that are reported for a fix. Each
# entry must still be a violation (the test fails once it is fixed, so the
# entry gets removed) and nothing else may fail.
KNOWN_VIOLATIONS: dict[str, str] = {}

# Field names that hold an amount of money and so must be Money messages
# (integer minor-unit fields are spelled *_minor).
MONEY_NAMES = re.compile(r"^(amount|price|total|cost|balance|net)$|_(amount|price|total|cost)$")

# One name per idea: field names the contract settled on, by the names it retired.
SETTLED_NAMES: dict[str, str] = {
    "expense_date": "transaction_date",
    "settle_date": "transaction_date",
    "notes": "note",
    "currency": "currency_code",
    "language_code": "locale",
    "valid_until": "expire_time",
    "at": "a *_time timestamp",
    "payee_name": "payee_display_name",
}
# Patterns of names AIP spells otherwise: *_time timestamps (AIP-142), creator for who made
# something (AIP-148), *_count for a number of things (AIP-141).
SETTLED_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"_at$"), "a *_time timestamp"),
    # order_by is AIP-132's own name.
    (re.compile(r"^(?!order_by$).*_by(_display_name)?$"), "creator (creator_display_name)"),
    (re.compile(r"(^|_)counts$|^num_"), "a *_count"),
]


# --------------------------------------------------------------------------- lint


@dataclass(frozen=True)
class Contract:
    files: Files  # hisaab.* files only
    messages: dict[str, descriptor_pb2.DescriptorProto]  # ".pkg.Msg" -> message, every file
    rpcs: list[apidoc.Rpc]

    @classmethod
    def of(cls, fds_files: Iterable[descriptor_pb2.FileDescriptorProto]) -> Contract:
        all_files = list(fds_files)
        messages: dict[str, descriptor_pb2.DescriptorProto] = {}

        def walk(prefix: str, msgs: Iterable[descriptor_pb2.DescriptorProto]) -> None:
            for m in msgs:
                messages[f"{prefix}.{m.name}"] = m
                walk(f"{prefix}.{m.name}", m.nested_type)

        for f in all_files:
            walk(f".{f.package}", f.message_type)
        files = [f for f in all_files if f.package.startswith(apidoc.PACKAGE_PREFIX)]
        rpcs = [r for s in apidoc.services(files) for r in s.rpcs]
        return cls(files, messages, rpcs)

    def message(self, type_name: str) -> descriptor_pb2.DescriptorProto | None:
        return self.messages.get(type_name if type_name.startswith(".") else f".{type_name}")

    def fields(self, type_name: str) -> dict[str, descriptor_pb2.FieldDescriptorProto]:
        m = self.message(type_name)
        return {f.name: f for f in m.field} if m else {}

    def hisaab_messages(self) -> Iterable[tuple[str, descriptor_pb2.DescriptorProto]]:
        packages = tuple(f".{f.package}." for f in self.files)
        return ((n, m) for n, m in self.messages.items() if n.startswith(packages))


def _full(r: apidoc.Rpc) -> str:
    return f"{r.service}.{r.name}"


def _path_fields(path: str) -> list[str]:
    return [m.group(1) for m in re.finditer(r"\{([a-zA-Z0-9_.]+)(?:=[^}]*)?\}", path)]


def _route(b: apidoc.HttpBinding) -> tuple[str, str]:
    # Variable names do not matter to routing, only what each segment matches.
    path = re.sub(r"\{[a-zA-Z0-9_.]+=([^}]*)\}", r"\1", b.path)
    return b.verb, re.sub(r"\{[a-zA-Z0-9_.]+\}", "*", path)


def check_http_paths(c: Contract) -> list[str]:
    return [
        f"{_full(r)}: path {b.path!r} does not start with /v1/"
        for r in c.rpcs
        for b in r.http
        if not b.path.startswith("/v1/")
    ]


def check_http_fields(c: Contract) -> list[str]:
    found: list[str] = []
    for r in c.rpcs:
        if c.message(r.input_type) is None:
            continue  # e.g. google.api.HttpBody: the whole body is the request
        for b in r.http:
            refs = _path_fields(b.path) + ([b.body] if b.body not in ("", "*") else [])
            for ref in refs:
                type_name = r.input_type
                for part in ref.split("."):
                    field = c.fields(type_name).get(part)
                    if field is None:
                        found.append(f"{_full(r)}: {b.path!r} names {ref!r}, not a field of the request")
                        break
                    type_name = field.type_name
    return found


def check_unique_routes(c: Contract) -> list[str]:
    seen: dict[tuple[str, str], str] = {}
    found: list[str] = []
    for r in c.rpcs:
        for b in r.http:
            key = _route(b)
            if key in seen:
                found.append(f"{_full(r)}: {b.verb} {b.path} is also routed to {seen[key]}")
            seen.setdefault(key, _full(r))
    return found


def check_request_ids(c: Contract, also: frozenset[str] = REQUEST_ID_ALSO) -> list[str]:
    return [
        f"{_full(r)}: request has no request_id"
        for r in c.rpcs
        if (r.name.startswith("Create") or _full(r) in also)
        and c.fields(r.input_type).get("request_id", FDP()).type != FDP.TYPE_STRING
    ]


def check_update_masks(c: Contract) -> list[str]:
    return [
        f"{_full(r)}: request has no google.protobuf.FieldMask update_mask"
        for r in c.rpcs
        if r.name.startswith("Update")
        and c.fields(r.input_type).get("update_mask", FDP()).type_name != FIELD_MASK
    ]


def check_etags(c: Contract) -> list[str]:
    found: list[str] = []
    for r in c.rpcs:
        if not r.name.startswith("Update"):
            continue
        resource = c.message(r.output_type)
        if resource is None or not resource.options.HasExtension(resource_pb2.resource):
            found.append(f"{_full(r)}: does not return a google.api.resource message")
        elif "etag" not in {f.name for f in resource.field}:
            found.append(f"{_full(r)}: resource {r.output_type} has no etag")
    return found


def check_pagination(c: Contract, exceptions: dict[str, str] = PAGINATION_EXCEPTIONS) -> list[str]:
    found: list[str] = []
    for r in c.rpcs:
        if not r.name.startswith("List") or _full(r) in exceptions:
            continue
        req, resp = c.fields(r.input_type), c.fields(r.output_type)
        if req.get("page_size", FDP()).type != FDP.TYPE_INT32:
            found.append(f"{_full(r)}: request has no int32 page_size")
        if req.get("page_token", FDP()).type != FDP.TYPE_STRING:
            found.append(f"{_full(r)}: request has no string page_token")
        if resp.get("next_page_token", FDP()).type != FDP.TYPE_STRING:
            found.append(f"{_full(r)}: response has no string next_page_token")
    return found


def check_features(c: Contract) -> list[str]:
    found: list[str] = []
    for r in c.rpcs:
        if r.feature and r.feature not in KNOWN_FEATURES:
            found.append(f"{_full(r)}: requires_feature {r.feature!r} is not a known feature")
        if r.quota_key and r.quota_lifted_by not in KNOWN_FEATURES:
            found.append(f"{_full(r)}: quota lifted_by_feature {r.quota_lifted_by!r} is not a known feature")
    return found


def check_money(c: Contract) -> list[str]:
    found: list[str] = []
    for name, m in c.hisaab_messages():
        for f in m.field:
            where = f"{name.lstrip('.')}.{f.name}"
            if f.type in (FDP.TYPE_FLOAT, FDP.TYPE_DOUBLE):
                found.append(f"{where}: float/double field (money and quantities are integers)")
            elif f.type_name.endswith(".Money") and f.type_name != MONEY:
                found.append(f"{where}: {f.type_name} instead of hisaab.common.v1.Money")
            elif MONEY_NAMES.search(f.name) and f.type_name != MONEY:
                found.append(f"{where}: holds money but is not hisaab.common.v1.Money")
    return found


def check_vocabulary(c: Contract) -> list[str]:
    found: list[str] = []
    for name, m in c.hisaab_messages():
        for f in m.field:
            settled = SETTLED_NAMES.get(f.name) or next(
                (say for pattern, say in SETTLED_PATTERNS if pattern.search(f.name)), None
            )
            if settled:
                found.append(f"{name.lstrip('.')}.{f.name}: the contract says {settled}")
    return found


def check_comments(c: Contract) -> list[str]:
    found: list[str] = []
    for r in c.rpcs:
        if not r.comment:
            found.append(f"{_full(r)}: no leading comment")
        elif r.internal and not r.comment.startswith("Internal:"):
            found.append(f"{_full(r)}: has no HTTP binding but its comment does not start with 'Internal:'")
        elif not r.internal and r.comment.startswith("Internal:"):
            found.append(f"{_full(r)}: comment says 'Internal:' but it has an HTTP binding")
    return found


CHECKS: dict[str, Callable[[Contract], list[str]]] = {
    "http_paths": check_http_paths,
    "http_fields": check_http_fields,
    "unique_routes": check_unique_routes,
    "request_ids": check_request_ids,
    "update_masks": check_update_masks,
    "etags": check_etags,
    "pagination": check_pagination,
    "features": check_features,
    "money": check_money,
    "vocabulary": check_vocabulary,
    "comments": check_comments,
}


# ------------------------------------------------------------------ the real contract


@pytest.fixture(scope="module")
def fds() -> descriptor_pb2.FileDescriptorSet:
    assert codegen.is_fresh(), "gen/ is stale or missing: run `make gen`"
    return apidoc.load_descriptor_set()


@pytest.fixture(scope="module")
def contract(fds: descriptor_pb2.FileDescriptorSet) -> Contract:
    return Contract.of(fds.file)


def test_docs_in_sync(fds: descriptor_pb2.FileDescriptorSet) -> None:
    assert apidoc.DOC.exists(), "docs/api.md is missing: run `make docs`"
    assert apidoc.DOC.read_text(encoding="utf-8") == apidoc.render(fds), (
        "docs/api.md is stale: run `make docs`"
    )


def test_apidoc_check_fails_on_stale_doc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stale = tmp_path / "api.md"
    stale.write_text("# outdated\n", encoding="utf-8")
    monkeypatch.setattr(apidoc, "DOC", stale)
    monkeypatch.setattr(apidoc, "ROOT", tmp_path)
    monkeypatch.setattr("sys.argv", ["apidoc", "--check"])
    with pytest.raises(SystemExit) as exc:
        apidoc.main()
    assert exc.value.code == 1


def test_every_service_of_the_catalog_is_in_the_contract(contract: Contract) -> None:
    from libs.catalog import SERVICES

    have = {r.service for r in contract.rpcs}
    assert {s.grpc_service for s in SERVICES} <= have


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_lint(contract: Contract, name: str) -> None:
    found = CHECKS[name](contract)
    unexpected = [v for v in found if v not in KNOWN_VIOLATIONS]
    assert not unexpected, "\n".join(unexpected)


def test_known_violations_are_still_violations(contract: Contract) -> None:
    found = {v for check in CHECKS.values() for v in check(contract)}
    fixed = sorted(set(KNOWN_VIOLATIONS) - found)
    assert not fixed, f"fixed now, remove from KNOWN_VIOLATIONS: {fixed}"


def test_pagination_exceptions_are_real_and_needed(contract: Contract) -> None:
    names = {_full(r) for r in contract.rpcs}
    assert set(PAGINATION_EXCEPTIONS) <= names, "exception for an RPC that does not exist"
    needed = {v.split(":")[0] for v in check_pagination(contract, exceptions={})}
    assert set(PAGINATION_EXCEPTIONS) <= needed, "exception for an RPC that pages correctly"


def test_request_id_list_names_real_rpcs(contract: Contract) -> None:
    assert {_full(r) for r in contract.rpcs} >= REQUEST_ID_ALSO


def test_feature_gates_are_where_the_design_puts_them(contract: Contract) -> None:
    gates = {_full(r): r.feature for r in contract.rpcs if r.feature}
    assert gates["hisaab.expense.v1.ExpenseService.CreateReceiptUpload"] == "receipts"
    assert gates["hisaab.expense.v1.ExpenseService.ExportGroupPdf"] == "export_pdf"
    assert gates["hisaab.expense.v1.ExpenseService.CreateRecurringExpense"] == "recurring"
    assert gates["hisaab.settlement.v1.SettlementService.ListConvertedDebts"] == "currency_conversion"
    assert "hisaab.expense.v1.ExpenseService.ExportGroupCsv" not in gates
    quota = {_full(r): (r.quota_key, r.quota_lifted_by) for r in contract.rpcs if r.quota_key}
    assert quota == {
        "hisaab.expense.v1.ExpenseService.CreateExpense": ("expenses_per_day", "unlimited_expenses"),
        "hisaab.expense.v1.ExpenseService.ScanReceipt": ("receipt_scans_per_month", "receipt_scanning"),
    }


def test_public_rpcs_are_only_sign_in_catalog_and_webhooks(contract: Contract) -> None:
    public = {_full(r) for r in contract.rpcs if r.public}
    for name in public:
        service = name.rsplit(".", 1)[0]
        assert service in {"hisaab.auth.v1.AuthService", "hisaab.pricing.v1.PricingService"}, name
    assert "hisaab.pricing.v1.PricingService.HandleRazorpayWebhook" in public
    assert not any(r.public and r.internal for r in contract.rpcs)


def test_webhook_takes_the_raw_body(contract: Contract) -> None:
    (hook,) = [r for r in contract.rpcs if r.name == "HandleRazorpayWebhook"]
    assert hook.input_type == "google.api.HttpBody"
    assert hook.http[0].body == "*"


# ------------------------------------------------------- every rule catches a defect

_GOOD = """
name: "hisaab/demo/v1/demo.proto"
package: "hisaab.demo.v1"
message_type {
  name: "Widget"
  field { name: "name" number: 1 label: LABEL_OPTIONAL type: TYPE_STRING }
  field { name: "price" number: 2 label: LABEL_OPTIONAL type: TYPE_MESSAGE
    type_name: ".hisaab.common.v1.Money" }
  field { name: "weight_grams" number: 3 label: LABEL_OPTIONAL type: TYPE_INT64 }
  field { name: "etag" number: 4 label: LABEL_OPTIONAL type: TYPE_STRING }
  options { [google.api.resource] { type: "hisaab.app/Widget" pattern: "widgets/{widget}" } }
}
message_type {
  name: "CreateWidgetRequest"
  field { name: "widget" number: 1 label: LABEL_OPTIONAL type: TYPE_MESSAGE
    type_name: ".hisaab.demo.v1.Widget" }
  field { name: "request_id" number: 2 label: LABEL_OPTIONAL type: TYPE_STRING }
}
message_type {
  name: "UpdateWidgetRequest"
  field { name: "widget" number: 1 label: LABEL_OPTIONAL type: TYPE_MESSAGE
    type_name: ".hisaab.demo.v1.Widget" }
  field { name: "update_mask" number: 2 label: LABEL_OPTIONAL type: TYPE_MESSAGE
    type_name: ".google.protobuf.FieldMask" }
}
message_type {
  name: "ListWidgetsRequest"
  field { name: "page_size" number: 1 label: LABEL_OPTIONAL type: TYPE_INT32 }
  field { name: "page_token" number: 2 label: LABEL_OPTIONAL type: TYPE_STRING }
}
message_type {
  name: "ListWidgetsResponse"
  field { name: "widgets" number: 1 label: LABEL_REPEATED type: TYPE_MESSAGE
    type_name: ".hisaab.demo.v1.Widget" }
  field { name: "next_page_token" number: 2 label: LABEL_OPTIONAL type: TYPE_STRING }
}
message_type {
  name: "PayRequest"
  field { name: "widget" number: 1 label: LABEL_OPTIONAL type: TYPE_STRING }
  field { name: "request_id" number: 2 label: LABEL_OPTIONAL type: TYPE_STRING }
}
service {
  name: "WidgetService"
  method {
    name: "CreateWidget" input_type: ".hisaab.demo.v1.CreateWidgetRequest"
    output_type: ".hisaab.demo.v1.Widget"
    options {
      [google.api.http] { post: "/v1/widgets" body: "widget" }
      [hisaab.common.v1.requires_feature]: "receipts"
      [hisaab.common.v1.quota] { key: "widgets_per_day" lifted_by_feature: "unlimited_expenses" }
    }
  }
  method {
    name: "UpdateWidget" input_type: ".hisaab.demo.v1.UpdateWidgetRequest"
    output_type: ".hisaab.demo.v1.Widget"
    options { [google.api.http] { patch: "/v1/{widget.name=widgets/*}" body: "widget" } }
  }
  method {
    name: "ListWidgets" input_type: ".hisaab.demo.v1.ListWidgetsRequest"
    output_type: ".hisaab.demo.v1.ListWidgetsResponse"
    options { [google.api.http] { get: "/v1/widgets" } }
  }
  method {
    name: "ConfirmPayment" input_type: ".hisaab.demo.v1.PayRequest"
    output_type: ".hisaab.demo.v1.Widget"
    options { [google.api.http] { post: "/v1/{widget=widgets/*}:pay" body: "*" } }
  }
  method { name: "SyncWidgets" input_type: ".hisaab.demo.v1.ListWidgetsRequest"
  output_type: ".hisaab.demo.v1.Widget" }
}
source_code_info {
  location { path: [6, 0, 2, 0] span: [0, 0, 0] leading_comments: " Creates a widget.\\n" }
  location { path: [6, 0, 2, 1] span: [0, 0, 0] leading_comments: " Changes a widget.\\n" }
  location { path: [6, 0, 2, 2] span: [0, 0, 0] leading_comments: " Lists widgets.\\n" }
  location { path: [6, 0, 2, 3] span: [0, 0, 0] leading_comments: " Pays for a widget.\\n" }
  location { path: [6, 0, 2, 4] span: [0, 0, 0] leading_comments: " Internal: job handler.\\n" }
}
"""


def _good() -> descriptor_pb2.FileDescriptorProto:
    # Importing apidoc registered the google.api and hisaab option extensions.
    return text_format.Parse(_GOOD, descriptor_pb2.FileDescriptorProto())


def _message(fd: descriptor_pb2.FileDescriptorProto, name: str) -> descriptor_pb2.DescriptorProto:
    return next(m for m in fd.message_type if m.name == name)


def _method(fd: descriptor_pb2.FileDescriptorProto, name: str) -> descriptor_pb2.MethodDescriptorProto:
    return next(m for m in fd.service[0].method if m.name == name)


def _drop_field(message: str, field: str) -> Callable[[descriptor_pb2.FileDescriptorProto], None]:
    def mutate(fd: descriptor_pb2.FileDescriptorProto) -> None:
        fields = _message(fd, message).field
        del fields[[f.name for f in fields].index(field)]

    return mutate


def _set_http(method: str, **rule: str) -> Callable[[descriptor_pb2.FileDescriptorProto], None]:
    def mutate(fd: descriptor_pb2.FileDescriptorProto) -> None:
        http = _method(fd, method).options.Extensions[annotations_pb2.http]
        http.Clear()
        for key, value in rule.items():
            setattr(http, key, value)

    return mutate


def _set_feature(value: str) -> Callable[[descriptor_pb2.FileDescriptorProto], None]:
    def mutate(fd: descriptor_pb2.FileDescriptorProto) -> None:
        _method(fd, "CreateWidget").options.Extensions[options_pb2.requires_feature] = value

    return mutate


def _set_quota_lift(value: str) -> Callable[[descriptor_pb2.FileDescriptorProto], None]:
    def mutate(fd: descriptor_pb2.FileDescriptorProto) -> None:
        _method(fd, "CreateWidget").options.Extensions[options_pb2.quota].lifted_by_feature = value

    return mutate


def _retype(
    message: str, field: str, **changes: object
) -> Callable[[descriptor_pb2.FileDescriptorProto], None]:
    def mutate(fd: descriptor_pb2.FileDescriptorProto) -> None:
        f = next(f for f in _message(fd, message).field if f.name == field)
        f.ClearField("type_name")
        for key, value in changes.items():
            setattr(f, key, value)

    return mutate


def _add_field(
    message: str, name: str, **kind: object
) -> Callable[[descriptor_pb2.FileDescriptorProto], None]:
    def mutate(fd: descriptor_pb2.FileDescriptorProto) -> None:
        m = _message(fd, message)
        m.field.add(name=name, number=99, label=FDP.LABEL_OPTIONAL, **kind)

    return mutate


def _drop_comment(index: int) -> Callable[[descriptor_pb2.FileDescriptorProto], None]:
    def mutate(fd: descriptor_pb2.FileDescriptorProto) -> None:
        for loc in fd.source_code_info.location:
            if list(loc.path) == [6, 0, 2, index]:
                loc.leading_comments = ""

    return mutate


def _set_comment(index: int, text: str) -> Callable[[descriptor_pb2.FileDescriptorProto], None]:
    def mutate(fd: descriptor_pb2.FileDescriptorProto) -> None:
        for loc in fd.source_code_info.location:
            if list(loc.path) == [6, 0, 2, index]:
                loc.leading_comments = text

    return mutate


def _drop_resource_option(fd: descriptor_pb2.FileDescriptorProto) -> None:
    _message(fd, "Widget").ClearField("options")


def _rename_method(old: str, new: str) -> Callable[[descriptor_pb2.FileDescriptorProto], None]:
    def mutate(fd: descriptor_pb2.FileDescriptorProto) -> None:
        _method(fd, old).name = new

    return mutate


DEFECTS: list[tuple[str, Callable[[descriptor_pb2.FileDescriptorProto], None], str]] = [
    ("http_paths", _set_http("ListWidgets", get="/widgets"), "does not start with /v1/"),
    ("http_paths", _set_http("ListWidgets", get="/v2/widgets"), "does not start with /v1/"),
    (
        "http_fields",
        _set_http("UpdateWidget", patch="/v1/{widget.id=widgets/*}", body="widget"),
        "'widget.id'",
    ),
    ("http_fields", _set_http("CreateWidget", post="/v1/widgets", body="gadget"), "'gadget'"),
    ("unique_routes", _set_http("ListWidgets", post="/v1/widgets", body="*"), "also routed to"),
    (
        "request_ids",
        _drop_field("CreateWidgetRequest", "request_id"),
        "CreateWidget: request has no request_id",
    ),
    ("request_ids", _drop_field("PayRequest", "request_id"), "ConfirmPayment: request has no request_id"),
    ("request_ids", _retype("CreateWidgetRequest", "request_id", type=FDP.TYPE_INT64), "no request_id"),
    ("update_masks", _drop_field("UpdateWidgetRequest", "update_mask"), "no google.protobuf.FieldMask"),
    ("update_masks", _retype("UpdateWidgetRequest", "update_mask", type=FDP.TYPE_STRING), "FieldMask"),
    ("etags", _drop_field("Widget", "etag"), "resource hisaab.demo.v1.Widget has no etag"),
    ("etags", _drop_resource_option, "does not return a google.api.resource"),
    ("pagination", _drop_field("ListWidgetsRequest", "page_size"), "no int32 page_size"),
    ("pagination", _drop_field("ListWidgetsRequest", "page_token"), "no string page_token"),
    ("pagination", _drop_field("ListWidgetsResponse", "next_page_token"), "no string next_page_token"),
    ("features", _set_feature("reciepts"), "'reciepts' is not a known feature"),
    ("features", _set_quota_lift("unlimited"), "'unlimited' is not a known feature"),
    ("money", _add_field("Widget", "rate", type=FDP.TYPE_DOUBLE), "Widget.rate: float/double"),
    ("money", _add_field("ListWidgetsRequest", "ratio", type=FDP.TYPE_FLOAT), "float/double"),
    ("money", _retype("Widget", "price", type=FDP.TYPE_INT64), "Widget.price: holds money"),
    (
        "money",
        _retype("Widget", "price", type=FDP.TYPE_MESSAGE, type_name=".google.type.Money"),
        ".google.type.Money instead of",
    ),
    ("money", _add_field("Widget", "tax_amount", type=FDP.TYPE_INT64), "Widget.tax_amount: holds money"),
    (
        "vocabulary",
        _add_field("Widget", "notes", type=FDP.TYPE_STRING),
        "Widget.notes: the contract says note",
    ),
    ("vocabulary", _add_field("Widget", "created_by", type=FDP.TYPE_STRING), "says creator"),
    ("vocabulary", _add_field("Widget", "added_by_display_name", type=FDP.TYPE_STRING), "says creator"),
    ("vocabulary", _add_field("Widget", "paid_at", type=FDP.TYPE_MESSAGE), "a *_time timestamp"),
    ("vocabulary", _add_field("ListWidgetsRequest", "currency", type=FDP.TYPE_STRING), "currency_code"),
    ("vocabulary", _add_field("Widget", "settle_date", type=FDP.TYPE_MESSAGE), "transaction_date"),
    ("vocabulary", _add_field("Widget", "counts", type=FDP.TYPE_INT32), "a *_count"),
    ("comments", _drop_comment(2), "ListWidgets: no leading comment"),
    ("comments", _set_comment(4, " Job handler.\n"), "does not start with 'Internal:'"),
    ("comments", _set_comment(2, " Internal: lists.\n"), "says 'Internal:' but it has an HTTP binding"),
    ("request_ids", _rename_method("ListWidgets", "CreateWidgetList"), "CreateWidgetList: request has no"),
]


# The demo's ConfirmPayment moves money, like the real one.
DEMO_CHECKS: dict[str, Callable[[Contract], list[str]]] = {
    **CHECKS,
    "request_ids": lambda c: check_request_ids(
        c, also=frozenset({"hisaab.demo.v1.WidgetService.ConfirmPayment"})
    ),
}


@pytest.mark.parametrize("name", sorted(DEMO_CHECKS))
def test_rule_passes_on_the_clean_example(name: str) -> None:
    assert DEMO_CHECKS[name](Contract.of([_good()])) == []


@pytest.mark.parametrize(
    ("name", "mutate", "expected"),
    DEFECTS,
    ids=[f"{d[0]}-{i}" for i, d in enumerate(DEFECTS)],
)
def test_rule_reports_the_defect(
    name: str, mutate: Callable[[descriptor_pb2.FileDescriptorProto], None], expected: str
) -> None:
    fd = _good()
    mutate(fd)
    found = DEMO_CHECKS[name](Contract.of([fd]))
    assert any(expected in v for v in found), found


def test_every_rule_has_a_defect_example() -> None:
    assert {d[0] for d in DEFECTS} == set(CHECKS)
