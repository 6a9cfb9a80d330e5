"""Paid features and free-tier quotas, enforced for every service by one gate.

The contract declares which RPC needs which feature (``requires_feature``) and
which is quota-limited (``quota``); ``gate`` enforces that from the caller's
entitlements, which pricing-service owns. Redis holds a per-user copy of the
entitlements and the quota counters; PostgreSQL (through pricing's internal
RPCs) stays the source of truth, so decisions are the same with Redis down.
"""
