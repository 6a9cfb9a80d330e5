"""An HTTP proxy in front of the AWS emulator that fails the requests it is told to,
the way an AWS endpoint in trouble answers: 503 ServiceUnavailable."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

# Decides from the request's headers and body whether it fails.
Rule = Callable[[dict[str, str], bytes], bool]

_UNAVAILABLE = (
    b'<?xml version="1.0"?><ErrorResponse><Error><Type>Receiver</Type><Code>ServiceUnavailable</Code>'
    b"<Message>injected fault</Message></Error></ErrorResponse>"
)
_DROPPED_HEADERS = {"transfer-encoding", "connection", "content-length", "content-encoding"}


def sns_send(headers: dict[str, str], body: bytes) -> bool:
    """What the delivery loop calls: SNS CreatePlatformEndpoint and Publish."""
    return b"Action=Publish" in body or b"Action=CreatePlatformEndpoint" in body


def everything(headers: dict[str, str], body: bytes) -> bool:
    return True


class FailingAwsProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = httpx.Client(base_url=upstream, timeout=60)
        self.rule: Rule | None = None
        self.failed: list[tuple[float, bytes]] = []  # (time.monotonic(), request body)
        self.passed = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _any(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                rule = proxy.rule
                if rule is not None and rule(headers, body):
                    proxy.failed.append((time.monotonic(), body))
                    self._reply(503, {"Content-Type": "text/xml"}, _UNAVAILABLE)
                    return
                answer = proxy.upstream.request(self.command, self.path, headers=headers, content=body)
                proxy.passed += 1
                kept = {k: v for k, v in answer.headers.items() if k.lower() not in _DROPPED_HEADERS}
                self._reply(answer.status_code, kept, answer.content)

            def _reply(self, status: int, headers: dict[str, str], body: bytes) -> None:
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _any

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def fail(self, rule: Rule) -> None:
        self.rule = rule

    def heal(self) -> None:
        self.rule = None

    def __enter__(self) -> FailingAwsProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.upstream.close()
