"""`make run` (scripts/run-dev) starts the whole stack, and a patient can book by chat on the simulator.

Run as a developer would, on its own SQLite file and free ports: migrate, demo data, the OA, the model
(trained first when missing or stale), then honcho with every process of the Procfile. The test chats through
the simulator's chat API (what its page posts), books the demo hospital's paediatrics, and finds the booking
in the database; then it stops honcho and checks every process has gone.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from core.booking.models import Appointment
from core.uow import Database
from tests.dialogue_stack import button_payload, text_of
from tests.zalo_sim import ROOT, Simulator, free_port, wait_until

DEMO_OA = "1000000000000000001"  # dev.env's demo OA
CODE = re.compile(r"Mã lịch hẹn: ([A-Z0-9]{6})")
PROCESSES = ("web", "worker", "sender", "scheduler", "zalo-simulator", "actions", "rasa")


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Simulator, str, Path]]:
    folder = tmp_path_factory.mktemp("make-run")
    web, simulator, rasa, actions = free_port(), free_port(), free_port(), free_port()
    database_url = f"sqlite:///{folder / 'henkham.db'}"
    env = {
        **os.environ,
        "PORT": str(web),
        "HENKHAM_PUBLIC_BASE_URL": f"http://127.0.0.1:{web}",
        "HENKHAM_SIMULATOR_PORT": str(simulator),
        "RASA_PORT": str(rasa),
        "HENKHAM_RASA_URL": f"http://127.0.0.1:{rasa}",
        "HENKHAM_ACTIONS_PORT": str(actions),
        "HENKHAM_ACTIONS_URL": f"http://127.0.0.1:{actions}/webhook",
        "HENKHAM_DATABASE_URL": database_url,
    }
    for name in ("HENKHAM_ZALO_OAS", "HENKHAM_ZALO_API_BASE", "HENKHAM_ZALO_ZNS_BASE", "HENKHAM_ZALO_OAUTH_BASE"):
        env.pop(name, None)  # dev.env's, as on a developer's machine
    log_path = folder / "make-run.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(ROOT / "scripts/run-dev")],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:

            def rasa_ready() -> bool:
                try:
                    return requests.get(f"http://127.0.0.1:{rasa}/status", timeout=2).ok
                except requests.RequestException:
                    return False

            alive = lambda: process.poll() is None  # noqa: E731
            wait_until(rasa_ready, timeout=1200, what="the Rasa server of make run", alive=alive)
            wait_until(
                lambda: requests.get(f"http://127.0.0.1:{simulator}/", timeout=2).ok,
                timeout=60,
                what="the simulator page",
                alive=alive,
            )
            yield Simulator(f"http://127.0.0.1:{simulator}"), database_url, log_path
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)  # what Ctrl-C in the terminal does to honcho
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait(timeout=10)


def say(sim: Simulator, user: str, text: str) -> list[dict]:
    """Send as the simulator's chat page does; the OA's answers once they stop coming for a moment."""
    after = max((m["seq"] for m in sim.messages()), default=0)
    reply = sim.http.post(f"{sim.base}/_sim/chat/send", json={"oa_id": DEMO_OA, "user_id": user, "text": text})
    assert reply.status_code == 200, reply.text
    found = sim.messages(oa_id=DEMO_OA, user_id=user, after=str(after), wait="60")
    assert found, f"no answer to {text!r}"
    while more := sim.messages(oa_id=DEMO_OA, user_id=user, after=str(found[-1]["seq"]), wait="1.5"):
        found += more
    return [m["message"] for m in found]


def tap(sim: Simulator, user: str, message: dict, title: str) -> list[dict]:
    return say(sim, user, button_payload(message, title))


def test_make_run_starts_everything_and_a_patient_books_by_chat_on_the_simulator(running) -> None:
    sim, database_url, log_path = running
    page = requests.get(f"{sim.base}/", timeout=5)
    assert page.ok and "<html" in page.text.lower()
    log = log_path.read_text(errors="replace")
    for name in PROCESSES:
        assert f"| {name}.1 started" in log, f"{name} not started"

    user = "make-run-user"
    offer = say(sim, user, "cho em đặt lịch khám nhi sáng thứ 2 tuần sau")[-1]
    assert "giờ trống" in offer["text"], text_of([offer])
    who = tap(sim, user, offer, "–")[-1]
    assert "họ và tên" in text_of(tap(sim, user, who, "Tôi đi khám"))
    assert "sinh" in text_of(say(sim, user, "Nguyễn Thị Mai"))
    sex_question = say(sim, user, "01/05/1990")[-1]
    assert "số điện thoại" in text_of(tap(sim, user, sex_question, "Nữ"))
    kind_question = say(sim, user, "0912 345 678")[-1]
    summary = tap(sim, user, kind_question, "BHYT")[-1]
    done = text_of(tap(sim, user, summary, "Xác nhận"))
    found = CODE.search(done)
    assert found, done

    log = log_path.read_text(errors="replace")
    assert " stopped (rc=" not in log, "every process is still running"

    db = Database(database_url)
    try:
        with db.reader() as uow:
            booked = uow.session.scalars(select(Appointment).where(Appointment.code == found.group(1))).one()
            assert booked.status == "booked" and booked.day.weekday() == 0 and booked.day > dt.date.today()
    finally:
        db.dispose()
