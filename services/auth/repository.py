"""The auth tables with SQLAlchemy Core: SqlAuthRepositories, bound to one transaction."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import text

from libs.db.repositories import SqlRepositories
from services.auth.domain import USER_FIELDS, Challenge, Channel, Contact, DeviceRow, UserRow

_USER_COLUMNS = (
    "id, phone_number, email, display_name, default_currency, locale, upi_vpa, state, version, "
    "created_at, updated_at"
)
_CONTACT_COLUMN = {Channel.SMS: "phone_number", Channel.EMAIL: "email"}


class SqlAuthRepositories(SqlRepositories):
    """The auth schema on one transaction's connection: the SQL adapter of ports.AuthRepositories."""

    async def user_by_id(self, user_id: str) -> UserRow | None:
        row = (
            await self.conn.execute(
                text(f"SELECT {_USER_COLUMNS} FROM auth.users WHERE id = :id"), {"id": user_id}
            )
        ).first()
        return UserRow(**row._mapping) if row else None

    async def users_by_ids(self, ids: list[str]) -> list[UserRow]:
        rows = await self.conn.execute(
            text(f"SELECT {_USER_COLUMNS} FROM auth.users WHERE id = ANY(:ids)"), {"ids": ids}
        )
        return [UserRow(**r._mapping) for r in rows]

    async def user_by_contact(self, contact: Contact, *, lock: bool = False) -> UserRow | None:
        column = _CONTACT_COLUMN[contact.channel]
        sql = f"SELECT {_USER_COLUMNS} FROM auth.users WHERE {column} = :v" + (" FOR UPDATE" if lock else "")
        row = (await self.conn.execute(text(sql), {"v": contact.value})).first()
        return UserRow(**row._mapping) if row else None

    async def insert_user(
        self, user_id: str, contact: Contact, *, state: str, display_name: str
    ) -> UserRow | None:
        """Insert unless the contact is already taken (a concurrent first sign-in); None then."""
        column = _CONTACT_COLUMN[contact.channel]
        row = (
            await self.conn.execute(
                text(
                    f"INSERT INTO auth.users (id, {column}, state, display_name) "
                    "VALUES (:id, :v, :state, :name) "
                    f"ON CONFLICT DO NOTHING RETURNING {_USER_COLUMNS}"
                ),
                {"id": user_id, "v": contact.value, "state": state, "name": display_name},
            )
        ).first()
        return UserRow(**row._mapping) if row else None

    async def activate_user(self, user_id: str) -> None:
        await self.conn.execute(
            text(
                "UPDATE auth.users SET state = 'active', version = version + 1, updated_at = now() WHERE id "
                "= :id"
            ),
            {"id": user_id},
        )

    async def update_user(self, user_id: str, changes: dict[str, str]) -> UserRow:
        sets = ", ".join(f"{k} = :{k}" for k in changes if k in USER_FIELDS)
        row = (
            await self.conn.execute(
                text(
                    f"UPDATE auth.users SET {sets}, version = version + 1, updated_at = now() "
                    f"WHERE id = :id RETURNING {_USER_COLUMNS}"
                ),
                {"id": user_id, **changes},
            )
        ).one()
        return UserRow(**row._mapping)

    async def insert_challenge(
        self,
        challenge_id: str,
        contact: Contact,
        code_hash: bytes | None,
        provider_state: str,
        expires_at: datetime,
    ) -> None:
        await self.conn.execute(
            text(
                "INSERT INTO auth.otp_challenges (id, channel, contact, code_hash, provider_state, "
                "expires_at) "
                "VALUES (:id, :channel, :contact, :hash, :state, :exp)"
            ),
            {
                "id": challenge_id,
                "channel": contact.channel.value,
                "contact": contact.value,
                "hash": code_hash,
                "state": provider_state,
                "exp": expires_at,
            },
        )

    async def forget_challenge(self, challenge_id: str) -> None:
        await self.conn.execute(text("DELETE FROM auth.otp_challenges WHERE id = :id"), {"id": challenge_id})

    async def recent_challenges(self, contact: Contact, since: datetime) -> tuple[datetime | None, int]:
        row = (
            await self.conn.execute(
                text(
                    "SELECT max(created_at), count(*) FROM auth.otp_challenges "
                    "WHERE contact = :c AND created_at >= :since"
                ),
                {"c": contact.value, "since": since},
            )
        ).one()
        return row[0], int(row[1])

    async def challenge_for_update(self, challenge_id: str) -> Challenge | None:
        try:
            uuid.UUID(challenge_id)
        except ValueError:
            return None
        row = (
            await self.conn.execute(
                text(
                    "SELECT id, channel, contact, code_hash, provider_state, attempts, expires_at, "
                    "consumed_at "
                    "FROM auth.otp_challenges WHERE id = :id FOR UPDATE"
                ),
                {"id": challenge_id},
            )
        ).first()
        if row is None:
            return None
        return Challenge(
            id=str(row.id),
            contact=Contact(Channel(row.channel), row.contact),
            code_hash=bytes(row.code_hash) if row.code_hash is not None else None,
            provider_state=row.provider_state,
            attempts=row.attempts,
            expires_at=row.expires_at,
            consumed=row.consumed_at is not None,
        )

    async def count_failed_attempt(self, challenge_id: str) -> None:
        await self.conn.execute(
            text("UPDATE auth.otp_challenges SET attempts = attempts + 1 WHERE id = :id"),
            {"id": challenge_id},
        )

    async def consume_challenge(self, challenge_id: str) -> None:
        await self.conn.execute(
            text("UPDATE auth.otp_challenges SET consumed_at = now() WHERE id = :id"), {"id": challenge_id}
        )

    async def insert_refresh_token(self, digest: bytes, user_id: str, expires_at: datetime) -> None:
        await self.conn.execute(
            text("INSERT INTO auth.refresh_tokens (token_hash, user_id, expires_at) VALUES (:h, :u, :e)"),
            {"h": digest, "u": user_id, "e": expires_at},
        )

    async def live_refresh_token_owner(self, digest: bytes, now: datetime) -> str | None:
        row = (
            await self.conn.execute(
                text(
                    "SELECT user_id FROM auth.refresh_tokens "
                    "WHERE token_hash = :h AND revoked_at IS NULL AND expires_at > :now"
                ),
                {"h": digest, "now": now},
            )
        ).first()
        return str(row[0]) if row else None

    async def revoke_refresh_token(self, digest: bytes) -> bool:
        result = await self.conn.execute(
            text(
                "UPDATE auth.refresh_tokens SET revoked_at = now() WHERE token_hash = :h AND revoked_at IS "
                "NULL"
            ),
            {"h": digest},
        )
        return bool(result.rowcount)

    async def upsert_device(
        self, user_id: str, platform: str, push_token: str, app_version: str
    ) -> DeviceRow:
        row = (
            await self.conn.execute(
                text(
                    "INSERT INTO auth.devices (id, user_id, platform, push_token, app_version) "
                    "VALUES (:id, :u, :p, :t, :v) ON CONFLICT (user_id, push_token) "
                    "DO UPDATE SET platform = EXCLUDED.platform, app_version = EXCLUDED.app_version "
                    "RETURNING id, user_id, platform, push_token, app_version, created_at"
                ),
                {"id": str(uuid.uuid4()), "u": user_id, "p": platform, "t": push_token, "v": app_version},
            )
        ).one()
        return DeviceRow(str(row[0]), *row[1:])

    async def devices_of(self, user_ids: list[str]) -> list[DeviceRow]:
        rows = await self.conn.execute(
            text(
                "SELECT id, user_id, platform, push_token, app_version, created_at FROM auth.devices "
                "WHERE user_id = ANY(:ids) ORDER BY created_at, id"
            ),
            {"ids": user_ids},
        )
        return [DeviceRow(str(r[0]), *r[1:]) for r in rows]

    async def delete_device(self, user_id: str, device_id: str) -> bool:
        try:
            uuid.UUID(device_id)
        except ValueError:
            return False
        result = await self.conn.execute(
            text("DELETE FROM auth.devices WHERE id = :id AND user_id = :u"), {"id": device_id, "u": user_id}
        )
        return bool(result.rowcount)

    async def lock_destination(self, contact: Contact) -> None:
        """Serialise sign-in starts for one destination until the transaction ends."""
        await self.conn.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"), {"k": f"sign-in:{contact.value}"}
        )

    async def take_from_window(
        self, scope: str, key: str, start: datetime, end: datetime, limit: int
    ) -> bool:
        """Count one hit in the window unless it already holds ``limit``; False when full.

        One statement: concurrent callers queue on the row, so a window never exceeds its limit.
        """
        row = (
            await self.conn.execute(
                text(
                    "INSERT INTO auth.sign_in_counters AS c (scope, key, window_start, window_end, hits) "
                    "VALUES (:s, :k, :start, :end, 1) "
                    "ON CONFLICT (scope, key, window_start) DO UPDATE SET hits = c.hits + 1 "
                    "WHERE c.hits < :limit RETURNING hits"
                ),
                {"s": scope, "k": key, "start": start, "end": end, "limit": limit},
            )
        ).first()
        return row is not None

    async def give_back(self, scope: str, key: str, start: datetime) -> None:
        await self.conn.execute(
            text(
                "UPDATE auth.sign_in_counters SET hits = hits - 1 "
                "WHERE scope = :s AND key = :k AND window_start = :start AND hits > 0"
            ),
            {"s": scope, "k": key, "start": start},
        )

    async def forget_windows_before(self, instant: datetime) -> None:
        await self.conn.execute(
            text("DELETE FROM auth.sign_in_counters WHERE window_end < :t"), {"t": instant}
        )

    async def set_challenge_secret(
        self, challenge_id: str, code_hash: bytes | None, provider_state: str
    ) -> None:
        await self.conn.execute(
            text("UPDATE auth.otp_challenges SET code_hash = :h, provider_state = :s WHERE id = :id"),
            {"id": challenge_id, "h": code_hash, "s": provider_state},
        )
