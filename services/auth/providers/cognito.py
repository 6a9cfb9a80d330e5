"""Cognito user pool provider: passwordless USER_AUTH with SMS_OTP / EMAIL_OTP challenges.

Cognito sends and checks the codes and signs the tokens; we keep the session it
hands back between the two steps. The user id everywhere is Cognito's ``sub``.
"""

from __future__ import annotations

import asyncio
from typing import Any

import jwt
from botocore.exceptions import ClientError

from services.auth.domain import Challenge, Channel, Contact
from services.auth.providers import CodeRejected, Started, Tokens

_CHALLENGE = {Channel.SMS: "SMS_OTP", Channel.EMAIL: "EMAIL_OTP"}
_CODE_KEY = {Channel.SMS: "SMS_OTP_CODE", Channel.EMAIL: "EMAIL_OTP_CODE"}
_ATTRIBUTE = {Channel.SMS: "phone_number", Channel.EMAIL: "email"}


class CognitoProvider:
    def __init__(self, client: Any, *, user_pool_id: str, client_id: str):
        self._client = client
        self._pool = user_pool_id
        self._client_id = client_id

    def jwks(self) -> dict[str, Any] | None:
        return None  # Cognito publishes its own JWKS

    async def _call(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        result: dict[str, Any] = await asyncio.to_thread(getattr(self._client, operation), **kwargs)
        return result

    async def subject_for(self, contact: Contact) -> str:
        """The user's ``sub``, creating a confirmed, passwordless user on first use."""
        attribute = _ATTRIBUTE[contact.channel]
        try:
            found = await self._call("admin_get_user", UserPoolId=self._pool, Username=contact.value)
        except ClientError as err:
            if err.response["Error"]["Code"] != "UserNotFoundException":
                raise
            found = (
                await self._call(
                    "admin_create_user",
                    UserPoolId=self._pool,
                    Username=contact.value,
                    MessageAction="SUPPRESS",
                    UserAttributes=[
                        {"Name": attribute, "Value": contact.value},
                        {"Name": f"{attribute}_verified", "Value": "true"},
                    ],
                )
            )["User"]
        attributes = found.get("UserAttributes") or found.get("Attributes") or []
        for attr in attributes:
            if attr["Name"] == "sub":
                return str(attr["Value"])
        raise RuntimeError("Cognito user has no sub attribute")

    async def start(self, challenge_id: str, contact: Contact, subject: str, locale: str) -> Started:
        response = await self._call(
            "initiate_auth",
            ClientId=self._client_id,
            AuthFlow="USER_AUTH",
            AuthParameters={"USERNAME": contact.value, "PREFERRED_CHALLENGE": _CHALLENGE[contact.channel]},
        )
        if response.get("ChallengeName") != _CHALLENGE[contact.channel]:
            raise RuntimeError(f"unexpected Cognito challenge {response.get('ChallengeName')!r}")
        return Started(code_hash=None, provider_state=response["Session"])

    async def verify(self, challenge: Challenge, subject: str, code: str, user: dict[str, Any]) -> Tokens:
        channel = challenge.contact.channel
        try:
            response = await self._call(
                "respond_to_auth_challenge",
                ClientId=self._client_id,
                ChallengeName=_CHALLENGE[channel],
                Session=challenge.provider_state,
                ChallengeResponses={"USERNAME": challenge.contact.value, _CODE_KEY[channel]: code},
            )
        except ClientError as err:
            if err.response["Error"]["Code"] in (
                "CodeMismatchException",
                "NotAuthorizedException",
                "ExpiredCodeException",
            ):
                raise CodeRejected from None
            raise
        result = response.get("AuthenticationResult")
        if not result:
            # Cognito answered with another challenge: the code did not complete sign-in.
            raise CodeRejected
        tokens = _tokens(result)
        claims = jwt.decode(tokens.id_token, options={"verify_signature": False})
        if claims.get("sub") != subject:
            raise RuntimeError("Cognito subject does not match the user")
        return tokens

    async def refresh(self, refresh_token: str, subject: str, user: dict[str, Any]) -> Tokens:
        try:
            response = await self._call(
                "initiate_auth",
                ClientId=self._client_id,
                AuthFlow="REFRESH_TOKEN_AUTH",
                AuthParameters={"REFRESH_TOKEN": refresh_token},
            )
        except ClientError as err:
            if err.response["Error"]["Code"] == "NotAuthorizedException":
                raise CodeRejected from None
            raise
        return _tokens(response["AuthenticationResult"])

    async def revoke(self, refresh_token: str) -> None:
        await self._call("revoke_token", Token=refresh_token, ClientId=self._client_id)


def _tokens(result: dict[str, Any]) -> Tokens:
    return Tokens(
        access_token=result["AccessToken"],
        id_token=result.get("IdToken", ""),
        refresh_token=result.get("RefreshToken", ""),
        expires_in=int(result.get("ExpiresIn", 3600)),
    )
