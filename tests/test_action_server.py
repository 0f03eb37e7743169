"""The action server's doors (``henkham actions``, bot/action_server.py), as an attacker on the network sees
them: it listens on 127.0.0.1 only, runs nothing without Rasa's secret, takes only JSON, and an action that
fails answers without the tracker it was sent."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.harness import free_port
from tests.zalo_sim import ROOT, running_process

TOKEN = "test-actions-secret"
HENKHAM = str(ROOT / ".venv/bin/henkham")
PHONE, NAME, CCCD = "0912345678", "Nguyễn Thị Mai", "079190001234"


def action_call(action: str) -> dict:
    """What Rasa posts: the tracker carries what the patient said and the slots they filled."""
    return {
        "next_action": action,
        "sender_id": "1000000000000000001:u1",
        "version": "3.6.21",
        "tracker": {
            "sender_id": "1000000000000000001:u1",
            "slots": {"new_name": NAME, "new_dob": "1990-05-01", "phone": PHONE, "confirmed": True},
            "latest_message": {"text": f"CCCD {CCCD}", "intent": {"name": "affirm"}, "entities": []},
            "events": [],
        },
        "domain": {},
    }


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int, Path]]:
    folder = tmp_path_factory.mktemp("actions")
    port = free_port()
    env = {"HENKHAM_DATABASE_URL": f"sqlite:///{folder / 'empty.db'}", "HENKHAM_ACTIONS_TOKEN": TOKEN}
    log = folder / "actions.log"
    with running_process(
        [HENKHAM, "actions", "--port", str(port)],
        log,
        env=env,
        ready_url=f"http://127.0.0.1:{port}/health",
        timeout=60,
        what="action server",
    ) as process:
        yield f"http://127.0.0.1:{port}", process.pid, log


def listening_addresses(port: int) -> set[str]:
    """The local addresses a TCP socket listens on at ``port`` (from /proc/net/tcp and tcp6)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.rsplit(":", 1)
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                if len(address) == 8:
                    found.add(socket.inet_ntop(socket.AF_INET, bytes.fromhex(address)[::-1]))
                else:
                    found.add(address)
    return found


def test_it_listens_on_the_loopback_interface_only(server) -> None:
    base, _pid, _log = server
    assert listening_addresses(int(base.rsplit(":", 1)[1])) == {"127.0.0.1"}


def test_without_the_secret_or_with_a_wrong_one_nothing_runs(server) -> None:
    base, _pid, _log = server
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}, {"X-Token": TOKEN}):
        response = requests.post(f"{base}/webhook", json=action_call("action_submit_booking"), headers=headers)
        assert response.status_code == 401, (headers, response.text)
        assert NAME not in response.text and PHONE not in response.text
    assert requests.get(f"{base}/actions", timeout=5).status_code == 401
    assert requests.get(f"{base}/health", timeout=5).json() == {"status": "ok"}


def test_a_body_that_is_not_json_is_refused_even_with_the_secret(server) -> None:
    base, _pid, _log = server
    auth = {"Authorization": f"Bearer {TOKEN}"}
    body = '{"next_action": "action_submit_booking", "tracker": {"sender_id": "x"}}'
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", ""):
        response = requests.post(f"{base}/webhook", data=body, headers={**auth, "Content-Type": content_type})
        assert response.status_code == 415, (content_type, response.text)


def test_with_the_secret_it_serves_rasa_and_a_failed_action_does_not_echo_the_tracker(server) -> None:
    base, _pid, log = server
    auth = {"Authorization": f"Bearer {TOKEN}"}
    listed = requests.get(f"{base}/actions", headers=auth, timeout=5)
    assert listed.status_code == 200 and {"name": "action_submit_booking"} in listed.json()
    unknown = requests.post(f"{base}/webhook", json=action_call("action_nobody_wrote"), headers=auth)
    assert unknown.status_code == 404 and unknown.json()["action_name"] == "action_nobody_wrote"
    failed = requests.post(f"{base}/webhook", json=action_call("action_submit_booking"), headers=auth)
    assert failed.status_code == 500 and failed.json()["code"] == "action_failed"  # no slot, no database
    for secret in (NAME, PHONE, CCCD, "1990-05-01", "request_body"):
        assert secret not in failed.text
    assert "action_submit_booking" in log.read_text()
    assert PHONE not in log.read_text() and CCCD not in log.read_text()


def test_it_refuses_to_start_without_a_secret(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "HENKHAM_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"}
    result = subprocess.run(
        [HENKHAM, "actions", "--port", str(free_port())], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    said = [line for line in result.stderr.strip().splitlines() if "development mode" not in line]
    assert len(said) == 1 and "HENKHAM_ACTIONS_TOKEN" in said[0], result.stderr
