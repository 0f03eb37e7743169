"""The whole assistant running for end-to-end tests: the web app (signed webhook), inbox workers and a sender
in threads; the Zalo simulator, the rasa-sdk action server and the Rasa server as processes.

The Rasa server is started by ``scripts/rasa-server``, as ``make run`` starts it: it trains the model first
when there is none (a few minutes on a fresh clone), then serves it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from bot.zalo_webhook.models import InboundEvent, OutboundMessage, WorkStatus
from bot.zalo_webhook.runtime import Channel
from bot.zalo_webhook.simulator import SimulatedOA
from core.config import Settings, ZaloOASettings
from core.timeutil import local_today
from core.uow import Database
from henkham import bootstrap
from henkham.migrate import upgrade
from henkham.web import create_app
from tests.browser_support import running_workers
from tests.conftest import _postgres_unavailable, throwaway_postgres
from tests.factories import build_world
from tests.harness import drop_database, free_port, serving_app, wait_until
from tests.zalo_helpers import OA_ID, SIMULATED_OA, zalo_settings
from tests.zalo_sim import ROOT, Simulator, running_process, simulator_process

RASA_TOKEN = "test-rasa-token"  # what scripts/rasa-server serves with (--auth-token) and the channel sends
ACTIONS_TOKEN = "test-actions-token"  # what Rasa sends to the action server (bot/endpoints.yml)
RASA_START_TIMEOUT = 1200  # seconds: training on a fresh clone, then loading the model
REPLY_TIMEOUT = 30.0
OPEN = (WorkStatus.PENDING.value, WorkStatus.PROCESSING.value)


@dataclass
class DialogueStack:
    db: Database
    channel: Channel
    simulator: Simulator
    rasa_url: str
    rasa_token: str
    rasa_pid: int
    actions_pid: int
    rasa_pids: list[int]

    def say(self, user_id: str, text: str, *, expect_reply: bool = True, oa_id: str = OA_ID) -> list[dict[str, Any]]:
        """The user writes ``text`` (to the OA ``oa_id``); returns the OA's messages that answer it (once all were
        sent)."""
        return self._event(user_id, {"oa_id": oa_id, "event_name": "user_send_text", "text": text}, expect_reply)

    def share_phone(self, user_id: str, phone: str, *, oa_id: str = OA_ID) -> list[dict[str, Any]]:
        """The user shares ``phone`` through Zalo's request-info card (the number Zalo verified)."""
        return self._event(user_id, {"oa_id": oa_id, "event_name": "user_submit_info", "phone": phone}, True)

    def _event(self, user_id: str, spec: dict[str, Any], expect_reply: bool) -> list[dict[str, Any]]:
        text = spec.get("text") or spec["event_name"]
        after = max((m["seq"] for m in self.simulator.messages()), default=0)
        response = self.simulator.http.post(f"{self.simulator.base}/_sim/chat/event", json={**spec, "user_id": user_id})
        assert response.status_code == 200, response.text
        if expect_reply:  # a long poll until the first reply, then (cheaper than polling all along) the rest
            self.simulator.messages(user_id=user_id, after=str(after), wait=str(min(REPLY_TIMEOUT, 60)), kind="cs")
        wait_until(lambda: settled(self.db, user_id), timeout=REPLY_TIMEOUT, what=f"the answer to {text!r}")
        replies = [m["message"] for m in self.simulator.messages(user_id=user_id, kind="cs") if m["seq"] > after]
        assert replies or not expect_reply, f"no answer to {text!r}"
        return replies

    def tap(
        self, user_id: str, message: dict[str, Any], title_part: str, *, oa_id: str = OA_ID
    ) -> list[dict[str, Any]]:
        """The user taps the button of ``message`` whose title contains ``title_part``."""
        return self.say(user_id, button_payload(message, title_part), oa_id=oa_id)


def settled(db: Database, user_id: str) -> bool:
    """Every inbox event of the user handled and every reply to them sent."""
    with db.reader() as uow:
        return nothing_open(uow.session, user_id)


def settled_among_many(db: Database, user_id: str) -> bool:
    """``settled`` through a unit of work, for many polling threads: a reader keeps one connection per thread,
    and PostgreSQL's 100 connections are shared with the stack."""
    with db.uow() as uow:
        return nothing_open(uow.session, user_id)


def nothing_open(session: Any, user_id: str) -> bool:
    open_in = session.scalar(select(func.count()).where(InboundEvent.user_id == user_id, InboundEvent.status.in_(OPEN)))
    open_out = session.scalar(
        select(func.count()).where(OutboundMessage.user_id == user_id, OutboundMessage.status.in_(OPEN))
    )
    return open_in == 0 and open_out == 0


def buttons_of(message: dict[str, Any]) -> list[dict[str, Any]]:
    return ((message.get("attachment") or {}).get("payload") or {}).get("buttons") or []


def button_payload(message: dict[str, Any], title_part: str) -> str:
    """The payload of the first button of ``message`` whose title contains ``title_part`` (any case); raises
    AssertionError, naming the titles there are, when there is none."""
    buttons = buttons_of(message)
    chosen = next((b for b in buttons if title_part.lower() in b["title"].lower()), None)
    if chosen is None:
        raise AssertionError(f"no button {title_part!r} in {[b['title'] for b in buttons]}")
    return chosen["payload"]


def text_of(replies: list[dict[str, Any]]) -> str:
    parts = []
    for message in replies:
        parts.append(message.get("text") or "")
        for element in ((message.get("attachment") or {}).get("payload") or {}).get("elements") or []:
            parts.append(element.get("subtitle") or "")
    return "\n".join(parts)


@contextmanager
def hospital_dialogue(folder: Path) -> Iterator[DialogueStack]:
    """The stack over hospital "test" (tests/factories.build_world: nhi and mat, 16 days of slots) on a
    throwaway PostgreSQL server, or a SQLite file where none runs."""
    with ExitStack() as cleanup:
        url, db = scratch_database(cleanup, folder)
        build_world(db, start=local_today(), days=16, booking_horizon_days=30, min_lead_minutes=60)
        yield cleanup.enter_context(running_dialogue(url, folder))


def _own_tracker(cleanup: ExitStack, database_url: str, folder: Path) -> str:
    """The tracker store of a stack on ``database_url``: where production puts it, new for this stack."""
    derived = Settings(database_url=database_url).rasa_tracker_store_url
    if not derived.startswith("postgresql"):
        return f"sqlite:///{folder / 'rasa-tracker.db'}"
    name = derived.rsplit("/", 1)[1].split("?")[0]
    admin = derived.rsplit("/", 1)[0] + "/postgres"
    drop_database(admin, name)  # an earlier run's, if one was left
    cleanup.callback(drop_database, admin, name)  # after the Rasa servers (stopped first: callbacks run last-in first)
    return derived


def scratch_database(cleanup: ExitStack, folder: Path) -> tuple[str, Database]:
    """An empty migrated database for a stack, closed by ``cleanup``: a throwaway PostgreSQL server, or a
    SQLite file in ``folder`` where none runs."""
    if _postgres_unavailable() is None:
        url = cleanup.enter_context(throwaway_postgres())
    else:
        url = f"sqlite:///{folder / 'henkham.db'}"
        upgrade(url)
    db = Database(url)
    cleanup.callback(db.dispose)
    return url, db


@contextmanager
def running_dialogue(
    database_url: str,
    folder: Path,
    *,
    inbox_threads: int = 4,
    sender_threads: int = 2,
    zns_templates: dict[str, str] | None = None,
    templates: dict[str, list[str]] | None = None,
    more_oas: Sequence[tuple[SimulatedOA, ZaloOASettings]] = (),
    rasa_servers: int = 1,
    tracker_url: str = "",
    lock_url: str = "",
) -> Iterator[DialogueStack]:
    """The stack of the test OA, plus ``more_oas`` (each as the simulator plays it and as henkham serves it);
    ``zns_templates`` the test OA's ZNS templates by purpose, ``templates`` their parameters in the simulator.
    ``rasa_servers`` Rasa servers share the tracker store ``tracker_url`` (default: this stack's own, as
    production has it: ``<database>_rasa`` on the same PostgreSQL server, dropped at the end, or a SQLite file
    of the stack) and the lock store ``lock_url`` (default: each its memory)."""
    db = Database(database_url)
    with ExitStack() as cleanup:
        cleanup.callback(db.dispose)
        actions_port, simulator_port = free_port(), free_port()
        if not tracker_url:
            tracker_url = _own_tracker(cleanup, database_url, folder)
        env = {"HENKHAM_DATABASE_URL": database_url, "HENKHAM_ACTIONS_TOKEN": ACTIONS_TOKEN}
        actions = cleanup.enter_context(
            running_process(
                [str(ROOT / ".venv/bin/henkham"), "actions", "--port", str(actions_port)],
                folder / "actions.log",
                env=env,
                ready_url=f"http://127.0.0.1:{actions_port}/health",
                timeout=60,
                what="action server",
            )
        )
        rasa_urls, rasa_pids = [], []
        for n in range(rasa_servers):
            rasa_port = free_port()
            rasa_url = f"http://127.0.0.1:{rasa_port}"
            rasa = cleanup.enter_context(
                running_process(
                    [str(ROOT / "scripts/rasa-server")],
                    folder / (f"rasa-{n + 1}.log" if rasa_servers > 1 else "rasa.log"),
                    env={
                        "RASA_PORT": str(rasa_port),
                        "HENKHAM_DATABASE_URL": database_url,
                        "HENKHAM_RASA_TRACKER_URL": tracker_url,
                        "HENKHAM_RASA_LOCK_URL": lock_url,
                        "HENKHAM_ACTIONS_URL": f"http://127.0.0.1:{actions_port}/webhook",
                        "HENKHAM_RASA_TOKEN": RASA_TOKEN,
                        "HENKHAM_ACTIONS_TOKEN": ACTIONS_TOKEN,
                    },
                    ready_url=f"{rasa_url}/status?token={RASA_TOKEN}",
                    timeout=RASA_START_TIMEOUT,
                    what="Rasa server",
                )
            )
            rasa_urls.append(rasa_url)
            rasa_pids.append(rasa.pid)  # the scripts exec the servers: these are their processes
        rasa_url = ",".join(rasa_urls)
        simulator_base = f"http://127.0.0.1:{simulator_port}"
        settings = zalo_settings(
            database_url,
            zalo_api_base=simulator_base,
            zalo_zns_base=simulator_base,
            zalo_oauth_base=simulator_base,
            rasa_url=rasa_url,
            rasa_token=RASA_TOKEN,
            rasa_timeout_seconds=20.0,
            **({"zns_templates": zns_templates} if zns_templates else {}),
        )
        settings = settings.model_copy(update={"zalo_oas": [*settings.zalo_oas, *(oa for _, oa in more_oas)]})
        app_url = cleanup.enter_context(serving_app(create_app(settings, database=db)))
        cleanup.enter_context(
            simulator_process(
                f"{app_url}/zalo/webhook",
                [SIMULATED_OA, *(oa for oa, _ in more_oas)],
                folder / "simulator.log",
                port=simulator_port,
                templates=templates,
            )
        )
        channel = bootstrap.channel(settings, db)  # the real bot: Rasa's REST channel
        with db.uow() as uow:
            channel.registry.sync(uow)
        cleanup.enter_context(running_workers(channel, inbox_threads=inbox_threads, sender_threads=sender_threads))
        yield DialogueStack(
            db=db,
            channel=channel,
            simulator=Simulator(simulator_base),
            rasa_url=rasa_url,
            rasa_token=RASA_TOKEN,
            rasa_pid=rasa_pids[0],
            actions_pid=actions.pid,
            rasa_pids=rasa_pids,
        )
