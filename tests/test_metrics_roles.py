"""Prometheus metrics from every role: the queues (depth, oldest waiting) on the web's /metrics, per-role
latencies, and the /metrics port of a worker, sender or scheduler process, refused without the token."""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update

from bot.zalo_webhook import workers
from bot.zalo_webhook.models import InboundEvent
from core.metrics_server import serve_metrics
from core.timeutil import utcnow
from henkham.migrate import upgrade
from henkham.web import create_app
from tests.harness import free_port, wait_until
from tests.zalo_helpers import ScriptedBot, signed, synced_channel, text_event, zalo_settings
from tests.zalo_sim import ROOT

TOKEN = "scrape-token"


def samples(text: str) -> dict[tuple[str, tuple], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_the_web_exports_queue_depth_and_the_oldest_waiting_event(db, database_url, world):
    channel = synced_channel(db, zalo_settings(database_url, metrics_token=TOKEN), ScriptedBot())
    client = create_app(channel.settings, database=db).test_client()
    for n in range(3):
        raw, headers = signed(text_event(f"m-{n}", "xin chào"))
        client.post("/zalo/webhook", data=raw, headers=headers)
    with db.uow() as uow:  # the oldest came in two minutes ago
        first = min(uow.session.scalars(InboundEvent.__table__.select().with_only_columns(InboundEvent.id)).all())
        uow.session.execute(
            update(InboundEvent).where(InboundEvent.id == first).values(received_at=utcnow() - dt.timedelta(minutes=2))
        )
        uow.commit()
    found = samples(client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).get_data(as_text=True))
    assert found[("henkham_zalo_queue_depth", (("queue", "inbox"),))] == 3
    assert 115 < found[("henkham_zalo_queue_oldest_seconds", (("queue", "inbox"),))] < 300
    handled_before = found.get(("henkham_zalo_inbox_handle_seconds_count", ()), 0)
    while workers.inbox_step(db, channel.processor):
        pass
    found = samples(client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).get_data(as_text=True))
    assert found[("henkham_zalo_queue_depth", (("queue", "inbox"),))] == 0
    assert found[("henkham_zalo_queue_oldest_seconds", (("queue", "inbox"),))] == 0
    assert found[("henkham_zalo_queue_depth", (("queue", "outbox"),))] == 3, "the replies wait for a sender"
    assert found[("henkham_zalo_inbox_handle_seconds_count", ())] == handled_before + 3


def test_a_metrics_port_refuses_requests_without_the_token():
    server = serve_metrics("127.0.0.1", 0, TOKEN)
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        assert requests.get(f"{base}/metrics", timeout=5).status_code == 401
        assert requests.get(f"{base}/metrics", headers={"Authorization": "Bearer no"}, timeout=5).status_code == 401
        ok = requests.get(f"{base}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5)
        assert ok.status_code == 200 and "process_cpu_seconds_total" in ok.text
        assert requests.get(f"{base}/x", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5).status_code == 404
    finally:
        server.shutdown()
    with pytest.raises(ValueError):
        serve_metrics("127.0.0.1", 0, "")


def test_an_idle_connection_does_not_hold_up_a_scrape():
    server = serve_metrics("127.0.0.1", 0, TOKEN)
    idle = socket.create_connection(("127.0.0.1", server.server_port))  # connects, sends nothing
    try:
        ok = requests.get(
            f"http://127.0.0.1:{server.server_port}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5
        )
        assert ok.status_code == 200
    finally:
        idle.close()
        server.shutdown()


@pytest.mark.parametrize("role", [["zalo", "worker"], ["zalo", "sender"], ["scheduler"]])
def test_each_role_serves_its_metrics_on_its_port(tmp_path, role):
    url = f"sqlite:///{tmp_path / 'henkham.db'}"
    upgrade(url)
    port = free_port()
    env = {
        **os.environ,
        "HENKHAM_DATABASE_URL": url,
        "HENKHAM_METRICS_PORT": str(port),
        "HENKHAM_METRICS_TOKEN": TOKEN,
    }
    with (tmp_path / "role.log").open("wb") as log:
        process = subprocess.Popen([str(ROOT / ".venv/bin/henkham"), *role], env=env, stdout=log, stderr=log)
        try:

            def scraped() -> str | None:
                try:
                    got = requests.get(
                        f"http://127.0.0.1:{port}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=2
                    )
                except requests.RequestException:
                    return None
                return got.text if got.status_code == 200 else None

            wait_until(lambda: scraped() is not None, timeout=30, what=f"the metrics of {' '.join(role)}")
            body = scraped() or ""
            assert "process_cpu_seconds_total" in body
            expected = {"worker": "henkham_zalo_inbox_handle_seconds", "sender": "henkham_zalo_outbox_deliver_seconds"}
            assert expected.get(role[-1], "henkham_scheduler_job_seconds") in body
            assert requests.get(f"http://127.0.0.1:{port}/metrics", timeout=2).status_code == 401
        finally:
            process.terminate()
            process.wait(timeout=15)
