"""groups.split_presets with SQLAlchemy Core: the SQL adapter of the SplitPresets port."""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from libs.validation import is_uuid
from services.group.presets import Mode, Preset, PresetSpec

_COLUMNS = (
    "id, group_id, display_name, mode, entries, currency_code, is_default, created_by, version, "
    "created_at, updated_at"
)


def _preset(row: Any) -> Preset:
    return Preset(
        id=str(row.id),
        group_id=str(row.group_id),
        spec=PresetSpec(
            display_name=row.display_name,
            mode=Mode(row.mode),
            entries=tuple((str(u), int(v)) for u, v in row.entries),
            currency_code=row.currency_code,
            is_default=row.is_default,
        ),
        creator=row.created_by,
        version=int(row.version),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _values(spec: PresetSpec) -> dict[str, Any]:
    return {
        "display_name": spec.display_name,
        "mode": spec.mode.value,
        "entries": json.dumps([[u, v] for u, v in spec.entries]),
        "currency_code": spec.currency_code,
        "is_default": spec.is_default,
    }


class SqlSplitPresets:
    def __init__(self, conn: AsyncConnection):
        self._conn = conn

    async def clear_default(self, group_id: str, *, except_id: str | None = None) -> None:
        await self._conn.execute(
            text(
                "UPDATE groups.split_presets SET is_default = false, version = version + 1, "
                "updated_at = now() "
                "WHERE group_id = :g AND is_default AND id IS DISTINCT FROM CAST(:keep AS uuid)"
            ),
            {"g": group_id, "keep": except_id},
        )

    async def insert(self, group_id: str, spec: PresetSpec, creator: str) -> Preset:
        row = (
            await self._conn.execute(
                text(
                    "INSERT INTO groups.split_presets (id, group_id, display_name, mode, entries, "
                    "currency_code, is_default, created_by) "
                    "VALUES (:id, :g, :display_name, :mode, CAST(:entries AS jsonb), "
                    f":currency_code, :is_default, :by) RETURNING {_COLUMNS}"
                ),
                {"id": str(uuid.uuid4()), "g": group_id, "by": creator, **_values(spec)},
            )
        ).one()
        return _preset(row)

    async def get(self, group_id: str, preset_id: str, *, lock: bool = False) -> Preset | None:
        """A preset by id, or the group's default for the alias ``default``."""
        if preset_id == "default":
            where, params = "group_id = :g AND is_default", {"g": group_id}
        elif is_uuid(preset_id):
            where, params = "group_id = :g AND id = :id", {"g": group_id, "id": preset_id}
        else:
            return None
        sql = f"SELECT {_COLUMNS} FROM groups.split_presets WHERE {where}" + (" FOR UPDATE" if lock else "")
        row = (await self._conn.execute(text(sql), params)).first()
        return _preset(row) if row else None

    async def page(self, group_id: str, *, after: list[Any] | None, limit: int) -> list[Preset]:
        # The default sorts first: NOT is_default is false for it.
        where = "group_id = :g"
        params: dict[str, Any] = {"g": group_id, "limit": limit}
        if after:
            where += (
                " AND (NOT is_default, display_name, id) > "
                "(CAST(:a0 AS boolean), CAST(:a1 AS text), CAST(:a2 AS uuid))"
            )
            params |= {"a0": after[0], "a1": after[1], "a2": after[2]}
        sql = (
            f"SELECT {_COLUMNS} FROM groups.split_presets WHERE {where} "
            "ORDER BY NOT is_default, display_name, id LIMIT :limit"
        )
        return [_preset(r) for r in await self._conn.execute(text(sql), params)]

    async def update(self, preset_id: str, spec: PresetSpec) -> Preset:
        row = (
            await self._conn.execute(
                text(
                    "UPDATE groups.split_presets SET display_name = :display_name, mode = :mode, "
                    "entries = CAST(:entries AS jsonb), currency_code = :currency_code, "
                    "is_default = :is_default, "
                    f"version = version + 1, updated_at = now() WHERE id = :id RETURNING {_COLUMNS}"
                ),
                {"id": preset_id, **_values(spec)},
            )
        ).one()
        return _preset(row)

    async def delete(self, preset_id: str) -> None:
        await self._conn.execute(text("DELETE FROM groups.split_presets WHERE id = :id"), {"id": preset_id})
