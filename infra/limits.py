"""Request-rate limits at the edge, in one place.

API Gateway throttles (steady rate and burst, per second) and WAF rate-based
rules (requests per client IP per five-minute window, WAF's evaluation window)
read these constants. Sign-in routes (``/v1/auth:*``) are the ones worth abusing
(each OTP costs an SMS or an email), so they get the tight numbers: those per
client address are ``libs.limits``'s, the same ones auth-service counts and the
gateway's Envoy enforces locally.
"""

from __future__ import annotations

from dataclasses import dataclass

from libs import limits as sign_in

# WAF counts requests over a sliding window of this many seconds.
WAF_WINDOW_SECONDS = sign_in.ADDRESS_WINDOW_SECONDS


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
# Each OTP sent costs money: every sign-in call per five minutes per IP
# (a family or an office on one NAT signing in together still fits).
WAF_PER_IP_AUTH = sign_in.AUTH_CALLS_PER_ADDRESS.limit
# The path prefix the tighter rules match (REST paths of AuthService's custom methods).
AUTH_PATH_PREFIX = "/v1/auth:"
# Per method, per IP, per window: codes requested and codes submitted.
WAF_PER_IP_METHOD = {
    "/v1/auth:startSignIn": sign_in.STARTS_PER_ADDRESS.limit,
    "/v1/auth:verifySignIn": sign_in.VERIFIES_PER_ADDRESS.limit,
}
