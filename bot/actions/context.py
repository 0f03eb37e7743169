"""What every action needs: the database, who is writing (OA and user), their account and hospital."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rasa_sdk import Tracker

from bot.zalo_webhook import oas
from bot.zalo_webhook.accounts import PROVIDER
from core.booking import patients
from core.booking.caps import Caps
from core.uow import Database, UnitOfWork

if TYPE_CHECKING:
    from core.emr.record_access import CodeSender

CHANNEL = "zalo"
OA_HOSPITAL_TTL_SECONDS = 60.0
_OA_HOSPITALS: dict[str, tuple[float, str | None]] = {}  # oa_id -> (valid until, hospital slug)


_DATABASE: list[Database] = []  # the action server's one database, handed over by henkham/bootstrap.py
_CAPS: list[Caps] = []  # a chat user's caps on profiles and live bookings, likewise
_CODE_SENDER: list[CodeSender] = []  # how a one-time code reaches the phone being checked, likewise


def use_database(db: Database, caps: Caps | None = None, *, code_sender: CodeSender | None = None) -> None:
    """Give the actions of this process their database, a chat user's caps and the sender of one-time codes
    (``henkham.bootstrap.actions`` does, before serving)."""
    _DATABASE[:] = [db]
    _CAPS[:] = [caps] if caps is not None else []
    _CODE_SENDER[:] = [code_sender] if code_sender is not None else []
    _OA_HOSPITALS.clear()


def code_sender() -> CodeSender:
    """The sender of the one-time codes that verify a phone (the Zalo outbox, by ZNS)."""
    if not _CODE_SENDER:
        raise RuntimeError("the actions have no code sender: wire the process with henkham.bootstrap.actions()")
    return _CODE_SENDER[0]


def chat_caps() -> Caps | None:
    """How many patient profiles and live bookings one Zalo user may hold (None: not wired, no caps)."""
    return _CAPS[0] if _CAPS else None


def database() -> Database:
    """The action server's database (one engine; actions run in its threads)."""
    if not _DATABASE:
        raise RuntimeError("the actions have no database: wire the process with henkham.bootstrap.actions()")
    return _DATABASE[0]


@dataclass(frozen=True)
class Chat:
    """The Zalo user behind a tracker: the channel names conversations ``<oa_id>:<user_id>``."""

    sender_id: str
    oa_id: str
    user_id: str

    @classmethod
    def of(cls, tracker: Tracker) -> Chat:
        sender = tracker.sender_id or ""
        oa_id, _, user_id = sender.partition(":")
        return cls(sender, oa_id if user_id else "", user_id or sender)

    @property
    def account_key(self) -> str:
        return self.sender_id  # Zalo user ids are per OA, so the account is the (OA, user) pair

    def account_id(self, uow: UnitOfWork) -> int:
        return patients.get_or_create_account(uow, PROVIDER, self.account_key)

    def oa_hospital(self, uow: UnitOfWork) -> str | None:
        """The slug of the hospital this OA belongs to; None when it serves every hospital here.

        Kept for a minute per process: a form asks it several times a turn, and it changes only when an
        operator re-maps the OA (``henkham zalo sync``)."""
        known = _OA_HOSPITALS.get(self.oa_id)
        if known is not None and known[0] > time.monotonic():
            return known[1]
        slug = oas.hospital_of(uow, self.oa_id)
        _OA_HOSPITALS[self.oa_id] = (time.monotonic() + OA_HOSPITAL_TTL_SECONDS, slug)
        return slug

    def hospital(self, uow: UnitOfWork, tracker: Tracker) -> str | None:
        """The hospital the user talks about: the OA's own, else the one named or chosen in the conversation."""
        return self.oa_hospital(uow) or entity(tracker, "hospital") or tracker.get_slot("hospital")


def _first_entity(tracker: Tracker, name: str) -> dict[str, Any] | None:
    """The latest message's first entity ``name`` with a value (None when absent)."""
    for item in tracker.latest_message.get("entities") or []:
        if item.get("entity") == name and item.get("value") not in (None, ""):
            return item
    return None


def entity(tracker: Tracker, name: str) -> Any:
    """The value of the latest message's first entity ``name`` (None when absent)."""
    item = _first_entity(tracker, name)
    return item["value"] if item else None


def entity_span(tracker: Tracker, name: str) -> tuple[int, int] | None:
    """The character span of the latest message's first entity ``name`` (None when absent or it has none)."""
    item = _first_entity(tracker, name) or {}
    start, end = item.get("start"), item.get("end")
    return (start, end) if isinstance(start, int) and isinstance(end, int) else None


def entity_text(tracker: Tracker, name: str) -> str | None:
    """What the patient wrote for the latest message's entity ``name``: its span of the message. A synonym
    may have rewritten the entity's value (a news topic "tiểu đường" becomes the department ``noi_tiet``);
    the words themselves are what a free-text entity means. The value when there is no span."""
    item = _first_entity(tracker, name)
    if item is None:
        return None
    message, span = text(tracker), entity_span(tracker, name)
    if span is not None and 0 <= span[0] < span[1] <= len(message):
        return message[span[0] : span[1]]
    return str(item["value"])


def intent(tracker: Tracker) -> str:
    return (tracker.latest_message.get("intent") or {}).get("name") or ""


def text(tracker: Tracker) -> str:
    return tracker.latest_message.get("text") or ""
