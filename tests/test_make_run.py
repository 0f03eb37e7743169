"""`make run` (scripts/run-dev) starts the whole stack, and a patient can book by chat on the simulator.

Run as a developer would, on its own SQLite file and free ports: migrate, demo data, the OA, the model
(trained first when missing or stale), then honcho with every process of the Procfile. The test chats through
the simulator's chat API (what its page posts), books the demo hospital's paediatrics, and finds the booking
in the database; then it stops honcho and checks every process has gone.

The same stack shows its doors (issue 11): Rasa refuses its API and its REST channel without dev.env's token,
answers a message carrying a lone surrogate, and after an action fails no process's output (all of them are
in honcho's log) carries a phone, a CCCD, a BHYT number or a birth date the conversation carried.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import signal
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from core.booking.models import Appointment
from core.uow import Database
from tests.dialogue_stack import button_payload, settled, text_of
from tests.harness import free_port, wait_until
from tests.test_action_server import listening_addresses
from tests.zalo_sim import ROOT, Simulator

pytestmark = pytest.mark.needs_rasa  # skipped without .venv-rasa, failed when HENKHAM_REQUIRE_RASA=1
DEMO_OA = "1000000000000000001"  # dev.env's demo OA
CODE = re.compile(r"Mã lịch hẹn: ([A-Z0-9]{6})")
PROCESSES = ("web", "worker", "sender", "scheduler", "zalo-simulator", "actions", "rasa")
DEV_ENV = (ROOT / "dev.env").read_text()
RASA_TOKEN = re.search(r"HENKHAM_RASA_TOKEN:=([^}]+)\}", DEV_ENV).group(1)  # what make run serves Rasa with
ACTIONS_TOKEN = re.search(r"HENKHAM_ACTIONS_TOKEN:=([^}]+)\}", DEV_ENV).group(1)


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Simulator, str, Path, int]]:
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
    for name in (
        "HENKHAM_ZALO_OAS",
        "HENKHAM_ZALO_API_BASE",
        "HENKHAM_ZALO_ZNS_BASE",
        "HENKHAM_ZALO_OAUTH_BASE",
        "HENKHAM_RASA_TOKEN",
        "HENKHAM_ACTIONS_TOKEN",
        "HENKHAM_ACTIONS_HOST",
    ):
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
                    status = requests.get(f"http://127.0.0.1:{rasa}/status", params={"token": RASA_TOKEN}, timeout=2)
                    return status.ok
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
            wait_until(lambda: bool(listening_addresses(actions)), timeout=60, what="the action server", alive=alive)
            yield Simulator(f"http://127.0.0.1:{simulator}"), database_url, log_path, rasa
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)  # what Ctrl-C in the terminal does to honcho
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait(timeout=10)


class Chat:
    """A patient on the simulator's chat page of ``make run``; its database shows when an answer is complete."""

    def __init__(self, sim: Simulator, database_url: str) -> None:
        self.sim = sim
        self.db = Database(database_url)

    def say(self, user: str, text: str) -> list[dict]:
        """Send as the chat page does; the OA's answers once the message is handled and every reply sent."""
        after = max((m["seq"] for m in self.sim.messages()), default=0)
        reply = self.sim.http.post(
            f"{self.sim.base}/_sim/chat/send", json={"oa_id": DEMO_OA, "user_id": user, "text": text}
        )
        assert reply.status_code == 200, reply.text
        assert self.sim.messages(oa_id=DEMO_OA, user_id=user, after=str(after), wait="60"), f"no answer to {text!r}"
        wait_until(lambda: settled(self.db, user), timeout=60, what=f"every answer to {text!r} sent")
        return [m["message"] for m in self.sim.messages(oa_id=DEMO_OA, user_id=user, after=str(after))]

    def tap(self, user: str, message: dict, title: str) -> list[dict]:
        return self.say(user, button_payload(message, title))


@pytest.fixture
def chat(running: tuple[Simulator, str, Path, int]) -> Iterator[Chat]:
    patient = Chat(running[0], running[1])
    yield patient
    patient.db.dispose()


def test_make_run_starts_everything_and_a_patient_books_by_chat_on_the_simulator(running, chat) -> None:
    sim, database_url, log_path, _rasa = running
    page = requests.get(f"{sim.base}/", timeout=5)
    assert page.ok and "<html" in page.text.lower()
    log = log_path.read_text(errors="replace")
    for name in PROCESSES:
        assert f"| {name}.1 started" in log, f"{name} not started"

    user = "make-run-user"
    offer = chat.say(user, "cho em đặt lịch khám nhi sáng thứ 2 tuần sau")[-1]
    assert "giờ trống" in offer["text"], text_of([offer])
    who = chat.tap(user, offer, "–")[-1]
    assert "họ và tên" in text_of(chat.tap(user, who, "Tôi đi khám"))
    assert "sinh" in text_of(chat.say(user, "Nguyễn Thị Mai"))
    sex_question = chat.say(user, "01/05/1990")[-1]
    assert "số điện thoại" in text_of(chat.tap(user, sex_question, "Nữ"))
    kind_question = chat.say(user, "0912 345 678")[-1]
    summary = chat.tap(user, kind_question, "BHYT")[-1]
    done = text_of(chat.tap(user, summary, "Xác nhận"))
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


def test_rasa_refuses_its_api_and_its_rest_channel_without_the_token(running) -> None:
    _sim, _database_url, _log_path, rasa = running
    base = f"http://127.0.0.1:{rasa}"
    someone = f"{DEMO_OA}:make-run-user"  # the patient who booked above: their tracker holds name and phone
    probe = f"{DEMO_OA}:door-probe"
    pause = [{"event": "pause"}]
    message = {"sender": probe, "message": "cho em hỏi giờ khám"}
    for params in ({}, {"token": "wrong"}):
        assert requests.get(f"{base}/conversations/{someone}/tracker", params=params, timeout=10).status_code == 401
        assert (
            requests.post(f"{base}/conversations/{probe}/tracker/events", json=pause, params=params).status_code == 401
        )
        assert requests.post(f"{base}/webhooks/rest/webhook", json=message, params=params).status_code == 401
        assert requests.post(f"{base}/model/parse", json={"text": "chào"}, params=params).status_code == 401
        assert requests.get(f"{base}/status", params=params, timeout=10).status_code == 401
    assert requests.get(f"{base}/", timeout=10).ok, "the bare health check needs no token"

    token = {"token": RASA_TOKEN}
    as_text = requests.post(
        f"{base}/webhooks/rest/webhook", data=json.dumps(message), params=token, headers={"Content-Type": "text/plain"}
    )
    assert as_text.status_code == 415, "a browser's simple request cannot reach it"
    tracker = requests.get(f"{base}/conversations/{someone}/tracker", params=token, timeout=10)
    assert tracker.status_code == 200 and tracker.json()["sender_id"] == someone
    answers = requests.post(f"{base}/webhooks/rest/webhook", json=message, params=token, timeout=60)
    assert answers.status_code == 200 and answers.json(), answers.text
    paused = requests.post(f"{base}/conversations/{probe}/tracker/events", json=pause, params=token, timeout=10)
    assert paused.status_code == 200 and paused.json()["paused"] is True


def test_rasa_and_the_action_server_listen_on_loopback_and_show_no_token_in_ps(running) -> None:
    _sim, _database_url, log_path, rasa = running
    log = log_path.read_text(errors="replace")
    assert listening_addresses(rasa) == {"127.0.0.1"}
    actions_port = int(re.search(r"action server on http://127\.0\.0\.1:(\d+)", log).group(1))
    assert listening_addresses(actions_port) == {"127.0.0.1"}
    assert re.search(r"\| rasa\.1 started", log) and re.search(r"\| actions\.1 started", log)
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):  # what `ps` shows any local user
        try:
            command_line = cmdline.read_bytes().decode(errors="replace")
        except OSError:
            continue  # the process ended meanwhile
        assert RASA_TOKEN not in command_line and ACTIONS_TOKEN not in command_line, command_line


def test_a_message_with_a_lone_surrogate_gets_an_answer_through_rasa(running) -> None:
    _sim, _database_url, _log_path, rasa = running
    # Half an emoji, as a Zalo client may send it: JSON "\ud83d" is a lone surrogate once decoded.
    body = '{"sender": "' + DEMO_OA + ':surrogate-user", "message": "cho em hỏi giờ làm việc \\ud83d"}'
    answers = requests.post(
        f"http://127.0.0.1:{rasa}/webhooks/rest/webhook",
        data=body.encode(),
        params={"token": RASA_TOKEN},
        headers={"Content-Type": "application/json"},
        timeout=60,
    )
    assert answers.status_code == 200 and answers.json(), answers.text
    assert any(a.get("text") for a in answers.json())


PATIENT = {"name": "Trần Văn Bình", "dob": "12/03/1985", "phone": "0987 654 321"}
CCCD, BHYT = "079085001234", "DN4797908500123"
# What the first test's patient told the bot: it must not be in the output either.
CARRIED = {"name": "Nguyễn Thị Mai", "dob": "01/05/1990", "phone": "0912 345 678"}


def spellings(value: str) -> set[str]:
    """How a value may show in a log line: as typed, JSON-escaped, inside a bytes repr."""
    return {value, json.dumps(value)[1:-1], repr(value.encode())[2:-1]}


def forbidden(person: dict[str, str]) -> set[str]:
    digits = person["phone"].replace(" ", "")
    day, month, year = person["dob"].split("/")
    found = {digits[1:], person["phone"], f"{year}-{month}-{day}", person["dob"]}  # 987654321 is in +84…, 0…
    return {spelling for value in found for spelling in spellings(value)}


def test_no_process_logs_a_phone_cccd_bhyt_or_birth_date_when_an_action_fails(running, chat) -> None:
    sim, database_url, log_path, _rasa = running
    user = "make-run-logs"
    chat.say(user, f"Dạ số CCCD của em là {CCCD}, thẻ BHYT {BHYT} ạ")
    offer = chat.say(user, "cho em đặt lịch khám nhi sáng thứ 3 tuần sau")[-1]
    who = chat.tap(user, offer, "–")[-1]
    assert "họ và tên" in text_of(chat.tap(user, who, "Tôi đi khám"))
    chat.say(user, PATIENT["name"])
    sex_question = chat.say(user, PATIENT["dob"])[-1]
    assert "số điện thoại" in text_of(chat.tap(user, sex_question, "Nam"))
    kind_question = chat.say(user, PATIENT["phone"])[-1]
    summary = chat.tap(user, kind_question, "BHYT")[-1]

    # The booking action fails for real: the database refuses the new patient's row.
    path = database_url.removeprefix("sqlite:///")
    with sqlite3.connect(path, timeout=30) as connection:
        connection.execute(
            "CREATE TRIGGER doors_test_refuse BEFORE INSERT ON patients "
            "BEGIN SELECT RAISE(ABORT, 'patients table unavailable (test)'); END"
        )
    try:
        sim.http.post(
            f"{sim.base}/_sim/chat/send",
            json={"oa_id": DEMO_OA, "user_id": user, "text": button_payload(summary, "Xác nhận")},
        )
        failure = "Encountered an exception while running action 'action_submit_booking'"
        wait_until(lambda: failure in log_path.read_text(errors="replace"), timeout=60, what="the failed action")
    finally:
        with sqlite3.connect(path, timeout=30) as connection:
            connection.execute("DROP TRIGGER doors_test_refuse")

    log = log_path.read_text(errors="replace")
    web = re.search(r"web\.1 .*Listening at: (http://127\.0\.0\.1:\d+)", log).group(1)
    phone = PATIENT["phone"].replace(" ", "")
    probe = requests.get(f"{web}/api/v1/hospitals", params={"phone": phone, "cccd": CCCD}, timeout=10)
    assert probe.ok  # gunicorn's access log prints the query string: the web process masks it
    wait_until(lambda: "/api/v1/hospitals?" in log_path.read_text(errors="replace"), timeout=30, what="access log")

    log = log_path.read_text(errors="replace")
    for name in ("web", "worker", "rasa", "actions"):  # every process kind's output is in the log
        assert re.search(rf"^\S+ {name}\.1\s+\| \S", log, re.MULTILINE), f"no output of {name}"
    assert "action_submit_booking" in log.split(failure)[0], "the action server logged the failure"
    lines = log.splitlines()
    for secret in sorted(forbidden(PATIENT) | forbidden(CARRIED) | spellings(CCCD) | spellings(BHYT)):
        leaks = [line for line in lines if secret in line]
        assert not leaks, f"{secret!r} logged: {leaks[:3]}"
    for person in (PATIENT, CARRIED):
        names, year = spellings(person["name"]), person["dob"][-4:]
        assert not [line for line in lines if year in line and any(n in line for n in names)], (
            f"{person['name']} logged next to the birth year"
        )
