"""An AWS emulator for the local stack: ``AWS_ENDPOINT_URL`` if set, else moto's server.

moto runs as its own child process (like every other piece of the stack), so its
CPU is accounted and prioritised apart from the caller's, and no in-process mock
elsewhere can reset its state. It keeps everything in memory: buckets, queues and
topics vanish when the stack stops; nothing is persisted in the data dir.
"""

from __future__ import annotations

import os
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tools.devstack.ports import free_port
from tools.devstack.processes import ManagedProcess

REGION = "ap-south-1"
# moto accepts any credentials; boto3 only needs some to sign requests.
_DUMMY_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
_START_TIMEOUT_SECONDS = 60.0
# moto's server, without the per-request access log (thousands of lines per test run).
_SERVER = (
    "import logging, sys; logging.getLogger('werkzeug').setLevel(logging.WARNING); "
    "from moto.server import main; main(sys.argv[1:])"
)


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


def _accepting(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def start_aws_emulator(
    data_dir: Path, *, nice: int = 0, timeout: float = _START_TIMEOUT_SECONDS
) -> RunningAws:
    external = os.environ.get("AWS_ENDPOINT_URL")
    if external:
        return RunningAws(external, aws_environment(external))

    port = free_port()
    proc = ManagedProcess(
        "aws",
        [sys.executable, "-c", _SERVER, "-H", "127.0.0.1", "-p", str(port)],
        env=os.environ,
        log_path=data_dir / "logs" / "aws.log",
        nice=nice,
    )
    deadline = time.monotonic() + timeout
    while not _accepting(port):
        if not proc.alive() or time.monotonic() > deadline:
            failure = proc.failure("the AWS emulator did not start")
            proc.stop(5.0)
            raise failure
        time.sleep(0.05)
    endpoint = f"http://127.0.0.1:{port}"

    def stop() -> None:
        proc.stop(5.0)

    return RunningAws(endpoint, aws_environment(endpoint), stop)


__all__ = ["REGION", "RunningAws", "aws_environment", "start_aws_emulator"]
