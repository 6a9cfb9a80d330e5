"""GroupService over gRPC: proto ⇄ use cases. Idempotent creates keep their proto response."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from google.protobuf import empty_pb2
from hisaab.group.v1 import group_pb2, group_pb2_grpc

from libs import change_feed, clock, etag, idempotency, names, pagination, validation, wire
from libs.auth.caller import is_internal, require_caller
from libs.db.unit_of_work import UnitOfWork
from libs.errors import InvalidArgument
from services.group import preset_codec
from services.group.domain import GROUP_FIELDS, Group, InviteLink, Kind, Member, MemberRemoval, Role
from services.group.ports import GroupRepositories, Profile
from services.group.preset_usecases import PresetUseCases
from services.group.presets import Preset
from services.group.usecases import GroupUseCases, Invitee

_KIND = {
    group_pb2.Group.TRIP: Kind.TRIP,
    group_pb2.Group.HOME: Kind.HOME,
    group_pb2.Group.COUPLE: Kind.COUPLE,
    group_pb2.Group.OTHER: Kind.OTHER,
    group_pb2.Group.DIRECT: Kind.DIRECT,
}
_KIND_PB = {v: k for k, v in _KIND.items()}
_ROLE = {group_pb2.Member.OWNER: Role.OWNER, group_pb2.Member.MEMBER: Role.MEMBER}
_ROLE_PB = {v: k for k, v in _ROLE.items()}


def group_proto(group: Group) -> group_pb2.Group:
    return group_pb2.Group(
        name=group.name,
        group_id=group.id,
        display_name=group.display_name,
        kind=_KIND_PB[group.kind],
        description=group.description,
        default_currency=group.default_currency,
        simplify_debts=group.simplify_debts,
        archived=group.archived,
        member_count=group.member_count,
        my_role=_ROLE_PB.get(group.my_role, group_pb2.Member.ROLE_UNSPECIFIED) if group.my_role else 0,  # type: ignore[arg-type]
        create_time=wire.timestamp(group.created_at),
        update_time=wire.timestamp(group.updated_at),
        etag=etag.make(group.name, group.version),
        friend=f"users/{group.friend}" if group.friend else "",
    )


def member_proto(member: Member, profile: Profile | None) -> group_pb2.Member:
    placeholder = profile is None or profile.placeholder
    return group_pb2.Member(
        name=f"groups/{member.group_id}/members/{member.user_id}",
        user=f"users/{member.user_id}",
        display_name=profile.display_name if profile else "",
        role=_ROLE_PB[member.role],
        state=group_pb2.Member.INVITED if placeholder else group_pb2.Member.ACTIVE,
        invited_phone_number=member.invited_phone_number if placeholder else "",
        invited_email=member.invited_email if placeholder else "",
        creator=f"users/{member.creator}",
        join_time=wire.timestamp(member.joined_at),
        etag=etag.make(f"groups/{member.group_id}/members/{member.user_id}", member.role.value),
    )


def link_proto(link: InviteLink) -> group_pb2.InviteLink:
    proto = group_pb2.InviteLink(
        name=f"groups/{link.group_id}/inviteLinks/{link.id}",
        token=link.token,
        revoked=link.revoked,
        creator=f"users/{link.creator}",
        create_time=wire.timestamp(link.created_at),
    )
    if link.expires_at is not None:
        proto.expire_time.CopyFrom(wire.timestamp(link.expires_at))
    return proto


_GROUP_CHANGE = {
    "created": group_pb2.GroupChange.CREATED,
    "updated": group_pb2.GroupChange.UPDATED,
    "archived": group_pb2.GroupChange.ARCHIVED,
    "unarchived": group_pb2.GroupChange.UNARCHIVED,
}
_MEMBER_CHANGE = {
    "added": (group_pb2.GroupChange.CREATED, group_pb2.GroupChange.ADDED),
    "joined": (group_pb2.GroupChange.CREATED, group_pb2.GroupChange.JOINED),
    "role_changed": (group_pb2.GroupChange.UPDATED, group_pb2.GroupChange.ROLE_CHANGED),
    "profile_changed": (group_pb2.GroupChange.UPDATED, group_pb2.GroupChange.PROFILE_CHANGED),
}
_MEMBER_REMOVAL = {"left": group_pb2.GroupChange.LEFT, "removed": group_pb2.GroupChange.REMOVED}


def _change_proto(row: Group | Member | MemberRemoval, profiles: dict[str, Profile]) -> group_pb2.GroupChange:
    if isinstance(row, Group):
        return group_pb2.GroupChange(
            change_type=_GROUP_CHANGE[row.last_change],
            group=group_proto(row),
            change_time=wire.timestamp(row.updated_at),
        )
    if isinstance(row, Member):
        change_type, member_change = _MEMBER_CHANGE[row.last_change]
        return group_pb2.GroupChange(
            change_type=change_type,
            member=member_proto(row, profiles.get(row.user_id)),
            member_change=member_change,
            change_time=wire.timestamp(row.changed_at or row.joined_at),
        )
    return group_pb2.GroupChange(
        change_type=group_pb2.GroupChange.DELETED,
        removed=row.name,
        member_change=_MEMBER_REMOVAL[row.how],
        change_time=wire.timestamp(row.removed_at),
    )


def _preset_pb(preset: Preset, members: list[str]) -> group_pb2.SplitPreset:
    return preset_codec.preset_pb(preset, members, wire.timestamp)


def _group_fields(group: group_pb2.Group, paths: list[str], prefix: str = "group") -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for path in paths:
        field = f"{prefix}.{path}"
        if path == "display_name":
            fields[path] = validation.text(group.display_name, field, max_length=100, required=True)
        elif path == "description":
            fields[path] = validation.text(group.description, field, max_length=1000, multiline=True)
        elif path == "default_currency":
            fields[path] = validation.currency_code(group.default_currency, field)
        elif path == "simplify_debts":
            fields[path] = group.simplify_debts
        else:
            raise InvalidArgument(
                "update_mask", f"cannot update {path!r}; allowed: {', '.join(GROUP_FIELDS)}"
            )
    return fields


def _invitee(request: Any, oneof: str, prefix: str = "") -> Invitee:
    which = request.WhichOneof(oneof)
    display_name = validation.text(getattr(request, "display_name", ""), "display_name", max_length=100)
    if which == "user":
        return Invitee(user_id=names.one(request.user, "users", f"{prefix}user"))
    if which == "phone_number":
        return Invitee(phone_number=validation.phone_number(request.phone_number), display_name=display_name)
    if which == "email":
        return Invitee(email=validation.email(request.email), display_name=display_name)
    raise InvalidArgument("user", "a user, phone_number or email is required")


class GroupServicer(group_pb2_grpc.GroupServiceServicer):
    def __init__(self, usecases: GroupUseCases, presets: PresetUseCases, uow: UnitOfWork[GroupRepositories]):
        self._uc = usecases
        self._presets = presets
        # Only to bind a create's request to its idempotency key (libs.idempotency.Once).
        self._uow = uow

    def _once(
        self, scope: str, request: Any, response_type: type[idempotency.M]
    ) -> idempotency.Once[GroupRepositories, idempotency.M]:
        idempotency.validate_request_id(request.request_id)
        # Every group create only writes rows: its key can go out with them.
        return idempotency.Once(self._uow, f"group.{scope}", request, response_type, claim_with_writes=True)

    async def CreateGroup(self, request: group_pb2.CreateGroupRequest, context: Any) -> group_pb2.Group:
        caller = require_caller()
        g = request.group
        kind = _KIND.get(g.kind)
        if kind is None:
            raise InvalidArgument("group.kind", "must be TRIP, HOME, COUPLE or OTHER")
        if kind is Kind.DIRECT:
            raise InvalidArgument("group.kind", "friend ledgers are opened with POST /v1/groups:openDirect")
        fields = _group_fields(g, ["display_name", "description", "simplify_debts"])
        fields["default_currency"] = (
            validation.currency_code(g.default_currency, "group.default_currency")
            if g.default_currency
            else "INR"
        )
        fields["kind"] = kind
        once = self._once("CreateGroup", request, group_pb2.Group)
        return await self._uc.create(caller.user_id, fields, once, group_proto)

    async def GetGroup(self, request: group_pb2.GetGroupRequest, context: Any) -> group_pb2.Group:
        return group_proto(await self._uc.get(require_caller().user_id, names.group(request.name)))

    async def ListGroups(
        self, request: group_pb2.ListGroupsRequest, context: Any
    ) -> group_pb2.ListGroupsResponse:
        caller = require_caller()
        query = {"archived": request.show_archived, "caller": caller.user_id}
        pager = pagination.Page.of(request, query)
        found = await self._uc.list_groups(
            caller.user_id,
            show_archived=request.show_archived,
            after=pager.after,
            limit=pager.limit,
        )
        page, token = pager.cut(found, lambda last: [last.updated_at.isoformat(), last.id])
        return group_pb2.ListGroupsResponse(groups=[group_proto(g) for g in page], next_page_token=token)

    async def UpdateGroup(self, request: group_pb2.UpdateGroupRequest, context: Any) -> group_pb2.Group:
        caller = require_caller()
        group_id = names.group(request.group.name, "group.name")
        paths = list(request.update_mask.paths) or [f for f in GROUP_FIELDS if getattr(request.group, f)]
        changes = _group_fields(request.group, paths)
        return group_proto(await self._uc.update(caller.user_id, group_id, changes, request.group.etag))

    async def ArchiveGroup(self, request: group_pb2.ArchiveGroupRequest, context: Any) -> group_pb2.Group:
        caller = require_caller()
        return group_proto(
            await self._uc.set_archived(caller.user_id, names.group(request.name), True, request.etag)
        )

    async def UnarchiveGroup(self, request: group_pb2.UnarchiveGroupRequest, context: Any) -> group_pb2.Group:
        caller = require_caller()
        return group_proto(
            await self._uc.set_archived(caller.user_id, names.group(request.name), False, request.etag)
        )

    async def OpenDirectGroup(
        self, request: group_pb2.OpenDirectGroupRequest, context: Any
    ) -> group_pb2.Group:
        caller = require_caller()
        friend = _invitee(request, "friend")
        currency = (
            validation.currency_code(request.default_currency, "default_currency")
            if request.default_currency
            else "INR"
        )
        return group_proto(await self._uc.open_direct(caller.user_id, friend, currency))

    async def ListMembers(
        self, request: group_pb2.ListMembersRequest, context: Any
    ) -> group_pb2.ListMembersResponse:
        caller = require_caller()
        group_id = names.group(request.parent, "parent")
        query = {"group": group_id}
        pager = pagination.Page.of(request, query)
        found, profiles = await self._uc.members(
            caller.user_id, group_id, after=pager.after, limit=pager.limit
        )
        page, token = pager.cut(found, lambda last: [last.joined_at.isoformat(), last.user_id])
        return group_pb2.ListMembersResponse(
            members=[member_proto(m, profiles.get(m.user_id)) for m in page], next_page_token=token
        )

    async def ListGroupChanges(
        self, request: group_pb2.ListGroupChangesRequest, context: Any
    ) -> group_pb2.ListGroupChangesResponse:
        caller = require_caller().user_id
        group_id = names.group(request.parent, "parent", allow_every=True)
        # Cursors are tied to the feed they came from, never to a page size.
        bound = {"feed": group_id, "caller": caller}
        state = change_feed.decode(request.cursor, bound)
        size = change_feed.page_size(request.page_size)
        groups = await self._uc.feed_groups(caller, group_id, resuming=state is not None)
        profiles: dict[str, Profile] = {}

        async def fetch(
            ids: list[str], after: change_feed.Key | None, upto: change_feed.Key | None, limit: int
        ) -> list[Group | Member | MemberRemoval]:
            rows, found = await self._uc.changes(caller, ids, after, upto, limit)
            profiles.update(found)
            return rows

        page = await change_feed.read(state, groups, size, fetch, lambda row: row.change_key)
        noticed = wire.timestamp(clock.now())
        changes = [
            group_pb2.GroupChange(
                change_type=group_pb2.GroupChange.ACCESS_REVOKED, removed=f"groups/{g}", change_time=noticed
            )
            for g in page.revoked
        ]
        changes += [_change_proto(row, profiles) for row in page.rows]
        return group_pb2.ListGroupChangesResponse(
            changes=changes, next_cursor=change_feed.encode(page.state, bound), has_more=page.has_more
        )

    async def AddMember(self, request: group_pb2.AddMemberRequest, context: Any) -> group_pb2.Member:
        caller = require_caller()
        group_id = names.group(request.parent, "parent")
        invitee = _invitee(request, "invitee")
        role = _ROLE.get(request.role, Role.MEMBER) if request.role else Role.MEMBER
        once = self._once("AddMember", request, group_pb2.Member)
        return await self._uc.add_member(caller.user_id, group_id, invitee, role, once, member_proto)

    async def UpdateMember(self, request: group_pb2.UpdateMemberRequest, context: Any) -> group_pb2.Member:
        caller = require_caller()
        group_id, user_id = names.in_one_group(request.member.name, "members", "member.name")
        if list(request.update_mask.paths) not in ([], ["role"]):
            raise InvalidArgument("update_mask", "only 'role' can be updated")
        role = _ROLE.get(request.member.role)
        if role is None:
            raise InvalidArgument("member.role", "must be OWNER or MEMBER")
        member, profile = await self._uc.set_role(
            caller.user_id, group_id, user_id, role, request.member.etag
        )
        return member_proto(member, profile)

    async def RemoveMember(self, request: group_pb2.RemoveMemberRequest, context: Any) -> empty_pb2.Empty:
        caller = require_caller()
        group_id, user_id = names.in_one_group(request.name, "members", "name")
        await self._uc.remove(caller.user_id, group_id, user_id)
        return empty_pb2.Empty()

    async def LeaveGroup(self, request: group_pb2.LeaveGroupRequest, context: Any) -> empty_pb2.Empty:
        caller = require_caller()
        group_id = names.group(request.name)
        await self._uc.remove(caller.user_id, group_id, caller.user_id)
        return empty_pb2.Empty()

    async def CreateInviteLink(
        self, request: group_pb2.CreateInviteLinkRequest, context: Any
    ) -> group_pb2.InviteLink:
        caller = require_caller()
        group_id = names.group(request.parent, "parent")
        link = request.invite_link
        expires_at = link.expire_time.ToDatetime(tzinfo=UTC) if link.HasField("expire_time") else None
        once = self._once("CreateInviteLink", request, group_pb2.InviteLink)
        return await self._uc.create_link(caller.user_id, group_id, expires_at, once, link_proto)

    async def ListInviteLinks(
        self, request: group_pb2.ListInviteLinksRequest, context: Any
    ) -> group_pb2.ListInviteLinksResponse:
        caller = require_caller()
        group_id = names.group(request.parent, "parent")
        query = {"group": group_id}
        pager = pagination.Page.of(request, query)
        found = await self._uc.links(caller.user_id, group_id, after=pager.after, limit=pager.limit)
        page, token = pager.cut(found, pagination.created_key)
        return group_pb2.ListInviteLinksResponse(
            invite_links=[link_proto(x) for x in page], next_page_token=token
        )

    async def RevokeInviteLink(
        self, request: group_pb2.RevokeInviteLinkRequest, context: Any
    ) -> group_pb2.InviteLink:
        caller = require_caller()
        group_id, link_id = names.in_one_group(request.name, "inviteLinks", "name")
        return link_proto(await self._uc.revoke_link(caller.user_id, group_id, link_id))

    async def PreviewInvite(
        self, request: group_pb2.PreviewInviteRequest, context: Any
    ) -> group_pb2.InvitePreview:
        caller = require_caller()
        link, display_name, kind, count, already = await self._uc.preview(caller.user_id, request.token)
        return group_pb2.InvitePreview(
            group=f"groups/{link.group_id}",
            display_name=display_name,
            kind=_KIND_PB[kind],
            member_count=count,
            already_member=already,
        )

    async def JoinGroup(self, request: group_pb2.JoinGroupRequest, context: Any) -> group_pb2.Group:
        caller = require_caller()
        if not request.token:
            raise InvalidArgument("token", "is required")
        return group_proto(await self._uc.join(caller.user_id, request.token))

    # --- split presets ---------------------------------------------------------------------

    async def CreateSplitPreset(
        self, request: group_pb2.CreateSplitPresetRequest, context: Any
    ) -> group_pb2.SplitPreset:
        caller = require_caller()
        group_id = names.group(request.parent, "parent")
        spec = preset_codec.spec(request.split_preset)
        once = self._once("CreateSplitPreset", request, group_pb2.SplitPreset)
        return await self._presets.create(caller.user_id, group_id, spec, once, _preset_pb)

    async def GetSplitPreset(
        self, request: group_pb2.GetSplitPresetRequest, context: Any
    ) -> group_pb2.SplitPreset:
        group_id, preset_id = names.in_one_group(request.name, "splitPresets", "name")
        preset, members = await self._presets.get(require_caller().user_id, group_id, preset_id)
        return preset_codec.preset_pb(preset, members, wire.timestamp)

    async def ListSplitPresets(
        self, request: group_pb2.ListSplitPresetsRequest, context: Any
    ) -> group_pb2.ListSplitPresetsResponse:
        caller = require_caller()
        group_id = names.group(request.parent, "parent")
        query = {"group": group_id}
        pager = pagination.Page.of(request, query)
        found, members = await self._presets.page(
            caller.user_id, group_id, after=pager.after, limit=pager.limit
        )
        page, token = pager.cut(
            found, lambda last: [not last.spec.is_default, last.spec.display_name, last.id]
        )
        return group_pb2.ListSplitPresetsResponse(
            split_presets=[preset_codec.preset_pb(p, members, wire.timestamp) for p in page],
            next_page_token=token,
        )

    async def UpdateSplitPreset(
        self, request: group_pb2.UpdateSplitPresetRequest, context: Any
    ) -> group_pb2.SplitPreset:
        caller = require_caller()
        group_id, preset_id = names.in_one_group(
            request.split_preset.name, "splitPresets", "split_preset.name"
        )
        changes = preset_codec.changes(request.split_preset, list(request.update_mask.paths))
        preset, members = await self._presets.update(
            caller.user_id, group_id, preset_id, changes, request.split_preset.etag
        )
        return preset_codec.preset_pb(preset, members, wire.timestamp)

    async def DeleteSplitPreset(
        self, request: group_pb2.DeleteSplitPresetRequest, context: Any
    ) -> empty_pb2.Empty:
        group_id, preset_id = names.in_one_group(request.name, "splitPresets", "name")
        await self._presets.delete(require_caller().user_id, group_id, preset_id, request.etag)
        return empty_pb2.Empty()

    async def GetRoster(self, request: group_pb2.GetRosterRequest, context: Any) -> group_pb2.Roster:
        caller = require_caller()
        (group_id,) = names.parse(request.name, "groups/{}/roster")
        group_id = names.group(f"groups/{group_id}")
        roster = await self._uc.roster(group_id, None if is_internal(caller) else caller.user_id)
        return roster.to_proto()
