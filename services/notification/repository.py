"""The notification tables with SQLAlchemy Core: the SQL adapter of the NotificationRepositories port."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import text

from libs.db.repositories import SqlRepositories
from services.notification.domain import (
    Channel,
    Delivery,
    EventType,
    MembershipChange,
    Notification,
    Preferences,
)


def _notification(row: Any) -> Notification:
    return Notification(
        id=str(row.id),
        user_id=row.user_id,
        event_type=EventType(row.event_type),
        title=row.title,
        body=row.body,
        deep_link=row.deep_link,
        group_id=row.group_id,
        actor=row.actor,
        created_at=row.created_at,
        read=row.read_at is not None,
    )


class SqlNotificationRepositories(SqlRepositories):
    """The notification tables on one unit of work's connection (libs.db.unit_of_work)."""

    async def claim_event(self, event_id: str, event_type: str) -> bool:
        """True the first time an event id is seen; False for a redelivery."""
        result = await self.conn.execute(
            text(
                "INSERT INTO notification.processed_events (event_id, event_type) VALUES (:id, :t) "
                "ON CONFLICT DO NOTHING"
            ),
            {"id": event_id, "t": event_type},
        )
        return bool(result.rowcount)

    async def apply_membership(self, change: MembershipChange) -> None:
        """Newer seq wins, so an older event delivered late does not undo a newer one."""
        await self.conn.execute(
            text(
                "INSERT INTO notification.memberships (group_id, user_id, present, seq) "
                "VALUES (:g, :u, :p, :s) "
                "ON CONFLICT (group_id, user_id) DO UPDATE "
                "SET present = EXCLUDED.present, seq = EXCLUDED.seq "
                "WHERE notification.memberships.seq < EXCLUDED.seq"
            ),
            {"g": change.group, "u": change.user, "p": change.present, "s": change.seq},
        )

    async def members(self, group_id: str) -> list[str]:
        rows = await self.conn.execute(
            text("SELECT user_id FROM notification.memberships WHERE group_id = :g AND present"),
            {"g": group_id},
        )
        return [r[0] for r in rows]

    async def memberships_of(self, user_ids: list[str]) -> list[tuple[str, str]]:
        rows = await self.conn.execute(
            text(
                "SELECT group_id, user_id FROM notification.memberships WHERE present AND user_id = ANY(:u) "
                "ORDER BY user_id, group_id"
            ),
            {"u": user_ids},
        )
        return [(r[0], r[1]) for r in rows]

    async def users_with_memberships(self, after: str, limit: int) -> list[str]:
        rows = await self.conn.execute(
            text(
                "SELECT DISTINCT user_id FROM notification.memberships WHERE present AND user_id > :a "
                "ORDER BY user_id LIMIT :n"
            ),
            {"a": after, "n": limit},
        )
        return [r[0] for r in rows]

    async def insert_notification(
        self,
        *,
        user_id: str,
        event_id: str,
        event_type: EventType,
        title: str,
        body: str,
        deep_link: str,
        group_id: str,
        actor: str,
        in_app: bool = True,
    ) -> str | None:
        """The new row's id; None when this user already has this event (the unique row)."""
        row = (
            await self.conn.execute(
                text(
                    "INSERT INTO notification.notifications "
                    "(id, user_id, event_id, event_type, title, body, deep_link, group_id, actor, in_app) "
                    "VALUES (:id, :u, :e, :t, :title, :body, :link, :g, :a, :in_app) "
                    "ON CONFLICT (event_id, user_id) DO NOTHING RETURNING id"
                ),
                {
                    "id": str(uuid.uuid4()),
                    "u": user_id,
                    "e": event_id,
                    "t": event_type.value,
                    "title": title,
                    "body": body,
                    "link": deep_link,
                    "g": group_id,
                    "a": actor,
                    "in_app": in_app,
                },
            )
        ).first()
        return str(row[0]) if row else None

    async def insert_delivery(
        self,
        notification_id: str,
        user_id: str,
        channel: Channel,
        target: str,
        title: str,
        body: str,
        deep_link: str,
    ) -> None:
        await self.conn.execute(
            text(
                "INSERT INTO notification.deliveries "
                "(id, notification_id, user_id, channel, target, title, body, deep_link) "
                "VALUES (:id, :n, :u, :c, :target, :title, :body, :link)"
            ),
            {
                "id": str(uuid.uuid4()),
                "n": notification_id,
                "u": user_id,
                "c": channel.value,
                "target": target,
                "title": title,
                "body": body,
                "link": deep_link,
            },
        )

    async def inbox(
        self, user_id: str, *, unread_only: bool, after: list[Any] | None, limit: int
    ) -> list[Notification]:
        where = ["user_id = :u", "in_app"]
        params: dict[str, Any] = {"u": user_id, "n": limit}
        if unread_only:
            where.append("read_at IS NULL")
        if after:
            where.append("(created_at, id) < (CAST(:ts AS timestamptz), CAST(:id AS uuid))")
            params |= {"ts": after[0], "id": after[1]}
        rows = await self.conn.execute(
            text(
                "SELECT id, user_id, event_type, title, body, deep_link, group_id, actor, created_at, "
                "read_at "
                f"FROM notification.notifications WHERE {' AND '.join(where)} "
                "ORDER BY created_at DESC, id DESC LIMIT :n"
            ),
            params,
        )
        return [_notification(r) for r in rows]

    async def unread_count(self, user_id: str) -> int:
        row = (
            await self.conn.execute(
                text(
                    "SELECT count(*) FROM notification.notifications "
                    "WHERE user_id = :u AND read_at IS NULL AND in_app"
                ),
                {"u": user_id},
            )
        ).one()
        return int(row[0])

    async def mark_read(
        self, user_id: str, *, ids: list[str] | None = None, before: datetime | None = None
    ) -> int:
        params: dict[str, Any] = {"u": user_id}
        if ids is not None:
            cond = "id = ANY(CAST(:ids AS uuid[]))"
            params["ids"] = ids
        else:
            cond = "created_at <= :before"
            params["before"] = before
        result = await self.conn.execute(
            text(
                "UPDATE notification.notifications SET read_at = now() "
                f"WHERE user_id = :u AND read_at IS NULL AND {cond}"
            ),
            params,
        )
        return int(result.rowcount)

    async def preferences(self, user_id: str, *, lock: bool = False) -> Preferences:
        return (await self.preferences_of([user_id], lock=lock))[user_id]

    async def preferences_of(self, user_ids: list[str], *, lock: bool = False) -> dict[str, Preferences]:
        """Each user's preferences (the defaults for a user who never set any), in two queries."""
        rows = {
            r.user_id: r
            for r in await self.conn.execute(
                text(
                    "SELECT user_id, reminder_hour, time_zone, locale, version, updated_at "
                    "FROM notification.preferences WHERE user_id = ANY(:u)" + (" FOR UPDATE" if lock else "")
                ),
                {"u": user_ids},
            )
        }
        overrides: dict[str, dict[tuple[EventType, Channel], bool]] = {u: {} for u in user_ids}
        for r in await self.conn.execute(
            text(
                "SELECT user_id, event_type, channel, enabled FROM notification.channel_settings "
                "WHERE user_id = ANY(:u)"
            ),
            {"u": user_ids},
        ):
            overrides[r.user_id][(EventType(r.event_type), Channel(r.channel))] = bool(r.enabled)
        found: dict[str, Preferences] = {}
        for user_id in user_ids:
            row = rows.get(user_id)
            found[user_id] = (
                Preferences(user_id=user_id, overrides=overrides[user_id])
                if row is None
                else Preferences(
                    user_id=user_id,
                    reminder_hour=row.reminder_hour,
                    time_zone=row.time_zone,
                    locale=row.locale,
                    overrides=overrides[user_id],
                    version=row.version,
                    updated_at=row.updated_at,
                )
            )
        return found

    async def save_preferences(
        self, prefs: Preferences, switches: list[tuple[EventType, Channel, bool]]
    ) -> None:
        await self.conn.execute(
            text(
                "INSERT INTO notification.preferences (user_id, reminder_hour, time_zone, locale) "
                "VALUES (:u, :h, :tz, :l) ON CONFLICT (user_id) DO UPDATE "
                "SET reminder_hour = EXCLUDED.reminder_hour, "
                "time_zone = EXCLUDED.time_zone, locale = EXCLUDED.locale, "
                "version = notification.preferences.version + 1, updated_at = now()"
            ),
            {"u": prefs.user_id, "h": prefs.reminder_hour, "tz": prefs.time_zone, "l": prefs.locale},
        )
        for event_type, channel, enabled in switches:
            await self.conn.execute(
                text(
                    "INSERT INTO notification.channel_settings (user_id, event_type, channel, enabled) "
                    "VALUES (:u, :e, :c, :on) "
                    "ON CONFLICT (user_id, event_type, channel) DO UPDATE SET enabled = :on"
                ),
                {"u": prefs.user_id, "e": event_type.value, "c": channel.value, "on": enabled},
            )

    async def due_deliveries(self, limit: int) -> list[Delivery]:
        rows = await self.conn.execute(
            text(
                "SELECT id, channel, target, title, body, deep_link, attempts FROM notification.deliveries "
                "WHERE status = 'pending' AND next_attempt_at <= now() ORDER BY next_attempt_at "
                "LIMIT :n FOR UPDATE SKIP LOCKED"
            ),
            {"n": limit},
        )
        return [
            Delivery(str(r.id), r.channel, r.target, r.title, r.body, r.deep_link, int(r.attempts))
            for r in rows
        ]

    async def delivery_sent(self, delivery_id: str, provider_id: str) -> None:
        await self.conn.execute(
            text(
                "UPDATE notification.deliveries SET status = 'sent', attempts = attempts + 1, "
                "provider_id = :p, "
                "sent_at = now(), last_error = '' WHERE id = :id"
            ),
            {"id": delivery_id, "p": provider_id},
        )

    async def delivery_failed(self, delivery_id: str, error: str, *, retry_in_seconds: float | None) -> None:
        """Schedules the next attempt, or gives up when ``retry_in_seconds`` is None."""
        await self.conn.execute(
            text(
                "UPDATE notification.deliveries SET attempts = attempts + 1, last_error = :err, "
                "status = CASE WHEN CAST(:retry AS double precision) IS NULL "
                "THEN 'failed' ELSE 'pending' END, "
                "next_attempt_at = now() "
                "+ make_interval(secs => coalesce(CAST(:retry AS double precision), 0)) "
                "WHERE id = :id"
            ),
            {"id": delivery_id, "err": error[:500], "retry": retry_in_seconds},
        )

    async def start_job(self, job: str, period_start: datetime) -> bool:
        """True when this (job, period) has not completed yet (a crashed run may be redone)."""
        await self.conn.execute(
            text(
                "INSERT INTO notification.job_runs (job, period_start) VALUES (:j, :p) ON CONFLICT DO NOTHING"
            ),
            {"j": job, "p": period_start},
        )
        row = (
            await self.conn.execute(
                text(
                    "SELECT completed_at FROM notification.job_runs "
                    "WHERE job = :j AND period_start = :p FOR UPDATE"
                ),
                {"j": job, "p": period_start},
            )
        ).one()
        return row.completed_at is None

    async def finish_job(self, job: str, period_start: datetime, result: dict[str, Any]) -> None:
        await self.conn.execute(
            text(
                "UPDATE notification.job_runs SET completed_at = now(), result = CAST(:r AS jsonb) "
                "WHERE job = :j AND period_start = :p"
            ),
            {"j": job, "p": period_start, "r": json.dumps(result)},
        )

    async def claim_reminder_day(self, user_id: str, day: str) -> bool:
        result = await self.conn.execute(
            text(
                "INSERT INTO notification.reminders_sent (user_id, day) VALUES (:u, CAST(:d AS date)) "
                "ON CONFLICT DO NOTHING"
            ),
            {"u": user_id, "d": day},
        )
        return bool(result.rowcount)

    async def purge_read_before(self, before: datetime) -> int:
        result = await self.conn.execute(
            text("DELETE FROM notification.notifications WHERE read_at IS NOT NULL AND created_at < :b"),
            {"b": before},
        )
        return int(result.rowcount)

    async def event_seen(self, event_id: str) -> bool:
        row = (
            await self.conn.execute(
                text("SELECT 1 FROM notification.processed_events WHERE event_id = :id"), {"id": event_id}
            )
        ).first()
        return row is not None
