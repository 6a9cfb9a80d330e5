"""Access-token verification rejects every forged, stale or misdirected token."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from libs.auth.jwks import JwksCache
from libs.auth.verifier import REMEMBER_SECONDS, TokenVerifier
from libs.errors import Unauthenticated

ISSUER = "https://issuer.test"
CLIENT = "app-client"


def _jwk(key: rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    return {**data, "kid": kid, "alg": "RS256", "use": "sig"}


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {
        "iss": ISSUER,
        "sub": "user-1",
        "client_id": CLIENT,
        "token_use": "access",
        "iat": now,
        "exp": now + 600,
        "jti": "j1",
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def sign(key: rsa.RSAPrivateKey, body: dict[str, Any], kid: str = "k1") -> str:
    return jwt.encode(body, key, algorithm="RS256", headers={"kid": kid})


class Source:
    def __init__(self, keys: list[dict[str, Any]]):
        self.keys = keys
        self.calls = 0

    def __call__(self) -> dict[str, Any]:
        self.calls += 1
        return {"keys": self.keys}


def verifier(source: Source) -> TokenVerifier:
    return TokenVerifier(JwksCache(source), issuer=ISSUER, client_id=CLIENT)


async def test_valid_token_gives_caller(key: rsa.RSAPrivateKey) -> None:
    caller = await verifier(Source([_jwk(key, "k1")])).verify(sign(key, claims()))
    assert caller.user_id == "user-1"
    assert caller.claims["jti"] == "j1"


@pytest.mark.parametrize(
    ("overrides", "why"),
    [
        ({"exp": int(time.time()) - 3600}, "expired"),
        ({"exp": None}, "no exp"),
        ({"iss": "https://evil.test"}, "other issuer"),
        ({"token_use": "id"}, "id token"),
        ({"token_use": None}, "no token_use"),
        ({"client_id": "someone-else"}, "other client"),
    ],
)
async def test_rejects_bad_claims(key: rsa.RSAPrivateKey, overrides: dict[str, Any], why: str) -> None:
    with pytest.raises(Unauthenticated):
        await verifier(Source([_jwk(key, "k1")])).verify(sign(key, claims(**overrides)))


async def test_expired_token_has_its_own_reason(key: rsa.RSAPrivateKey) -> None:
    with pytest.raises(Unauthenticated) as err:
        await verifier(Source([_jwk(key, "k1")])).verify(sign(key, claims(exp=int(time.time()) - 3600)))
    assert err.value.reason == "TOKEN_EXPIRED"


def _unsigned(body: dict[str, Any], header: dict[str, Any]) -> str:
    def b64(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{b64(header)}.{b64(body)}."


async def test_rejects_alg_none(key: rsa.RSAPrivateKey) -> None:
    token = _unsigned(claims(), {"alg": "none", "kid": "k1", "typ": "JWT"})
    with pytest.raises(Unauthenticated):
        await verifier(Source([_jwk(key, "k1")])).verify(token)


async def test_rejects_hs256_signed_with_the_public_key(key: rsa.RSAPrivateKey) -> None:
    # The classic confusion attack: HMAC with the RSA public key as the secret.
    from cryptography.hazmat.primitives import serialization

    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = json.dumps({"alg": "HS256", "kid": "k1", "typ": "JWT"}).encode()
    body = json.dumps(claims()).encode()
    import hashlib
    import hmac

    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    signing_input = f"{b64(header)}.{b64(body)}"
    sig = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    with pytest.raises(Unauthenticated):
        await verifier(Source([_jwk(key, "k1")])).verify(f"{signing_input}.{b64(sig)}")


async def test_rejects_unknown_key_and_wrong_signature(key: rsa.RSAPrivateKey) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    v = verifier(Source([_jwk(key, "k1")]))
    with pytest.raises(Unauthenticated):
        await v.verify(sign(other, claims(), kid="k2"))  # unknown kid
    with pytest.raises(Unauthenticated):
        await v.verify(sign(other, claims(), kid="k1"))  # known kid, wrong key


@pytest.mark.parametrize("token", ["", "garbage", "a.b.c", "eyJhbGciOiJSUzI1NiJ9.e30.sig"])
async def test_rejects_malformed(key: rsa.RSAPrivateKey, token: str) -> None:
    with pytest.raises(Unauthenticated):
        await verifier(Source([_jwk(key, "k1")])).verify(token)


async def test_unknown_kid_refreshes_the_key_set_at_most_once_per_interval(key: rsa.RSAPrivateKey) -> None:
    rotated = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    source = Source([_jwk(key, "k1")])
    now = [1000.0]
    v = TokenVerifier(JwksCache(source, clock=lambda: now[0]), issuer=ISSUER, client_id=CLIENT)
    await v.verify(sign(key, claims()))
    await v.verify(sign(key, claims()))
    assert source.calls == 1  # cached after the first fetch

    source.keys = [_jwk(key, "k1"), _jwk(rotated, "k2")]  # the issuer rotates its key
    now[0] += 5
    with pytest.raises(Unauthenticated):
        await v.verify(sign(rotated, claims(), kid="k2"))
    assert source.calls == 1  # too soon after the last fetch: made-up kids cannot force fetches

    now[0] += 31
    assert (await v.verify(sign(rotated, claims(), kid="k2"))).user_id == "user-1"
    assert source.calls == 2
    await v.verify(sign(rotated, claims(), kid="k2"))
    assert source.calls == 2


async def test_service_clients_need_the_internal_scope(key: rsa.RSAPrivateKey) -> None:
    v = TokenVerifier(
        JwksCache(Source([_jwk(key, "k1")])),
        issuer=ISSUER,
        client_id=CLIENT,
        service_clients={"svc": "notification"},
    )
    internal = await v.verify(sign(key, claims(client_id="svc", sub="svc", scope="hisaab/internal")))
    assert (internal.user_id, internal.service) == ("service:notification", "notification")
    with pytest.raises(Unauthenticated):
        await v.verify(sign(key, claims(client_id="svc", sub="svc")))  # no internal scope
    with pytest.raises(Unauthenticated):
        await v.verify(sign(key, claims(client_id="other", scope="hisaab/internal")))  # unknown client


async def test_the_app_client_never_carries_the_internal_scope(key: rsa.RSAPrivateKey) -> None:
    v = TokenVerifier(
        JwksCache(Source([_jwk(key, "k1")])),
        issuer=ISSUER,
        client_id=CLIENT,
        service_clients={"svc": "notification"},
    )
    user = await v.verify(sign(key, claims()))
    assert user.service == ""
    with pytest.raises(Unauthenticated):
        # A user cannot pass for a service by asking for the scope or naming one as subject.
        await v.verify(sign(key, claims(sub="service:notification", scope="hisaab/internal")))


class CountingVerifier(TokenVerifier):
    checks = 0

    async def _check(self, token: str) -> Any:
        self.checks += 1
        return await super()._check(token)


async def test_a_verified_token_is_remembered_for_a_minute_at_most(key: rsa.RSAPrivateKey) -> None:
    source = Source([_jwk(key, "k1")])
    now = [1000.0]
    v = CountingVerifier(
        JwksCache(source, clock=lambda: now[0]), issuer=ISSUER, client_id=CLIENT, clock=lambda: now[0]
    )
    token = sign(key, claims())
    first = await v.verify(token)
    assert await v.verify(token) is first
    assert v.checks == 1

    now[0] += REMEMBER_SECONDS - 1
    assert (await v.verify(token)).user_id == "user-1"
    assert v.checks == 1
    now[0] += 2
    assert (await v.verify(token)).user_id == "user-1"
    assert v.checks == 2  # checked again in full


async def test_a_token_is_not_remembered_past_its_expiry(key: rsa.RSAPrivateKey) -> None:
    now = [1000.0]
    v = CountingVerifier(
        JwksCache(Source([_jwk(key, "k1")])), issuer=ISSUER, client_id=CLIENT, clock=lambda: now[0]
    )
    # Expired 20 s ago, still inside the 30 s leeway: good for about 10 s more.
    token = sign(key, claims(exp=int(time.time()) - 20))
    await v.verify(token)
    now[0] += 5
    await v.verify(token)
    assert v.checks == 1
    now[0] += 7
    await v.verify(token)
    assert v.checks == 2


async def test_failed_tokens_are_not_remembered_and_the_cache_is_bounded(
    key: rsa.RSAPrivateKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    from libs.auth import verifier as module

    monkeypatch.setattr(module, "REMEMBERED_TOKENS", 3)
    v = CountingVerifier(JwksCache(Source([_jwk(key, "k1")])), issuer=ISSUER, client_id=CLIENT)
    bad = sign(key, claims(token_use="id"))
    for _ in range(2):
        with pytest.raises(Unauthenticated):
            await v.verify(bad)
    assert v.checks == 2
    tokens = [sign(key, claims(jti=f"j{i}")) for i in range(4)]
    for token in tokens:
        await v.verify(token)
    await v.verify(tokens[0])  # the oldest was let go
    assert v.checks == 2 + 4 + 1
