"""SplitPreset proto ⇄ domain."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from hisaab.group.v1 import group_pb2

from libs import etag, names
from libs.errors import InvalidArgument
from services.group.presets import Mode, Preset, PresetSpec

_PB = group_pb2.SplitPreset
MODE = {_PB.EQUAL: Mode.EQUAL, _PB.PERCENT: Mode.PERCENT, _PB.SHARES: Mode.SHARES, _PB.EXACT: Mode.EXACT}
MODE_PB = {v: k for k, v in MODE.items()}
FIELDS = ("display_name", "mode", "entries", "currency_code", "is_default")


def mode(value: int, field: str) -> Mode:
    found: Mode | None = MODE.get(value)  # type: ignore[call-overload]
    if found is None:
        raise InvalidArgument(field, "must be EQUAL, PERCENT, SHARES or EXACT")
    return found


def entries(proto: group_pb2.SplitPreset, prefix: str) -> tuple[tuple[str, int], ...]:
    return tuple(
        (names.one(e.user, "users", f"{prefix}.entries[{i}].user"), e.value)
        for i, e in enumerate(proto.entries)
    )


def spec(proto: group_pb2.SplitPreset, prefix: str = "split_preset") -> PresetSpec:
    return PresetSpec(
        display_name=proto.display_name.strip(),
        mode=mode(proto.mode, f"{prefix}.mode"),
        entries=entries(proto, prefix),
        currency_code=proto.currency_code.upper(),
        is_default=proto.is_default,
    )


def changes(proto: group_pb2.SplitPreset, paths: list[str], prefix: str = "split_preset") -> dict[str, Any]:
    if not paths:
        paths = [f for f in FIELDS if (len(proto.entries) > 0 if f == "entries" else getattr(proto, f))]
    out: dict[str, Any] = {}
    for path in paths:
        if path == "display_name":
            out[path] = proto.display_name.strip()
        elif path == "mode":
            out[path] = mode(proto.mode, f"{prefix}.mode")
        elif path == "entries":
            out[path] = entries(proto, prefix)
        elif path == "currency_code":
            out[path] = proto.currency_code.upper()
        elif path == "is_default":
            out[path] = proto.is_default
        else:
            raise InvalidArgument("update_mask", f"cannot update {path!r}; allowed: {', '.join(FIELDS)}")
    return out


def preset_pb(preset: Preset, members: Collection[str], timestamp: Any) -> group_pb2.SplitPreset:
    departed = preset.departed(set(members))
    s = preset.spec
    return group_pb2.SplitPreset(
        name=preset.name,
        display_name=s.display_name,
        mode=MODE_PB[s.mode],
        entries=[group_pb2.SplitPreset.Entry(user=f"users/{u}", value=v) for u, v in s.entries],
        currency_code=s.currency_code,
        is_default=s.is_default,
        valid=not departed,
        departed_users=[f"users/{u}" for u in departed],
        creator=f"users/{preset.creator}",
        create_time=timestamp(preset.created_at),
        update_time=timestamp(preset.updated_at),
        etag=etag.make(preset.name, preset.version),
    )
