"""Health-education campaigns: staff define one (what, to whom, from when), follow it, pause, resume or cancel it.

The sending itself is the scheduler's job (``core.news.sending.run_step``, run by the channel's
``bot.zalo_webhook.broadcasts.run_campaigns``): at the send time the target is expanded into one row per
recipient, and recipients are handed to the channel in batches (skipped, with the reason, when they unsubscribed
or reached the frequency cap). The status view counts the
recipients by what became of them, asking the channel (its ``core.news.delivery.CampaignChannel`` port) about
those handed to it: sent, failed (with the channel's reason), still sending, waiting, skipped (with our reason).

Times are stored in UTC; a send time given without a zone is read as Vietnamese local time.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator
from sqlalchemy import func, select, update

from core import tenancy
from core.booking.catalogue import find_hospital
from core.booking.models import Hospital
from core.errors import Conflict, InvalidInput, NotFound
from core.inputs import IsoDateTime, Strict
from core.timeutil import LOCAL_TZ, ensure_utc, to_local, utcnow
from core.uow import UnitOfWork

from .delivery import CampaignChannel, Outcome
from .models import RECIPIENTS, Campaign, CampaignStatus, RecipientStatus, TargetKind
from .subscriptions import TOPICS

MAX_MESSAGE = 2000  # one Zalo chat message: a campaign is exactly one message per recipient
MAX_AHEAD = dt.timedelta(days=366)
PAST_TOLERANCE = dt.timedelta(minutes=5)  # "now" typed a moment ago is not an error
UNSUBSCRIBE_HINT = "Để ngừng nhận tin, anh/chị nhắn “hủy nhận tin” ạ."

# Why a recipient was skipped (stable strings: the status view groups by them).
SKIP_UNSUBSCRIBED = "unsubscribed"
SKIP_OPTED_OUT = "unsubscribed from the hospital's news"
SKIP_NOT_FOLLOWER = "no longer follows the OA"
SKIP_CANCELLED = "campaign cancelled"
CANCELLED_IN_OUTBOX = "campaign cancelled before sending"

FINAL = (CampaignStatus.COMPLETED.value, CampaignStatus.CANCELLED.value)


# --- input ------------------------------------------------------------------------------------------------------
class CampaignTarget(Strict):
    """Who receives it: ``followers`` of one OA (``oa_id``), the subscribers of one news ``topic`` (a slug of
    ``core.news.subscriptions.TOPICS``) of the hospital, or the ``patients`` of the hospital (Zalo accounts
    that have had an appointment there)."""

    kind: Literal["followers", "topic", "patients"]
    oa_id: str | None = Field(None, min_length=1, max_length=40)
    topic: str | None = Field(None, min_length=1, max_length=40)

    @model_validator(mode="after")
    def _fields_of_the_kind(self) -> CampaignTarget:
        if self.kind == TargetKind.FOLLOWERS and not self.oa_id:
            raise ValueError("a followers target needs oa_id")
        if self.kind == TargetKind.TOPIC:
            if not self.topic:
                raise ValueError("a topic target needs topic")
            if self.topic not in TOPICS:
                raise ValueError(f"unknown topic {self.topic!r}; topics: {', '.join(TOPICS)}")
        if self.kind != TargetKind.FOLLOWERS and self.oa_id:
            raise ValueError(f"oa_id is only for a followers target, not {self.kind}")
        if self.kind != TargetKind.TOPIC and self.topic:
            raise ValueError(f"topic is only for a topic target, not {self.kind}")
        return self


class NewCampaign(Strict):
    hospital: str = Field(min_length=1, max_length=40, description="Slug of the hospital that sends it")
    title: str = Field(min_length=1, max_length=200)
    text: str = Field(min_length=1, max_length=MAX_MESSAGE)
    image_url: str | None = Field(None, max_length=500, description="An http(s) address of an image")
    link_url: str | None = Field(None, max_length=500, description="An http(s) address to read more")
    target: CampaignTarget
    send_at: IsoDateTime | None = Field(
        None, description="When to start sending (ISO 8601; without a zone: Vietnamese local time). Default: now."
    )

    @field_validator("image_url", "link_url")
    @classmethod
    def _http_address(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not value.startswith(("http://", "https://")) or any(c.isspace() for c in value) or len(value) < 12:
            raise ValueError("must be an http:// or https:// address without spaces")
        return value


# --- output -----------------------------------------------------------------------------------------------------
class CampaignCounts(BaseModel):
    recipients: int = 0  # expanded from the target (0 until the send time)
    waiting: int = 0  # not decided yet (paused, night ban, next batches)
    sending: int = 0  # handed to the outbox, not delivered yet
    sent: int = 0
    failed: int = 0
    skipped: int = 0


class CampaignView(BaseModel):
    id: int
    hospital: str
    title: str
    text: str
    image_url: str | None
    link_url: str | None
    target: CampaignTarget
    send_at: dt.datetime
    send_at_local: str
    status: str
    created_by: str
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    paused_at: dt.datetime | None
    counts: CampaignCounts
    failed_reasons: dict[str, int]
    skipped_reasons: dict[str, int]


class RecipientProblem(BaseModel):
    """A recipient the campaign did not reach, for staff: the Zalo user id masked, never a name or a phone."""

    user: str  # masked: the last four characters only
    outcome: Literal["failed", "skipped"]
    reason: str  # ours (a SKIP_* string, the frequency cap) or the channel's
    decided_at: dt.datetime | None


# --- services ---------------------------------------------------------------------------------------------------
def compose(title: str, text: str, image_url: str | None, link_url: str | None) -> str:
    """The chat message of a campaign: title, text, the image and link addresses, how to unsubscribe."""
    parts = [title.strip(), text.strip()]
    if image_url:
        parts.append(f"Hình ảnh: {image_url}")
    if link_url:
        parts.append(f"Xem thêm: {link_url}")
    parts.append(UNSUBSCRIBE_HINT)
    return "\n\n".join(parts)


def create(
    uow: UnitOfWork,
    spec: NewCampaign,
    *,
    channel: CampaignChannel,
    created_by: str = "",
    now: dt.datetime | None = None,
    only_hospital_id: int | None = None,
) -> CampaignView:
    """Store a new campaign (status ``scheduled``). ``only_hospital_id`` restricts the caller to one hospital."""
    now = now or utcnow()
    hospital = find_hospital(uow, spec.hospital)
    tenancy.ensure_same_hospital(uow, hospital.id, "hospital", only_hospital_id)
    send_at = now if spec.send_at is None else _as_utc(spec.send_at)
    if send_at < now - PAST_TOLERANCE:
        raise InvalidInput(
            f"send_at {send_at.isoformat()} is in the past",
            "Dạ, thời điểm gửi đã qua. Anh/chị chọn thời điểm khác giúp em ạ.",
            send_at=send_at.isoformat(),
        )
    if send_at > now + MAX_AHEAD:
        raise InvalidInput(
            "send_at is more than a year ahead",
            "Dạ, thời điểm gửi quá xa. Anh/chị chọn trong vòng một năm giúp em ạ.",
            send_at=send_at.isoformat(),
        )
    message = compose(spec.title, spec.text, spec.image_url, spec.link_url)
    if len(message) > MAX_MESSAGE:
        raise InvalidInput(
            f"title, text and addresses make {len(message)} characters; one Zalo message holds {MAX_MESSAGE}",
            "Dạ, nội dung tin quá dài. Anh/chị rút gọn giúp em ạ.",
            length=len(message),
            limit=MAX_MESSAGE,
        )
    if spec.target.kind == TargetKind.FOLLOWERS:
        oa = channel.sender(uow, spec.target.oa_id or "")
        if oa is None:
            raise InvalidInput(
                f"no OA {spec.target.oa_id!r} is served here",
                "Dạ, em không tìm thấy Official Account này ạ.",
                oa_id=spec.target.oa_id,
            )
        if oa.hospital_id is not None and oa.hospital_id != hospital.id:
            raise InvalidInput(
                f"OA {spec.target.oa_id!r} speaks for another hospital",
                "Dạ, Official Account này thuộc bệnh viện khác ạ.",
                oa_id=spec.target.oa_id,
            )
    campaign = Campaign(
        hospital_id=hospital.id,
        title=spec.title,
        text=spec.text,
        image_url=spec.image_url,
        link_url=spec.link_url,
        target_kind=spec.target.kind,
        target_oa_id=spec.target.oa_id,
        target_topic=spec.target.topic,
        send_at=send_at,
        status=CampaignStatus.SCHEDULED.value,
        created_by=created_by[:120],
        created_at=now,
        recipients_total=0,
    )
    uow.session.add(campaign)
    uow.session.flush()
    view = _view(uow, channel, campaign, hospital.slug)
    uow.commit()
    return view


def status(
    uow: UnitOfWork, campaign_id: int, *, channel: CampaignChannel, only_hospital_id: int | None = None
) -> CampaignView:
    campaign = _find(uow, campaign_id, only_hospital_id, lock=False)
    return _view(uow, channel, campaign)


def list_campaigns(
    uow: UnitOfWork,
    hospital_id: int,
    *,
    channel: CampaignChannel,
    statuses: tuple[str, ...] = (),
    limit: int = 50,
) -> list[CampaignView]:
    """The campaigns of one hospital, newest first (by creation), each with its counts; ``statuses`` narrows
    them (empty: every status). One page of ``limit``: each view costs two grouped look-ups."""
    tenancy.ensure_same_hospital(uow, hospital_id, "hospital")
    statement = select(Campaign).where(Campaign.hospital_id == hospital_id)
    if statuses:
        statement = statement.where(Campaign.status.in_(statuses))
    found = uow.session.scalars(statement.order_by(Campaign.created_at.desc(), Campaign.id.desc()).limit(limit)).all()
    slug = uow.session.scalar(select(Hospital.slug).where(Hospital.id == hospital_id))
    return [_view(uow, channel, campaign, slug) for campaign in found]


def problem_recipients(
    uow: UnitOfWork,
    campaign_id: int,
    *,
    channel: CampaignChannel,
    only_hospital_id: int | None = None,
    limit: int = 200,
) -> list[RecipientProblem]:
    """Who was not reached and why: up to ``limit`` failed recipients (the channel's reason), then up to
    ``limit`` skipped ones (ours), each in the order they were decided. User ids are masked."""
    campaign = _find(uow, campaign_id, only_hospital_id, lock=False)
    session = uow.session
    queued_keys = select(RECIPIENTS.c.message_key).where(
        RECIPIENTS.c.campaign_id == campaign.id, RECIPIENTS.c.status == RecipientStatus.QUEUED.value
    )
    failed = dict(channel.failures(uow, queued_keys, limit))
    problems: list[RecipientProblem] = []
    if failed:
        rows = session.execute(
            select(RECIPIENTS.c.user_id, RECIPIENTS.c.message_key, RECIPIENTS.c.decided_at)
            .where(RECIPIENTS.c.campaign_id == campaign.id, RECIPIENTS.c.message_key.in_(list(failed)))
            .order_by(RECIPIENTS.c.id)
        ).all()
        problems += [
            RecipientProblem(user=mask_user(u), outcome="failed", reason=failed[k], decided_at=d) for u, k, d in rows
        ]
    skipped = session.execute(
        select(RECIPIENTS.c.user_id, RECIPIENTS.c.reason, RECIPIENTS.c.decided_at)
        .where(RECIPIENTS.c.campaign_id == campaign.id, RECIPIENTS.c.status == RecipientStatus.SKIPPED.value)
        .order_by(RECIPIENTS.c.decided_at, RECIPIENTS.c.id)
        .limit(limit)
    ).all()
    problems += [
        RecipientProblem(user=mask_user(u), outcome="skipped", reason=reason or "unknown", decided_at=d)
        for u, reason, d in skipped
    ]
    return problems


def mask_user(user_id: str) -> str:
    """A channel user id as staff may see it: the last four characters."""
    return "•••" + user_id[-4:] if len(user_id) > 4 else "•••"


def pause(
    uow: UnitOfWork,
    campaign_id: int,
    *,
    channel: CampaignChannel,
    now: dt.datetime | None = None,
    only_hospital_id: int | None = None,
) -> CampaignView:
    """Stop handing recipients to the outbox (what is already there goes out). Pausing again changes nothing."""
    campaign = _find(uow, campaign_id, only_hospital_id)
    if campaign.status in FINAL:
        raise _final(campaign, "paused")
    if campaign.status != CampaignStatus.PAUSED:
        campaign.status = CampaignStatus.PAUSED.value
        campaign.paused_at = now or utcnow()
    return _done(uow, channel, campaign)


def resume(
    uow: UnitOfWork,
    campaign_id: int,
    *,
    channel: CampaignChannel,
    now: dt.datetime | None = None,
    only_hospital_id: int | None = None,
) -> CampaignView:
    """Carry on from where it paused (or wait for its send time, if that has not come). Idempotent."""
    campaign = _find(uow, campaign_id, only_hospital_id)
    if campaign.status in FINAL:
        raise _final(campaign, "resumed")
    if campaign.status == CampaignStatus.PAUSED:
        campaign.status = (CampaignStatus.RUNNING if campaign.started_at else CampaignStatus.SCHEDULED).value
        campaign.paused_at = None
    return _done(uow, channel, campaign)


def cancel(
    uow: UnitOfWork,
    campaign_id: int,
    *,
    channel: CampaignChannel,
    now: dt.datetime | None = None,
    only_hospital_id: int | None = None,
) -> CampaignView:
    """Stop for good: recipients not yet handed over, and messages still unsent in the outbox (never attempted),
    are skipped as cancelled. Messages already sent or being sent stay as they are. Idempotent."""
    now = now or utcnow()
    campaign = _find(uow, campaign_id, only_hospital_id)
    if campaign.status == CampaignStatus.COMPLETED:
        raise _final(campaign, "cancelled")
    if campaign.status != CampaignStatus.CANCELLED:
        campaign.status = CampaignStatus.CANCELLED.value
        campaign.finished_at = now
        campaign.paused_at = None
        session = uow.session
        session.execute(
            update(RECIPIENTS)
            .where(RECIPIENTS.c.campaign_id == campaign.id, RECIPIENTS.c.status == RecipientStatus.PENDING.value)
            .values(status=RecipientStatus.SKIPPED.value, reason=SKIP_CANCELLED, decided_at=now)
        )
        queued_keys = select(RECIPIENTS.c.message_key).where(
            RECIPIENTS.c.campaign_id == campaign.id, RECIPIENTS.c.status == RecipientStatus.QUEUED.value
        )
        withdrawn = channel.withdraw(uow, queued_keys, CANCELLED_IN_OUTBOX)
        for chunk in chunks(withdrawn, 500):
            session.execute(
                update(RECIPIENTS)
                .where(RECIPIENTS.c.campaign_id == campaign.id, RECIPIENTS.c.message_key.in_(chunk))
                .values(status=RecipientStatus.SKIPPED.value, reason=SKIP_CANCELLED, decided_at=now)
            )
    return _done(uow, channel, campaign)


# --- helpers ----------------------------------------------------------------------------------------------------
def _as_utc(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=LOCAL_TZ).astimezone(dt.UTC)
    return ensure_utc(moment)


def _find(uow: UnitOfWork, campaign_id: int, only_hospital_id: int | None, *, lock: bool = True) -> Campaign:
    statement = select(Campaign).where(Campaign.id == campaign_id)
    if lock:  # waits for a scheduler step working on this campaign, so the change applies to its next batch
        statement = statement.with_for_update()
    campaign = uow.session.scalar(statement)
    if campaign is None:
        raise NotFound(f"no campaign {campaign_id}", "Dạ, em không tìm thấy chiến dịch này ạ.", campaign=campaign_id)
    tenancy.ensure_same_hospital(uow, campaign.hospital_id, "campaign", only_hospital_id)
    return campaign


def _final(campaign: Campaign, verb: str) -> Conflict:
    return Conflict(
        f"campaign {campaign.id} is {campaign.status} and cannot be {verb}",
        "Dạ, chiến dịch này đã kết thúc nên không thay đổi được nữa ạ.",
        campaign=campaign.id,
        status=campaign.status,
    )


def _done(uow: UnitOfWork, channel: CampaignChannel, campaign: Campaign) -> CampaignView:
    uow.session.flush()
    view = _view(uow, channel, campaign)
    uow.commit()
    return view


def _view(
    uow: UnitOfWork, channel: CampaignChannel, campaign: Campaign, hospital_slug: str | None = None
) -> CampaignView:
    session = uow.session
    hospital_slug = hospital_slug or session.scalar(select(Hospital.slug).where(Hospital.id == campaign.hospital_id))
    counts = CampaignCounts()
    skipped: dict[str, int] = {}
    failed: dict[str, int] = {}
    by_status = session.execute(
        select(RECIPIENTS.c.status, RECIPIENTS.c.reason, func.count())
        .where(RECIPIENTS.c.campaign_id == campaign.id)
        .group_by(RECIPIENTS.c.status, RECIPIENTS.c.reason)
    ).all()
    queued = 0
    for state, reason, n in by_status:
        counts.recipients += n
        if state == RecipientStatus.PENDING:
            counts.waiting += n
        elif state == RecipientStatus.SKIPPED:
            counts.skipped += n
            skipped[reason or "unknown"] = skipped.get(reason or "unknown", 0) + n
        else:
            queued += n
    if queued:
        queued_keys = select(RECIPIENTS.c.message_key).where(
            RECIPIENTS.c.campaign_id == campaign.id, RECIPIENTS.c.status == RecipientStatus.QUEUED.value
        )
        seen = 0
        for outcome in channel.outcomes(uow, queued_keys):
            seen += outcome.count
            if outcome.outcome == Outcome.SENT:
                counts.sent += outcome.count
            elif outcome.outcome == Outcome.SENDING:
                counts.sending += outcome.count
            else:
                counts.failed += outcome.count
                failed[outcome.reason] = failed.get(outcome.reason, 0) + outcome.count
        counts.sending += queued - seen  # (a queued row always has its outbox row; kept honest regardless)
    return CampaignView(
        id=campaign.id,
        hospital=hospital_slug or "",
        title=campaign.title,
        text=campaign.text,
        image_url=campaign.image_url,
        link_url=campaign.link_url,
        target=CampaignTarget.model_construct(
            kind=campaign.target_kind, oa_id=campaign.target_oa_id, topic=campaign.target_topic
        ),
        send_at=campaign.send_at,
        send_at_local=to_local(campaign.send_at).strftime("%Y-%m-%d %H:%M"),
        status=campaign.status,
        created_by=campaign.created_by,
        created_at=campaign.created_at,
        started_at=campaign.started_at,
        finished_at=campaign.finished_at,
        paused_at=campaign.paused_at,
        counts=counts,
        failed_reasons=dict(sorted(failed.items(), key=lambda item: (-item[1], item[0]))),
        skipped_reasons=dict(sorted(skipped.items(), key=lambda item: (-item[1], item[0]))),
    )


def chunks(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]
