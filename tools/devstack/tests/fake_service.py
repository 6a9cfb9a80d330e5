"""A stand-in gRPC service for the supervisor tests: a real grpc.aio server with health.

Usage: fake_service.py PORT SERVICE_NAME [--serve-after SECONDS] [--ignore-sigterm] [--crash]
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc


async def serve(args: argparse.Namespace) -> None:
    if args.crash:
        print("fake service: cannot start, config is broken", flush=True)
        sys.exit(3)
    server = grpc.aio.server()
    checker = health.aio.HealthServicer()  # type: ignore[attr-defined]  # stubs predate grpc_health's aio
    health_pb2_grpc.add_HealthServicer_to_server(checker, server)
    server.add_insecure_port(f"127.0.0.1:{args.port}")
    await server.start()
    print(f"fake service listening on {args.port}", flush=True)
    await checker.set(args.service, health_pb2.HealthCheckResponse.NOT_SERVING)
    await asyncio.sleep(args.serve_after)
    await checker.set(args.service, health_pb2.HealthCheckResponse.SERVING)
    print("fake service serving", flush=True)

    stopping = asyncio.Event()
    if not args.ignore_sigterm:
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopping.set)
    else:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    await stopping.wait()
    print("fake service stopping", flush=True)
    await server.stop(grace=1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("service")
    parser.add_argument("--serve-after", type=float, default=0.0)
    parser.add_argument("--ignore-sigterm", action="store_true")
    parser.add_argument("--crash", action="store_true")
    asyncio.run(serve(parser.parse_args()))


if __name__ == "__main__":
    main()
