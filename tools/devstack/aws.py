"""An AWS emulator for the local stack: ``AWS_ENDPOINT_URL`` if set, else moto in-process.

moto keeps its state in memory: buckets, queues and topics vanish when the
stack stops; nothing is persisted in the data dir.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REGION = "ap-south-1"
# moto accepts any credentials; boto3 only needs some to sign requests.
_DUMMY_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}

# The emulator serves from this process; its per-request access log would drown the stack's output.
logging.getLogger("werkzeug").setLevel(logging.WARNING)


@dataclass
class RunningAws:
    endpoint_url: str
    env: dict[str, str]  # what a child process needs to reach the emulator
    _stop: Callable[[], None] = field(repr=False, default=lambda: None)

    def stop(self) -> None:
        self._stop()


def aws_environment(endpoint_url: str) -> dict[str, str]:
    region = os.environ.get("AWS_REGION", REGION)
    env = {"AWS_ENDPOINT_URL": endpoint_url, "AWS_REGION": region, "AWS_DEFAULT_REGION": region}
    if "AWS_ACCESS_KEY_ID" not in os.environ:
        env.update(_DUMMY_CREDENTIALS)
    return env


def start_aws_emulator(data_dir: Path) -> RunningAws:
    """``data_dir`` is accepted for symmetry with the other pieces; moto keeps nothing there."""
    del data_dir
    external = os.environ.get("AWS_ENDPOINT_URL")
    if external:
        return RunningAws(external, aws_environment(external))

    from moto.server import ThreadedMotoServer  # heavy import: only when needed

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    return RunningAws(endpoint, aws_environment(endpoint), server.stop)


__all__ = ["REGION", "RunningAws", "aws_environment", "start_aws_emulator"]
