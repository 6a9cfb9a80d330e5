"""The group tables with SQLAlchemy Core: the SQL adapter of the GroupRepositories port."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from libs.db.repositories import SqlRepositories
from libs.validation import is_uuid
from services.group.domain import Group, InviteLink, Kind, Member, MemberRemoval, Role
from services.group.preset_repository import SqlSplitPresets

_GROUP_SELECT = """
SELECT g.id, g.display_name, g.kind, g.description, g.default_currency, g.simplify_debts, g.archived,
       g.created_by, g.version, g.created_at, g.updated_at, g.last_change, g.change_xid::text AS change_xid,
       (SELECT count(*) FROM groups.members c WHERE c.group_id = g.id) AS member_count,
       m.role AS my_role,
       f.user_id AS friend, f.contact AS friend_contact
FROM groups.groups g
JOIN groups.members m ON m.group_id = g.id AND m.user_id = :caller
LEFT JOIN LATERAL (
    SELECT o.user_id, COALESCE(NULLIF(o.invited_phone_number, ''), o.invited_email) AS contact
    FROM groups.members o
    WHERE g.kind = 'direct' AND o.group_id = g.id AND o.user_id <> :caller
    LIMIT 1
) f ON TRUE
"""
_MEMBER_COLUMNS = (
    "group_id, user_id, role, invited_phone_number, invited_email, added_by, joined_at, last_change, "
    "changed_at, change_xid::text AS change_xid"
)


def _group(row: Any) -> Group:
    return Group(
        id=str(row.id),
        display_name=row.display_name,
        kind=Kind(row.kind),
        description=row.description,
        default_currency=row.default_currency,
        simplify_debts=row.simplify_debts,
        archived=row.archived,
        creator=row.created_by,
        version=row.version,
        created_at=row.created_at,
        updated_at=row.updated_at,
        member_count=int(row.member_count),
        my_role=Role(row.my_role) if row.my_role else None,
        friend=row.friend or "",
        friend_contact=row.friend_contact or "",
        last_change=row.last_change,
        change_key=(int(row.change_xid), str(row.id)),
    )


def _member(row: Any) -> Member:
    return Member(
        group_id=str(row.group_id),
        user_id=row.user_id,
        role=Role(row.role),
        invited_phone_number=row.invited_phone_number,
        invited_email=row.invited_email,
        creator=row.added_by,
        joined_at=row.joined_at,
        last_change=row.last_change,
        changed_at=row.changed_at,
        change_key=(int(row.change_xid), f"{row.group_id}/{row.user_id}"),
    )


def _link(row: Any) -> InviteLink:
    return InviteLink(
        id=str(row.id),
        group_id=str(row.group_id),
        token=row.token,
        expires_at=row.expires_at,
        revoked=row.revoked_at is not None,
        creator=row.created_by,
        created_at=row.created_at,
    )


_LINK_COLUMNS = "id, group_id, token, expires_at, revoked_at, created_by, created_at"

# --- change feed --------------------------------------------------------------------------

# Groups, memberships and tombstones of memberships in one stream keyed by (change_xid, key):
# the group id, or "{group id}/{user id}" (a membership and its tombstone never coexist).

_FEED = """
SELECT * FROM (
    SELECT 'group' AS kind, change_xid, id::text COLLATE "C" AS k FROM groups.groups
    WHERE id = ANY(CAST(:groups AS uuid[]))
    UNION ALL
    SELECT 'member', change_xid, (group_id::text || '/' || user_id) COLLATE "C" FROM groups.members
    WHERE group_id = ANY(CAST(:groups AS uuid[]))
    UNION ALL
    SELECT 'removal', change_xid, (group_id::text || '/' || user_id) COLLATE "C" FROM groups.member_removals
    WHERE group_id = ANY(CAST(:groups AS uuid[]))
) feed
"""

_PAIRS = "SELECT * FROM unnest(CAST(:gs AS uuid[]), CAST(:us AS text[]))"


class SqlGroupRepositories(SqlRepositories):
    """The group tables on one unit of work's connection (libs.db.unit_of_work)."""

    def __init__(self, conn: AsyncConnection):
        super().__init__(conn)
        self.presets = SqlSplitPresets(conn)

    async def group_for_member(self, group_id: str, caller: str, *, lock: bool = False) -> Group | None:
        """The group as ``caller`` sees it; None when it does not exist or they are not a member.
        ``group_id`` is a UUID: libs.names.group answered NOT_FOUND for any other id."""
        sql = _GROUP_SELECT + " WHERE g.id = :id" + (" FOR UPDATE OF g" if lock else "")
        row = (await self.conn.execute(text(sql), {"id": group_id, "caller": caller})).first()
        return _group(row) if row else None

    async def groups_of(
        self, caller: str, *, show_archived: bool, after: list[Any] | None, limit: int
    ) -> list[Group]:
        where = ["TRUE"] if show_archived else ["NOT g.archived"]
        params: dict[str, Any] = {"caller": caller, "limit": limit}
        if after:
            where.append("(g.updated_at, g.id) < (CAST(:after_ts AS timestamptz), CAST(:after_id AS uuid))")
            params |= {"after_ts": after[0], "after_id": after[1]}
        sql = (
            _GROUP_SELECT
            + " WHERE "
            + " AND ".join(where)
            + " ORDER BY g.updated_at DESC, g.id DESC LIMIT :limit"
        )
        return [_group(r) for r in await self.conn.execute(text(sql), params)]

    async def insert_group(
        self,
        *,
        display_name: str,
        kind: Kind,
        description: str,
        default_currency: str,
        simplify_debts: bool,
        creator: str,
        direct_key: str | None = None,
    ) -> str | None:
        """The new group's id; None when a DIRECT group for this pair already exists."""
        row = (
            await self.conn.execute(
                text(
                    "INSERT INTO groups.groups (id, display_name, kind, description, default_currency, "
                    "simplify_debts, "
                    "created_by, direct_key) VALUES (:id, :name, :kind, :desc, :cur, :simp, :by, :dk) "
                    "ON CONFLICT (direct_key) DO NOTHING RETURNING id"
                ),
                {
                    "id": str(uuid.uuid4()),
                    "name": display_name,
                    "kind": kind.value,
                    "desc": description,
                    "cur": default_currency,
                    "simp": simplify_debts,
                    "by": creator,
                    "dk": direct_key,
                },
            )
        ).first()
        return str(row[0]) if row else None

    async def direct_group_id(self, key: str) -> str | None:
        row = (
            await self.conn.execute(text("SELECT id FROM groups.groups WHERE direct_key = :k"), {"k": key})
        ).first()
        return str(row[0]) if row else None

    async def update_group(self, group_id: str, changes: dict[str, Any], *, how: str = "updated") -> None:
        """Apply ``changes``; ``how`` is what the change feed calls it ("updated", "archived",
        "unarchived")."""
        sets = ", ".join(f"{k} = :{k}" for k in changes)
        prefix = f"{sets}, " if sets else ""
        await self.conn.execute(
            text(
                f"UPDATE groups.groups SET {prefix}version = version + 1, updated_at = now(), "
                "last_change = :how, change_xid = pg_current_xact_id() WHERE id = :id"
            ),
            {"id": group_id, "how": how, **changes},
        )

    async def touch_group(self, group_id: str) -> None:
        await self.update_group(group_id, {})

    async def insert_member(
        self,
        group_id: str,
        user_id: str,
        role: Role,
        creator: str,
        *,
        invited_phone_number: str = "",
        invited_email: str = "",
        how: str = "added",
    ) -> bool:
        """Insert the membership (``how``: "added" or "joined"); False when it exists already.
        A tombstone from an earlier leaving goes: the member is back."""
        result = await self.conn.execute(
            text(
                "INSERT INTO groups.members "
                "(group_id, user_id, role, added_by, invited_phone_number, invited_email, last_change) "
                "VALUES (:g, :u, :r, :by, :p, :e, :how) ON CONFLICT DO NOTHING"
            ),
            {
                "g": group_id,
                "u": user_id,
                "r": role.value,
                "by": creator,
                "p": invited_phone_number,
                "e": invited_email,
                "how": how,
            },
        )
        if not result.rowcount:
            return False
        await self.conn.execute(
            text("DELETE FROM groups.member_removals WHERE group_id = :g AND user_id = :u"),
            {"g": group_id, "u": user_id},
        )
        return True

    async def members(
        self, group_id: str, *, after: list[Any] | None = None, limit: int = 1000
    ) -> list[Member]:
        params: dict[str, Any] = {"g": group_id, "limit": limit}
        cond = ""
        if after:
            cond = " AND (joined_at, user_id) > (CAST(:after_ts AS timestamptz), :after_id)"
            params |= {"after_ts": after[0], "after_id": after[1]}
        rows = await self.conn.execute(
            text(
                f"SELECT {_MEMBER_COLUMNS} "
                f"FROM groups.members WHERE group_id = :g{cond} ORDER BY joined_at, user_id LIMIT :limit"
            ),
            params,
        )
        return [_member(r) for r in rows]

    async def member(self, group_id: str, user_id: str) -> Member | None:
        row = (
            await self.conn.execute(
                text(f"SELECT {_MEMBER_COLUMNS} FROM groups.members WHERE group_id = :g AND user_id = :u"),
                {"g": group_id, "u": user_id},
            )
        ).first()
        return _member(row) if row else None

    async def count_members(self, group_id: str) -> int:
        row = (
            await self.conn.execute(
                text("SELECT count(*) FROM groups.members WHERE group_id = :g"), {"g": group_id}
            )
        ).one()
        return int(row[0])

    async def count_owners(self, group_id: str) -> int:
        row = (
            await self.conn.execute(
                text("SELECT count(*) FROM groups.members WHERE group_id = :g AND role = 'owner'"),
                {"g": group_id},
            )
        ).one()
        return int(row[0])

    async def set_role(self, group_id: str, user_id: str, role: Role) -> None:
        await self.conn.execute(
            text(
                "UPDATE groups.members SET role = :r, last_change = 'role_changed', changed_at = now(), "
                "change_xid = pg_current_xact_id() WHERE group_id = :g AND user_id = :u"
            ),
            {"r": role.value, "g": group_id, "u": user_id},
        )

    async def delete_member(self, group_id: str, user_id: str, *, how: str) -> bool:
        """Delete the membership, leaving a tombstone (``how``: "left" or "removed") for the
        change feed."""
        result = await self.conn.execute(
            text("DELETE FROM groups.members WHERE group_id = :g AND user_id = :u"),
            {"g": group_id, "u": user_id},
        )
        if not result.rowcount:
            return False
        await self.conn.execute(
            text(
                "INSERT INTO groups.member_removals (group_id, user_id, how) VALUES (:g, :u, :how) "
                "ON CONFLICT (group_id, user_id) DO UPDATE SET how = EXCLUDED.how, removed_at = now(), "
                "change_xid = pg_current_xact_id()"
            ),
            {"g": group_id, "u": user_id, "how": how},
        )
        return True

    async def roster(self, group_id: str) -> tuple[str, int, list[str]] | None:
        """(kind, version, member ids in joining order), read in one statement so that the
        version labels exactly these members."""
        row = (
            await self.conn.execute(
                text(
                    "SELECT g.kind, g.version, ARRAY(SELECT m.user_id FROM groups.members m "
                    "WHERE m.group_id = g.id ORDER BY m.joined_at, m.user_id) AS members "
                    "FROM groups.groups g WHERE g.id = :g"
                ),
                {"g": group_id},
            )
        ).first()
        return (row.kind, int(row.version), list(row.members)) if row else None

    async def insert_link(
        self, group_id: str, token: str, expires_at: datetime | None, creator: str
    ) -> InviteLink:
        row = (
            await self.conn.execute(
                text(
                    "INSERT INTO groups.invite_links (id, group_id, token, expires_at, created_by) "
                    f"VALUES (:id, :g, :t, :e, :by) RETURNING {_LINK_COLUMNS}"
                ),
                {"id": str(uuid.uuid4()), "g": group_id, "t": token, "e": expires_at, "by": creator},
            )
        ).one()
        return _link(row)

    async def links(self, group_id: str, *, after: list[Any] | None, limit: int) -> list[InviteLink]:
        params: dict[str, Any] = {"g": group_id, "limit": limit}
        cond = ""
        if after:
            cond = " AND (created_at, id) > (CAST(:after_ts AS timestamptz), CAST(:after_id AS uuid))"
            params |= {"after_ts": after[0], "after_id": after[1]}
        rows = await self.conn.execute(
            text(
                f"SELECT {_LINK_COLUMNS} FROM groups.invite_links WHERE group_id = :g{cond} "
                "ORDER BY created_at, id LIMIT :limit"
            ),
            params,
        )
        return [_link(r) for r in rows]

    async def link_by_id(self, group_id: str, link_id: str) -> InviteLink | None:
        if not is_uuid(link_id):
            return None
        row = (
            await self.conn.execute(
                text(f"SELECT {_LINK_COLUMNS} FROM groups.invite_links WHERE id = :id AND group_id = :g"),
                {"id": link_id, "g": group_id},
            )
        ).first()
        return _link(row) if row else None

    async def link_by_token(self, token: str) -> InviteLink | None:
        row = (
            await self.conn.execute(
                text(f"SELECT {_LINK_COLUMNS} FROM groups.invite_links WHERE token = :t"), {"t": token}
            )
        ).first()
        return _link(row) if row else None

    async def revoke_link(self, link_id: str) -> InviteLink:
        row = (
            await self.conn.execute(
                text(
                    "UPDATE groups.invite_links SET revoked_at = coalesce(revoked_at, now()) WHERE id = :id "
                    f"RETURNING {_LINK_COLUMNS}"
                ),
                {"id": link_id},
            )
        ).one()
        return _link(row)

    async def group_summary(self, group_id: str) -> tuple[str, Kind, int] | None:
        row = (
            await self.conn.execute(
                text(
                    "SELECT g.display_name, g.kind, "
                    "(SELECT count(*) FROM groups.members m WHERE m.group_id = g.id) "
                    "FROM groups.groups g WHERE g.id = :g"
                ),
                {"g": group_id},
            )
        ).first()
        return (row[0], Kind(row[1]), int(row[2])) if row else None

    async def group_ids_of(self, caller: str) -> list[str]:
        rows = await self.conn.execute(
            text("SELECT group_id FROM groups.members WHERE user_id = :u ORDER BY group_id"), {"u": caller}
        )
        return [str(r.group_id) for r in rows]

    async def mark_profile_changed(self, user_id: str, changed_at: datetime) -> tuple[int, int]:
        # changed_at and the event's time are both the database's now(). A friend ledger's
        # name is the friend's; its version (etag, roster label) stays.
        row = (
            await self.conn.execute(
                text(
                    "WITH marked AS ("
                    " UPDATE groups.members SET last_change = 'profile_changed', changed_at = now(),"
                    " change_xid = pg_current_xact_id() WHERE user_id = :u AND changed_at <= :at"
                    " RETURNING group_id), "
                    "direct AS ("
                    " UPDATE groups.groups SET last_change = 'updated', change_xid = pg_current_xact_id()"
                    " WHERE kind = 'direct' AND id IN (SELECT group_id FROM marked) RETURNING id) "
                    "SELECT (SELECT count(*) FROM marked) AS members, (SELECT count(*) FROM direct) AS direct"
                ),
                {"u": user_id, "at": changed_at},
            )
        ).one()
        return int(row.members), int(row.direct)

    async def changes_since(
        self,
        caller: str,
        group_ids: Sequence[str],
        after: tuple[int, str] | None,
        upto: tuple[int, str] | None,
        limit: int,
    ) -> list[Group | Member | MemberRemoval]:
        """Groups (as ``caller`` sees them), memberships and tombstones written after `after`
        (and up to `upto`), oldest write first, only by transactions that are over: anything
        newer than the oldest running transaction waits for the next call."""
        where = ["change_xid < pg_snapshot_xmin(pg_current_snapshot())"]
        params: dict[str, Any] = {"groups": list(group_ids), "limit": limit, "caller": caller}
        if after:
            where.append('(change_xid, k) > (CAST(:xid AS xid8), CAST(:key AS text) COLLATE "C")')
            params["xid"], params["key"] = str(after[0]), after[1]
        if upto:
            where.append('(change_xid, k) <= (CAST(:upto_xid AS xid8), CAST(:upto_key AS text) COLLATE "C")')
            params["upto_xid"], params["upto_key"] = str(upto[0]), upto[1]
        picked = (
            await self.conn.execute(
                text(f"{_FEED} WHERE {' AND '.join(where)} ORDER BY change_xid, k LIMIT :limit"), params
            )
        ).all()
        found: dict[tuple[str, str], Group | Member | MemberRemoval] = {}
        groups = [r.k for r in picked if r.kind == "group"]
        if groups:
            rows = await self.conn.execute(
                text(_GROUP_SELECT + " WHERE g.id = ANY(CAST(:ids AS uuid[]))"),
                {"ids": groups, "caller": caller},
            )
            found |= {("group", str(r.id)): _group(r) for r in rows}
        pairs = [r.k.split("/", 1) for r in picked if r.kind != "group"]
        if pairs:
            keys = {"gs": [g for g, _ in pairs], "us": [u for _, u in pairs]}
            rows = await self.conn.execute(
                text(f"SELECT {_MEMBER_COLUMNS} FROM groups.members WHERE (group_id, user_id) IN ({_PAIRS})"),
                keys,
            )
            found |= {("member", f"{r.group_id}/{r.user_id}"): _member(r) for r in rows}
            rows = await self.conn.execute(
                text(
                    "SELECT group_id, user_id, how, removed_at, change_xid::text AS change_xid "
                    "FROM groups.member_removals "
                    f"WHERE (group_id, user_id) IN ({_PAIRS})"
                ),
                keys,
            )
            for r in rows:
                key = f"{r.group_id}/{r.user_id}"
                found[("removal", key)] = MemberRemoval(
                    str(r.group_id), r.user_id, r.how, r.removed_at, (int(r.change_xid), key)
                )
        # A row deleted between the two reads (a concurrent leave, say) comes again as its newer write.
        return [found[(r.kind, r.k)] for r in picked if (r.kind, r.k) in found]
