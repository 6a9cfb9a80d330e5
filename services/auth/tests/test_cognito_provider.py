"""The Cognito provider's USER_AUTH requests and responses, checked with botocore's Stubber.

No emulator implements the passwordless USER_AUTH flow, so these tests pin the
exact API calls and their handling instead.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import boto3
import jwt
import pytest
from botocore.stub import Stubber

from services.auth.domain import Challenge, Channel, Contact
from services.auth.providers import CodeRejected
from services.auth.providers.cognito import CognitoProvider

POOL = "ap-south-1_TestPool"
CLIENT = "client123"
SESSION = "AYABeExampleCognitoSession-0001"
REFRESH = "eyJjdHkiOiJKV1QiLCJlbmMiOiJBMjU2R0NNIn0.refresh"
PHONE = Contact(Channel.SMS, "+919812345678")
EMAIL = Contact(Channel.EMAIL, "asha@example.com")


@pytest.fixture
def stubbed() -> Iterator[tuple[CognitoProvider, Stubber]]:
    client = boto3.client(
        "cognito-idp", region_name="ap-south-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    with Stubber(client) as stub:
        yield CognitoProvider(client, user_pool_id=POOL, client_id=CLIENT), stub
        stub.assert_no_pending_responses()


def _id_token(sub: str) -> str:
    return jwt.encode(
        {"sub": sub, "token_use": "id", "exp": int(time.time()) + 60},
        "test-signing-secret-of-32-bytes!",
        algorithm="HS256",
    )  # unverified by design: only the sub is read


async def test_subject_for_existing_user(stubbed: tuple[CognitoProvider, Stubber]) -> None:
    provider, stub = stubbed
    stub.add_response(
        "admin_get_user",
        {"Username": PHONE.value, "UserAttributes": [{"Name": "sub", "Value": "sub-1"}]},
        {"UserPoolId": POOL, "Username": PHONE.value},
    )
    assert await provider.subject_for(PHONE) == "sub-1"


async def test_subject_for_new_user_creates_it_without_a_welcome_message(
    stubbed: tuple[CognitoProvider, Stubber],
) -> None:
    provider, stub = stubbed
    stub.add_client_error("admin_get_user", service_error_code="UserNotFoundException")
    stub.add_response(
        "admin_create_user",
        {"User": {"Username": EMAIL.value, "Attributes": [{"Name": "sub", "Value": "sub-2"}]}},
        {
            "UserPoolId": POOL,
            "Username": EMAIL.value,
            "MessageAction": "SUPPRESS",
            "UserAttributes": [
                {"Name": "email", "Value": EMAIL.value},
                {"Name": "email_verified", "Value": "true"},
            ],
        },
    )
    assert await provider.subject_for(EMAIL) == "sub-2"


@pytest.mark.parametrize(("contact", "challenge"), [(PHONE, "SMS_OTP"), (EMAIL, "EMAIL_OTP")])
async def test_start_asks_for_the_channel_challenge(
    stubbed: tuple[CognitoProvider, Stubber], contact: Contact, challenge: str
) -> None:
    provider, stub = stubbed
    stub.add_response(
        "initiate_auth",
        {"ChallengeName": challenge, "Session": SESSION, "ChallengeParameters": {}},
        {
            "ClientId": CLIENT,
            "AuthFlow": "USER_AUTH",
            "AuthParameters": {"USERNAME": contact.value, "PREFERRED_CHALLENGE": challenge},
        },
    )
    started = await provider.start("ch", contact, "sub-1", "en-IN")
    assert started.provider_state == SESSION
    assert started.code_hash is None  # Cognito checks the code, not us


def _challenge(contact: Contact) -> Challenge:
    return Challenge("ch", contact, None, SESSION, 0, datetime.now(UTC) + timedelta(minutes=5), False)


async def test_verify_answers_the_challenge_and_returns_tokens(
    stubbed: tuple[CognitoProvider, Stubber],
) -> None:
    provider, stub = stubbed
    stub.add_response(
        "respond_to_auth_challenge",
        {
            "AuthenticationResult": {
                "AccessToken": "access",
                "IdToken": _id_token("sub-1"),
                "RefreshToken": "refresh",
                "ExpiresIn": 3600,
                "TokenType": "Bearer",
            }
        },
        {
            "ClientId": CLIENT,
            "ChallengeName": "SMS_OTP",
            "Session": SESSION,
            "ChallengeResponses": {"USERNAME": PHONE.value, "SMS_OTP_CODE": "123456"},
        },
    )
    tokens = await provider.verify(_challenge(PHONE), "sub-1", "123456", {})
    assert (tokens.access_token, tokens.refresh_token, tokens.expires_in) == ("access", "refresh", 3600)


@pytest.mark.parametrize("error", ["CodeMismatchException", "ExpiredCodeException", "NotAuthorizedException"])
async def test_wrong_code_is_a_rejection(stubbed: tuple[CognitoProvider, Stubber], error: str) -> None:
    provider, stub = stubbed
    stub.add_client_error("respond_to_auth_challenge", service_error_code=error)
    with pytest.raises(CodeRejected):
        await provider.verify(_challenge(EMAIL), "sub-1", "000000", {})


async def test_tokens_for_another_subject_are_refused(stubbed: tuple[CognitoProvider, Stubber]) -> None:
    provider, stub = stubbed
    stub.add_response(
        "respond_to_auth_challenge",
        {"AuthenticationResult": {"AccessToken": "a", "IdToken": _id_token("someone-else"), "ExpiresIn": 60}},
    )
    with pytest.raises(RuntimeError):
        await provider.verify(_challenge(PHONE), "sub-1", "123456", {})


async def test_refresh_and_revoke(stubbed: tuple[CognitoProvider, Stubber]) -> None:
    provider, stub = stubbed
    stub.add_response(
        "initiate_auth",
        {"AuthenticationResult": {"AccessToken": "a2", "IdToken": "i2", "ExpiresIn": 3600}},
        {"ClientId": CLIENT, "AuthFlow": "REFRESH_TOKEN_AUTH", "AuthParameters": {"REFRESH_TOKEN": REFRESH}},
    )
    stub.add_response("revoke_token", {}, {"Token": REFRESH, "ClientId": CLIENT})
    tokens = await provider.refresh(REFRESH, "sub-1", {})
    assert tokens.access_token == "a2" and tokens.refresh_token == ""
    await provider.revoke(REFRESH)
