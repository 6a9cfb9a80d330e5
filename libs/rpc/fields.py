"""What the contract says about request fields (google.api.field_behavior), enforced once.

Every method's request type is read at start-up into a plan: which fields are REQUIRED,
which are OUTPUT_ONLY, and which message-typed fields can hold either (also in nested
messages and repeated elements). Per request the plan costs a few presence checks and
only descends into messages the client actually sent.

- A missing REQUIRED field is INVALID_ARGUMENT naming it, before the servicer runs. In
  proto3 a scalar is present when it is not its default (a required amount of 0 or an
  empty string is missing), a message when it is set, a repeated field when non-empty.
- In an update request (one with an ``update_mask``) the resource's own REQUIRED fields
  apply only to the paths the mask names; an empty mask means "the fields that are set",
  so nothing there is required. Messages the client sent are still checked inside.
- OUTPUT_ONLY fields in a request to a REST-bound method are cleared, so a client that
  sends back a resource it read cannot change what the server computes (AIP-203: ignored,
  not refused). Internal RPCs keep them: there the caller is a service, not a client.

The rules run in :class:`FieldRules`, the innermost interceptor (after authentication and
the feature gate). Field paths in errors use the JSON names the client sent
(``expense.total.currencyCode``), see :func:`json_path`; the pipeline maps them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import grpc
from google.api import field_behavior_pb2
from google.protobuf import descriptor_pool
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from libs.errors import InvalidArgument
from libs.rpc.wrapping import Behavior, UnaryWrapper

_REQUIRED = field_behavior_pb2.REQUIRED
_OUTPUT_ONLY = field_behavior_pb2.OUTPUT_ONLY
_UPDATE_MASK = "update_mask"
_MASK_TYPE = "google.protobuf.FieldMask"
_INDEX = re.compile(r"^([A-Za-z0-9_]+)((?:\[[^\]]*\])*)$")


def _behaviors(fd: FieldDescriptor) -> set[int]:
    return set(fd.GetOptions().Extensions[field_behavior_pb2.field_behavior])


def _is_message(fd: FieldDescriptor) -> bool:
    return fd.type == FieldDescriptor.TYPE_MESSAGE and not (
        fd.message_type is not None and fd.message_type.GetOptions().map_entry
    )


# How presence is read, decided once per field: a repeated field is present when non-empty,
# one with presence (a message, a proto3 optional, a oneof member) when set, any other
# scalar when it is not its default.
_LEN, _HAS, _TRUTHY = 0, 1, 2


@dataclass(frozen=True)
class _Required:
    name: str
    json_name: str
    presence: int


def _required(fd: FieldDescriptor) -> _Required:
    presence = _LEN if fd.is_repeated else _HAS if fd.has_presence else _TRUTHY
    return _Required(fd.name, fd.json_name, presence)


def _missing(message: Message, rule: _Required) -> bool:
    if rule.presence == _HAS:
        return not message.HasField(rule.name)
    value = getattr(message, rule.name)
    return len(value) == 0 if rule.presence == _LEN else not value


@dataclass
class _Child:
    name: str
    json_name: str
    repeated: bool
    plan: _Plan


@dataclass
class _Plan:
    """The checks for one message type; ``children`` are the message fields worth entering."""

    required: tuple[_Required, ...] = ()
    output_only: tuple[str, ...] = ()
    children: tuple[_Child, ...] = ()
    # In an update request: the resource field, whose top-level REQUIRED follow the mask.
    masked: str | None = None
    busy: bool = field(default=False, repr=False)

    @property
    def empty(self) -> bool:
        return not (self.required or self.output_only or self.children)


class _Planner:
    def __init__(self) -> None:
        self._plans: dict[str, _Plan] = {}

    def plan(self, descriptor: Descriptor) -> _Plan:
        known = self._plans.get(descriptor.full_name)
        if known is not None:
            return known
        plan = _Plan(busy=True)
        self._plans[descriptor.full_name] = plan
        required: list[_Required] = []
        output_only: list[str] = []
        children: list[_Child] = []
        for fd in descriptor.fields:
            behaviors = _behaviors(fd)
            if _REQUIRED in behaviors:
                required.append(_required(fd))
            if _OUTPUT_ONLY in behaviors:
                output_only.append(fd.name)
                continue
            if _is_message(fd) and fd.message_type is not None:
                child = self.plan(fd.message_type)
                # A recursive type still being planned may turn out to need checks: keep it.
                if child.busy or not child.empty:
                    children.append(_Child(fd.name, fd.json_name, fd.is_repeated, child))
        plan.required, plan.output_only, plan.children = tuple(required), tuple(output_only), tuple(children)
        mask = descriptor.fields_by_name.get(_UPDATE_MASK)
        if mask is not None and mask.message_type is not None and mask.message_type.full_name == _MASK_TYPE:
            resources = [
                fd.name
                for fd in descriptor.fields
                if _REQUIRED in _behaviors(fd) and _is_message(fd) and not fd.is_repeated
            ]
            plan.masked = resources[0] if len(resources) == 1 else None
        plan.busy = False
        return plan


@dataclass(frozen=True)
class RequestFields:
    """The field rules of one method's request type."""

    descriptor: Descriptor
    plan: _Plan
    clear_output_only: bool

    def enforce(self, request: Message) -> None:
        """Raise InvalidArgument for the first missing REQUIRED field; drop OUTPUT_ONLY ones."""
        _walk(request, self.plan, "", self.clear_output_only, only=None)

    def json_path(self, path: str) -> str:
        return json_path(self.descriptor, path)


def _walk(message: Message, plan: _Plan, prefix: str, clear: bool, only: frozenset[str] | None) -> None:
    for rule in plan.required:
        if (only is None or rule.name in only) and _missing(message, rule):
            raise InvalidArgument(f"{prefix}{rule.json_name}", "is required")
    if clear:
        for name in plan.output_only:
            message.ClearField(name)
    for child in plan.children:
        if child.repeated:
            for i, item in enumerate(getattr(message, child.name)):
                _walk(item, child.plan, f"{prefix}{child.json_name}[{i}].", clear, None)
        elif message.HasField(child.name):
            scope = None
            if child.name == plan.masked:
                mask = getattr(message, _UPDATE_MASK).paths
                scope = frozenset(p.split(".", 1)[0] for p in mask) if "*" not in mask else None
            _walk(getattr(message, child.name), child.plan, f"{prefix}{child.json_name}.", clear, scope)


def request_fields(
    paths: Iterable[str], rest_bound: Mapping[str, bool] | None = None
) -> dict[str, RequestFields]:
    """The rules of each method ("/pkg.Service/Method"), built once at start-up.

    ``rest_bound`` says which methods a client reaches through the gateway; only those have
    OUTPUT_ONLY fields cleared.
    """
    pool = descriptor_pool.Default()
    planner = _Planner()
    rules: dict[str, RequestFields] = {}
    for path in paths:
        method = pool.FindMethodByName(path.lstrip("/").replace("/", "."))
        rules[path] = RequestFields(
            method.input_type, planner.plan(method.input_type), bool((rest_bound or {}).get(path))
        )
    return rules


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


@lru_cache(maxsize=4096)
def json_path(descriptor: Descriptor, path: str) -> str:
    """``path`` ("expense.payers[0].paid_minor") with each field's JSON name, following the
    request type; segments the type does not know are camel-cased as protobuf's JSON mapping
    does by default."""
    out: list[str] = []
    current: Descriptor | None = descriptor
    for segment in path.split("."):
        match = _INDEX.match(segment)
        if match is None:
            out.append(segment)
            current = None
            continue
        name, index = match.groups()
        fd = current.fields_by_name.get(name) if current is not None else None
        if fd is None:
            out.append(_camel(name) + index)
            current = None
            continue
        out.append(fd.json_name + index)
        current = fd.message_type if _is_message(fd) else None
    return ".".join(out)


def with_json_path(error: InvalidArgument, fields: RequestFields | None) -> InvalidArgument:
    """The same error with its field path in JSON names."""
    if fields is None:
        return error
    path = fields.json_path(error.field)
    if path == error.field:
        return error
    return InvalidArgument(path, error.description)


class FieldRules(UnaryWrapper):
    """Enforces the field rules last, just before the servicer: after authentication and the
    feature gate (a caller without the feature hears that first), and inside the pipeline,
    which maps the InvalidArgument like any domain error."""

    def __init__(self, fields: Mapping[str, RequestFields]):
        super().__init__()
        self._fields = fields

    async def wrap(self, method: str, inner: Behavior, handler: Any) -> Behavior | None:
        fields = self._fields.get(method)
        if fields is None or fields.plan.empty:
            return None

        async def behavior(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            fields.enforce(request)
            return await inner(request, context)

        return behavior
