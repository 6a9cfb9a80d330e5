"""Request-rate limits at the edge, in one place.

API Gateway throttles (steady rate and burst, per second) and WAF rate-based
rules (requests per client IP per five-minute window, WAF's evaluation window)
read these constants; Envoy's local rate limits can share them later. Sign-in
routes (``/v1/auth:*``) are the ones worth abusing (each OTP costs an SMS or an
email), so they get the tight numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

# WAF counts requests over a sliding window of this many seconds.
WAF_WINDOW_SECONDS = 300


@dataclass(frozen=True)
class Throttle:
    rate_per_second: float
    burst: int


# Whole stage: a ceiling for the account's share of API Gateway.
STAGE = Throttle(rate_per_second=1000, burst=2000)
# Sign-in custom methods (StartSignIn, VerifySignIn, RefreshToken...).
AUTH_ROUTES = Throttle(rate_per_second=50, burst=100)
# Usage plan for the mobile app's API key-less traffic (the plan binds the stage).
USAGE_PLAN = Throttle(rate_per_second=1000, burst=2000)

# One phone opening the app makes a few dozen calls; a thousand per five minutes
# from one IP is a script (or a big office NAT, which still fits).
WAF_PER_IP_ALL = 2000
# Each OTP sent costs money: a hundred sign-in calls per five minutes per IP
# (a family or an office on one NAT signing in together still fits).
WAF_PER_IP_AUTH = 100
# The path prefix the tighter rules match (REST paths of AuthService's custom methods).
AUTH_PATH_PREFIX = "/v1/auth:"
