"""Writes docs/openapi.json, the OpenAPI 3.1 description of the REST API, from gen/hisaab.pb.

The same descriptor set drives the gateway's transcoder and docs/api.md, so the
document describes what Envoy actually serves:

- one operation per ``google.api.http`` binding (additional bindings included);
  a resource-name variable such as ``{name=groups/*/expenses/*}`` becomes one
  path parameter per collection id (``/v1/groups/{groupId}/expenses/{expenseId}``);
- the body is the request (``body: "*"``) or one of its fields; every field
  bound neither by the path nor by the body is a query parameter, as the
  transcoder maps them (nested fields dotted, repeated scalars repeated);
- schemas use the JSON the transcoder prints: lowerCamelCase names, 64-bit
  integers as strings, enums as names, well-known types in their JSON forms;
- ``google.api.field_behavior`` REQUIRED fields are required, OUTPUT_ONLY ones
  read-only (INPUT_ONLY ones are only described: responses print them empty);
- every error is a ``google.rpc.Status`` with typed details; operations need a
  bearer token unless the RPC is marked ``(hisaab.common.v1.public)``.

Run ``python -m tools.openapi`` (``make docs``); ``--check`` exits 1 when
docs/openapi.json is stale.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from google.api import field_behavior_pb2
from google.protobuf import descriptor_pb2

from tools import apidoc

ROOT = apidoc.ROOT
DOC = ROOT / "docs" / "openapi.json"
# Where the gateway serves the document (tools/gateway/envoy_config.py).
SERVED_PATH = "/v1/openapi.json"
TITLE = "Hisaab API"
VERSION = "v1"

_F = descriptor_pb2.FieldDescriptorProto
_INT64_TYPES = {_F.TYPE_INT64, _F.TYPE_SINT64, _F.TYPE_SFIXED64}
_UINT64_TYPES = {_F.TYPE_UINT64, _F.TYPE_FIXED64}
_INT32_TYPES = {_F.TYPE_INT32, _F.TYPE_SINT32, _F.TYPE_SFIXED32}
_UINT32_TYPES = {_F.TYPE_UINT32, _F.TYPE_FIXED32}

# SourceCodeInfo paths: FileDescriptorProto.message_type = 4, .enum_type = 5;
# DescriptorProto.field = 2, .nested_type = 3, .enum_type = 4.
_FILE_MESSAGE, _FILE_ENUM = 4, 5
_MSG_FIELD, _MSG_NESTED, _MSG_ENUM = 2, 3, 4

_INT64_STRING = {"type": "string", "format": "int64", "pattern": "^-?[0-9]+$"}
_UINT64_STRING = {"type": "string", "format": "uint64", "pattern": "^[0-9]+$"}

# Well-known types have their own JSON forms (proto3 JSON mapping).
_WELL_KNOWN: dict[str, dict[str, Any]] = {
    "google.protobuf.Timestamp": {"type": "string", "format": "date-time"},
    "google.protobuf.Duration": {
        "type": "string",
        "pattern": "^-?[0-9]+(\\.[0-9]{1,9})?s$",
        "description": "A duration in seconds with an `s` suffix, e.g. `3600s`.",
    },
    "google.protobuf.FieldMask": {
        "type": "string",
        "description": "Comma-separated lowerCamelCase field paths, e.g. `title,total`.",
    },
    "google.protobuf.Empty": {"type": "object", "properties": {}},
    "google.protobuf.Struct": {"type": "object", "additionalProperties": True},
    "google.protobuf.Value": {},
    "google.protobuf.ListValue": {"type": "array", "items": {}},
    "google.protobuf.Any": {
        "type": "object",
        "required": ["@type"],
        "properties": {"@type": {"type": "string"}},
        "additionalProperties": True,
    },
    "google.protobuf.DoubleValue": {"type": ["number", "null"]},
    "google.protobuf.FloatValue": {"type": ["number", "null"]},
    "google.protobuf.Int64Value": {"oneOf": [_INT64_STRING, {"type": "null"}]},
    "google.protobuf.UInt64Value": {"oneOf": [_UINT64_STRING, {"type": "null"}]},
    "google.protobuf.Int32Value": {"type": ["integer", "null"], "format": "int32"},
    "google.protobuf.UInt32Value": {"type": ["integer", "null"], "minimum": 0},
    "google.protobuf.BoolValue": {"type": ["boolean", "null"]},
    "google.protobuf.StringValue": {"type": ["string", "null"]},
    "google.protobuf.BytesValue": {"type": ["string", "null"], "contentEncoding": "base64"},
}
_HTTP_BODY = "google.api.HttpBody"
_STATUS = "google.rpc.Status"
_ERROR_DETAILS_PACKAGE = "google.rpc"
# Our own error details are the messages of the file that defines the error reasons.
_ERROR_REASON_ENUM = "ErrorReason"
_UPDATE_MASK = "update_mask"


# Sent on calls counted against a free-tier quota (see docs/api.md).
_QUOTA_HEADERS: dict[str, Any] = {
    "x-quota-name": {"description": "The quota the call was counted against.", "schema": {"type": "string"}},
    "x-quota-limit": {"description": "Calls allowed in the window.", "schema": {"type": "integer"}},
    "x-quota-remaining": {"description": "Calls left in the window.", "schema": {"type": "integer"}},
    "x-quota-reset": {
        "description": "When the window ends (RFC 3339).",
        "schema": {"type": "string", "format": "date-time"},
    },
}


@dataclass
class _Message:
    proto: descriptor_pb2.DescriptorProto
    full_name: str
    package: str
    comment: str
    field_comments: dict[str, str] = field(default_factory=dict)


@dataclass
class _Enum:
    proto: descriptor_pb2.EnumDescriptorProto
    full_name: str
    package: str
    comment: str


class _Types:
    """Every message and enum of the descriptor set, by full name (no leading dot)."""

    def __init__(self, fds: descriptor_pb2.FileDescriptorSet) -> None:
        self.messages: dict[str, _Message] = {}
        self.enums: dict[str, _Enum] = {}
        # Messages a google.rpc.Status may carry in its details.
        self.error_details: list[str] = []
        for fd in fds.file:
            own_details = fd.package.startswith(apidoc.PACKAGE_PREFIX) and any(
                e.name == _ERROR_REASON_ENUM for e in fd.enum_type
            )
            if own_details or fd.package == _ERROR_DETAILS_PACKAGE:
                self.error_details += [f"{fd.package}.{m.name}" for m in fd.message_type]
            comments = {
                tuple(loc.path): " ".join(loc.leading_comments.split())
                for loc in fd.source_code_info.location
                if loc.leading_comments
            }
            for i, m in enumerate(fd.message_type):
                self._add_message(fd.package, m, f"{fd.package}.{m.name}", (_FILE_MESSAGE, i), comments)
            for i, e in enumerate(fd.enum_type):
                full = f"{fd.package}.{e.name}"
                self.enums[full] = _Enum(e, full, fd.package, comments.get((_FILE_ENUM, i), ""))

    def _add_message(
        self,
        package: str,
        m: descriptor_pb2.DescriptorProto,
        full: str,
        path: tuple[int, ...],
        comments: dict[tuple[int, ...], str],
    ) -> None:
        fields = {f.name: comments.get((*path, _MSG_FIELD, i), "") for i, f in enumerate(m.field)}
        self.messages[full] = _Message(m, full, package, comments.get(path, ""), fields)
        for i, nested in enumerate(m.nested_type):
            self._add_message(package, nested, f"{full}.{nested.name}", (*path, _MSG_NESTED, i), comments)
        for i, e in enumerate(m.enum_type):
            efull = f"{full}.{e.name}"
            self.enums[efull] = _Enum(e, efull, package, comments.get((*path, _MSG_ENUM, i), ""))


def _behaviors(f: descriptor_pb2.FieldDescriptorProto) -> set[int]:
    return set(f.options.Extensions[field_behavior_pb2.field_behavior])


def _is_map(types: _Types, f: descriptor_pb2.FieldDescriptorProto) -> bool:
    if f.type != _F.TYPE_MESSAGE or f.label != _F.LABEL_REPEATED:
        return False
    entry = types.messages.get(f.type_name.lstrip("."))
    return bool(entry and entry.proto.options.map_entry)


def _singular(collection: str) -> str:
    if collection.endswith("ies"):
        return collection[:-3] + "y"
    return collection[:-1] if collection.endswith("s") else collection


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


@dataclass(frozen=True)
class _PathVar:
    field_path: str  # proto field path, e.g. "expense.name"
    template: str  # the OpenAPI path fragment, e.g. "groups/{groupId}/expenses/{expenseId}"
    params: tuple[str, ...]  # the path parameters it introduces
    pattern: str  # the resource-name pattern, e.g. "groups/*/expenses/*"


_VARIABLE = re.compile(r"\{([a-z0-9_.]+)(?:=([^}]*))?\}")


def _parse_path(path: str) -> tuple[str, list[_PathVar]]:
    """The OpenAPI path for an HttpRule path, and its variables."""
    variables: list[_PathVar] = []

    def expand(match: re.Match[str]) -> str:
        field_path, pattern = match.group(1), match.group(2) or "*"
        segments = pattern.split("/")
        out: list[str] = []
        params: list[str] = []
        for i, seg in enumerate(segments):
            if seg == "*":
                before = segments[i - 1] if i else field_path.rsplit(".", 1)[-1]
                name = _camel(_singular(before) if i else before) + ("Id" if i else "")
                params.append(name)
                out.append(f"{{{name}}}")
            elif "*" in seg:
                raise SystemExit(f"{path}: only single-segment wildcards are described")
            else:
                out.append(seg)
        variables.append(_PathVar(field_path, "/".join(out), tuple(params), pattern))
        return "/".join(out)

    return _VARIABLE.sub(expand, path), variables


@dataclass
class _Builder:
    types: _Types
    schemas: dict[str, Any] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)  # message/enum full name -> component key

    def __post_init__(self) -> None:
        # Component keys are the short names, qualified by package only where two packages clash.
        short: dict[str, list[str]] = {}
        packages = {full: m.package for full, m in self.types.messages.items()}
        packages.update({full: e.package for full, e in self.types.enums.items()})
        for full, package in packages.items():
            short.setdefault(full[len(package) + 1 :], []).append(full)
        for key, fulls in short.items():
            for full in fulls:
                self.names[full] = key if len(fulls) == 1 else full

    def ref(self, full: str) -> dict[str, Any]:
        if full in _WELL_KNOWN:
            return dict(_WELL_KNOWN[full])
        key = self.names[full]
        if key not in self.schemas:
            self.schemas[key] = {}  # placeholder first: messages may refer to themselves
            if full in self.types.enums:
                self.schemas[key] = self._enum(self.types.enums[full])
            else:
                self.schemas[key] = self.message_schema(full)
        return {"$ref": f"#/components/schemas/{key}"}

    def _enum(self, e: _Enum) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "string", "enum": [v.name for v in e.proto.value]}
        if e.comment:
            out["description"] = e.comment
        return out

    def field_schema(self, f: descriptor_pb2.FieldDescriptorProto) -> dict[str, Any]:
        if _is_map(self.types, f):
            entry = self.types.messages[f.type_name.lstrip(".")].proto
            value = next(x for x in entry.field if x.name == "value")
            return {"type": "object", "additionalProperties": self._single(value)}
        single = self._single(f)
        if f.label == _F.LABEL_REPEATED:
            return {"type": "array", "items": single}
        return single

    def _single(self, f: descriptor_pb2.FieldDescriptorProto) -> dict[str, Any]:
        t = f.type
        if t in (_F.TYPE_MESSAGE, _F.TYPE_GROUP):
            return self.ref(f.type_name.lstrip("."))
        if t == _F.TYPE_ENUM:
            full = f.type_name.lstrip(".")
            return {"type": "null"} if full == "google.protobuf.NullValue" else self.ref(full)
        if t in _INT64_TYPES:
            return dict(_INT64_STRING)
        if t in _UINT64_TYPES:
            return dict(_UINT64_STRING)
        if t in _INT32_TYPES:
            return {"type": "integer", "format": "int32"}
        if t in _UINT32_TYPES:
            return {"type": "integer", "format": "int64", "minimum": 0, "maximum": 2**32 - 1}
        if t == _F.TYPE_BOOL:
            return {"type": "boolean"}
        if t == _F.TYPE_STRING:
            return {"type": "string"}
        if t == _F.TYPE_BYTES:
            return {"type": "string", "contentEncoding": "base64"}
        if t == _F.TYPE_DOUBLE:
            return {"type": "number", "format": "double"}
        if t == _F.TYPE_FLOAT:
            return {"type": "number", "format": "float"}
        raise SystemExit(f"field {f.name}: type {t} has no JSON mapping here")

    def message_schema(self, full: str, exclude: frozenset[str] = frozenset()) -> dict[str, Any]:
        """The JSON object for a message; ``exclude`` names (dotted) fields bound elsewhere."""
        msg = self.types.messages[full]
        props: dict[str, Any] = {}
        required: list[str] = []
        oneofs: dict[int, list[str]] = {}
        for f in msg.proto.field:
            if f.name in exclude:
                continue
            nested = frozenset(p.split(".", 1)[1] for p in exclude if p.startswith(f"{f.name}."))
            if nested and f.type == _F.TYPE_MESSAGE:
                schema = self.message_schema(f.type_name.lstrip("."), nested)
            else:
                schema = self.field_schema(f)
            behaviors = _behaviors(f)
            remarks: list[str] = []
            if msg.field_comments.get(f.name):
                remarks.append(msg.field_comments[f.name])
            if field_behavior_pb2.IMMUTABLE in behaviors:
                remarks.append("Immutable: set on create, ignored on update.")
            if field_behavior_pb2.INPUT_ONLY in behaviors:
                # Not writeOnly: the transcoder prints every field without presence, so
                # responses carry it, empty.
                remarks.append("Input only: responses leave it empty.")
            if f.HasField("oneof_index") and not f.proto3_optional:
                oneofs.setdefault(f.oneof_index, []).append(f.json_name)
            if remarks or field_behavior_pb2.OUTPUT_ONLY in behaviors:
                schema = {"allOf": [schema]} if "$ref" in schema else schema
                if remarks:
                    schema["description"] = " ".join(remarks)
                if field_behavior_pb2.OUTPUT_ONLY in behaviors:
                    schema["readOnly"] = True
            props[f.json_name] = schema
            if field_behavior_pb2.REQUIRED in behaviors:
                required.append(f.json_name)
        out: dict[str, Any] = {"type": "object", "properties": props}
        if required:
            out["required"] = required
        description = msg.comment
        for index, members in oneofs.items():
            name = msg.proto.oneof_decl[index].name
            listed = ", ".join(f"`{m}`" for m in members)
            description = f"{description} At most one of {listed} is set (oneof `{name}`).".strip()
        if description:
            out["description"] = description
        return out

    def query_params(
        self, full: str, bound: set[str], prefix: str = "", depth: int = 0
    ) -> Iterator[dict[str, Any]]:
        """Query parameters for the request fields not bound by path or body (transcoder rules)."""
        msg = self.types.messages[full]
        for f in msg.proto.field:
            proto_path = f"{prefix}{f.name}"
            if proto_path in bound or _is_map(self.types, f):
                continue
            type_name = f.type_name.lstrip(".")
            is_message = f.type == _F.TYPE_MESSAGE and type_name not in _WELL_KNOWN
            if is_message:
                # The transcoder fills nested singular messages from dotted parameters.
                if f.label != _F.LABEL_REPEATED and depth < 3:
                    yield from self.query_params(type_name, bound, f"{proto_path}.", depth + 1)
                continue
            schema = self.field_schema(f)
            name = ".".join(_camel(part) for part in proto_path.split("."))
            param: dict[str, Any] = {"name": name, "in": "query", "schema": schema}
            if schema.get("type") == "array":
                param["explode"] = True
                param["style"] = "form"
            comment = msg.field_comments.get(f.name)
            if comment:
                param["description"] = comment
            if field_behavior_pb2.REQUIRED in _behaviors(f) and not prefix:
                param["required"] = True
            yield param


def _operation_ids(svcs: list[apidoc.Service]) -> dict[tuple[str, str], str]:
    counts: dict[str, int] = {}
    for s in svcs:
        for r in s.rpcs:
            counts[r.name] = counts.get(r.name, 0) + 1
    # RPC names are unique across services today; a clash is qualified by the service.
    ids: dict[tuple[str, str], str] = {}
    for s in svcs:
        for r in s.rpcs:
            clash = counts[r.name] > 1
            ids[(s.full_name, r.name)] = s.short_name.removesuffix("Service") + r.name if clash else r.name
    return ids


def _error_components(builder: _Builder) -> None:
    details = sorted(full for full in builder.types.error_details if full != _STATUS)
    variants = []
    for full in details:
        builder.ref(full)
        key = builder.names[full]
        variants.append(
            {
                "allOf": [
                    {"$ref": f"#/components/schemas/{key}"},
                    {
                        "type": "object",
                        "required": ["@type"],
                        "properties": {"@type": {"const": f"type.googleapis.com/{full}"}},
                    },
                ]
            }
        )
    builder.schemas["Status"] = {
        "type": "object",
        "description": (
            "A google.rpc.Status, from a service or from the gateway itself: `code` is the "
            "gRPC status code, `details` carry an ErrorInfo (reason from "
            "hisaab.common.v1.ErrorReason) and, when a field is at fault, a BadRequest "
            "naming it by its JSON path."
        ),
        "required": ["code", "message"],
        "properties": {
            "code": {"type": "integer", "format": "int32"},
            "message": {"type": "string"},
            "details": {"type": "array", "items": {"anyOf": variants}},
        },
    }


def build(fds: descriptor_pb2.FileDescriptorSet) -> dict[str, Any]:
    types = _Types(fds)
    builder = _Builder(types)
    svcs = apidoc._ordered(list(apidoc.services(apidoc.hisaab_files(fds))))
    op_ids = _operation_ids(svcs)
    _error_components(builder)
    paths: dict[str, dict[str, Any]] = {}
    tags: list[dict[str, str]] = []
    for svc in svcs:
        rest = [r for r in svc.rpcs if not r.internal]
        if not rest:
            continue
        tag = {"name": svc.short_name}
        if svc.comment:
            tag["description"] = " ".join(svc.comment.split())
        tags.append(tag)
        for r in rest:
            for i, binding in enumerate(r.http):
                op_id = op_ids[(svc.full_name, r.name)] + (f"{i + 1}" if i else "")
                path, op = _operation(builder, svc, r, binding, op_id)
                op = {"operationId": op_id, **op}
                paths.setdefault(path, {})[binding.verb.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {
            "title": TITLE,
            "version": VERSION,
            "description": (
                "REST+JSON API of Hisaab, served by the gateway's gRPC-JSON transcoder. "
                "Generated from protos/ by `python -m tools.openapi`; do not edit. Money is "
                "integers in minor units; 64-bit integers are strings; enums are their names. "
                "Unknown JSON fields in a request body are dropped by the transcoder."
            ),
        },
        "servers": [{"url": "/"}],
        "tags": tags,
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": dict(sorted(builder.schemas.items())),
            "responses": {
                "Error": {
                    "description": "A google.rpc.Status; the HTTP status follows the gRPC code.",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Status"}}},
                }
            },
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "The access token from POST /v1/auth:verifySignIn or /v1/auth:refresh.",
                }
            },
        },
        "security": [{"bearerAuth": []}],
    }


def _operation(
    builder: _Builder, svc: apidoc.Service, r: apidoc.Rpc, binding: apidoc.HttpBinding, op_id: str
) -> tuple[str, dict[str, Any]]:
    path, variables = _parse_path(binding.path)
    bound = {v.field_path for v in variables}
    params: list[dict[str, Any]] = []
    for v in variables:
        for name in v.params:
            params.append(
                {
                    "name": name,
                    "in": "path",
                    "required": True,
                    "description": f"One segment of `{v.field_path}` (`{v.pattern}`).",
                    "schema": {"type": "string", "pattern": "^[^/]+$"},
                }
            )
    op: dict[str, Any] = {"tags": [svc.short_name], "summary": r.summary}
    if r.comment:
        op["description"] = " ".join(r.comment.split())
    needs = r.needs()
    if needs:
        op["description"] = f"{op.get('description', '')} Needs: {needs}.".strip()
    if r.input_type == _HTTP_BODY:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": {}}}}
    elif binding.body == "*":
        body = builder.message_schema(r.input_type, frozenset(bound))
        key = f"{op_id}Body"
        builder.schemas[key] = body
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{key}"}}},
        }
    else:
        if binding.body:
            msg = builder.types.messages[r.input_type]
            body_field = next(f for f in msg.proto.field if f.name == binding.body)
            nested = frozenset(p.split(".", 1)[1] for p in bound if p.startswith(f"{binding.body}."))
            is_update = any(f.name == _UPDATE_MASK for f in msg.proto.field)
            if (nested or is_update) and body_field.type == _F.TYPE_MESSAGE:
                key = f"{op_id}Body"
                body = builder.message_schema(body_field.type_name.lstrip("."), nested)
                if is_update:
                    # An update sends only what updateMask names; required applies to those paths.
                    body.pop("required", None)
                builder.schemas[key] = body
                schema: dict[str, Any] = {"$ref": f"#/components/schemas/{key}"}
            else:
                schema = builder.field_schema(body_field)
            op["requestBody"] = {"required": True, "content": {"application/json": {"schema": schema}}}
            bound.add(binding.body)
        params += builder.query_params(r.input_type, bound)
    if params:
        op["parameters"] = params
    op["responses"] = {
        "200": {
            "description": "OK",
            "content": {"application/json": {"schema": builder.ref(r.output_type)}},
        },
        "default": {"$ref": "#/components/responses/Error"},
    }
    if r.quota_key:
        op["responses"]["200"]["headers"] = _QUOTA_HEADERS
    if r.public:
        op["security"] = []
    return path, op


def render(fds: descriptor_pb2.FileDescriptorSet) -> str:
    return json.dumps(build(fds), indent=2, ensure_ascii=False) + "\n"


def main() -> None:
    summary = __doc__.splitlines()[0] if __doc__ else None
    apidoc.write_or_check(DOC, ROOT, lambda: render(apidoc.load_descriptor_set()), summary)


if __name__ == "__main__":
    main()
