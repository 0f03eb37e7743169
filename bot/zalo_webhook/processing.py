"""Handling one inbox event: update the conversation, ask the bot when it should answer, queue the replies.

Three short steps, so no transaction stays open while the bot thinks:
1. read the event and apply what needs no bot (follow, phone shared, staff reply, interaction time);
2. ask the bot (Rasa), outside any transaction, when the user wrote text in bot mode;
3. queue the replies and mark the event done in one transaction.
Replies are keyed by the event (``in:<event id>:<n>``): an event handled twice (a worker died after
asking the bot) still queues each reply once.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from dataclasses import dataclass, field, replace

from sqlalchemy import select

from core.booking.models import Hospital
from core.config import Settings
from core.errors import InvalidInput
from core.identifiers import mask_phone, national_phone, normalise_phone
from core.timeutil import utcnow
from core.uow import Database, UnitOfWork

from . import conversations, echoes, inbox, outbox, quick_actions
from .accounts import account_key
from .claims import Claim
from .events import NON_TEXT, ZaloEvent, clean_text, parse, shared_phone
from .messages import Button, OutgoingMessage, choice_from_number
from .metrics import EVENTS_PROCESSED
from .models import Conversation, InboundEvent, ZaloOA
from .oas import OARegistry
from .rasa_bridge import Bot, BotUnavailable, NoRasaServer
from .subject_requests import record_zalo_request

log = logging.getLogger(__name__)
_TYPED_COMMAND = re.compile(r"^[\s/]+")

MAIN_MENU = (
    Button("Đặt lịch khám", "/book_appointment"),
    Button("Lịch hẹn của tôi", "/check_appointment"),
    Button("Giờ làm việc, địa chỉ", "/ask_opening_hours"),
    Button("Gặp nhân viên", "/request_human"),
)
STAFF_BUTTON = Button("Gặp nhân viên", "/request_human")
BOT_DOWN = (
    "Dạ, trợ lý tự động đang tạm gián đoạn. Em đã chuyển tin nhắn của anh/chị tới nhân viên bệnh viện, "
    "nhân viên sẽ trả lời anh/chị sớm nhất ạ. Nếu cần cấp cứu, anh/chị gọi ngay 115 ạ."
)
NO_ANSWER = (
    "Dạ, em chưa xử lý được tin nhắn này của anh/chị. Em đã chuyển tới nhân viên bệnh viện, nhân viên sẽ "
    "trả lời anh/chị sớm nhất ạ. Nếu cần cấp cứu, anh/chị gọi ngay 115 ạ."
)
NOT_TEXT = (
    "Dạ, trợ lý tự động hiện chỉ đọc được tin nhắn chữ. Anh/chị nhắn nội dung cần hỗ trợ bằng chữ, "
    "hoặc bấm nút bên dưới để gặp nhân viên ạ."
)


@dataclass
class Outcome:
    label: str
    replies: list[OutgoingMessage] = field(default_factory=list)
    bot_text: str | None = None  # what to ask the bot, if anything


BOT_WAITING = "bot_waiting"  # no Rasa server reachable: the event is asked again shortly (its user's wait)
BOT_RETRY_SECONDS = 2.0


def _needs_no_more(outcome: Outcome) -> bool:
    """The event is handled once its state change is made: no bot to ask, no send to wait for."""
    return outcome.bot_text is None and outcome.label != echoes.Echo.WAIT


class EventProcessor:
    def __init__(self, db: Database, settings: Settings, registry: OARegistry, bot: Bot) -> None:
        self.db = db
        self.settings = settings
        self.registry = registry
        self.bot = bot
        # How long a worker waits (outside any transaction) for a send to an echo's user to return before it
        # puts the echo back (echoes.py).
        self.echo_settle_seconds = echoes.SETTLE_WAIT_SECONDS

    def handle(self, claim: Claim, now: dt.datetime | None = None) -> str:
        """Handle one claimed event; returns its outcome label."""
        now = now or utcnow()
        step = self._state_step(claim, now)
        if step is None:
            return "missing"
        event, outcome, received_at = step
        if outcome.label == echoes.Echo.WAIT and echoes.wait_for_send(self.db, event, self.echo_settle_seconds):
            step = self._state_step(claim, now)  # the send has returned: judge the echo now
            if step is None:
                return "missing"
            event, outcome, received_at = step
        if _needs_no_more(outcome):  # finished with its state change, in the same transaction
            EVENTS_PROCESSED.labels(outcome=outcome.label).inc()
            return outcome.label
        user_id = event.user_id
        if outcome.label == echoes.Echo.WAIT:  # still in doubt: judged again once that send has settled
            with self.db.uow() as uow:
                if inbox.defer(uow, claim, now + dt.timedelta(seconds=echoes.RECHECK_SECONDS)):
                    uow.commit()
            EVENTS_PROCESSED.labels(outcome=outcome.label).inc()
            return outcome.label
        if outcome.bot_text is not None and user_id is not None:
            outcome = self._ask_bot(event, claim, outcome, now, received_at)
            if outcome.label == BOT_WAITING:  # asked again in a moment; the user's later messages wait behind
                with self.db.uow() as uow:
                    if inbox.defer(uow, claim, now + dt.timedelta(seconds=BOT_RETRY_SECONDS)):
                        uow.commit()
                EVENTS_PROCESSED.labels(outcome=outcome.label).inc()
                return outcome.label
        with self.db.uow() as uow:
            if self._finish(uow, claim, event, outcome, now):
                uow.commit()
        EVENTS_PROCESSED.labels(outcome=outcome.label).inc()
        return outcome.label

    def _finish(self, uow: UnitOfWork, claim: Claim, event: ZaloEvent, outcome: Outcome, now: dt.datetime) -> bool:
        """Queue the event's replies and mark it handled, in the caller's transaction; False (the caller rolls
        back) when another worker holds the event now."""
        for n, reply in enumerate(outcome.replies):
            outbox.enqueue(
                uow, oa_id=event.oa_id, user_id=event.user_id, message=reply, key=f"in:{claim.id}:{n}", now=now
            )
        if outcome.replies and event.user_id is not None:
            self._remember_menu(uow, event.oa_id, event.user_id, outcome.replies[-1])
        return inbox.finish(uow, claim, outcome.label, now)

    # --- step 1: state changes that need no bot -------------------------------------------------------------
    def _state_step(self, claim: Claim, now: dt.datetime) -> tuple[ZaloEvent, Outcome, dt.datetime] | None:
        """Apply the event's state changes; an event that needs neither the bot nor a wait (an echo, a follow, a
        quick action …) is finished in the same transaction."""
        with self.db.uow() as uow:
            row = uow.session.get(InboundEvent, claim.id)
            if row is None:
                return None
            event, _payload = parse(row.payload.encode("utf-8"), self.registry.serves)
            if not event.oa_id:  # a shape naming no OA, attributed by its signature when it was stored
                event = replace(event, oa_id=row.oa_id)
            received_at = row.received_at
            outcome = self._apply(uow, event, now, received_at)
            if not _needs_no_more(outcome) or self._finish(uow, claim, event, outcome, now):
                uow.commit()  # else another worker holds the event now: nothing of this attempt is kept
        return event, outcome, received_at

    def _apply(self, uow: UnitOfWork, event: ZaloEvent, now: dt.datetime, received_at: dt.datetime) -> Outcome:
        if self.registry.get(event.oa_id) is None:
            return Outcome("unknown_oa")
        if event.user_id is None:
            return Outcome("no_user")
        conversation = conversations.get_or_create(uow, event.oa_id, event.user_id, now)
        if event.is_user_interaction:
            conversation.last_interaction_at = max(now, conversation.last_interaction_at or now)
        name = event.name
        if name == "follow":
            conversation.follower, conversation.followed_at = True, now
            return Outcome("welcomed", [self._welcome(uow, event.oa_id)])
        if name == "unfollow":
            conversation.follower, conversation.unfollowed_at = False, now
            return Outcome("unfollowed")
        if event.is_oa_echo:
            echo = echoes.judge(
                uow.session, event, received_at=received_at, now=now, wait=self.settings.zalo_echo_wait_seconds
            )
            if echo == echoes.Echo.STAFF:
                until = now + dt.timedelta(minutes=self.settings.zalo_human_mode_minutes)
                who = f"staff {event.admin_id}" if event.admin_id else "staff"
                conversations.to_human(conversation, f"{who} replied from the OA inbox", now, until)
            return Outcome(echo.value)
        if name == "user_submit_info":
            return self._phone_shared(conversation, event)
        if name == "user_withdraw":
            record_zalo_request(uow, event.oa_id, event.user_id, "withdraw", now=now)
            conversations.flag_for_staff(conversation, "the user asked to withdraw their data (user_withdraw)")
            return Outcome("withdraw_recorded")
        if name in NON_TEXT:
            if conversations.bot_is_silent(conversation, now):
                return Outcome("human_mode")
            return Outcome("not_text", [OutgoingMessage(NOT_TEXT, (STAFF_BUTTON,))])
        if name == "user_send_text":
            if conversations.bot_is_silent(conversation, now):
                return Outcome("human_mode")
            text = clean_text(event.text or "").strip()  # lone surrogates, NUL: U+FFFD, the patient still answered
            if not text:
                return Outcome("empty_text")
            menu = json.loads(conversation.last_menu) if conversation.last_menu else []
            chosen = choice_from_number(text, menu) or (text if text in menu else None)
            if chosen is not None and quick_actions.is_quick_action(chosen):
                return Outcome("quick_action", [quick_actions.answer(uow, event.oa_id, event.user_id, chosen, now)])
            if chosen is None and text not in menu:
                # "/intent{…}" drives Rasa directly: only a button we offered may send one, not typed text
                # ("/ /inform{…}" too: every leading slash and blank goes, not only the first).
                text = _TYPED_COMMAND.sub("", text) or "?"
            return Outcome("bot", bot_text=chosen or text)
        return Outcome("stored")  # seen, reacted, tags, unknown events: kept in the inbox, nothing to do

    def _phone_shared(self, conversation: Conversation, event: ZaloEvent) -> Outcome:
        raw = shared_phone(event.info)
        try:
            phone = normalise_phone(raw or "")
        except InvalidInput:
            log.info("user %s shared a phone that is not a Vietnamese mobile number", event.user_id)
            return Outcome("phone_invalid")
        conversation.phone = phone
        log.info("user %s shared phone %s", event.user_id, mask_phone(phone))
        if conversation.mode == "human":
            return Outcome("phone_stored")
        # Handed to the conversation as the answer to the bot's question (intent inform, phone_number).
        entity = json.dumps({"phone_number": national_phone(phone)})
        return Outcome("phone_stored", bot_text=f"/inform{entity}")

    def _welcome(self, uow: UnitOfWork, oa_id: str) -> OutgoingMessage:
        hospital = uow.session.scalar(
            select(Hospital).join(ZaloOA, ZaloOA.hospital_id == Hospital.id).where(ZaloOA.oa_id == oa_id)
        )
        name = hospital.name if hospital else "bệnh viện"
        text = (
            f"Dạ, {name} cảm ơn anh/chị đã quan tâm. Em là trợ lý tự động: em giúp anh/chị đặt, đổi, hủy lịch "
            "khám, xem lịch hẹn và giải đáp giờ làm việc, chi phí, BHYT."
        )
        if hospital and hospital.emergency_phone:
            text += f" Khi cấp cứu, anh/chị gọi ngay 115 hoặc {hospital.emergency_phone} ạ."
        return OutgoingMessage(text, MAIN_MENU)

    # --- step 2: the bot ------------------------------------------------------------------------------------
    def _ask_bot(
        self, event: ZaloEvent, claim: Claim, outcome: Outcome, now: dt.datetime, received_at: dt.datetime
    ) -> Outcome:
        sender_id = account_key(event.oa_id, event.user_id or "")  # stable per OA and user
        metadata = {
            "oa_id": event.oa_id,
            "event": event.name,
            # One id per inbox event: a message asked again (this worker's predecessor stopped after asking,
            # or a server stopped while answering) is answered from the conversation, not handled twice.
            "message_id": f"zalo-{claim.id}",
            "retry": claim.in_doubt,
        }
        try:
            replies = self.bot.reply(sender_id, outcome.bot_text or "", metadata)
        except NoRasaServer as error:
            waited = (now - received_at).total_seconds()
            if waited < self.settings.rasa_unreachable_wait_seconds:
                log.warning("no Rasa server reachable for %s (%s): asked again shortly", sender_id, error)
                return Outcome(BOT_WAITING)
            log.warning("no Rasa server reachable for %s for %.0f s; the conversation is flagged", sender_id, waited)
            self._flag(event, f"the assistant did not answer ({error})", now)
            return Outcome("bot_unavailable", [OutgoingMessage(BOT_DOWN, (STAFF_BUTTON,))])
        except BotUnavailable as error:
            log.warning("bot unavailable for %s: %s; the conversation is flagged for staff", sender_id, error)
            self._flag(event, f"the assistant did not answer ({error})", now)
            return Outcome("bot_unavailable", [OutgoingMessage(BOT_DOWN, (STAFF_BUTTON,))])
        if not replies:
            # In bot mode Rasa always answers a message (a hand-off answers, then the channel stops asking):
            # nothing back means an action or a component failed. The patient is told, and staff take it.
            log.warning("the bot gave %s no answer; the conversation is flagged for staff", sender_id)
            self._flag(event, "the assistant gave no answer (an action failed?)", now)
            return Outcome("bot_silent", [OutgoingMessage(NO_ANSWER, (STAFF_BUTTON,))])
        return Outcome("answered", replies)

    def _flag(self, event: ZaloEvent, reason: str, now: dt.datetime) -> None:
        with self.db.uow() as uow:
            conversation = conversations.get_or_create(uow, event.oa_id, event.user_id or "", now)
            conversations.flag_for_staff(conversation, reason)
            uow.commit()

    @staticmethod
    def _remember_menu(uow: UnitOfWork, oa_id: str, user_id: str, last: OutgoingMessage) -> None:
        """The numbered menu the user may answer with "1", "2" … (the payloads of the last buttons sent)."""
        conversation = conversations.get_or_create(uow, oa_id, user_id)
        conversation.last_menu = json.dumps([b.payload for b in last.buttons]) if last.buttons else None
