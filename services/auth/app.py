"""Composition root of auth-service: settings → database → provider → use cases → servicer."""

from __future__ import annotations

import boto3
from hisaab.auth.v1 import auth_pb2_grpc

from libs import limits
from libs import settings as settings_mod
from libs.auth.jwks import JwksCache
from libs.clients.features.install import gate_interceptor
from libs.db.database import Database
from libs.db.unit_of_work import SqlUnitOfWork
from libs.server import ServiceApp
from services.auth.providers import IdentityProvider
from services.auth.providers.cognito import CognitoProvider
from services.auth.providers.local import LocalIssuer
from services.auth.repository import SqlAuthRepositories
from services.auth.servicer import AuthServicer
from services.auth.throttle import SignInThrottle
from services.auth.usecases import AuthUseCases


async def build() -> ServiceApp:
    settings = settings_mod.load("auth")
    db = Database(settings.database_url, settings.database_reader_url, application_name="hisaab-auth")
    provider: IdentityProvider
    jwks_cache: JwksCache | None = None
    public_jwks = None
    if settings.auth_provider == "local":
        issuer = LocalIssuer(settings.data_dir, issuer=settings.jwt_issuer, client_id=settings.jwt_client_id)
        provider = issuer
        public_jwks = issuer.jwks()
        # The issuer verifies its own tokens from memory rather than through the gateway.
        jwks_cache = JwksCache(issuer.jwks)
    else:
        client = boto3.client("cognito-idp", region_name=settings.aws_region)
        provider = CognitoProvider(
            client, user_pool_id=settings.cognito_user_pool_id, client_id=settings.cognito_client_id
        )
    throttle = SignInThrottle(limits.load())
    servicer = AuthServicer(
        AuthUseCases(SqlUnitOfWork(db, SqlAuthRepositories), provider, throttle), public_jwks
    )
    return ServiceApp(
        gate=gate_interceptor,
        settings=settings,
        register=lambda server: auth_pb2_grpc.add_AuthServiceServicer_to_server(servicer, server),
        jwks=jwks_cache,
        on_stop=[db.close],
    )
