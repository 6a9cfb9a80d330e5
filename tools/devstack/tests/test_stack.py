"""Stack pieces that need no services: port planning, the busy-port error, the OTP feed."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from libs import catalog
from tools.devstack.otp_feed import OtpFeed
from tools.devstack.ports import free_port
from tools.devstack.stack import PortInUseError, PortPlan, Stack, free_ports


def test_ports_come_from_arguments_then_environment_then_catalog(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HISAAB_GATEWAY_PORT", "18080")
    monkeypatch.delenv("HISAAB_GATEWAY_ADMIN_PORT", raising=False)
    monkeypatch.delenv("HISAAB_AUTH_PORT", raising=False)
    monkeypatch.delenv("HISAAB_GROUP_PORT", raising=False)
    services = [catalog.by_name("auth"), catalog.by_name("group")]

    plan = PortPlan.resolve(services, {"group": 15000})

    assert plan.gateway == 18080
    assert plan.gateway_admin == catalog.GATEWAY_ADMIN_PORT
    assert plan.services == {"auth": catalog.by_name("auth").port, "group": 15000}
    assert set(free_ports(services)) == {"gateway", "gateway_admin", "auth", "group"}


def test_busy_gateway_port_names_the_variable_and_starts_nothing(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        ports = {**free_ports(), "gateway": busy.getsockname()[1]}
        stack = Stack(tmp_path / "data", ports=ports)
        with pytest.raises(PortInUseError, match="HISAAB_GATEWAY_PORT"):
            stack.start()
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize("processes", [{"nosuch": 2}, {"expense": 0}])
def test_process_counts_are_checked(tmp_path: Path, processes: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="processes"):
        Stack(tmp_path, ports=free_ports(), processes=processes)


def test_otp_feed_reports_only_new_complete_lines(tmp_path: Path) -> None:
    log = tmp_path / "dev-otp.jsonl"
    old = {"destination": "+919800000001", "code": "111111", "channel": "SMS", "time": "t0"}
    log.write_text(json.dumps(old) + "\n")
    feed = OtpFeed(log)
    assert feed.poll() == []

    new = {"destination": "+919800000002", "code": "246810", "channel": "SMS", "time": "t1"}
    line = json.dumps(new) + "\n"
    with log.open("a") as out:
        out.write(line[:10])  # the writer is mid-line
    assert feed.poll() == []
    with log.open("a") as out:
        out.write(line[10:] + "not json\n")
    [record] = feed.poll()
    assert record.describe() == "OTP for +919800000002 (SMS): 246810"

    log.unlink()  # make reset
    assert feed.poll() == []
    log.write_text(json.dumps(old) + "\n")
    assert [r.code for r in feed.poll()] == ["111111"]


def test_free_port_is_bindable() -> None:
    port = free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))
