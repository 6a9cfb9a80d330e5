"""Builds the gate for a service from its settings (called by ``libs.server.build_server``)."""

from __future__ import annotations

from collections.abc import Mapping

from libs.cache import Cache
from libs.clients.features import keys
from libs.clients.features.cache import EntitlementCache
from libs.clients.features.counter import QuotaCounter
from libs.clients.features.gate import FeatureGate, GateInterceptor, ReadAheadKeys, is_gated
from libs.clients.features.source import GrpcPricingSource
from libs.rpc.descriptors import MethodRules
from libs.rpc.peers import peer_channel
from libs.settings import Settings


def gate_interceptor(
    settings: Settings, rules: Mapping[str, MethodRules], read_ahead: ReadAheadKeys | None = None
) -> GateInterceptor | None:
    """The gate for this service, or None when its contract gates no method (no pricing calls then).
    ``read_ahead``: the cache keys a gated call reads next, fetched with the caller's entitlements."""
    if not any(is_gated(r) for r in rules.values()):
        return None
    pricing = peer_channel(settings, "pricing")
    gate = FeatureGate(
        GrpcPricingSource(pricing),
        EntitlementCache(Cache(settings.redis_url, prefix=keys.PREFIX)),
        QuotaCounter(settings.redis_url),
    )
    return GateInterceptor(gate, rules, read_ahead)
