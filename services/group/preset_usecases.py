"""Split preset use cases: any member may manage the group's presets; each write is one transaction."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from hisaab.events.v1 import events_pb2 as ev

from libs import etag, outbox
from libs.db.database import Database
from libs.errors import NotFound
from services.group import preset_repository as store
from services.group import presets, repository
from services.group.presets import Preset, PresetSpec
from services.group.usecases import NOT_FOUND

PRESET_NOT_FOUND = "split preset not found"


class PresetUseCases:
    def __init__(self, db: Database):
        self._db = db

    async def _members(self, conn: Any, group_id: str, caller: str) -> list[str]:
        found = await repository.roster(conn, group_id)
        if found is None or caller not in found[2]:
            raise NotFound(NOT_FOUND)
        return found[2]

    async def create(
        self, conn: Any, caller: str, group_id: str, spec: PresetSpec
    ) -> tuple[Preset, list[str]]:
        # Lock the group row so two "make this the default" writes cannot both win.
        if await repository.group_for_member(conn, group_id, caller, lock=True) is None:
            raise NotFound(NOT_FOUND)
        members = await self._members(conn, group_id, caller)
        spec = presets.check(spec, members)
        if spec.is_default:
            await store.clear_default(conn, group_id)
        preset = await store.insert(conn, group_id, spec, caller)
        created = ev.SplitPresetChanged(
            group=group_id, split_preset=preset.id, change=ev.CREATED, is_default=spec.is_default
        )
        await outbox.record(conn, created, preset.name, actor=caller)
        return preset, members

    async def get(self, caller: str, group_id: str, preset_id: str) -> tuple[Preset, list[str]]:
        # The writer, not a replica: an expense resolves a preset right after it is saved.
        async with self._db.transaction() as conn:
            members = await self._members(conn, group_id, caller)
            preset = await store.get(conn, group_id, preset_id)
        if preset is None:
            raise NotFound(PRESET_NOT_FOUND)
        return preset, members

    async def page(
        self, caller: str, group_id: str, *, after: list[Any] | None, limit: int
    ) -> tuple[list[Preset], list[str]]:
        async with self._db.transaction() as conn:
            members = await self._members(conn, group_id, caller)
            return await store.page(conn, group_id, after=after, limit=limit), members

    async def update(
        self, caller: str, group_id: str, preset_id: str, changes: dict[str, Any], sent_etag: str
    ) -> tuple[Preset, list[str]]:
        async with self._db.transaction() as conn:
            if await repository.group_for_member(conn, group_id, caller, lock=True) is None:
                raise NotFound(NOT_FOUND)
            members = await self._members(conn, group_id, caller)
            current = await store.get(conn, group_id, preset_id, lock=True)
            if current is None:
                raise NotFound(PRESET_NOT_FOUND)
            etag.check(sent_etag, current.name, current.version)
            spec = presets.check(replace(current.spec, **changes), members)
            if spec.is_default and not current.spec.is_default:
                await store.clear_default(conn, group_id, except_id=current.id)
            updated = await store.update(conn, current.id, spec)
            changed = ev.SplitPresetChanged(
                group=group_id,
                split_preset=updated.id,
                change=ev.UPDATED,
                is_default=updated.spec.is_default,
                fields=sorted(changes),
            )
            await outbox.record(conn, changed, updated.name, actor=caller)
            return updated, members

    async def delete(self, caller: str, group_id: str, preset_id: str, sent_etag: str) -> None:
        async with self._db.transaction() as conn:
            await self._members(conn, group_id, caller)
            current = await store.get(conn, group_id, preset_id, lock=True)
            if current is None:
                raise NotFound(PRESET_NOT_FOUND)
            etag.check(sent_etag, current.name, current.version)
            await store.delete(conn, current.id)
            deleted = ev.SplitPresetChanged(group=group_id, split_preset=current.id, change=ev.DELETED)
            await outbox.record(conn, deleted, current.name, actor=caller)
