"""SIGTERM: health turns NOT_SERVING at once (and stays visible for the drain window),
in-flight RPCs finish within the grace period, then the process exits 0."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hisaab.auth.v1 import auth_pb2, auth_pb2_grpc

FIXTURE = Path(__file__).parent / "fixtures" / "slow_service.py"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _health(channel: grpc.Channel, service: str) -> int:
    stub = health_pb2_grpc.HealthStub(channel)
    return int(stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=1).status)


def test_graceful_shutdown(tmp_path: Path) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "HISAAB_GRPC_PORT": str(port),
        "HISAAB_SHUTDOWN_GRACE_SECONDS": "5",
        "HISAAB_SHUTDOWN_DRAIN_SECONDS": "1",
        "HISAAB_DATA_DIR": str(tmp_path),
        "SLOW_SECONDS": "1.5",
        "HISAAB_LOG_LEVEL": "WARNING",
    }
    proc = subprocess.Popen([sys.executable, str(FIXTURE)], env=env)
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    try:
        grpc.channel_ready_future(channel).result(timeout=20)
        deadline = time.monotonic() + 10
        while _health(channel, "hisaab.auth.v1.AuthService") != health_pb2.HealthCheckResponse.SERVING:
            assert time.monotonic() < deadline
            time.sleep(0.05)

        result: dict[str, object] = {}

        def slow_call() -> None:
            stub = auth_pb2_grpc.AuthServiceStub(channel)
            try:
                result["reply"] = stub.GetJwks(auth_pb2.GetJwksRequest(), timeout=10)
            except grpc.RpcError as err:
                result["error"] = err

        caller = threading.Thread(target=slow_call)
        caller.start()
        time.sleep(0.3)  # the call is in flight
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.2)
        assert _health(channel, "") == health_pb2.HealthCheckResponse.NOT_SERVING
        assert _health(channel, "hisaab.auth.v1.AuthService") == health_pb2.HealthCheckResponse.NOT_SERVING
        caller.join(timeout=10)
        assert "error" not in result, result.get("error")
        reply = result["reply"]
        assert isinstance(reply, auth_pb2.JsonWebKeySet) and reply.keys[0].kid == "done"
        assert proc.wait(timeout=10) == 0
    finally:
        channel.close()
        if proc.poll() is None:
            proc.kill()
