"""``make run``: start the local stack, print how to use it, show dev OTP codes, stop on Ctrl-C."""

from __future__ import annotations

import signal
import sys
import threading
from types import FrameType

from tools.devstack.otp_feed import OtpFeed
from tools.devstack.processes import ProcessFailed
from tools.devstack.stack import PortInUseError, Stack

PHONE = "+919800000001"


def metrics_endpoints(stack: Stack) -> str:
    lines = [f"  {name:<22} {stack.metrics_url(name)}" for name in stack.metrics_ports]
    return "Metrics (Prometheus text, names in docs/observability.md):\n" + "\n".join(lines) + "\n"


def quick_start(rest_url: str) -> str:
    return f"""
Hisaab is up. REST base URL: {rest_url}

Quick start (the OTP code is printed below as soon as it is issued):
  curl -s -X POST {rest_url}/v1/auth:startSignIn -d '{{"phone_number": "{PHONE}"}}'
  curl -s -X POST {rest_url}/v1/auth:verifySignIn \\
       -d '{{"challenge_id": "<challenge_id from above>", "code": "<code>"}}'
  curl -s -X POST {rest_url}/v1/groups -H 'Authorization: Bearer <access token from above>' \\
       -d '{{"display_name": "Goa trip", "kind": "TRIP", "default_currency": "INR"}}'

Ctrl-C stops everything.
"""


class _Stop(Exception):
    pass


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    # A second Ctrl-C must not cut the orderly shutdown short.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise _Stop


def run(stop: threading.Event) -> int:
    with Stack(echo=True) as stack:
        print(quick_start(stack.rest_url), flush=True)
        print(metrics_endpoints(stack), flush=True)
        otps = OtpFeed(stack.otp_log)
        while not stop.wait(0.5):
            for record in otps.poll():
                print(f"==> {record.describe()}", flush=True)
            dead = stack.dead_processes()
            if dead:
                for proc in dead:
                    print(proc.failure(f"exited with code {proc.popen.returncode}"), file=sys.stderr)
                return 1
    return 0


def main() -> int:
    # SIGTERM unwinds like Ctrl-C, so the Stack's exit stops every child in order.
    signal.signal(signal.SIGTERM, _raise_stop)
    signal.signal(signal.SIGINT, _raise_stop)
    try:
        return run(threading.Event())
    except _Stop:
        print("\nstopped.", flush=True)
        return 0
    except (PortInUseError, ProcessFailed, FileNotFoundError) as err:
        print(f"make run: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
