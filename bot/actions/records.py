"""Record summaries by chat: link the Zalo user to their record, ask consent, answer by section.

The form ``record_form`` asks only what is missing, in order: a user not linked shares the phone Zalo verified
(the share-phone card; the channel keeps it in ``Conversation.phone`` — a typed number never counts), then
types the one-time code sent to that phone by ZNS; then, if there is no consent yet, the consent question. The
summary itself is read through ``core.emr.summaries.chat_record`` (core checks the link, the consent and the
exclusions, and writes the audit row of every read and every refusal): by ``action_start_record`` directly when
the user is already linked and consenting (one action, one look-up of links and consent, one read a turn), else by
``action_submit_record`` once the form has what it needs.

Buttons carry ``record_route``: ``desk`` (the desk code, for a link made by staff after seeing the CCCD),
``new_code`` (a new one-time code to the verified phone), ``results_yes``/``results_no`` (the consent to result
notifications), ``unlink`` (the confirmed removal of the user's links).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from functools import cache
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import REQUESTED_SLOT
from rasa_sdk.types import DomainDict

from bot.nlu.folding import strip_diacritics
from bot.nlu.record_sections import find_section
from bot.nlu.record_subject import record_subject
from bot.zalo_webhook import conversations, oas, record_channel
from bot.zalo_webhook.subject_requests import record_zalo_request
from core.config import Settings
from core.emr import access_log, consent, exclusions, record_access, summaries
from core.emr.record_access import Linked
from core.errors import DomainError
from core.identifiers import mask_phone
from core.timeutil import local_today, to_local
from core.uow import UnitOfWork

from . import record_text
from .context import CHANNEL, Chat, code_sender, database, entity, intent, text
from .forms import ChatForm
from .replies import MAIN_MENU, MAX_BUTTONS, STAFF_BUTTON, button

REQUEST_SLOTS = ("record_section", "record_visit", "record_person", "record_day", "record_hospital", "record_subject")
RECORD_SLOTS = (*REQUEST_SLOTS, "record_phone", "record_code", "record_consent", "record_ready", "form_notice")
INTENT = record_text.RECORD_INTENT
DESK_BUTTON = button("Xác nhận tại quầy", INTENT, record_route="desk")
NEW_CODE_BUTTON = button("Gửi mã mới", INTENT, record_route="new_code")
CODE_DIGITS = 6
_DAY_MONTH = re.compile(r"(?<!\d)(\d{1,2})\s*[/.-]\s*(\d{1,2})(?:\s*[/.-]\s*(\d{4}|\d{2}))?(?!\d)")
RECORD_INTERRUPTIONS = frozenset({"withdraw_consent", "unlink_record", "ask_record_access"})
SHARE_EVENT = "user_submit_info"  # the channel's metadata of a phone shared through Zalo's card

TYPED_PHONE = (
    "Dạ, để giữ an toàn cho hồ sơ, em chỉ dùng số điện thoại Zalo đã xác minh: anh/chị bấm nút chia sẻ số điện "
    "thoại giúp em, không cần nhắn số ạ."
)
NO_SHARED_PHONE = (
    "Dạ, em chưa nhận được số điện thoại Zalo của anh/chị. Anh/chị bấm nút chia sẻ số điện thoại giúp em ạ."
)
NOT_A_CODE = "Dạ, mã xác nhận gồm 6 chữ số trong tin nhắn em vừa gửi. Anh/chị nhắn đúng 6 số đó giúp em ạ."
CONSENT_REFUSED = (
    "Dạ, em tôn trọng quyết định của anh/chị: em không hiển thị hồ sơ qua Zalo. Khi đổi ý, anh/chị nhắn "
    '"xem hồ sơ" và chọn Đồng ý ạ.'
)
RESULTS_YES = "Dạ, khi có kết quả lần khám mới, em sẽ nhắn anh/chị (tin nhắn không ghi nội dung kết quả) ạ."
RESULTS_NO = "Dạ, em sẽ không gửi thông báo kết quả. Anh/chị vẫn hỏi xem hồ sơ được bất cứ lúc nào ạ."
WITHDRAWN = (
    "Dạ, em đã ghi nhận anh/chị rút lại đồng ý. Từ bây giờ em không hiển thị hồ sơ và không gửi thông báo kết quả "
    'qua Zalo nữa. Khi muốn xem lại, anh/chị nhắn "xem hồ sơ" và đồng ý lại ạ.'
)
NOT_LINKED = "Dạ, tài khoản Zalo này chưa liên kết hồ sơ nào ạ."
UNLINK_QUESTION = (
    "Dạ, anh/chị muốn hủy liên kết hồ sơ với tài khoản Zalo này? Sau khi hủy, em không xem được hồ sơ cho anh/chị "
    "nữa cho tới khi liên kết lại ạ."
)


# --- what a message asks for ----------------------------------------------------------------------------------


@cache
def settings() -> Settings:
    """The action server's settings (its environment), for the hospitals' chat exclusions."""
    return Settings()


def read_request(tracker: Tracker) -> dict[str, Any]:
    """What record the latest message asks for: a section, a visit or person (buttons), a day, a hospital, a
    child ("của bé Na")."""
    found: dict[str, Any] = {}
    section = entity(tracker, "record_section") or find_section(text(tracker))
    if section in summaries.SECTIONS:
        found["record_section"] = section
    for slot in ("record_visit", "record_person"):
        value = entity(tracker, slot)
        if value is not None and str(value).isdigit():
            found[slot] = str(value)
    day = visit_day(text(tracker), entity(tracker, "time"), local_today())
    if day is not None:
        found["record_day"] = day.isoformat()
    hospital = entity(tracker, "hospital")
    if hospital:
        found["record_hospital"] = str(hospital)
    subject = record_subject(text(tracker))
    if subject.child or subject.name:
        found["record_subject"] = {"child": subject.child, "name": subject.name}
    return found


def visit_day(message: str, when: Any, today: dt.date) -> dt.date | None:
    """The day of a past visit the message names ("lần khám ngày 12/11", "hôm 01/11/2026"): a day/month
    written out, else the ``time`` entity; a day without its year is the latest one not after today (the NLU
    reads dates forward, for bookings)."""
    written = _DAY_MONTH.search(message)
    if written:
        day, month, year = int(written[1]), int(written[2]), written[3]
        if year:
            full = int(year) + (2000 if len(year) == 2 else 0)
            return _date(full, month, day)
        this_year = _date(today.year, month, day)
        return this_year if this_year is None or this_year <= today else _date(today.year - 1, month, day)
    if not isinstance(when, dict) or not when.get("date"):
        return None
    named = dt.date.fromisoformat(str(when["date"]))
    return named if named <= today else _date(named.year - 1, named.month, named.day)


def _date(year: int, month: int, day: int) -> dt.date | None:
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def verified_phone(uow: UnitOfWork, chat: Chat) -> str | None:
    """The phone Zalo verified for this user of this OA (E.164), as the channel stored it from the card."""
    return conversations.get_or_create(uow, chat.oa_id, chat.user_id).phone


def shared_now(tracker: Tracker) -> bool:
    """The latest message is the channel's hand-over of a phone shared through Zalo's card."""
    return (tracker.latest_message.get("metadata") or {}).get("event") == SHARE_EVENT


def typed_code(message: str) -> str | None:
    digits = "".join(ch for ch in message if ch.isdigit())
    return digits if len(digits) == CODE_DIGITS else None


# --- the routes of the buttons -------------------------------------------------------------------------------


def answer_route(uow: UnitOfWork, chat: Chat, route: str, dispatcher: CollectingDispatcher) -> bool:
    """Answer a button that ends the turn (the desk code, the result-notification consent); False for a route
    the form handles (a new code)."""
    account_id = chat.account_id(uow)
    if route == "desk":
        code, until = record_access.issue_desk_code(uow, account_id)
        dispatcher.utter_message(
            text=f"Dạ, mã liên kết tại quầy của anh/chị là: {code} (dùng được đến {to_local(until):%H:%M}). "
            "Anh/chị mang CCCD (với hồ sơ của con: thêm giấy khai sinh của bé) đến quầy tiếp đón của bệnh viện và "
            "đọc mã này cho nhân viên. Nhân viên kiểm tra giấy tờ rồi liên kết hồ sơ cho anh/chị ạ.",
            buttons=[STAFF_BUTTON],
        )
        return True
    if route in ("results_yes", "results_no"):
        granted = route == "results_yes"
        consent.decide(uow, account_id, consent.RESULTS, granted, channel=CHANNEL)
        dispatcher.utter_message(text=RESULTS_YES if granted else RESULTS_NO)
        return True
    return False


def send_code(uow: UnitOfWork, chat: Chat, dispatcher: CollectingDispatcher) -> dict[str, Any]:
    """A one-time code to the user's verified phone: the slots of a code sent, or of the form stopped with the
    reason (the phone is not on record, several adults share it, too many codes, locked out)."""
    phone = verified_phone(uow, chat)
    if not phone:
        dispatcher.utter_message(text=NO_SHARED_PHONE)
        return {}
    try:
        record_access.start_phone_check(uow, chat.account_id(uow), phone, code_sender())
    except DomainError as refusal:
        dispatcher.utter_message(text=refusal.message_vi, buttons=[DESK_BUTTON, STAFF_BUTTON])
        return {"record_ready": False}
    return {"record_phone": mask_phone(phone), "record_code": None}


def check_code(uow: UnitOfWork, chat: Chat, code: str, dispatcher: CollectingDispatcher) -> dict[str, Any]:
    """The code typed: linked (the slots of a code checked), or the refusal told (a wrong code with the tries
    left, an expired one with a new code offered; locked out: the form stops, with the desk route)."""
    try:
        linked = record_access.check_code(
            uow,
            chat.account_id(uow),
            code,
            hospital_id=oas.hospital_id_of(uow, chat.oa_id),
            lockout_minutes=settings().emr_otp_lockout_minutes,
        )
    except record_access.WrongCode as refusal:
        dispatcher.utter_message(text=refusal.message_vi)
        return {}
    except (record_access.CodeExpired, record_access.NoPendingCode) as refusal:
        dispatcher.utter_message(text=refusal.message_vi, buttons=[NEW_CODE_BUTTON, DESK_BUTTON])
        return {}
    except DomainError as refusal:  # locked out, the phone no longer on record...
        dispatcher.utter_message(text=refusal.message_vi, buttons=[DESK_BUTTON, STAFF_BUTTON])
        return {"record_ready": False}
    dispatcher.utter_message(text=record_text.linked_text(linked))
    return {"record_code": "ok"}


def wants_new_code(message: str) -> bool:
    """ "gửi lại mã", "gửi mã mới" (with or without diacritics)."""
    folded = strip_diacritics(message).lower()
    return "ma" in folded.split() and any(word in folded for word in ("gui lai", "ma moi", "lay lai", "gui ma"))


def ready_to_read(uow: UnitOfWork, account_id: int) -> list[Linked] | None:
    """The user's links when linked and consenting to summaries in chat (the read may go ahead), else None."""
    links = record_access.linked_persons(uow, account_id)
    return links if links and consent.has_consent(uow, account_id, consent.SUMMARY) else None


def attempt_read(uow: UnitOfWork, chat: Chat, tracker: Tracker) -> None:
    """Before the link or the consent step: the read asked for, which core refuses (not linked, no consent, a
    visit or person not the user's) and audits. Whatever it would show is not shown: the form asks first."""
    account_id = chat.account_id(uow)
    if ready_to_read(uow, account_id) is not None:
        return  # it would be read: the form's end reads it
    refuse_read(uow, chat, read_request(tracker), account_id)


def refuse_read(uow: UnitOfWork, chat: Chat, asked: dict[str, Any], account_id: int) -> None:
    """The read ``asked`` of a user core will refuse (not linked, no consent): the refusal audited, not shown."""
    with contextlib.suppress(DomainError):
        read(uow, chat, asked, account_id)


def read(uow: UnitOfWork, chat: Chat, asked: dict[str, Any], account_id: int | None = None) -> summaries.ChatRecord:
    """The summary ``asked`` (the request slots) through core: link, consent and exclusions checked, audited."""
    account_id = chat.account_id(uow) if account_id is None else account_id
    day = asked.get("record_day")
    return summaries.chat_record(
        uow,
        account_id,
        reader=record_access.chat_reader(account_id, chat.oa_id),
        exclusions=exclusions.exclusions_for(settings(), chat.oa_hospital(uow)),
        person_id=_int(asked.get("record_person")),
        section=asked.get("record_section"),
        visit_id=_int(asked.get("record_visit")),
        on_day=dt.date.fromisoformat(day) if day else None,
        hospital_slug=asked.get("record_hospital"),
    )


# --- the form ------------------------------------------------------------------------------------------------


class ValidateRecordForm(ChatForm):
    form_slots = RECORD_SLOTS
    stopped_text = "Dạ, em đã dừng lại, chưa hiển thị hồ sơ nào. Anh/chị cần gì thêm cứ nhắn em ạ."

    def name(self) -> str:
        return "validate_record_form"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        if intent(tracker) in RECORD_INTERRUPTIONS and (tracker.active_loop or {}).get("name"):
            # nothing filled: Rasa rejects the form for this turn and the rule of the intent answers it
            return [SlotSet(REQUESTED_SLOT, tracker.get_slot(REQUESTED_SLOT))]
        events = await super().run(dispatcher, tracker, domain)
        changed = {e["name"]: e["value"] for e in events if e.get("event") == "slot"}
        if REQUESTED_SLOT in changed and changed[REQUESTED_SLOT] is None and "record_ready" not in changed:
            events.append(SlotSet("record_ready", True))  # linked and consent decided: the summary may be read
        return events

    def stops(self, tracker: Tracker, values: dict[str, Any]) -> bool:
        """At the consent question "no" is an answer (a refusal, stored), not a stop."""
        if values.get("requested_slot") == "record_consent" and intent(tracker) == "deny":
            return False
        return super().stops(tracker, values)

    def required(self, uow: UnitOfWork, chat: Chat, values: dict[str, Any]) -> list[str]:
        account_id = chat.account_id(uow)
        needed = [] if record_access.linked_persons(uow, account_id) else ["record_phone", "record_code"]
        if not consent.has_consent(uow, account_id, consent.SUMMARY):
            needed.append("record_consent")
        return needed

    def next_slot(self, uow: UnitOfWork, chat: Chat, values: dict[str, Any]) -> str | None:
        if values.get("record_ready") is False:  # stopped with its reason told: nothing more to ask
            return None
        return super().next_slot(uow, chat, values)

    def understand(
        self, uow: UnitOfWork, chat: Chat, tracker: Tracker, values: dict[str, Any], dispatcher: CollectingDispatcher
    ) -> dict[str, Any]:
        route = entity(tracker, "record_route")
        if route and answer_route(uow, chat, str(route), dispatcher):
            return {"record_ready": False}
        asked = values.get("requested_slot")
        updates = read_request(tracker) if intent(tracker) == INTENT else {}
        if route == "new_code" or (asked == "record_phone" and shared_now(tracker)):
            return {**updates, **send_code(uow, chat, dispatcher)}
        if asked is None:  # the form starts (action_start_record kept the request): nothing is misunderstood
            return {**read_request(tracker), "form_notice": values.get("form_notice")}
        if intent(tracker) == INTENT:  # a new request while the form waits: refused and audited, then asked again
            attempt_read(uow, chat, tracker)
            return updates
        if asked == "record_phone":
            if any(ch.isdigit() for ch in text(tracker)):  # a typed number never counts
                dispatcher.utter_message(text=TYPED_PHONE)
            return updates
        if asked == "record_code" and wants_new_code(text(tracker)):
            return {**updates, **send_code(uow, chat, dispatcher)}
        if asked == "record_code":
            code = typed_code(text(tracker))
            if code is None:
                if not updates:
                    dispatcher.utter_message(text=NOT_A_CODE)
                return updates
            return {**updates, **check_code(uow, chat, code, dispatcher)}
        if asked == "record_consent" and intent(tracker) in ("affirm", "deny"):
            granted = intent(tracker) == "affirm"
            consent.decide(uow, chat.account_id(uow), consent.SUMMARY, granted, channel=CHANNEL)
            return {**updates, "record_consent": granted}
        return updates


class StartRecord(Action):
    """Clears what an earlier request left and keeps what this one asks; a button that ends the turn (the desk
    code, the result-notification consent) is answered here, and so is the request of a user already linked and
    consenting (the summary, without the form: one action a turn). Otherwise the form asks what is missing."""

    def name(self) -> str:
        return "action_start_record"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        cleared: list[EventType] = [SlotSet(slot, None) for slot in RECORD_SLOTS]
        asked = read_request(tracker)
        events = [*cleared, *(SlotSet(slot, value) for slot, value in asked.items())]
        route = entity(tracker, "record_route")
        chat = Chat.of(tracker)
        with database().uow() as uow:
            if route and answer_route(uow, chat, str(route), dispatcher):
                uow.commit()
                return [*events, FollowupAction("action_listen")]
            account_id = chat.account_id(uow)
            links = ready_to_read(uow, account_id)
            if links is not None:  # nothing to ask: the summary now (its read audited), the form not started
                answer_summary(uow, chat, asked, dispatcher, account_id=account_id, links=links)
                return [*cleared, FollowupAction("action_listen")]
            refuse_read(uow, chat, asked, account_id)
            uow.commit()
        return events


class AskRecordPhone(Action):
    def name(self) -> str:
        return "action_ask_record_phone"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        dispatcher.utter_message(
            json_message={
                "request_phone": True,
                "text": "Dạ, để bảo vệ hồ sơ của anh/chị, em cần xác minh người xem. Anh/chị bấm chia sẻ số điện "
                "thoại Zalo: nếu số này trùng số bệnh viện đã lưu, em gửi mã xác nhận tới số đó ạ.",
            }
        )
        dispatcher.utter_message(
            text="Nếu số điện thoại đã đổi hoặc dùng chung trong gia đình, anh/chị có thể xác nhận tại quầy tiếp đón "
            "(mang CCCD) ạ.",
            buttons=[DESK_BUTTON],
        )
        return []


class AskRecordCode(Action):
    def name(self) -> str:
        return "action_ask_record_code"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        if typed_code(text(tracker)):  # the code typed was refused: the refusal said why
            dispatcher.utter_message(text="Anh/chị nhắn lại mã giúp em ạ.", buttons=[NEW_CODE_BUTTON, DESK_BUTTON])
            return []
        phone = tracker.get_slot("record_phone") or "của anh/chị"
        dispatcher.utter_message(
            text=f"Dạ, em đã gửi mã xác nhận 6 số qua tin nhắn Zalo tới số {phone}. Anh/chị nhắn mã vào đây "
            "giúp em; mã dùng được trong 5 phút ạ.",
            buttons=[NEW_CODE_BUTTON, DESK_BUTTON],
        )
        return []


class AskRecordConsent(Action):
    def name(self) -> str:
        return "action_ask_record_consent"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        wording = consent.consent_text(consent.SUMMARY)
        dispatcher.utter_message(
            text=wording.text_vi, buttons=[button("Đồng ý", "affirm"), button("Không đồng ý", "deny")]
        )
        return []


# --- the summary ---------------------------------------------------------------------------------------------


def chosen_person(
    links: list[Linked], subject: dict[str, Any] | None, dispatcher: CollectingDispatcher, section: str | None
) -> tuple[bool, int | None]:
    """The linked person "của bé Na" / "con tôi" names: (go on, person id or None for core to choose)."""
    if not subject:
        return True, None
    name = strip_diacritics(subject.get("name") or "").lower()
    if name:
        found = [
            link
            for link in links
            if strip_diacritics(link.given_name).lower() == name
            or strip_diacritics(link.full_name).lower().endswith(" " + name)
        ]
    else:
        found = [link for link in links if link.is_child]
    if len(found) == 1:
        return True, found[0].person_id
    if found:
        dispatcher.utter_message(**record_text.choose_person(found, section))
        return False, None
    who = f"bé {subject['name']}" if subject.get("name") else "bé"
    dispatcher.utter_message(
        text=f"Dạ, em không thấy hồ sơ của {who} trong các hồ sơ đã liên kết với tài khoản này. Hồ sơ của trẻ dưới "
        "16 tuổi chỉ hiển thị cho cha mẹ hoặc người giám hộ đã liên kết: anh/chị mang giấy khai sinh của bé và "
        "CCCD đến quầy tiếp đón để liên kết ạ.",
        buttons=[DESK_BUTTON, STAFF_BUTTON],
    )
    return False, None


def _int(value: Any) -> int | None:
    return int(value) if value is not None and str(value).isdigit() else None


class SubmitRecord(Action):
    """The summary asked for, read through core (which checks link, consent and exclusions, and audits)."""

    def name(self) -> str:
        return "action_submit_record"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        done: list[EventType] = [SlotSet(slot, None) for slot in RECORD_SLOTS]
        if tracker.get_slot("record_ready") is not True:
            return done  # stopped, or a refusal already told
        chat = Chat.of(tracker)
        asked = {slot: tracker.get_slot(slot) for slot in REQUEST_SLOTS}
        with database().uow() as uow:
            answer_summary(uow, chat, asked, dispatcher, just_consented=tracker.get_slot("record_consent") is True)
        return done


def answer_summary(
    uow: UnitOfWork,
    chat: Chat,
    asked: dict[str, Any],
    dispatcher: CollectingDispatcher,
    *,
    account_id: int | None = None,
    links: list[Linked] | None = None,
    just_consented: bool = False,
) -> None:
    """The summary ``asked`` (the request slots), read once through core (which checks link, consent and
    exclusions, and audits the read or the refusal; committed here), or the refusal told. ``links``: the user's
    links when the turn already looked them up; ``just_consented``: the consent was given in this form, so the
    result-notification question comes with the summary (once)."""
    account_id = chat.account_id(uow) if account_id is None else account_id
    section = asked.get("record_section")
    person_id = _int(asked.get("record_person"))
    if person_id is None and asked.get("record_subject"):
        links = record_access.linked_persons(uow, account_id) if links is None else links
        go_on, person_id = chosen_person(links, asked.get("record_subject"), dispatcher, section)
        if not go_on:
            return
    try:
        found = read(uow, chat, {**asked, "record_person": person_id}, account_id)
    except summaries.ChoosePerson as choose:
        dispatcher.utter_message(**record_text.choose_person(choose.links, section))
        return
    except consent.NoConsent:
        uow.commit()  # the refusal's audit row
        dispatcher.utter_message(text=CONSENT_REFUSED)
        return
    except DomainError as refusal:
        uow.commit()
        dispatcher.utter_message(text=refusal.message_vi, buttons=[STAFF_BUTTON])
        return
    offer_results = just_consented and not consent.has_consent(uow, account_id, consent.RESULTS)
    uow.commit()
    for message in record_text.summary_messages(found, offer_results=offer_results):
        dispatcher.utter_message(**message)


# --- consent, links and the access log -----------------------------------------------------------------------


def own_links(uow: UnitOfWork, chat: Chat, dispatcher: CollectingDispatcher) -> tuple[int, list[Linked]]:
    """The user's account and current links; none: said so, with the button that starts linking."""
    account_id = chat.account_id(uow)
    links = record_access.linked_persons(uow, account_id)
    if not links:
        dispatcher.utter_message(text=NOT_LINKED, buttons=[button("Liên kết hồ sơ", INTENT)])
    return account_id, links


class WithdrawConsent(Action):
    def name(self) -> str:
        return "action_withdraw_consent"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        chat = Chat.of(tracker)
        with database().uow() as uow:
            consent.withdraw(uow, chat.account_id(uow), channel=CHANNEL)
            record_channel.drop_waiting_results(uow, chat.oa_id, chat.user_id)
            record_zalo_request(uow, chat.oa_id, chat.user_id, "consent_withdrawal")  # staff follow up in 2 days
            uow.commit()
        dispatcher.utter_message(text=WITHDRAWN, buttons=MAIN_MENU[:1])
        return [SlotSet(slot, None) for slot in RECORD_SLOTS]


class UnlinkRecord(Action):
    """ "hủy liên kết hồ sơ": asked to confirm first; the confirmation button carries ``record_route: unlink``
    (and ``record_person`` for one person only)."""

    def name(self) -> str:
        return "action_unlink_record"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        chat = Chat.of(tracker)
        person_id = _int(entity(tracker, "record_person"))
        with database().uow() as uow:
            account_id, links = own_links(uow, chat, dispatcher)
            if not links:
                return []
            if entity(tracker, "record_route") != "unlink":
                dispatcher.utter_message(text=UNLINK_QUESTION, buttons=unlink_buttons(links))
                return []
            removed = record_access.unlink(uow, account_id, person_id, by="zalo_user")
            uow.commit()
        if not removed:
            dispatcher.utter_message(text="Dạ, hồ sơ này không còn liên kết với tài khoản Zalo của anh/chị ạ.")
            return []
        dispatcher.utter_message(
            text='Dạ, em đã hủy liên kết hồ sơ. Khi cần xem lại, anh/chị nhắn "xem hồ sơ" để liên kết lại ạ.',
            buttons=MAIN_MENU[:1],
        )
        return [SlotSet(slot, None) for slot in RECORD_SLOTS]


def unlink_buttons(links: list[Linked]) -> list[dict[str, str]]:
    every = [button("Hủy tất cả liên kết", "unlink_record", record_route="unlink")]
    if len(links) > 1:
        every += [
            button(
                f"Chỉ hủy: {record_text.person_title(link)}",
                "unlink_record",
                record_route="unlink",
                record_person=str(link.person_id),
            )
            for link in links[: MAX_BUTTONS - 2]
        ]
    return [*every, button("Không hủy", "deny")]


class RecordAccess(Action):
    """ "ai đã xem hồ sơ của tôi": the reads of the last 90 days, from the audit."""

    def name(self) -> str:
        return "action_record_access"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        chat = Chat.of(tracker)
        person_id = _int(entity(tracker, "record_person"))
        with database().uow() as uow:
            account_id, links = own_links(uow, chat, dispatcher)
            if not links:
                return []
            if person_id is None and len(links) > 1:
                dispatcher.utter_message(
                    text="Dạ, anh/chị muốn xem ai đã xem hồ sơ của ai ạ?",
                    buttons=[
                        button(record_text.person_title(link), "ask_record_access", record_person=str(link.person_id))
                        for link in links[:MAX_BUTTONS]
                    ],
                )
                return []
            try:
                lines = access_log.access_history(
                    uow,
                    account_id,
                    reader=record_access.chat_reader(account_id, chat.oa_id),
                    person_id=person_id if person_id is not None else links[0].person_id,
                )
            except DomainError as refusal:
                uow.commit()
                dispatcher.utter_message(text=refusal.message_vi, buttons=[STAFF_BUTTON])
                return []
            uow.commit()
        dispatcher.utter_message(text=record_text.access_text(lines), buttons=[STAFF_BUTTON])
        return []
