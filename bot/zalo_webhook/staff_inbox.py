"""The staff console's hand-off inbox: the conversations waiting for a person, their transcripts, taking one,
answering it through the outbox and handing it back to the assistant.

A channel service (it knows conversations, the inbox and the outbox), called by henkham/web/console/inbox.py.
Everything is confined to one hospital: a conversation belongs to an OA and an OA to a hospital, and a
conversation of another hospital's OA (or of an OA serving no one hospital) is "not found", never shown.

- The waiting list is ordered by what the code recorded when it flagged the conversation
  (``Conversation.staff_reason``): emergencies first, then a request for a person, the assistant down, not
  understood twice, anything else; the oldest first within each. Its :func:`fingerprint` changes exactly when
  what the list shows changes, so the console's live polling answers "nothing new" cheaply.
- Taking a conversation records who answers it (others see the name); taking one somebody else has needs an
  explicit take-over. Taking silences the assistant (human mode) until it is handed back.
- A reply is an outbox row (purpose ``staff_reply``): the sender applies Zalo's window and ZNS rules to it as
  to any message, and :func:`window_notice` tells staff beforehand what those rules will do.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import json
import re
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core import audit
from core.errors import Conflict, InvalidInput, NotFound
from core.staff.models import StaffAccount
from core.timeutil import ensure_utc, to_local, utcnow
from core.uow import Database, UnitOfWork

from . import conversations, handoff, outbox
from .events import MalformedEvent, clean_text, parse
from .messages import OutgoingMessage
from .models import Conversation, ConversationMode, InboundEvent, OutboundMessage, WorkStatus, ZaloOA
from .rasa_bridge import RasaBot
from .window import BILLED_WINDOW, FREE_WINDOW

PURPOSE = "staff_reply"  # the outbox purpose of a reply from the console (selects a ZNS template, if any)
MAX_REPLY = 2000  # one Zalo chat message
TRANSCRIPT_LIMIT = 200  # the latest messages of each side shown
_KEY_TOKEN = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
_REPLY_KEY = re.compile(r"^staff:\d+:(\d+):")


class Reason(enum.IntEnum):
    """Why a conversation waits, in the order staff should take them."""

    EMERGENCY = 0
    ASKED_FOR_STAFF = 1
    ASSISTANT_DOWN = 2
    NOT_UNDERSTOOD = 3
    DATA_REQUEST = 4
    OTHER = 5


REASON_LABELS_VI = {
    Reason.EMERGENCY: "Cấp cứu",
    Reason.ASKED_FOR_STAFF: "Yêu cầu gặp nhân viên",
    Reason.ASSISTANT_DOWN: "Trợ lý tự động gặp sự cố",
    Reason.NOT_UNDERSTOOD: "Trợ lý không hiểu hai lần liên tiếp",
    Reason.DATA_REQUEST: "Yêu cầu về dữ liệu cá nhân",
    Reason.OTHER: "Cần nhân viên hỗ trợ",
}
# The reasons the channel and the actions record (bot/actions/support.py, processing.py), by their start.
_REASON_PREFIXES = (
    (conversations.EMERGENCY_PREFIX, Reason.EMERGENCY),
    ("the user asked for staff", Reason.ASKED_FOR_STAFF),
    ("the assistant did not answer", Reason.ASSISTANT_DOWN),
    ("the assistant gave no answer", Reason.ASSISTANT_DOWN),
    ("the assistant did not understand", Reason.NOT_UNDERSTOOD),
    ("the user asked to withdraw their data", Reason.DATA_REQUEST),
)
# What a patient sent that is not text, as the transcript names it.
_NON_TEXT_VI = {
    "user_send_image": "[Hình ảnh]",
    "user_send_gif": "[Ảnh động]",
    "user_send_sticker": "[Nhãn dán]",
    "user_send_audio": "[Tin nhắn thoại]",
    "user_send_video": "[Video]",
    "user_send_file": "[Tệp đính kèm]",
    "user_send_location": "[Vị trí]",
    "user_send_link": "[Liên kết]",
    "user_submit_info": "[Đã chia sẻ thông tin liên hệ]",
}
_STATUS_VI = {
    WorkStatus.PENDING.value: "Đang gửi",
    WorkStatus.PROCESSING.value: "Đang gửi",
    WorkStatus.DONE.value: "Đã gửi",
    WorkStatus.FAILED.value: "Gửi lỗi",
    WorkStatus.UNDELIVERABLE.value: "Không gửi được",
}


def reason_of(staff_reason: str) -> Reason:
    for prefix, reason in _REASON_PREFIXES:
        if staff_reason.startswith(prefix):
            return reason
    return Reason.OTHER


class TakenByOther(Conflict):
    """Somebody else of the staff is answering this conversation: taking it needs an explicit take-over."""

    def __init__(self, name: str) -> None:
        super().__init__(
            "another staff member has taken this conversation",
            f"Cuộc trò chuyện này đang do {name} xử lý. Chọn “Nhận thay” nếu bạn muốn nhận lại.",
        )


class NotWaiting(Conflict):
    def __init__(self) -> None:
        super().__init__(
            "this conversation is not waiting for staff",
            "Cuộc trò chuyện này không còn chờ nhân viên (đã trả lại cho trợ lý tự động).",
        )


@dataclass(frozen=True)
class Waiting:
    """One conversation of the waiting list, as the console shows it."""

    id: int
    oa_id: str
    user_id: str
    display_name: str
    reason: Reason
    waiting_since: dt.datetime
    mode: str
    taken_by_id: int | None
    taken_by_name: str
    taken_at: dt.datetime | None
    last_text: str  # the patient's latest message (text, never markup)
    last_event_id: int
    last_interaction_at: dt.datetime | None
    phone_known: bool
    needs_staff: bool = True

    @property
    def reason_vi(self) -> str:
        return REASON_LABELS_VI[self.reason]

    @property
    def emergency(self) -> bool:
        return self.reason is Reason.EMERGENCY

    @property
    def who(self) -> str:
        return self.display_name or f"Người dùng Zalo …{self.user_id[-4:]}"

    def waited(self, now: dt.datetime) -> dt.timedelta:
        return max(dt.timedelta(0), now - self.waiting_since)


@dataclass(frozen=True)
class Entry:
    """One message of a transcript."""

    at: dt.datetime
    side: str  # patient, assistant, staff (from the console), staff_zalo (from Zalo's OA inbox)
    text: str
    author: str = ""  # the staff member's name, for a reply from the console
    status_vi: str = ""  # an outgoing message: sent, waiting, not delivered (why)

    @property
    def side_vi(self) -> str:
        return {
            "patient": "Người dùng",
            "assistant": "Trợ lý tự động",
            "staff": f"Nhân viên {self.author}".strip(),
            "staff_zalo": "Nhân viên (hộp thư Zalo OA)",
        }[self.side]


@dataclass(frozen=True)
class WindowNotice:
    """When the user's chat window closes and what happens to a reply after."""

    open: bool
    closes_at: dt.datetime | None
    text_vi: str


@dataclass(frozen=True)
class Transcript:
    conversation: Waiting
    entries: list[Entry]
    fingerprint: str


# --- reading ------------------------------------------------------------------------------------------------
def waiting(uow: UnitOfWork, hospital_id: int) -> list[Waiting]:
    """The hospital's conversations waiting for staff, in the order to take them."""
    rows = _select_conversations(uow.session, hospital_id, only_waiting=True)
    items = _views(uow.session, rows)
    return sorted(items, key=lambda w: (w.reason, w.waiting_since, w.id))


def fingerprint(items: list[Waiting]) -> str:
    """A digest of everything the waiting list shows but the clock: equal digests, nothing to redraw."""
    basis = [(w.id, int(w.reason), w.waiting_since.isoformat(), w.taken_by_id, w.last_event_id, w.mode) for w in items]
    return hashlib.sha256(json.dumps(basis).encode()).hexdigest()[:20]


def conversation(uow: UnitOfWork, conversation_id: int, hospital_id: int) -> Waiting:
    """One conversation of the hospital (waiting or not); NotFound for another hospital's or none."""
    rows = _select_conversations(uow.session, hospital_id, conversation_id=conversation_id)
    if not rows:
        raise NotFound(f"no conversation {conversation_id} here", "Không tìm thấy cuộc trò chuyện này.")
    return _views(uow.session, rows)[0]


def transcript(uow: UnitOfWork, conversation_id: int, hospital_id: int, *, shown: str = "") -> Transcript:
    """The conversation's messages both ways, oldest first, as text: what the patient sent, what the
    assistant and staff answered (with whether it reached them), what staff wrote from Zalo's OA inbox.

    A chat is patient data: each transcript returned is an audited read (core.audit), except when the caller
    already shows this very transcript (``shown``: the fingerprint it has, for a poll answered "unchanged")."""
    view = conversation(uow, conversation_id, hospital_id)
    session = uow.session
    events = session.execute(
        select(InboundEvent.id, InboundEvent.event_name, InboundEvent.payload, InboundEvent.received_at)
        .where(InboundEvent.oa_id == view.oa_id, InboundEvent.user_id == view.user_id)
        .where(InboundEvent.event_name.startswith("user_") | (InboundEvent.outcome == "staff_replied"))
        .order_by(InboundEvent.id.desc())
        .limit(TRANSCRIPT_LIMIT)
    ).all()
    messages = session.execute(
        select(
            OutboundMessage.id,
            OutboundMessage.purpose,
            OutboundMessage.idempotency_key,
            OutboundMessage.body,
            OutboundMessage.status,
            OutboundMessage.channel,
            OutboundMessage.created_at,
        )
        .where(OutboundMessage.oa_id == view.oa_id, OutboundMessage.user_id == view.user_id)
        .order_by(OutboundMessage.id.desc())
        .limit(TRANSCRIPT_LIMIT)
    ).all()
    entries: list[tuple[dt.datetime, int, Entry]] = []
    for event in events:
        entry = _inbound_entry(view.oa_id, event.event_name, event.payload, ensure_utc(event.received_at))
        if entry is not None:
            entries.append((entry.at, 0, entry))
    authors = _staff_names(session, {_reply_author(m.idempotency_key) for m in messages} - {None})
    for message in messages:
        entries.append((ensure_utc(message.created_at), 1, _outbound_entry(message, authors)))
    entries.sort(key=lambda item: (item[0], item[1]))
    digest = hashlib.sha256(
        json.dumps(
            [
                fingerprint([view]),
                [e.id for e in events[:1]],
                [(m.id, m.status) for m in messages],
            ]
        ).encode()
    ).hexdigest()[:20]
    if digest != shown:
        audit.record_reads(uow, "zalo_conversation", [view.id])
    return Transcript(view, [entry for _, _, entry in entries], digest)


def window_notice(
    last_interaction_at: dt.datetime | None,
    now: dt.datetime,
    *,
    allow_billed: bool,
    phone_known: bool,
    zns_template: bool,
) -> WindowNotice:
    """In Vietnamese: until when a reply goes as a chat message (Zalo's 48-hour window after the user's last
    message, 7 days when billed messages are allowed) and what happens to a reply after that (a ZNS template to
    the user's phone, or nothing) — the same rules the sender applies (window.choose_route)."""
    if zns_template and phone_known:
        after = "tin trả lời sẽ được gửi qua ZNS (tin mẫu) tới số điện thoại người dùng đã chia sẻ."
    elif zns_template:
        after = "tin trả lời sẽ không gửi được vì người dùng chưa chia sẻ số điện thoại để nhận ZNS."
    else:
        after = "tin trả lời sẽ không gửi được (OA chưa có mẫu ZNS cho tin trả lời của nhân viên)."
    reopen = " Khi người dùng nhắn lại, cửa sổ mở lại thêm 48 giờ."
    if last_interaction_at is None:
        return WindowNotice(False, None, "Người dùng chưa nhắn tin cho OA: " + after + reopen)
    last = ensure_utc(last_interaction_at)
    free_until = last + FREE_WINDOW
    billed_until = last + BILLED_WINDOW
    if now < free_until:
        text = f"Cửa sổ trò chuyện miễn phí mở đến {_local(free_until)} (48 giờ sau tin nhắn gần nhất của người dùng)."
        if allow_billed:
            text += f" Từ đó đến {_local(billed_until)}, tin trả lời vẫn gửi được nhưng có tính phí; sau đó, " + after
        else:
            text += " Sau thời điểm đó, " + after
        return WindowNotice(True, free_until, text + reopen)
    if allow_billed and now < billed_until:
        text = (
            f"Đã quá 48 giờ từ tin nhắn gần nhất của người dùng: tin trả lời được gửi và tính phí đến "
            f"{_local(billed_until)}. Sau thời điểm đó, " + after
        )
        return WindowNotice(True, billed_until, text + reopen)
    text = f"Cửa sổ trò chuyện đã đóng (tin nhắn gần nhất của người dùng lúc {_local(last)}): " + after
    return WindowNotice(False, billed_until if allow_billed else free_until, text + reopen)


# --- acting -------------------------------------------------------------------------------------------------
def take(
    uow: UnitOfWork,
    conversation_id: int,
    staff_id: int,
    *,
    hospital_id: int,
    take_over: bool = False,
    now: dt.datetime | None = None,
) -> Waiting:
    """``staff_id`` answers this conversation from now on; the assistant stays silent until it is handed back.
    TakenByOther when another staff member has it and ``take_over`` is not asked for."""
    now = now or utcnow()
    row = _locked(uow, conversation_id, hospital_id)
    if not row.needs_staff:
        raise NotWaiting()
    if row.taken_by_staff_id not in (None, staff_id) and not take_over:
        raise TakenByOther(_staff_names(uow.session, {row.taken_by_staff_id}).get(row.taken_by_staff_id, "?"))
    if row.taken_by_staff_id != staff_id:
        row.taken_by_staff_id, row.taken_at = staff_id, now
    if row.mode != ConversationMode.HUMAN or row.human_until is not None:
        conversations.to_human(row, f"taken by staff {staff_id} in the console", now)
    uow.commit()
    return conversation(uow, conversation_id, hospital_id)


def reply(
    uow: UnitOfWork,
    conversation_id: int,
    staff_id: int,
    text: str,
    *,
    hospital_id: int,
    key_token: str,
    now: dt.datetime | None = None,
) -> int:
    """Queue ``text`` to the user through the outbox (the sender applies the window and ZNS rules). The reply
    is keyed by the form it came from (``key_token``): the same form sent twice queues it once. A conversation
    nobody has taken is taken by the one who answers; one somebody else has is refused (TakenByOther).
    Returns how many outbox rows were new."""
    now = now or utcnow()
    text = clean_text(text or "").strip()
    if not text:
        raise InvalidInput("empty reply", "Hãy nhập nội dung trả lời.")
    if len(text) > MAX_REPLY:
        raise InvalidInput("reply too long", f"Tin trả lời dài quá {MAX_REPLY} ký tự.")
    if not _KEY_TOKEN.match(key_token or ""):
        raise InvalidInput("bad form key", "Biểu mẫu không hợp lệ. Vui lòng tải lại trang rồi thử lại.")
    row = _locked(uow, conversation_id, hospital_id)
    if not row.needs_staff:
        raise NotWaiting()
    if row.taken_by_staff_id not in (None, staff_id):
        raise TakenByOther(_staff_names(uow.session, {row.taken_by_staff_id}).get(row.taken_by_staff_id, "?"))
    if row.taken_by_staff_id is None:
        row.taken_by_staff_id, row.taken_at = staff_id, now
    if row.mode != ConversationMode.HUMAN or row.human_until is not None:
        conversations.to_human(row, f"staff {staff_id} replied from the console", now)
    created = outbox.enqueue(
        uow,
        oa_id=row.oa_id,
        user_id=row.user_id,
        message=OutgoingMessage(text),
        key=f"staff:{row.id}:{staff_id}:{key_token}",
        purpose=PURPOSE,
        now=now,
    )
    uow.commit()
    return created


def hand_back(
    db: Database,
    rasa: RasaBot,
    conversation_id: int,
    staff_name: str,
    *,
    hospital_id: int,
    staff_id: int | None = None,
) -> handoff.ConversationView:
    """Back to the assistant (handoff.hand_back: Rasa resumed first, nothing changed if it cannot be reached);
    nobody has the conversation any more. A conversation another staff member has taken is theirs to hand
    back (TakenByOther): ``staff_id`` must take it over first."""
    with db.reader() as uow:
        view = conversation(uow, conversation_id, hospital_id)
    if staff_id is not None and view.taken_by_id not in (None, staff_id):
        raise TakenByOther(view.taken_by_name or "?")
    return handoff.hand_back(db, rasa, view.oa_id, view.user_id, staff_name, hospital_id=hospital_id)


# --- helpers ------------------------------------------------------------------------------------------------
def _select_conversations(
    session: Session, hospital_id: int, *, only_waiting: bool = False, conversation_id: int | None = None
) -> list:
    latest = (
        select(func.max(InboundEvent.id))
        .where(
            InboundEvent.oa_id == Conversation.oa_id,
            InboundEvent.user_id == Conversation.user_id,
            InboundEvent.event_name.startswith("user_send_"),
        )
        .correlate(Conversation)
        .scalar_subquery()
    )
    query = (
        select(Conversation, StaffAccount.full_name, latest.label("last_event_id"))
        .join(ZaloOA, ZaloOA.oa_id == Conversation.oa_id)
        .outerjoin(StaffAccount, StaffAccount.id == Conversation.taken_by_staff_id)
        .where(ZaloOA.hospital_id == hospital_id)
    )
    if only_waiting:
        query = query.where(Conversation.needs_staff.is_(True))
    if conversation_id is not None:
        query = query.where(Conversation.id == conversation_id)
    return list(session.execute(query).all())


def _views(session: Session, rows: list) -> list[Waiting]:
    ids = [row.last_event_id for row in rows if row.last_event_id is not None]
    texts: dict[int, str] = {}
    if ids:
        for event in session.execute(
            select(InboundEvent.id, InboundEvent.oa_id, InboundEvent.event_name, InboundEvent.payload).where(
                InboundEvent.id.in_(ids)
            )
        ):
            entry = _inbound_entry(event.oa_id, event.event_name, event.payload, utcnow())
            texts[event.id] = entry.text if entry else ""
    views = []
    for row in rows:
        c: Conversation = row.Conversation
        since = c.needs_staff_since or c.mode_changed_at or c.updated_at
        views.append(
            Waiting(
                id=c.id,
                oa_id=c.oa_id,
                user_id=c.user_id,
                display_name=c.display_name,
                reason=reason_of(c.staff_reason),
                waiting_since=ensure_utc(since),
                mode=c.mode,
                taken_by_id=c.taken_by_staff_id,
                taken_by_name=row.full_name or "",
                taken_at=ensure_utc(c.taken_at) if c.taken_at else None,
                last_text=texts.get(row.last_event_id or 0, ""),
                last_event_id=row.last_event_id or 0,
                last_interaction_at=ensure_utc(c.last_interaction_at) if c.last_interaction_at else None,
                phone_known=bool(c.phone),
                needs_staff=c.needs_staff,
            )
        )
    return views


def _locked(uow: UnitOfWork, conversation_id: int, hospital_id: int) -> Conversation:
    """The conversation row, locked for the change (FOR UPDATE on PostgreSQL), if it is the hospital's."""
    row = uow.session.scalar(
        select(Conversation)
        .join(ZaloOA, ZaloOA.oa_id == Conversation.oa_id)
        .where(Conversation.id == conversation_id, ZaloOA.hospital_id == hospital_id)
        .with_for_update(of=Conversation)
    )
    if row is None:
        raise NotFound(f"no conversation {conversation_id} here", "Không tìm thấy cuộc trò chuyện này.")
    return row


def _inbound_entry(oa_id: str, name: str, payload: str, at: dt.datetime) -> Entry | None:
    try:
        event, _ = parse(payload.encode("utf-8"), lambda _app, oa: oa == oa_id)
    except (MalformedEvent, UnicodeError):
        return None
    if name.startswith("oa_send_"):
        return Entry(at, "staff_zalo", clean_text(event.text or "[Tin nhắn không phải chữ]"))
    if name == "user_send_text":
        return Entry(at, "patient", clean_text(event.text or ""))
    if name in _NON_TEXT_VI:
        return Entry(at, "patient", _NON_TEXT_VI[name])
    return None


def _outbound_entry(message, authors: dict[int, str]) -> Entry:
    body = OutgoingMessage.from_json(message.body)
    text = body.text or ("[Yêu cầu chia sẻ số điện thoại]" if body.request_phone else "")
    if body.buttons:
        text += "\n" + " · ".join(f"[{b.title}]" for b in body.buttons)
    status = _STATUS_VI.get(message.status, message.status)
    if message.status == WorkStatus.DONE and message.channel == "zns":
        status = "Đã gửi qua ZNS"
    author_id = _reply_author(message.idempotency_key)
    if message.purpose == PURPOSE:
        return Entry(ensure_utc(message.created_at), "staff", text, authors.get(author_id or 0, ""), status)
    return Entry(ensure_utc(message.created_at), "assistant", text, "", status)


def _reply_author(key: str) -> int | None:
    found = _REPLY_KEY.match(key)
    return int(found.group(1)) if found else None


def _staff_names(session: Session, ids: set[int | None]) -> dict[int, str]:
    wanted = [i for i in ids if i is not None]
    if not wanted:
        return {}
    return dict(
        session.execute(select(StaffAccount.id, StaffAccount.full_name).where(StaffAccount.id.in_(wanted))).all()
    )


def _local(moment: dt.datetime) -> str:
    return to_local(moment).strftime("%H:%M ngày %d/%m/%Y")
