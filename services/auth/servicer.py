"""AuthService over gRPC: translate protos to use-case calls and back. No rules here."""

from __future__ import annotations

from typing import Any

from google.protobuf import empty_pb2
from hisaab.auth.v1 import auth_pb2, auth_pb2_grpc

from libs import etag, names, validation, wire
from libs.auth.caller import require_caller
from libs.errors import InvalidArgument
from libs.rpc.client_address import client_address
from services.auth.domain import USER_FIELDS, Channel, Contact, DeviceRow, UserRow
from services.auth.usecases import AuthUseCases, SignedIn

_PLATFORMS = {auth_pb2.Device.ANDROID: "android", auth_pb2.Device.IOS: "ios"}
_PLATFORM_ENUM = {v: k for k, v in _PLATFORMS.items()}
MAX_BATCH = 1000


def user_proto(user: UserRow) -> auth_pb2.User:
    name = f"users/{user.id}"
    return auth_pb2.User(
        name=name,
        user_id=user.id,
        display_name=user.display_name,
        phone_number=user.phone_number or "",
        email=user.email or "",
        default_currency=user.default_currency,
        locale=user.locale,
        upi_vpa=user.upi_vpa,
        state=auth_pb2.User.ACTIVE if user.state == "active" else auth_pb2.User.PLACEHOLDER,
        create_time=wire.timestamp(user.created_at),
        update_time=wire.timestamp(user.updated_at),
        etag=etag.make(name, user.version),
    )


def device_proto(device: DeviceRow) -> auth_pb2.Device:
    return auth_pb2.Device(
        name=f"users/{device.user_id}/devices/{device.id}",
        platform=_PLATFORM_ENUM.get(device.platform, auth_pb2.Device.PLATFORM_UNSPECIFIED),
        push_token=device.push_token,
        app_version=device.app_version,
        create_time=wire.timestamp(device.created_at),
    )


def _session(result: SignedIn) -> auth_pb2.Session:
    return auth_pb2.Session(
        access_token=result.tokens.access_token,
        id_token=result.tokens.id_token,
        refresh_token=result.tokens.refresh_token,
        token_type="Bearer",
        expires_in=result.tokens.expires_in,
        user=user_proto(result.user),
        new_user=result.new_user,
    )


def _contact(message: Any) -> Contact:
    which = message.WhichOneof("contact")
    if which == "phone_number":
        return Contact.phone(message.phone_number)
    if which == "email":
        return Contact.email(message.email)
    raise InvalidArgument("phone_number", "a phone_number or an email is required")


def _user_id(name: str, field: str) -> str:
    return names.one(name, "users", field)


class AuthServicer(auth_pb2_grpc.AuthServiceServicer):
    def __init__(self, usecases: AuthUseCases, jwks: dict[str, Any] | None):
        self._uc = usecases
        self._jwks = jwks

    async def StartSignIn(
        self, request: auth_pb2.StartSignInRequest, context: Any
    ) -> auth_pb2.StartSignInResponse:
        contact = _contact(request)
        locale = validation.locale(request.locale) if request.locale else "en-IN"
        started = await self._uc.start_sign_in(contact, locale, client_address(context))
        return auth_pb2.StartSignInResponse(
            challenge_id=started.challenge_id,
            channel=auth_pb2.SMS if contact.channel is Channel.SMS else auth_pb2.EMAIL,
            masked_destination=contact.masked(),
            expire_time=wire.timestamp(started.expires_at),
            resend_after_seconds=started.resend_after_seconds,
            code_length=6,
        )

    async def VerifySignIn(self, request: auth_pb2.VerifySignInRequest, context: Any) -> auth_pb2.Session:
        if not request.challenge_id:
            raise InvalidArgument("challenge_id", "is required")
        verified = await self._uc.verify_sign_in(request.challenge_id, request.code, client_address(context))
        return _session(verified)

    async def RefreshSession(self, request: auth_pb2.RefreshSessionRequest, context: Any) -> auth_pb2.Session:
        return _session(await self._uc.refresh(request.refresh_token))

    async def SignOut(self, request: auth_pb2.SignOutRequest, context: Any) -> empty_pb2.Empty:
        await self._uc.sign_out(request.refresh_token)
        return empty_pb2.Empty()

    async def GetJwks(self, request: auth_pb2.GetJwksRequest, context: Any) -> auth_pb2.JsonWebKeySet:
        keys = (self._jwks or {}).get("keys", [])
        fields = auth_pb2.JsonWebKey.DESCRIPTOR.fields_by_name
        return auth_pb2.JsonWebKeySet(
            keys=[auth_pb2.JsonWebKey(**{k: v for k, v in key.items() if k in fields}) for key in keys]
        )

    async def GetMe(self, request: auth_pb2.GetMeRequest, context: Any) -> auth_pb2.User:
        return user_proto(await self._uc.me(require_caller().user_id))

    async def UpdateMe(self, request: auth_pb2.UpdateMeRequest, context: Any) -> auth_pb2.User:
        caller = require_caller()
        paths = list(request.update_mask.paths) or [f for f in USER_FIELDS if getattr(request.user, f)]
        changes: dict[str, str] = {}
        for path in paths:
            if path not in USER_FIELDS:
                raise InvalidArgument(
                    "update_mask", f"cannot update {path!r}; allowed: {', '.join(USER_FIELDS)}"
                )
            value = getattr(request.user, path)
            field = f"user.{path}"
            if path == "display_name":
                changes[path] = validation.text(value, field, max_length=100, required=True)
            elif path == "default_currency":
                changes[path] = validation.currency_code(value, field)
            elif path == "locale":
                changes[path] = validation.locale(value, field)
            elif path == "upi_vpa":
                changes[path] = validation.upi_vpa(value, field) if value else ""
        if request.user.etag:
            current = await self._uc.me(caller.user_id)
            etag.check(request.user.etag, f"users/{current.id}", current.version)
        return user_proto(await self._uc.update_me(caller.user_id, changes))

    async def RegisterDevice(self, request: auth_pb2.RegisterDeviceRequest, context: Any) -> auth_pb2.Device:
        caller = require_caller()
        device = request.device
        platform = _PLATFORMS.get(device.platform)
        if platform is None:
            raise InvalidArgument("device.platform", "must be ANDROID or IOS")
        token = validation.text(device.push_token, "device.push_token", max_length=4096, required=True)
        version = validation.text(device.app_version, "device.app_version", max_length=40)
        return device_proto(await self._uc.register_device(caller.user_id, platform, token, version))

    async def ListDevices(
        self, request: auth_pb2.ListDevicesRequest, context: Any
    ) -> auth_pb2.ListDevicesResponse:
        devices = await self._uc.devices([require_caller().user_id])
        return auth_pb2.ListDevicesResponse(devices=[device_proto(d) for d in devices])

    async def UnregisterDevice(
        self, request: auth_pb2.UnregisterDeviceRequest, context: Any
    ) -> empty_pb2.Empty:
        caller = require_caller()
        prefix = "users/me/devices/"
        own_prefix = f"users/{caller.user_id}/devices/"
        for p in (prefix, own_prefix):
            if request.name.startswith(p) and len(request.name) > len(p):
                await self._uc.unregister_device(caller.user_id, request.name[len(p) :])
                return empty_pb2.Empty()
        raise InvalidArgument("name", "must look like users/me/devices/<id>")

    async def BatchGetUsers(
        self, request: auth_pb2.BatchGetUsersRequest, context: Any
    ) -> auth_pb2.BatchGetUsersResponse:
        require_caller()
        if len(request.names) > MAX_BATCH:
            raise InvalidArgument("names", f"at most {MAX_BATCH}")
        ids = [_user_id(n, f"names[{i}]") for i, n in enumerate(request.names)]
        return auth_pb2.BatchGetUsersResponse(users=[user_proto(u) for u in await self._uc.users(ids)])

    async def EnsureUser(self, request: auth_pb2.EnsureUserRequest, context: Any) -> auth_pb2.User:
        require_caller()
        name = validation.text(request.display_name, "display_name", max_length=100)
        return user_proto(await self._uc.ensure_user(_contact(request), name))

    async def BatchGetDevices(
        self, request: auth_pb2.BatchGetDevicesRequest, context: Any
    ) -> auth_pb2.BatchGetDevicesResponse:
        require_caller()
        if len(request.users) > MAX_BATCH:
            raise InvalidArgument("users", f"at most {MAX_BATCH}")
        ids = [_user_id(n, f"users[{i}]") for i, n in enumerate(request.users)]
        by_user: dict[str, list[auth_pb2.Device]] = {i: [] for i in ids}
        for device in await self._uc.devices(ids):
            by_user[device.user_id].append(device_proto(device))
        return auth_pb2.BatchGetDevicesResponse(
            entries=[
                auth_pb2.BatchGetDevicesResponse.UserDevices(user=f"users/{i}", devices=d)
                for i, d in by_user.items()
            ]
        )
