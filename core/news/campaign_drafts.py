"""A campaign as staff type it in the console: the form read into a ``NewCampaign``, the live preview, the words.

The console's create form sends plain strings (an audience choice such as ``topic:tieu_duong``, a Vietnamese
local date-time from a ``datetime-local`` input, or "now"); :func:`read_draft` checks every field at once and
names each problem in Vietnamese, so the page can show them all beside their fields. Image and link addresses
must be ``https://`` here (the API also accepts http; staff pages send what a patient's phone opens safely).
:func:`preview` is the message exactly as the sender composes it (``campaigns.compose``), whatever the state
of the form, with the problems found so far.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from core.errors import InvalidInput
from core.timeutil import LOCAL_TZ, to_local

from .campaigns import (
    MAX_AHEAD,
    MAX_MESSAGE,
    PAST_TOLERANCE,
    SKIP_CANCELLED,
    SKIP_NOT_FOLLOWER,
    SKIP_OPTED_OUT,
    SKIP_UNSUBSCRIBED,
    CampaignTarget,
    NewCampaign,
    compose,
)
from .delivery import SenderAccount
from .models import CampaignStatus
from .sending import sending_allowed
from .subscriptions import TOPICS

MAX_TITLE = 200
MAX_URL = 500
LOCAL_INPUT = "%Y-%m-%dT%H:%M"  # what <input type="datetime-local"> sends
FIELDS = ("title", "text", "image_url", "link_url", "audience", "when", "send_at")

STATUS_VI = {
    CampaignStatus.SCHEDULED.value: "Đã lên lịch",
    CampaignStatus.RUNNING.value: "Đang gửi",
    CampaignStatus.PAUSED.value: "Tạm dừng",
    CampaignStatus.COMPLETED.value: "Đã gửi xong",
    CampaignStatus.CANCELLED.value: "Đã hủy",
}
_REASONS_VI = {
    SKIP_UNSUBSCRIBED: "Đã hủy đăng ký chủ đề này",
    SKIP_OPTED_OUT: "Đã hủy nhận mọi tin của bệnh viện",
    SKIP_NOT_FOLLOWER: "Không còn quan tâm OA",
    SKIP_CANCELLED: "Chiến dịch đã bị hủy trước khi gửi",
    "campaign cancelled before sending": "Chiến dịch đã bị hủy trước khi gửi",
}
_CAP = re.compile(r"frequency cap: (\d+) broadcasts in (\d+) days")


class DraftInvalid(InvalidInput):
    """The form has problems: ``errors`` maps each field to what is wrong with it, in Vietnamese."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(
            f"invalid fields: {', '.join(sorted(errors))}", "Thông tin chưa hợp lệ: " + " ".join(errors.values())
        )
        self.errors = errors


@dataclass(frozen=True)
class Audience:
    value: str  # what the form sends
    label: str  # what staff read
    target: CampaignTarget


@dataclass(frozen=True)
class Preview:
    text: str  # the message as the patient will see it
    length: int
    limit: int = MAX_MESSAGE
    errors: dict[str, str] = field(default_factory=dict)
    note: str = ""  # e.g. the night ban delaying a scheduled send

    @property
    def too_long(self) -> bool:
        return self.length > self.limit


def audiences(senders: Iterable[SenderAccount]) -> list[Audience]:
    """The audiences a hospital may choose: each news topic's subscribers, its patients, each OA's followers."""
    targets = [CampaignTarget(kind="topic", topic=slug) for slug in TOPICS]
    targets.append(CampaignTarget(kind="patients"))
    targets += [CampaignTarget(kind="followers", oa_id=s.address) for s in senders]
    return [Audience(audience_value(t), audience_label(t), t) for t in targets]


def audience_value(target: CampaignTarget) -> str:
    if target.kind == "topic":
        return f"topic:{target.topic}"
    if target.kind == "followers":
        return f"followers:{target.oa_id}"
    return "patients"


def audience_label(target: CampaignTarget) -> str:
    """Who a campaign goes to, as staff read it."""
    if target.kind == "topic":
        return f"Người đăng ký chủ đề “{TOPICS.get(target.topic or '', target.topic)}”"
    if target.kind == "followers":
        return f"Mọi người quan tâm OA {target.oa_id}"
    return "Người bệnh từng đặt khám tại bệnh viện (qua Zalo)"


def read_draft(
    form: Mapping[str, str], hospital_slug: str, choices: Iterable[Audience], now: dt.datetime
) -> NewCampaign:
    """The campaign the form describes; :class:`DraftInvalid` naming every field that is wrong."""
    values = _values(form)
    errors = _text_errors(values)
    by_value = {a.value: a for a in choices}
    audience = by_value.get(values["audience"])
    if audience is None:
        errors["audience"] = "Chọn người nhận trong danh sách."
    send_at = _send_at(values, now, errors)
    if errors:
        raise DraftInvalid(errors)
    assert audience is not None
    return NewCampaign(
        hospital=hospital_slug,
        title=values["title"],
        text=values["text"],
        image_url=values["image_url"] or None,
        link_url=values["link_url"] or None,
        target=audience.target,
        send_at=send_at,
    )


def preview(form: Mapping[str, str], now: dt.datetime, margin_minutes: int = 0) -> Preview:
    """The message as it would go out now, and what is still wrong with the form (the audience aside);
    ``margin_minutes`` is the scheduler's ``news_night_margin_minutes`` (no new batch that close to 22:00)."""
    values = _values(form)
    errors = _text_errors(values)
    send_at = _send_at(values, now, errors)
    text = compose(values["title"], values["text"], values["image_url"] or None, values["link_url"] or None)
    note = ""
    if not sending_allowed(send_at or now, margin_minutes):
        note = "Không gửi tin từ 22:00 đến 06:00: tin sẽ chờ đến 06:00 sáng mới bắt đầu được gửi."
    return Preview(text=text, length=len(text), errors=errors, note=note)


def reason_vi(reason: str) -> str:
    """Our skip reasons in Vietnamese; the channel's failure reasons (Zalo's error texts) as they are."""
    if reason in _REASONS_VI:
        return _REASONS_VI[reason]
    cap = _CAP.fullmatch(reason)
    if cap:
        return f"Đã nhận đủ {cap.group(1)} tin trong {cap.group(2)} ngày (giới hạn tần suất)"
    return reason


def local_input_value(moment: dt.datetime) -> str:
    """A UTC moment as a ``datetime-local`` input shows it (Vietnamese local time)."""
    return to_local(moment).strftime(LOCAL_INPUT)


# --- helpers ----------------------------------------------------------------------------------------------------
def _values(form: Mapping[str, str]) -> dict[str, str]:
    values = {name: str(form.get(name) or "") for name in FIELDS}
    for name in ("title", "image_url", "link_url", "audience", "when", "send_at"):
        values[name] = values[name].strip()
    values["text"] = values["text"].replace("\r\n", "\n").strip()
    return values


def _text_errors(values: dict[str, str]) -> dict[str, str]:
    errors: dict[str, str] = {}
    for name, label, limit in (("title", "Tiêu đề", MAX_TITLE), ("text", "Nội dung", MAX_MESSAGE)):
        if not values[name]:
            errors[name] = f"{label} không được để trống."
        elif len(values[name]) > limit:
            errors[name] = f"{label} dài quá {limit} ký tự."
        elif "\x00" in values[name]:
            errors[name] = f"{label} có ký tự không hợp lệ."
    for name, label in (("image_url", "Địa chỉ hình ảnh"), ("link_url", "Địa chỉ liên kết")):
        problem = _https_problem(values[name])
        if problem:
            errors[name] = f"{label} {problem}."
    if not errors.get("title") and not errors.get("text"):
        length = len(compose(values["title"], values["text"], values["image_url"], values["link_url"]))
        if length > MAX_MESSAGE:
            errors["text"] = f"Tin dài {length} ký tự; một tin Zalo chứa tối đa {MAX_MESSAGE} ký tự."
    return errors


def _https_problem(value: str) -> str:
    if not value:
        return ""
    if len(value) > MAX_URL:
        return f"dài quá {MAX_URL} ký tự"
    if any(c.isspace() or ord(c) < 32 for c in value):
        return "không được chứa khoảng trắng"
    try:
        parts = urlsplit(value)
    except ValueError:
        return "không hợp lệ"
    if parts.scheme != "https" or not value.startswith("https://"):
        return "phải bắt đầu bằng https://"
    if not parts.hostname or "." not in parts.hostname or parts.username or parts.password:
        return "phải có tên miền hợp lệ (ví dụ https://benhvien.vn/bai-viet)"
    return ""


def _send_at(values: dict[str, str], now: dt.datetime, errors: dict[str, str]) -> dt.datetime | None:
    """None for "now"; else the typed local time in UTC (an error for a bad, past or too distant time)."""
    if values["when"] != "later":
        return None
    local = None
    for pattern in (LOCAL_INPUT, LOCAL_INPUT + ":%S"):
        try:
            local = dt.datetime.strptime(values["send_at"], pattern)
            break
        except ValueError:
            continue
    if local is None or not 2000 <= local.year <= 2999:
        errors["send_at"] = "Chọn ngày và giờ gửi (giờ Việt Nam)."
        return None
    moment = local.replace(tzinfo=LOCAL_TZ).astimezone(dt.UTC)
    if moment < now - PAST_TOLERANCE:
        errors["send_at"] = "Thời điểm gửi đã qua; chọn một thời điểm sắp tới."
    elif moment > now + MAX_AHEAD:
        errors["send_at"] = "Thời điểm gửi quá xa; chọn trong vòng một năm."
    return moment
