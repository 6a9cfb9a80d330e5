"""Split preset use cases: any member may manage the group's presets; each write is one transaction."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from hisaab.events.v1 import events_pb2 as ev

from libs import etag
from libs.db.unit_of_work import UnitOfWork
from libs.errors import NotFound
from libs.idempotency import M, Once
from services.group import presets
from services.group.ports import GroupRepositories
from services.group.presets import Preset, PresetSpec
from services.group.usecases import NOT_FOUND

PRESET_NOT_FOUND = "split preset not found"


class PresetUseCases:
    def __init__(self, uow: UnitOfWork[GroupRepositories]):
        self._uow = uow

    async def _members(self, repos: GroupRepositories, group_id: str, caller: str) -> list[str]:
        found = await repos.roster(group_id)
        if found is None or caller not in found[2]:
            raise NotFound(NOT_FOUND)
        return found[2]

    async def create(
        self,
        caller: str,
        group_id: str,
        spec: PresetSpec,
        once: Once[GroupRepositories, M],
        present: Callable[[Preset, list[str]], M],
    ) -> M:
        """CreateSplitPreset, once per request_id."""

        async def work(repos: GroupRepositories) -> M:
            # Lock the group row so two "make this the default" writes cannot both win.
            if await repos.group_for_member(group_id, caller, lock=True) is None:
                raise NotFound(NOT_FOUND)
            members = await self._members(repos, group_id, caller)
            checked = presets.check(spec, members)
            if checked.is_default:
                await repos.presets.clear_default(group_id)
            preset = await repos.presets.insert(group_id, checked, caller)
            created = ev.SplitPresetChanged(
                group=group_id, split_preset=preset.id, change=ev.CREATED, is_default=checked.is_default
            )
            await repos.outbox.record(created, preset.name, actor=caller)
            return present(preset, members)

        return await once(work)

    async def get(self, caller: str, group_id: str, preset_id: str) -> tuple[Preset, list[str]]:
        # The writer, not a replica: an expense resolves a preset right after it is saved.
        async with self._uow.transaction() as repos:
            members = await self._members(repos, group_id, caller)
            preset = await repos.presets.get(group_id, preset_id)
        if preset is None:
            raise NotFound(PRESET_NOT_FOUND)
        return preset, members

    async def page(
        self, caller: str, group_id: str, *, after: list[Any] | None, limit: int
    ) -> tuple[list[Preset], list[str]]:
        async with self._uow.transaction() as repos:
            members = await self._members(repos, group_id, caller)
            return await repos.presets.page(group_id, after=after, limit=limit), members

    async def update(
        self, caller: str, group_id: str, preset_id: str, changes: dict[str, Any], sent_etag: str
    ) -> tuple[Preset, list[str]]:
        async with self._uow.transaction() as repos:
            if await repos.group_for_member(group_id, caller, lock=True) is None:
                raise NotFound(NOT_FOUND)
            members = await self._members(repos, group_id, caller)
            current = await repos.presets.get(group_id, preset_id, lock=True)
            if current is None:
                raise NotFound(PRESET_NOT_FOUND)
            etag.check(sent_etag, current.name, current.version)
            spec = presets.check(replace(current.spec, **changes), members)
            if spec.is_default and not current.spec.is_default:
                await repos.presets.clear_default(group_id, except_id=current.id)
            updated = await repos.presets.update(current.id, spec)
            changed = ev.SplitPresetChanged(
                group=group_id,
                split_preset=updated.id,
                change=ev.UPDATED,
                is_default=updated.spec.is_default,
                fields=sorted(changes),
            )
            await repos.outbox.record(changed, updated.name, actor=caller)
            return updated, members

    async def delete(self, caller: str, group_id: str, preset_id: str, sent_etag: str) -> None:
        async with self._uow.transaction() as repos:
            await self._members(repos, group_id, caller)
            current = await repos.presets.get(group_id, preset_id, lock=True)
            if current is None:
                raise NotFound(PRESET_NOT_FOUND)
            etag.check(sent_etag, current.name, current.version)
            await repos.presets.delete(current.id)
            deleted = ev.SplitPresetChanged(group=group_id, split_preset=current.id, change=ev.DELETED)
            await repos.outbox.record(deleted, current.name, actor=caller)
