"""Shared helpers of the Zalo channel tests: one configured OA (and the simulator's view of it, beside another
OA henkham does not serve), signed events, a scripted bot."""

from __future__ import annotations

import itertools
import json
import threading
import time
from typing import Any

from bot.zalo_webhook import signature
from bot.zalo_webhook.messages import Button, OutgoingMessage
from bot.zalo_webhook.rasa_bridge import Bot, BotUnavailable, NoRasaServer
from bot.zalo_webhook.runtime import Channel
from bot.zalo_webhook.simulator import SimulatedOA
from core.config import Settings, ZaloOASettings
from core.uow import Database
from henkham import bootstrap

OA_ID = "388613280878808645"
APP_ID = "360846524940903967"
SECRET = "oa-secret-for-tests"
APP_SECRET = "app-secret-for-tests"
REFRESH_TOKEN = "first-refresh-token"
_ids = itertools.count(1)
# ZNS templates of record access in chat (bot/zalo_webhook/record_channel.py): henkham's side (an OA's
# ``zns_templates``, by purpose) and the simulator's (template id -> its parameters).
RECORD_ZNS_TEMPLATES = {"reminder": "tpl-reminder", "otp": "tpl-otp", "results": "tpl-results"}
RECORD_SIM_TEMPLATES = {"tpl-reminder": ["noi_dung"], "tpl-otp": ["otp"], "tpl-results": ["facility", "date"]}

# The test OA as the Zalo simulator plays it (the OA of ``zalo_settings``), and an OA henkham does not serve.
SIMULATED_OA = SimulatedOA(OA_ID, APP_ID, SECRET, APP_SECRET, refresh_token=REFRESH_TOKEN, name="BV Thử nghiệm")
OTHER_OA = SimulatedOA(
    "1000000000000000001",
    "2000000000000000002",
    "other-oa-secret",
    "other-app-secret",
    refresh_token="other-first-refresh-token",
    name="OA khác",
)


def zalo_settings(database_url: str, **overrides: Any) -> Settings:
    oa = ZaloOASettings(
        oa_id=OA_ID,
        app_id=APP_ID,
        hospital="test",
        oa_secret_key=SECRET,
        app_secret=APP_SECRET,
        refresh_token=REFRESH_TOKEN,
        zns_templates=overrides.pop("zns_templates", {"reminder": "tpl-reminder"}),
    )
    return Settings(database_url=database_url, zalo_oas=[oa], **overrides)


def synced_channel(db: Database, settings: Settings, bot: Bot | None = None, **sender_options: Any) -> Channel:
    """The channel wired from ``settings`` (a scripted bot unless one is given), with the OAs' rows stored."""
    channel = bootstrap.channel(settings, db, bot=bot if bot is not None else ScriptedBot(), **sender_options)
    with db.uow() as uow:
        channel.registry.sync(uow)
    return channel


def text_event(user_id: str, text: str, *, msg_id: str | None = None, ts: int | None = None) -> dict[str, Any]:
    return {
        "app_id": APP_ID,
        "sender": {"id": user_id},
        "user_id_by_app": f"app-{user_id}",
        "recipient": {"id": OA_ID},
        "event_name": "user_send_text",
        "message": {"text": text, "msg_id": msg_id or f"msg{next(_ids):012d}"},
        "timestamp": str(ts or int(time.time() * 1000)),
    }


def event(name: str, user_id: str, **fields: Any) -> dict[str, Any]:
    """Another event in Zalo's shape (follow/unfollow name the follower; others the sender)."""
    base: dict[str, Any] = {
        "app_id": APP_ID,
        "event_name": name,
        "timestamp": str(int(time.time() * 1000) + next(_ids)),
    }
    if name in ("follow", "unfollow"):
        base.update(oa_id=OA_ID, follower={"id": user_id}, source="testing")
    elif name.startswith("oa_send_"):
        base.update(sender={"id": OA_ID}, recipient={"id": user_id}, message={"text": "…", "msg_id": f"oa{next(_ids)}"})
    else:
        base.update(sender={"id": user_id}, recipient={"id": OA_ID})
    base.update(fields)
    return base


def signed(payload: dict[str, Any], *, secret: str = SECRET, prefix: bool = True) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(payload, ensure_ascii=False).encode()
    mac = signature.compute_mac(payload["app_id"], raw, payload["timestamp"], secret)
    return raw, {signature.HEADER: ("mac=" if prefix else "") + mac, "Content-Type": "application/json"}


class ScriptedBot:
    """Stands in for Rasa (tests only): echoes, remembers what it saw and when, can fail or be slow."""

    def __init__(self, *, fail: bool = False, delay: float = 0.0, unreachable: int = 0) -> None:
        self.fail = fail
        self.delay = delay
        self.unreachable = unreachable  # the first this many calls find no Rasa server
        self.calls: list[tuple[str, str]] = []
        self.metadata: list[dict[str, Any]] = []
        self.active: dict[str, int] = {}
        self.max_active_per_sender = 0
        self.max_active = 0
        self._lock = threading.Lock()

    def reply(self, sender_id: str, text: str, metadata: dict[str, Any]) -> list[OutgoingMessage]:
        with self._lock:
            self.calls.append((sender_id, text))
            self.metadata.append(dict(metadata))
            unreachable, self.unreachable = self.unreachable > 0, max(0, self.unreachable - 1)
            self.active[sender_id] = self.active.get(sender_id, 0) + 1
            self.max_active_per_sender = max(self.max_active_per_sender, self.active[sender_id])
            self.max_active = max(self.max_active, sum(self.active.values()))
        try:
            if self.delay:
                time.sleep(self.delay)
            if unreachable:
                raise NoRasaServer("no Rasa server answered (ConnectionError)")
            if self.fail:
                raise BotUnavailable("connection refused")
            if text == "menu":
                return [
                    OutgoingMessage(
                        "Dạ, anh/chị chọn giúp em ạ:",
                        (
                            Button("Khoa nhi", '/inform{"department":"nhi"}'),
                            Button("Khoa mắt", '/inform{"department":"mat"}'),
                        ),
                    )
                ]
            return [OutgoingMessage(f"Dạ, em đã nhận: {text}")]
        finally:
            with self._lock:
                self.active[sender_id] -= 1


def latest_otp(sim: Any, phone: str, *, wait: float = 0.0) -> str | None:
    """The one-time code most recently sent to ``phone`` (E.164) as the simulator's ZNS log recorded it (what
    the user reads on that phone); ``wait`` seconds for one to arrive. None when none was sent."""
    filters = {"phone": phone.removeprefix("+"), "kind": "zns"}
    found = [m for m in sim.messages(**filters, **({"wait": str(wait)} if wait else {})) if "otp" in m["template_data"]]
    return str(found[-1]["template_data"]["otp"]) if found else None
