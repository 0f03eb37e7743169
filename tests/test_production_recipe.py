"""The README's production section, followed from scratch on this machine (tests/province_stack.py): an empty
PostgreSQL database and Redis, the once-steps, then every role started as its unit in deploy/systemd starts it —
two processes of each: web, inbox worker, sender, scheduler, Rasa, action server — and a patient books by chat
through the Zalo simulator. Then each role's heartbeat, metrics port and JSON logs are checked."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest
import requests
from sqlalchemy import select

from core.booking.models import Appointment
from tests.harness import wait_until
from tests.province_stack import METRICS_TOKEN, Province, running_province
from tests.test_dialogue_e2e import book_by_chat
from tests.zalo_sim import ROOT

pytestmark = pytest.mark.needs_rasa


@pytest.fixture(scope="module")
def province(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Province]:
    with running_province(tmp_path_factory.mktemp("province")) as running:
        yield running


def test_a_patient_books_by_chat_through_the_recipe(province):
    stack = province.dialogue()
    code = book_by_chat(stack, "recipe-patient-1")
    with province.db.reader() as uow:
        booked = uow.session.scalars(select(Appointment).where(Appointment.code == code)).one()
        assert booked.status == "booked"


def test_every_role_is_alive_and_serves_its_metrics_and_json_logs(province):
    env = province.env
    for role in ("worker", "sender", "scheduler"):
        for n in (1, 2):
            beat = province.beats / f"{role}-{n}.alive"
            wait_until(lambda b=beat: b.exists(), timeout=30, what=f"the heartbeat of {role}-{n}")
            alive = subprocess.run([str(ROOT / ".venv/bin/henkham"), "alive", str(beat), "--within", "30"], env=env)
            assert alive.returncode == 0, f"{role}-{n}"
            port = province.metrics[f"{role}-{n}"]
            scraped = requests.get(
                f"http://127.0.0.1:{port}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=5
            )
            assert scraped.status_code == 200 and "process_cpu_seconds_total" in scraped.text
    for port in province.web_ports:
        assert requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).json() == {"status": "ok"}
    # One patient message, followed through the JSON logs of the web, a worker and a sender by its id.
    lines = {label: province.json_lines(label) for label in province.specs}
    stored = [line for line in lines["web-0"] if line.get("message", "").startswith("webhook: user_send_text stored")]
    assert stored, "the webhook logs each stored event"
    ids = {line["correlation_id"] for line in stored}
    worker_ids = {line["correlation_id"] for name in ("worker-1", "worker-2") for line in lines[name]}
    assert ids & worker_ids, "the workers log under the ids the webhook gave"
    assert all(line["role"] == "worker" for line in lines["worker-1"])
