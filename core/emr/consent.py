"""Consent per purpose to clinical records in chat: reading summaries (:data:`SUMMARY`) and being told when new
results are ready (:data:`RESULTS`).

Decisions are append-only rows (granted yes or no, the version of the text the account was shown, the channel,
the time); the account's current decision on a purpose is its latest row. Only an explicit yes to the text now
in force counts: no row, a "no", or a yes to an older text version is no consent (a changed text asks again).
Withdrawal ("rút lại đồng ý") records a "no" for every purpose: nothing is shown or pushed after it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import ColumnElement, exists, func, literal, select
from sqlalchemy.orm import aliased

from core.errors import DomainError, InvalidInput
from core.timeutil import utcnow
from core.uow import UnitOfWork

from .models import ConsentDecision

SUMMARY = "record_summary_chat"
RESULTS = "result_notifications"


@dataclass(frozen=True)
class ConsentText:
    purpose: str
    version: str
    text_vi: str


# A new wording gets a new version: every account is asked again (their yes was to the old text).
TEXTS: dict[str, ConsentText] = {
    SUMMARY: ConsentText(
        SUMMARY,
        "summary-2026-12-v1",
        "Dạ, để xem tóm tắt hồ sơ bệnh án qua Zalo, em cần anh/chị đồng ý:\n"
        "• Em sẽ gửi trong khung chat này bản tóm tắt các lần khám tại các bệnh viện trong tỉnh: chẩn đoán, "
        "đơn thuốc, kết quả xét nghiệm, chẩn đoán hình ảnh, tiêm chủng và lịch tái khám.\n"
        "• Đây chỉ là bản tóm tắt, không phải hồ sơ bệnh án có chữ ký. Hồ sơ đầy đủ anh/chị xin tại bệnh viện "
        "hoặc xem trên Sổ sức khỏe điện tử của VNeID.\n"
        '• Mỗi lần xem hồ sơ đều được ghi lại; anh/chị hỏi "ai đã xem hồ sơ của tôi" để xem lại.\n'
        '• Anh/chị có thể rút lại đồng ý bất cứ lúc nào bằng cách nhắn "rút lại đồng ý".\n'
        "Anh/chị có đồng ý không ạ?",
    ),
    RESULTS: ConsentText(
        RESULTS,
        "results-2026-12-v1",
        "Dạ, anh/chị có muốn em nhắn báo khi có kết quả mới của lần khám không ạ? Tin nhắn chỉ báo là kết quả "
        "đã có, kèm nút để xem; không ghi thông tin sức khỏe nào trong tin nhắn. Anh/chị có thể rút lại đồng ý "
        'bất cứ lúc nào bằng cách nhắn "rút lại đồng ý".',
    ),
}
PURPOSES = tuple(TEXTS)


class NoConsent(DomainError):
    """The account has not said yes to the purpose's current text (or withdrew it)."""

    code = "no_consent"

    def __init__(self, purpose: str) -> None:
        super().__init__(
            f"no consent to {purpose}",
            "Dạ, anh/chị chưa đồng ý cho em gửi thông tin hồ sơ bệnh án qua Zalo nên em chưa gửi được ạ. "
            'Khi anh/chị muốn xem, anh/chị nhắn "xem hồ sơ" để em hỏi lại ạ.',
            purpose=purpose,
        )
        self.purpose = purpose


def consent_text(purpose: str) -> ConsentText:
    """The text in force for ``purpose`` (what the account is asked to agree to)."""
    try:
        return TEXTS[purpose]
    except KeyError:
        raise _unknown(purpose) from None


def consenting(account_id: ColumnElement[int], purpose: str) -> ColumnElement[bool]:
    """The rule as SQL, for one account or for every row of a query: true only when the latest decision of the
    account (``account_id``: a column or a literal) on ``purpose`` is a yes to the text now in force."""
    text = consent_text(purpose)
    earlier = aliased(ConsentDecision)
    latest = (
        select(func.max(earlier.id))
        .where(earlier.account_id == account_id, earlier.purpose == purpose)
        .correlate_except(earlier)
        .scalar_subquery()
    )
    return exists().where(
        ConsentDecision.id == latest,
        ConsentDecision.granted.is_(True),
        ConsentDecision.text_version == text.version,
    )


def has_consent(uow: UnitOfWork, account_id: int, purpose: str) -> bool:
    """True only when the account's latest decision on ``purpose`` is a yes to the text now in force."""
    return bool(uow.session.scalar(select(consenting(literal(account_id), purpose))))


def decide(
    uow: UnitOfWork, account_id: int, purpose: str, granted: bool, *, channel: str, now: dt.datetime | None = None
) -> None:
    """Record the account's answer to the current text of ``purpose`` (committed)."""
    text = consent_text(purpose)
    uow.session.add(_row(account_id, text, granted, channel, now or utcnow()))
    uow.commit()


def withdraw(uow: UnitOfWork, account_id: int, *, channel: str, now: dt.datetime | None = None) -> None:
    """A "no" for every purpose (committed): nothing is shown or pushed after it."""
    at = now or utcnow()
    uow.session.add_all([_row(account_id, TEXTS[purpose], False, channel, at) for purpose in PURPOSES])
    uow.commit()


def _row(account_id: int, text: ConsentText, granted: bool, channel: str, at: dt.datetime) -> ConsentDecision:
    return ConsentDecision(
        account_id=account_id,
        purpose=text.purpose,
        granted=bool(granted),
        text_version=text.version,
        channel=(channel or "")[:20],
        decided_at=at,
    )


def _unknown(purpose: str) -> InvalidInput:
    return InvalidInput(
        f"unknown consent purpose {purpose[:40]!r}; one of {', '.join(PURPOSES)}",
        "Dạ, mục đồng ý này không có ạ.",
        field="purpose",
    )
