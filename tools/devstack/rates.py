"""A local reference-rates source for the stack: the ECB's daily XML format, with sample figures.

The stack has no network, and conversion needs stored rates, so settlement-service
fetches from this server instead of the ECB (set HISAAB_EXCHANGE_RATES_URL to use the
real source). The figures are fixed samples, not market data; the day published is
the business day the request arrives on, as the real source would publish daily.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from libs import clock

# Units per euro. Sample figures of a plausible size, for local use only.
SAMPLE_PER_EURO: Mapping[str, Decimal] = {
    "AUD": Decimal("1.6210"),
    "CHF": Decimal("0.9385"),
    "GBP": Decimal("0.8342"),
    "INR": Decimal("89.4150"),
    "JPY": Decimal("161.12"),
    "SGD": Decimal("1.4120"),
    "THB": Decimal("36.215"),
    "USD": Decimal("1.0560"),
}
PATH = "/eurofxref-daily.xml"


def document(per_euro: Mapping[str, Decimal] = SAMPLE_PER_EURO) -> bytes:
    cubes = "".join(f"<Cube currency='{code}' rate='{rate}'/>" for code, rate in sorted(per_euro.items()))
    return (
        "<?xml version='1.0' encoding='UTF-8'?>"
        "<gesmes:Envelope xmlns:gesmes='http://www.gesmes.org/xml/2002-08-01' "
        "xmlns='http://www.ecb.int/vocabulary/2002-08-01/eurofxref'>"
        "<gesmes:subject>Reference rates</gesmes:subject>"
        f"<Cube><Cube time='{clock.business_today().isoformat()}'>{cubes}</Cube></Cube>"
        "</gesmes:Envelope>"
    ).encode()


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path != PATH:
            self.send_error(404)
            return
        body = document()
        self.send_response(200)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return


class RatesSource:
    """The server on a free local port, in a daemon thread; ``url`` is what settlement fetches."""

    def __init__(self, port: int):
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="rates-source", daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{port}{PATH}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
