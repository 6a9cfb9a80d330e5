"""Writes docs/api.md, the REST and RPC reference, from the descriptor set gen/hisaab.pb.

The descriptor set carries the protos' comments (source info) and options, so
the page is derived from the contract alone: one table per service of the
RPCs the app calls over REST, then the internal RPCs (no HTTP binding).

Run ``python -m tools.apidoc`` (``make docs``) after changing a proto;
``--check`` exits 1 when docs/api.md is stale.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from google.api import annotations_pb2, http_pb2
from google.protobuf import descriptor_pb2
from hisaab.common.v1 import options_pb2
from hisaab.options.v1 import internal_pb2

ROOT = Path(__file__).resolve().parent.parent
DESCRIPTOR = ROOT / "gen" / "hisaab.pb"
DOC = ROOT / "docs" / "api.md"
PACKAGE_PREFIX = "hisaab."

# SourceCodeInfo paths: FileDescriptorProto.service = 6, ServiceDescriptorProto.method = 2.
_SERVICE_FIELD = 6
_METHOD_FIELD = 2
_HTTP_VERBS = ("get", "put", "post", "delete", "patch")
_ABBREVIATIONS = ("e.g.", "i.e.", "etc.", "vs.")


@dataclass(frozen=True)
class HttpBinding:
    verb: str  # upper case: GET, POST, ...
    path: str
    body: str


@dataclass(frozen=True)
class Rpc:
    service: str  # fully qualified, e.g. "hisaab.expense.v1.ExpenseService"
    name: str
    input_type: str  # fully qualified, without the leading dot
    output_type: str
    comment: str  # leading comment, lines joined by "\n", stripped
    http: tuple[HttpBinding, ...]  # primary binding first, then additional ones
    public: bool
    feature: str  # requires_feature, or ""
    quota_key: str
    quota_lifted_by: str
    callers: tuple[str, ...] = ()  # (hisaab.options.v1.internal).callers

    @property
    def internal(self) -> bool:
        return not self.http

    @property
    def summary(self) -> str:
        return first_sentence(self.comment)

    def needs(self) -> str:
        parts: list[str] = []
        if self.callers:
            parts.append("callers: " + ", ".join(self.callers))
        if self.public:
            parts.append("public")
        if self.feature:
            parts.append(f"feature `{self.feature}`")
        if self.quota_key:
            lifted = f" (lifted by `{self.quota_lifted_by}`)" if self.quota_lifted_by else ""
            parts.append(f"quota `{self.quota_key}`{lifted}")
        return "; ".join(parts)


@dataclass(frozen=True)
class Service:
    full_name: str
    comment: str
    rpcs: tuple[Rpc, ...]

    @property
    def package(self) -> str:
        return self.full_name.rsplit(".", 1)[0]

    @property
    def short_name(self) -> str:
        return self.full_name.rsplit(".", 1)[1]


def load_descriptor_set(path: Path = DESCRIPTOR) -> descriptor_pb2.FileDescriptorSet:
    """Parses the descriptor set; our method options are read as extensions."""
    if not path.exists():
        raise SystemExit(f"{path} does not exist: run `make gen`")
    # The extension modules are imported above, so the parser knows them.
    return descriptor_pb2.FileDescriptorSet.FromString(path.read_bytes())


def hisaab_files(fds: descriptor_pb2.FileDescriptorSet) -> list[descriptor_pb2.FileDescriptorProto]:
    return [f for f in fds.file if f.package.startswith(PACKAGE_PREFIX)]


def _comments(fd: descriptor_pb2.FileDescriptorProto) -> dict[tuple[int, ...], str]:
    return {
        tuple(loc.path): "\n".join(line.strip() for line in loc.leading_comments.strip().splitlines())
        for loc in fd.source_code_info.location
        if loc.leading_comments
    }


def http_bindings(options: descriptor_pb2.MethodOptions) -> tuple[HttpBinding, ...]:
    if not options.HasExtension(annotations_pb2.http):
        return ()
    rule = options.Extensions[annotations_pb2.http]
    rules: list[http_pb2.HttpRule] = [rule, *rule.additional_bindings]
    found: list[HttpBinding] = []
    for r in rules:
        kind = r.WhichOneof("pattern")
        if kind in _HTTP_VERBS:
            found.append(HttpBinding(kind.upper(), getattr(r, kind), r.body))
        elif kind == "custom":
            found.append(HttpBinding(r.custom.kind.upper(), r.custom.path, r.body))
    return tuple(found)


def services(files: Iterable[descriptor_pb2.FileDescriptorProto]) -> Iterator[Service]:
    for fd in files:
        comments = _comments(fd)
        for s_idx, svc in enumerate(fd.service):
            full = f"{fd.package}.{svc.name}"
            rpcs: list[Rpc] = []
            for m_idx, m in enumerate(svc.method):
                opts = m.options
                quota = opts.Extensions[options_pb2.quota]
                rpcs.append(
                    Rpc(
                        service=full,
                        name=m.name,
                        input_type=m.input_type.lstrip("."),
                        output_type=m.output_type.lstrip("."),
                        comment=comments.get((_SERVICE_FIELD, s_idx, _METHOD_FIELD, m_idx), ""),
                        http=http_bindings(opts),
                        public=opts.Extensions[options_pb2.public],
                        feature=opts.Extensions[options_pb2.requires_feature],
                        quota_key=quota.key,
                        quota_lifted_by=quota.lifted_by_feature,
                        callers=tuple(opts.Extensions[internal_pb2.internal].callers),
                    )
                )
            yield Service(full, comments.get((_SERVICE_FIELD, s_idx), ""), tuple(rpcs))


def first_sentence(text: str) -> str:
    """The text up to the first full stop that ends a sentence (not "e.g.")."""
    flat = " ".join(text.split())
    flat = re.sub(r"^Internal:\s*", "", flat)
    flat = flat[:1].upper() + flat[1:]
    for match in re.finditer(r"[.!?](?=\s|$)", flat):
        end = match.end()
        if any(flat[:end].endswith(a) for a in _ABBREVIATIONS):
            continue
        return flat[:end]
    return flat


def _ordered(found: list[Service]) -> list[Service]:
    # The service catalog fixes the order; anything it does not name follows.
    from libs.catalog import SERVICES

    rank = {spec.grpc_service: i for i, spec in enumerate(SERVICES)}
    return sorted(found, key=lambda s: (rank.get(s.full_name, len(rank)), s.full_name))


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render(fds: descriptor_pb2.FileDescriptorSet) -> str:
    svcs = _ordered(list(services(hisaab_files(fds))))
    out: list[str] = [
        "# Hisaab API",
        "",
        "<!-- Generated by `python -m tools.apidoc` from protos/ (via gen/hisaab.pb). Do not edit. -->",
        "",
        "Every service is a gRPC service; the RPCs the app uses are also served as",
        "REST+JSON by the gateway's gRPC-JSON transcoder. JSON field names are",
        "lowerCamelCase, int64 values (money in minor units) are strings, enums are",
        "their names, timestamps are RFC 3339 and dates are `{year, month, day}`.",
        "Path variables such as `{parent=groups/*}` match a resource name,",
        "e.g. `/v1/groups/g1/expenses`.",
        "The same contract as OpenAPI 3.1 is `docs/openapi.json`, which the gateway",
        "serves at `GET /v1/openapi.json`.",
        "",
        "**Errors.** Every error has one shape, whether a service or the gateway itself",
        "refused the request: a `google.rpc.Status` JSON body `{code, message, details}`",
        "whose details hold an `ErrorInfo` (domain `hisaab.app`, reason a",
        "`hisaab.common.v1.ErrorReason`) and, when a field is at fault, a `BadRequest`",
        "field violation naming it (also in the ErrorInfo's metadata `field`). The",
        "gateway's own refusals are malformed JSON (400, INVALID_REQUEST), a value of",
        'the wrong type such as `"12.50"` for an int64 or an unknown enum name (400,',
        "INVALID_FIELD naming the field), an unknown query parameter (400,",
        "INVALID_FIELD naming it), a body over 1 MiB (413, REQUEST_TOO_LARGE), a path or",
        "verb the API does not have (404, NO_SUCH_METHOD) and a service that is down or",
        "did not answer in time (503 or 504, UNAVAILABLE: retry with the same",
        "`requestId`). Field paths use the JSON names the client sent, dotted, with",
        "`[i]` for a list element (`expense.payers[0].paidMinor`), for gRPC clients too:",
        "they are the names the contract publishes, and a gRPC client that needs the",
        "proto name maps them with its descriptors.",
        "",
        "**Fields.** `google.api.field_behavior` in the protos is enforced by every",
        "service before a method runs, after the token and paid-feature checks (a caller",
        "without the feature hears that first): a REQUIRED field that is missing (in",
        'proto3 an unset message, an empty list, or a scalar at its default: `0`, `""`, the',
        "`UNSPECIFIED` enum value) is INVALID_ARGUMENT naming it, also inside nested",
        "messages and list elements. In an update, the resource's required fields apply",
        "only to the paths `updateMask` names. OUTPUT_ONLY fields sent by a client are",
        "ignored (cleared before the method runs), so a resource read with GET can be",
        "sent back as it is. **Unknown JSON fields are dropped** by the gateway (the",
        "proto3 JSON mapping; the transcoder has no switch to refuse them), so a",
        "misspelt field reads as an absent one. Nothing that moves money has a default",
        "for that to fall back on: an expense needs `transactionDate`, `total`, `payers`",
        "and either `split` or `splitPreset` (`groups/{id}/splitPresets/default` for the",
        "group's default), every split entry needs its user and a non-zero amount, share",
        "or percentage (leave out whoever owes nothing), a settlement needs `payer`,",
        "`payee` and `amount`, and every `Money` its `currencyCode`; the other amounts",
        "(totals, itemized tax, tip and discount) must add up, so a dropped one is refused.",
        "One date does have a default: a settlement without `transactionDate` is recorded",
        "on today's date in the business time zone, so a misspelt date (or the retired",
        "`settleDate`) records today. The response carries the date used; an app sends",
        "the date every time and shows the one that comes back.",
        "",
        "**Names.** One word per idea across the services: `transactionDate` is the day",
        "the money moved (expenses, settlements and the `settlement.*` events), `note`",
        "is free text, `creator` is who made a resource or added a member",
        "(with `creatorDisplayName`), `locale` is a BCP 47 language tag, `currencyCode`",
        "an ISO 4217 code, and timestamps end in `Time` (`createTime`, `expireTime`).",
        "`orderBy` names fields as the protos spell them (`transaction_date desc`,",
        "`create_time`); any other value, the retired `expense_date` included, is",
        "INVALID_ARGUMENT naming `orderBy`.",
        "",
        "**needs**: blank means any signed-in caller (bearer token); `public` needs",
        "no token; `feature` needs that paid feature (else PERMISSION_DENIED,",
        "reason FEATURE_REQUIRED); `quota` is a free-tier limit (RESOURCE_EXHAUSTED,",
        "reason QUOTA_EXCEEDED) that holders of the lifting feature do not have.",
        "A call counted against a quota answers with headers naming the window it",
        "was counted in: `x-quota-name`, `x-quota-limit`, `x-quota-remaining` and",
        "`x-quota-reset` (RFC 3339). Daily quotas reset at midnight in the business",
        "time zone (`HISAAB_BUSINESS_TIME_ZONE`, India by default: 18:30 UTC).",
        "A retry with the same `requestId` is counted once: it is let through even",
        "when the quota has filled since, and gets the first call's answer.",
        "",
        "Internal RPCs have no REST binding: they answer over gRPC only, and only",
        "the services each one names (its callers), which present their own service",
        "identity; an app user's token is refused with PERMISSION_DENIED.",
        "",
        "**People and money.** Every user id in a response has the person's display",
        "name beside it: `payer` with `payerDisplayName`, `creator` with",
        "`creatorDisplayName`, `user` with `displayName`. Amounts are integers in",
        "minor units; `GET /v1/currencies` gives each currency's exponent, symbol and",
        "name, and every amount the server writes as text (notifications, activity",
        "summaries, PDF exports) uses CLDR's format for the reader's locale",
        "(`₹1,23,456.78` in en-IN). A FEATURE_REQUIRED error also carries a",
        "`hisaab.common.v1.FeatureRequired` detail with each unlocking pack's name,",
        "display name, price and duration, enough to draw the upsell.",
        "",
        "**Compatibility.** `v1` is frozen: its names were settled before the first app",
        "shipped, and from here on it only grows by additive changes: new services,",
        "methods, fields, enum values and optional parameters. A rename or a removal",
        "needs `v2`: removing, renaming or renumbering a field, changing its type or",
        "JSON name, removing an enum value or a method, or changing a REST path breaks",
        "installed apps, and `make test` refuses it (`buf breaking` against the frozen",
        "contract in `protos/baseline/`, with the lint rules in `protos/buf.yaml`). A",
        "change that must break is a new `v2` package served beside `v1` until no",
        "supported app calls `v1`; the baseline moves only when a release ships",
        "(`python -m tools.buf baseline`).",
        "",
    ]
    for svc in svcs:
        out += [f"## {svc.short_name} (`{svc.package}`)", ""]
        if svc.comment:
            out += [" ".join(svc.comment.split()), ""]
        rest = [r for r in svc.rpcs if not r.internal]
        if rest:
            out += ["| method | path | RPC | what it does | needs |", "|---|---|---|---|---|"]
            for r in rest:
                for b in r.http:
                    out.append(
                        f"| {b.verb} | `{b.path}` | {r.name} | {_cell(r.summary)} | {_cell(r.needs())} |"
                    )
            out.append("")
        internal = [r for r in svc.rpcs if r.internal]
        if internal:
            out += ["Internal RPCs:", ""]
            for r in internal:
                needs = f" ({r.needs()})" if r.needs() else ""
                out.append(f"- `{r.name}`: {r.summary}{needs}")
            out.append("")
    gated = [r for s in svcs for r in s.rpcs if r.feature or r.quota_key]
    if gated:
        out += ["## Paid features and quotas", "", "| RPC | feature | quota |", "|---|---|---|"]
        for r in gated:
            quota = f"`{r.quota_key}` (lifted by `{r.quota_lifted_by}`)" if r.quota_key else ""
            feature = f"`{r.feature}`" if r.feature else ""
            out.append(f"| {r.service.rsplit('.', 1)[1]}.{r.name} | {feature} | {quota} |")
        out.append("")
    return "\n".join(out)


def write_or_check(doc: Path, root: Path, build: Callable[[], str], description: str | None) -> None:
    """The command line of a document generated from the contract: write it, or with
    ``--check`` exit 1 when the committed copy differs from a fresh render."""
    name = doc.relative_to(root)
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--check", action="store_true", help=f"exit 1 if {name} is stale")
    args = parser.parse_args()
    text = build()
    if args.check:
        if not doc.exists() or doc.read_text(encoding="utf-8") != text:
            print(f"{name} is stale: run `make docs`")
            raise SystemExit(1)
        print(f"{name} is up to date")
        return
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(text, encoding="utf-8")
    print(f"wrote {name}")


def main() -> None:
    summary = __doc__.splitlines()[0] if __doc__ else None
    write_or_check(DOC, ROOT, lambda: render(load_descriptor_set()), summary)


if __name__ == "__main__":
    main()
