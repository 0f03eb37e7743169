"""Staff hand a conversation back to the assistant: by API or CLI, Rasa resumed first, nothing changed when
Rasa cannot be reached."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

from click.testing import CliRunner
from sqlalchemy import select
from werkzeug.wrappers import Request, Response

from bot.zalo_webhook import conversations
from bot.zalo_webhook.models import Conversation, ZaloOA
from core import access
from core.booking.models import Hospital
from core.config import Settings
from core.timeutil import utcnow
from henkham.cli import cli
from henkham.web import create_app
from tests.factories import build_world, today_local
from tests.harness import free_port, serving_app
from tests.test_cli import assert_one_error_line

OA, USER = "388613280878808645", "user-in-human-mode"
RASA_TOKEN = "test-rasa-token"


@contextmanager
def fake_rasa(status: int = 200) -> Iterator[tuple[str, list[tuple[str, list]]]]:
    """A stand-in for Rasa's HTTP API that records what it is sent with its token (tests only); like Rasa
    run with ``--auth-token``, it answers 401 to a request without ``?token=RASA_TOKEN``."""
    received: list[tuple[str, list]] = []

    @Request.application
    def app(request: Request) -> Response:
        if request.args.get("token") != RASA_TOKEN:
            return Response('{"reason": "NotAuthenticated"}', status=401, content_type="application/json")
        received.append((request.path, json.loads(request.get_data() or b"null")))
        return Response("{}", status=status, content_type="application/json")

    with serving_app(app) as url:
        yield url, received


def in_human_mode(db) -> None:
    with db.uow() as uow:
        conversation = conversations.get_or_create(uow, OA, USER)
        conversations.to_human(conversation, "the user asked for staff", utcnow())
        conversations.flag_for_staff(conversation, "the user asked for staff")
        uow.commit()


def mode(db) -> tuple[str, bool]:
    with db.reader() as uow:
        row = uow.session.query(Conversation).filter_by(oa_id=OA, user_id=USER).one()
        return row.mode, row.needs_staff


def staff_key(db) -> str:
    """A staff key of the hospital whose OA the conversation is with."""
    build_world(db, start=today_local(), days=1)
    with db.uow() as uow:
        hospital_id = uow.session.scalar(select(Hospital.id).where(Hospital.slug == "test"))
        uow.session.add(ZaloOA(oa_id=OA, app_id="app", hospital_id=hospital_id))
        uow.commit()
        return access.create_api_key(uow, name="his-test", kind="his", hospital_slug="test")


def test_staff_see_the_queue_then_hand_back_by_api_and_rasa_is_resumed(db) -> None:
    in_human_mode(db)
    key = staff_key(db)
    with fake_rasa() as (rasa_url, received):
        settings = Settings(database_url=db.url, rasa_url=rasa_url, rasa_token=RASA_TOKEN)
        client = create_app(settings, database=db).test_client()
        queue = client.get("/api/v1/conversations", headers={"Authorization": f"Bearer {key}"}).get_json()
        assert [(c["user_id"], c["staff_reason"]) for c in queue["conversations"]] == [
            (USER, "the user asked for staff")
        ]
        response = client.post(
            f"/api/v1/conversations/{OA}/{USER}/handback", headers={"Authorization": f"Bearer {key}"}
        )
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["mode"] == "bot"
    assert mode(db) == ("bot", False)
    assert received == [
        (
            f"/conversations/{OA}:{USER}/tracker/events",
            [{"event": "resume"}, {"event": "action", "name": "action_listen"}],
        )
    ]


def test_hand_back_needs_the_staff_scope(db) -> None:
    in_human_mode(db)
    staff_key(db)
    with db.uow() as uow:
        mini_app = access.create_api_key(uow, name="mini", kind="mini_app")
    client = create_app(Settings(database_url=db.url), database=db).test_client()
    response = client.post(
        f"/api/v1/conversations/{OA}/{USER}/handback", headers={"Authorization": f"Bearer {mini_app}"}
    )
    assert response.status_code == 403
    assert mode(db) == ("human", True)


def test_when_rasa_cannot_be_reached_the_conversation_stays_with_staff(db) -> None:
    in_human_mode(db)
    key = staff_key(db)
    client = create_app(Settings(database_url=db.url, rasa_url=f"http://127.0.0.1:{free_port()}"), database=db)
    response = client.test_client().post(
        f"/api/v1/conversations/{OA}/{USER}/handback", headers={"Authorization": f"Bearer {key}"}
    )
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "bot_unreachable"
    assert "127.0.0.1" not in response.get_data(as_text=True), "an API client learns nothing of the network"
    assert mode(db) == ("human", True)


def test_cli_hand_back_and_its_one_line_error(db, monkeypatch) -> None:
    in_human_mode(db)
    monkeypatch.setenv("HENKHAM_DATABASE_URL", db.url)
    monkeypatch.setenv("HENKHAM_RASA_URL", f"http://127.0.0.1:{free_port()}")
    runner = CliRunner()
    refused = assert_one_error_line(runner.invoke(cli, ["zalo", "handback", OA, USER]))
    assert refused.startswith("error: the assistant cannot be reached (") and "stays with staff" in refused
    assert mode(db) == ("human", True)
    assert_one_error_line(
        runner.invoke(cli, ["zalo", "handback", OA, "nobody"]), f"error: no conversation of user nobody with OA {OA}"
    )
    with fake_rasa() as (rasa_url, _received):
        monkeypatch.setenv("HENKHAM_RASA_URL", rasa_url)
        monkeypatch.setenv("HENKHAM_RASA_TOKEN", "not-the-token")
        assert_one_error_line(
            runner.invoke(cli, ["zalo", "handback", OA, USER]),
            "error: Rasa refused the resume: HTTP 401; the conversation stays with staff",
        )
        assert mode(db) == ("human", True)
        monkeypatch.setenv("HENKHAM_RASA_TOKEN", RASA_TOKEN)
        done = runner.invoke(cli, ["zalo", "handback", OA, USER, "--staff", "lan"])
        assert done.exit_code == 0, done.output
        assert mode(db) == ("bot", False)
        assert "0 conversation(s) waiting" in runner.invoke(cli, ["zalo", "queue"]).output
