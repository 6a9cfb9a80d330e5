"""NotificationService over gRPC: proto ⇄ use cases."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from hisaab.notification.v1 import notification_pb2, notification_pb2_grpc

from libs import etag, names, pagination, validation, wire
from libs.auth.caller import require_caller, require_internal
from libs.errors import InvalidArgument
from services.notification import domain
from services.notification.domain import Channel, Event, EventType, Notification, Preferences
from services.notification.usecases import NotificationUseCases

_PREF_FIELDS = ("channel_settings", "reminder_hour", "time_zone", "locale")
_JOBS = {
    notification_pb2.RunJobRequest.BALANCE_REMINDERS: "balance_reminders",
    notification_pb2.RunJobRequest.WEEKLY_DIGESTS: "weekly_digests",
    notification_pb2.RunJobRequest.PACK_EXPIRY_WARNINGS: "pack_expiry_warnings",
    notification_pb2.RunJobRequest.PURGE_OLD_NOTIFICATIONS: "purge_old_notifications",
}


def _event_pb(value: EventType) -> int:
    return int(notification_pb2.EventType.Value(value.value))


def _channel_pb(value: Channel) -> int:
    return int(notification_pb2.Channel.Value(value.value))


def notification_proto(n: Notification) -> notification_pb2.Notification:
    return notification_pb2.Notification(
        name=f"users/{n.user_id}/notifications/{n.id}",
        event_type=_event_pb(n.event_type),  # type: ignore[arg-type]
        title=n.title,
        body=n.body,
        deep_link=n.deep_link,
        group=f"groups/{n.group_id}" if n.group_id else "",
        actor=f"users/{n.actor}" if n.actor else "",
        create_time=wire.timestamp(n.created_at),
        read=n.read,
    )


def _pref_name(user_id: str) -> str:
    return f"users/{user_id}/notificationPreferences"


def preferences_proto(p: Preferences) -> notification_pb2.NotificationPreferences:
    proto = notification_pb2.NotificationPreferences(
        name=_pref_name(p.user_id),
        channel_settings=[
            notification_pb2.NotificationPreferences.ChannelSetting(
                event_type=_event_pb(e),  # type: ignore[arg-type]
                channel=_channel_pb(c),  # type: ignore[arg-type]
                enabled=on,
            )
            for e, c, on in p.matrix()
        ],
        reminder_hour=p.reminder_hour,
        time_zone=p.time_zone,
        locale=p.locale,
        etag=etag.make(_pref_name(p.user_id), p.version),
    )
    if p.updated_at is not None:
        proto.update_time.CopyFrom(wire.timestamp(p.updated_at))
    return proto


def _notification_id(name: str, user_id: str, field: str) -> str:
    for prefix in ("users/me/notifications/", f"users/{user_id}/notifications/"):
        if name.startswith(prefix):
            candidate = name[len(prefix) :]
            try:
                return str(uuid.UUID(candidate))
            except ValueError:
                break
    raise InvalidArgument(field, "must look like users/me/notifications/<id>")


class NotificationServicer(notification_pb2_grpc.NotificationServiceServicer):
    def __init__(self, usecases: NotificationUseCases):
        self._uc = usecases

    async def ListNotifications(
        self, request: notification_pb2.ListNotificationsRequest, context: Any
    ) -> notification_pb2.ListNotificationsResponse:
        caller = require_caller()
        query = {"caller": caller.user_id, "unread": request.unread_only}
        pager = pagination.Page.of(request, query)
        found = await self._uc.inbox(
            caller.user_id,
            unread_only=request.unread_only,
            after=pager.after,
            limit=pager.limit,
        )
        page, token = pager.cut(found, pagination.created_key)
        return notification_pb2.ListNotificationsResponse(
            notifications=[notification_proto(n) for n in page], next_page_token=token
        )

    async def GetUnreadCount(
        self, request: notification_pb2.GetUnreadCountRequest, context: Any
    ) -> notification_pb2.UnreadCount:
        return notification_pb2.UnreadCount(
            unread_count=await self._uc.unread_count(require_caller().user_id)
        )

    async def MarkNotificationsRead(
        self, request: notification_pb2.MarkNotificationsReadRequest, context: Any
    ) -> notification_pb2.MarkNotificationsReadResponse:
        caller = require_caller()
        has_before = request.HasField("all_before")
        if bool(request.names) == has_before:
            raise InvalidArgument("names", "set names or all_before, not both and not neither")
        if request.names:
            ids = [_notification_id(n, caller.user_id, f"names[{i}]") for i, n in enumerate(request.names)]
            marked, unread = await self._uc.mark_read(caller.user_id, ids=ids)
        else:
            before = request.all_before.ToDatetime(tzinfo=UTC)
            marked, unread = await self._uc.mark_read(caller.user_id, before=before)
        return notification_pb2.MarkNotificationsReadResponse(marked_count=marked, unread_count=unread)

    async def GetNotificationPreferences(
        self, request: notification_pb2.GetNotificationPreferencesRequest, context: Any
    ) -> notification_pb2.NotificationPreferences:
        return preferences_proto(await self._uc.preferences(require_caller().user_id))

    async def UpdateNotificationPreferences(
        self, request: notification_pb2.UpdateNotificationPreferencesRequest, context: Any
    ) -> notification_pb2.NotificationPreferences:
        caller = require_caller()
        sent = request.preferences
        if sent.name and sent.name not in (_pref_name("me"), _pref_name(caller.user_id)):
            raise InvalidArgument("preferences.name", "must be users/me/notificationPreferences")
        paths = list(request.update_mask.paths) or list(_PREF_FIELDS)
        for path in paths:
            if path not in _PREF_FIELDS:
                raise InvalidArgument(
                    "update_mask", f"cannot update {path!r}; allowed: {', '.join(_PREF_FIELDS)}"
                )
        changes: dict[str, Any] = {}
        if "channel_settings" in paths:
            switches = []
            for i, s in enumerate(sent.channel_settings):
                field = f"preferences.channel_settings[{i}]"
                if (
                    s.event_type == notification_pb2.EVENT_TYPE_UNSPECIFIED
                    or s.channel == notification_pb2.CHANNEL_UNSPECIFIED
                ):
                    raise InvalidArgument(field, "needs an event_type and a channel")
                switches.append(
                    (
                        EventType(notification_pb2.EventType.Name(s.event_type)),
                        Channel(notification_pb2.Channel.Name(s.channel)),
                        s.enabled,
                    )
                )
            changes["switches"] = switches
        if "reminder_hour" in paths:
            changes["reminder_hour"] = sent.reminder_hour
        if "time_zone" in paths:
            changes["time_zone"] = sent.time_zone or domain.DEFAULT_TIME_ZONE
        if "locale" in paths:
            changes["locale"] = validation.locale(sent.locale, "preferences.locale") if sent.locale else ""

        def check_version(current: Preferences) -> None:
            etag.check(sent.etag, _pref_name(caller.user_id), current.version)

        updated = await self._uc.update_preferences(caller.user_id, check_version=check_version, **changes)
        return preferences_proto(updated)

    async def HandleEvent(
        self, request: notification_pb2.HandleEventRequest, context: Any
    ) -> notification_pb2.HandleEventResponse:
        require_internal()  # events and jobs come from the platform, never from an app user
        if not request.event_id:
            raise InvalidArgument("event_id", "is required")
        if request.event_type == notification_pb2.EVENT_TYPE_UNSPECIFIED:
            raise InvalidArgument("event_type", "is required")
        event = Event(
            id=request.event_id,
            type=EventType(notification_pb2.EventType.Name(request.event_type)),
            occurred_at=request.occur_time.ToDatetime(tzinfo=UTC)
            if request.HasField("occur_time")
            else datetime.now(UTC),
            actor=request.actor.removeprefix("users/"),
            group=request.group.removeprefix("groups/"),
            subject=request.subject,
            recipients=tuple(
                names.one(r, "users", f"recipients[{i}]") for i, r in enumerate(request.recipients)
            ),
            attributes=dict(request.attributes),
        )
        handled = await self._uc.handle(event, event.id, event.type.value)
        return notification_pb2.HandleEventResponse(
            duplicate=handled.duplicate, notifications_created=handled.notifications_created
        )

    async def RunJob(
        self, request: notification_pb2.RunJobRequest, context: Any
    ) -> notification_pb2.RunJobResponse:
        require_internal()  # events and jobs come from the platform, never from an app user
        job = _JOBS.get(request.job_type)
        if job is None:
            raise InvalidArgument("job_type", "is required")
        if not request.HasField("period_start"):
            raise InvalidArgument("period_start", "is required")
        result = await self._uc.run_job(job, request.period_start.ToDatetime(tzinfo=UTC))
        return notification_pb2.RunJobResponse(
            duplicate=result.duplicate,
            processed_count=result.processed,
            notifications_created=result.notifications_created,
        )
