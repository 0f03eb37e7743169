"""Broadcasts (communications staff): the hospital's campaigns with their counts, a create form with the live
preview of the message as the patient will see it, and each campaign's status page with who was not reached
and why, pause / resume / cancel, refreshed live while it sends.

Thin views over ``core.news.campaigns`` (the same services as /api/v1/campaigns) and
``core.news.campaign_drafts`` (the form and the preview); the channel is the app's campaign channel.
"""

from __future__ import annotations

import time
from typing import Any

from flask import abort, current_app, redirect, render_template, request, url_for

from core.booking.models import Hospital
from core.errors import Conflict, DomainError, NotFound
from core.news import campaign_drafts as drafts
from core.news import campaigns, sending
from core.news.campaigns import FINAL, CampaignView
from core.news.delivery import CampaignChannel
from core.news.models import CampaignStatus
from core.tenancy import OtherHospital
from core.timeutil import to_local, utcnow
from core.uow import UnitOfWork

from . import console
from .access import audit, current_staff, hospital_id, nav, requires, staff_reader, staff_uow

nav("broadcasts", "staff.broadcasts", "Truyền thông", order=40)
PROBLEMS_SHOWN = 200
REFRESH_SECONDS = 3  # while sending
REFRESH_SCHEDULED_SECONDS = 15  # while waiting for the send time (or paused with nothing in flight)
LIVE_FOR = 30 * 60  # seconds a status page refreshes itself after it was opened
# What staff may do in each state. The services also take a repeated pause or resume as a no-op; the console
# refuses it (409) so a stale page's button says what happened instead of silently doing nothing.
ACTIONS = {
    CampaignStatus.SCHEDULED.value: ("pause", "cancel"),
    CampaignStatus.RUNNING.value: ("pause", "cancel"),
    CampaignStatus.PAUSED.value: ("resume", "cancel"),
}
_SERVICES = {"pause": campaigns.pause, "resume": campaigns.resume, "cancel": campaigns.cancel}


def _channel() -> CampaignChannel:
    return current_app.extensions["henkham.campaign_channel"]


def _audiences(uow: UnitOfWork, hospital: int) -> list[drafts.Audience]:
    return drafts.audiences(_channel().senders(uow, hospital))


def _words() -> dict[str, Any]:
    """What every broadcasts template reads to name statuses, audiences, reasons and times."""
    return {
        "status_vi": drafts.STATUS_VI,
        "reason_vi": drafts.reason_vi,
        "audience_label": drafts.audience_label,
        "local": lambda moment: to_local(moment).strftime("%H:%M %d/%m/%Y") if moment else "",
    }


# --- list -------------------------------------------------------------------------------------------------------
@console.get("/broadcasts")
@requires("broadcasts")
def broadcasts():
    hospital = hospital_id()  # (read before the unit of work: SQLite takes one at a time)
    with staff_reader() as uow:
        found = campaigns.list_campaigns(uow, hospital, channel=_channel())
    return render_template("console/broadcasts.html", campaigns=found, **_words())


# --- create -----------------------------------------------------------------------------------------------------
def _new_page(form: dict[str, str], errors: dict[str, str] | None = None, status: int = 200, error: str = ""):
    hospital = hospital_id()
    with staff_reader() as uow:
        choices = _audiences(uow, hospital)
    shown = {"when": "now", "audience": choices[0].value, **form}
    return (
        render_template(
            "console/broadcast_new.html",
            form=shown,
            errors=errors or {},
            error=error,
            audiences=choices,
            preview=_preview(shown),
            earliest=drafts.local_input_value(utcnow()),
        ),
        status,
    )


def _form() -> dict[str, str]:
    return {name: (request.form.get(name) or "")[:4000] for name in drafts.FIELDS}


@console.get("/broadcasts/new")
@requires("broadcasts")
def new_broadcast():
    return _new_page({})


@console.post("/broadcasts/preview")
@requires("broadcasts")
def broadcast_preview():
    """The preview fragment, posted by htmx as staff type (debounced)."""
    return render_template("console/_broadcast_preview.html", preview=_preview(_form()))


def _preview(form: dict[str, str]) -> drafts.Preview:
    margin = current_app.extensions["henkham.settings"].news_night_margin_minutes
    return drafts.preview(form, utcnow(), margin)


@console.get("/broadcasts/audience")
@requires("broadcasts")
def broadcast_audience():
    """About how many people the chosen audience is (htmx, when the choice changes)."""
    hospital = hospital_id()
    with staff_reader() as uow:
        chosen = {a.value: a for a in _audiences(uow, hospital)}.get(request.args.get("audience", ""))
        if chosen is None:
            return ""
        target = chosen.target
        value = target.topic if target.kind == "topic" else target.oa_id
        size = sending.audience_size(uow, _channel(), hospital, target.kind, value)
    return render_template("console/_broadcast_audience.html", size=size)


@console.post("/broadcasts")
@requires("broadcasts")
def create_broadcast():
    form = _form()
    now = utcnow()
    hospital = hospital_id()
    with staff_uow() as uow:  # (the form is shown again only after this unit of work has ended)
        slug = uow.session.get(Hospital, hospital).slug
        try:
            spec = drafts.read_draft(form, slug, _audiences(uow, hospital), now)
            view = campaigns.create(
                uow,
                spec,
                channel=_channel(),
                created_by=current_staff().username,
                now=now,
                only_hospital_id=hospital,
            )
        except drafts.DraftInvalid as invalid:
            refused: tuple[dict[str, str], str] = (invalid.errors, "")
        except DomainError as error:
            refused = ({}, error.message_vi or "Thông tin chưa hợp lệ.")
        else:
            audit(uow, "broadcast_create", "campaign", view.id, drafts.audience_value(view.target))
            uow.commit()
            return redirect(url_for("staff.broadcast", campaign_id=view.id))
    return _new_page(form, refused[0], 422, refused[1])


# --- status -----------------------------------------------------------------------------------------------------
def _status(campaign_id: int) -> tuple[CampaignView, list[campaigns.RecipientProblem]]:
    hospital = hospital_id()
    with staff_reader() as uow:
        try:
            view = campaigns.status(uow, campaign_id, channel=_channel(), only_hospital_id=hospital)
            problems = campaigns.problem_recipients(
                uow, campaign_id, channel=_channel(), only_hospital_id=hospital, limit=PROBLEMS_SHOWN
            )
        except (NotFound, OtherHospital):
            abort(404)  # another hospital's campaign is not named, not even as forbidden
    return view, problems


def _panel_context(
    view: CampaignView, problems: list[campaigns.RecipientProblem], since: int | None = None
) -> dict[str, Any]:
    """``since``: when the page was opened (epoch seconds). Live refresh stops after ``LIVE_FOR``, so a page
    left open does not keep an idle session alive for ever (each poll is a request)."""
    now = int(time.time())
    since = since if since is not None and since <= now else now
    wanted = view.status not in FINAL or view.counts.sending > 0
    return {
        "c": view,
        "problems": problems,
        "actions": ACTIONS.get(view.status, ()),
        "live": wanted and now - since < LIVE_FOR,
        "live_stopped": wanted and now - since >= LIVE_FOR,
        "since": since,
        "refresh_seconds": REFRESH_SECONDS
        if view.status == CampaignStatus.RUNNING or view.counts.sending
        else REFRESH_SCHEDULED_SECONDS,
        "problems_shown": PROBLEMS_SHOWN,
        **_words(),
    }


def _detail_context(view: CampaignView, problems: list[campaigns.RecipientProblem]) -> dict[str, Any]:
    message = campaigns.compose(view.title, view.text, view.image_url, view.link_url)
    return {"message": message, **_panel_context(view, problems)}


@console.get("/broadcasts/<id:campaign_id>")
@requires("broadcasts")
def broadcast(campaign_id: int):
    view, problems = _status(campaign_id)
    return render_template("console/broadcast.html", **_detail_context(view, problems))


@console.get("/broadcasts/<id:campaign_id>/panel")
@requires("broadcasts")
def broadcast_panel(campaign_id: int):
    """The status panel alone, polled by htmx while the campaign sends."""
    view, problems = _status(campaign_id)
    since = request.args.get("since", "")
    context = _panel_context(view, problems, int(since) if since.isdigit() and len(since) < 12 else None)
    return render_template("console/_broadcast_panel.html", **context)


_REFUSED = {
    "pause": "Chỉ tạm dừng được chiến dịch đang chờ hoặc đang gửi.",
    "resume": "Chỉ tiếp tục được chiến dịch đang tạm dừng.",
    "cancel": "Chiến dịch đã kết thúc nên không hủy được nữa.",
}


@console.post("/broadcasts/<id:campaign_id>/pause")
@requires("broadcasts")
def pause_broadcast(campaign_id: int):
    return _act(campaign_id, "pause")


@console.post("/broadcasts/<id:campaign_id>/resume")
@requires("broadcasts")
def resume_broadcast(campaign_id: int):
    return _act(campaign_id, "resume")


@console.post("/broadcasts/<id:campaign_id>/cancel")
@requires("broadcasts")
def cancel_broadcast(campaign_id: int):
    return _act(campaign_id, "cancel")


def _act(campaign_id: int, action: str):
    """Pause, resume or cancel: only what the campaign's state allows (409 with the reason otherwise)."""
    hospital = hospital_id()
    with staff_uow() as uow:
        try:
            current = campaigns.status(uow, campaign_id, channel=_channel(), only_hospital_id=hospital)
            if action in ACTIONS.get(current.status, ()):
                audit(uow, f"broadcast_{action}", "campaign", campaign_id, current.status)
                _SERVICES[action](uow, campaign_id, channel=_channel(), only_hospital_id=hospital)
                return redirect(url_for("staff.broadcast", campaign_id=campaign_id))
        except (NotFound, OtherHospital):
            abort(404)
        except Conflict:
            uow.rollback()
    view, problems = _status(campaign_id)
    return render_template("console/broadcast.html", error=_REFUSED[action], **_detail_context(view, problems)), 409
