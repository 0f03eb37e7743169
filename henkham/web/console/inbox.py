"""The hand-off inbox: the conversations waiting for staff, one conversation's transcript, take / reply / hand
back. Thin views over bot/zalo_webhook/staff_inbox.py, confined to the hospital in force.

Live refresh: the list and the open transcript are polled by htmx every few seconds with ``X-Henkham-Poll: 1``
(access.guard then does not count the request as activity, so an unattended inbox still logs out) and the
fingerprint the page last got; the answer is 204, nothing to swap, while it is unchanged.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from flask import current_app, redirect, render_template, request, url_for

from bot.zalo_webhook import staff_inbox
from bot.zalo_webhook.handoff import BotUnreachable
from core.errors import Conflict, InvalidInput
from core.timeutil import to_local, utcnow

from . import console
from .access import audit, current_staff, hospital_id, nav, requires, staff_reader, staff_uow

nav("inbox", "staff.inbox", "Hộp thư", order=20)
POLL_SECONDS = 3


def waited_vi(span: dt.timedelta) -> str:
    """How long a conversation has waited, for people: "vừa xong", "12 phút", "1 giờ 5 phút", "2 ngày"."""
    minutes = int(span.total_seconds() // 60)
    if minutes < 1:
        return "vừa xong"
    if minutes < 60:
        return f"{minutes} phút"
    if minutes < 24 * 60:
        return f"{minutes // 60} giờ {minutes % 60} phút"
    return f"{minutes // (24 * 60)} ngày"


def _local(moment: dt.datetime | None) -> str:
    return to_local(moment).strftime("%H:%M %d/%m") if moment else ""


def _list_context(selected: int | None) -> dict[str, Any]:
    in_force = hospital_id()  # before the reader: finding a province admin's default hospital reads too
    with staff_reader() as uow:
        items = staff_inbox.waiting(uow, in_force)
    return {
        "items": items,
        "fingerprint": staff_inbox.fingerprint(items),
        "emergencies": sum(1 for w in items if w.emergency),
        "selected_id": selected,
        "now": utcnow(),
        "waited_vi": waited_vi,
        "local": _local,
        "poll_seconds": POLL_SECONDS,
    }


def _transcript_context(conversation_id: int, shown: str = "") -> dict[str, Any]:
    in_force = hospital_id()
    with staff_reader() as uow:
        found = staff_inbox.transcript(uow, conversation_id, in_force, shown=shown)
    return {"transcript": found, "conversation": found.conversation, "local": _local, "poll_seconds": POLL_SECONDS}


def _notice(view: staff_inbox.Waiting) -> staff_inbox.WindowNotice:
    settings = current_app.extensions["henkham.settings"]
    oa = current_app.extensions["henkham.zalo_oas"].get(view.oa_id)
    return staff_inbox.window_notice(
        view.last_interaction_at,
        utcnow(),
        allow_billed=settings.zalo_allow_billed,
        phone_known=view.phone_known,
        zns_template=oa is not None and staff_inbox.PURPOSE in oa.zns_templates,
    )


def _page(conversation_id: int | None = None, *, error: str = "", text: str = "", status: int = 200):
    context = _list_context(conversation_id)
    if conversation_id is not None:
        context.update(_transcript_context(conversation_id))
        context["window"] = _notice(context["conversation"])
        context["mine"] = context["conversation"].taken_by_id == current_staff().id
    return (
        render_template(
            "console/inbox.html",
            error=error,
            draft=text,
            reply_key=secrets.token_urlsafe(18),
            **context,
        ),
        status,
    )


def _polled(fingerprint: str) -> bool:
    """The page already shows this (the fingerprint it sent is the current one): answer 204."""
    return request.args.get("fp", "") == fingerprint


@console.get("/inbox")
@requires("inbox")
def inbox():
    return _page()


@console.get("/inbox/<id:conversation_id>")
@requires("inbox")
def inbox_conversation(conversation_id: int):
    page = _page(conversation_id)
    with staff_uow() as uow:  # reading a patient's messages is an action of its own
        audit(uow, "inbox_read", "conversation", conversation_id)
        uow.commit()
    return page


@console.get("/inbox/list")
@requires("inbox")
def inbox_list():
    selected = request.args.get("selected", "")
    context = _list_context(int(selected) if selected.isdigit() and len(selected) < 12 else None)
    if _polled(context["fingerprint"]):
        return "", 204
    return render_template("console/inbox_list.html", **context)


@console.get("/inbox/<id:conversation_id>/transcript")
@requires("inbox")
def inbox_transcript(conversation_id: int):
    context = _transcript_context(conversation_id, shown=request.args.get("fp", ""))
    if _polled(context["transcript"].fingerprint):
        return "", 204
    return render_template("console/inbox_transcript.html", **context)


@console.post("/inbox/<id:conversation_id>/take")
@requires("inbox")
def inbox_take(conversation_id: int):
    take_over = request.form.get("take_over") == "1"
    staff, in_force = current_staff(), hospital_id()
    try:
        with staff_uow() as uow:
            audit(uow, "inbox_take_over" if take_over else "inbox_take", "conversation", conversation_id)
            staff_inbox.take(uow, conversation_id, staff.id, hospital_id=in_force, take_over=take_over)
    except Conflict as error:
        return _page(conversation_id, error=error.message_vi, status=409)
    return redirect(url_for("staff.inbox_conversation", conversation_id=conversation_id))


@console.post("/inbox/<id:conversation_id>/reply")
@requires("inbox")
def inbox_reply(conversation_id: int):
    text = (request.form.get("text") or "")[: staff_inbox.MAX_REPLY * 2]
    staff, in_force = current_staff(), hospital_id()
    try:
        with staff_uow() as uow:
            audit(uow, "inbox_reply", "conversation", conversation_id)
            staff_inbox.reply(
                uow,
                conversation_id,
                staff.id,
                text,
                hospital_id=in_force,
                key_token=(request.form.get("key") or "")[:80],
            )
    except InvalidInput as error:
        return _page(conversation_id, error=error.message_vi, text=text, status=422)
    except Conflict as error:
        return _page(conversation_id, error=error.message_vi, text=text, status=409)
    return redirect(url_for("staff.inbox_conversation", conversation_id=conversation_id, sent=1))


@console.post("/inbox/<id:conversation_id>/hand-back")
@requires("inbox")
def inbox_hand_back(conversation_id: int):
    staff = current_staff()
    db, rasa = current_app.extensions["henkham.db"], current_app.extensions["henkham.rasa"]
    try:
        staff_inbox.hand_back(
            db, rasa, conversation_id, f"staff {staff.username}", hospital_id=hospital_id(), staff_id=staff.id
        )
    except staff_inbox.TakenByOther as error:
        return _page(conversation_id, error=error.message_vi, status=409)
    except BotUnreachable:
        message = "Trợ lý tự động chưa sẵn sàng nên cuộc trò chuyện vẫn do nhân viên phụ trách. Vui lòng thử lại sau."
        return _page(conversation_id, error=message, status=409)  # the page again: it stays with staff
    with staff_uow() as uow:
        audit(uow, "inbox_hand_back", "conversation", conversation_id)
        uow.commit()
    return redirect(url_for("staff.inbox", handed_back=1))
