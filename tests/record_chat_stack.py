"""The whole assistant for the record-summary tests (tests/dialogue_stack.py): two hospitals, each with its OA
(hospital "test", facility 99999, the test OA; hospital "other", facility 88888, a second OA), ZNS templates
for the one-time codes, and helpers to import HIS files, link a Zalo user by phone and code, read the audit.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import select

from bot.zalo_webhook.accounts import PROVIDER
from bot.zalo_webhook.simulator import SimulatedOA
from core.audit import AccessAudit
from core.booking import patients
from core.config import ZaloOASettings
from core.emr.importing import import_bytes
from core.emr.models import Visit
from core.timeutil import local_today
from core.uow import Database
from tests import emr_his_files as his
from tests.dialogue_stack import DialogueStack, buttons_of, running_dialogue, scratch_database, text_of
from tests.factories import add_hospital, build_world
from tests.zalo_helpers import OA_ID

TEMPLATES = {"reminder": "tpl-reminder", "otp": "tpl-otp", "results": "tpl-results"}
SIM_TEMPLATES = {"tpl-reminder": ["noi_dung"], "tpl-otp": ["otp"], "tpl-results": ["facility", "date"]}
SECOND = SimulatedOA(
    "1000000000000000007",
    "2000000000000000008",
    "second-oa-secret",
    "second-app-secret",
    refresh_token="second-first-refresh-token",
    name="BV Khác",
)
SECOND_OA = SECOND.oa_id
SECOND_SETTINGS = ZaloOASettings(
    oa_id=SECOND.oa_id,
    app_id=SECOND.app_id,
    hospital="other",
    oa_secret_key=SECOND.oa_secret_key,
    app_secret=SECOND.app_secret,
    refresh_token=SECOND.refresh_token,
    zns_templates=TEMPLATES,
)
# What a summary of these files may contain: none of it may reach a user who is refused.
CLINICAL = ("J06.9", "Viêm họng", "Paracetamol", "Amoxicilin", "Glucose", "bạch cầu", "K35.8", "Ceftriaxone", "R56.0")


@contextmanager
def record_stack(folder: Path) -> Iterator[DialogueStack]:
    with ExitStack() as cleanup:
        url, db = scratch_database(cleanup, folder)
        build_world(db, start=local_today(), days=3)
        add_hospital(db, "other")  # "Bệnh viện Khác", facility 88888
        yield cleanup.enter_context(
            running_dialogue(
                url,
                folder,
                zns_templates=TEMPLATES,
                templates=SIM_TEMPLATES,
                more_oas=[(SECOND, SECOND_SETTINGS)],
            )
        )


def imported(db: Database, facility: str, *visits: his.Visit) -> None:
    """A realistic HIS submission file (tests/emr_his_files.py) of ``facility`` through the importer."""
    data = his.submission_bytes([v.with_(facility_code=facility) for v in visits], facility_code=facility)
    report = import_bytes(db, data, channel="cli", filename="kcb.xml")
    assert report.ok, report.as_dict()


def visit_id(db: Database, facility: str, ma_lk: str) -> int:
    with db.reader() as uow:
        found = uow.session.scalar(
            select(Visit.id).where(
                Visit.facility_code == facility, Visit.visit_key == ma_lk, Visit.superseded_at.is_(None)
            )
        )
    assert found is not None
    return int(found)


def person_of(db: Database, facility: str, ma_lk: str) -> int:
    with db.reader() as uow:
        return int(uow.session.get(Visit, visit_id(db, facility, ma_lk)).person_id)


def account_of(db: Database, user: str, oa_id: str = OA_ID) -> int:
    with db.uow() as uow:
        return patients.get_or_create_account(uow, PROVIDER, f"{oa_id}:{user}")


def audit_of(db: Database, account_id: int) -> list[tuple[str, str, str]]:
    """The account's audit rows: (outcome, record kind, detail), oldest first."""
    with db.reader() as uow:
        rows = uow.session.execute(
            select(AccessAudit.outcome, AccessAudit.record_kind, AccessAudit.detail)
            .where(AccessAudit.account_id == account_id)
            .order_by(AccessAudit.id)
        ).all()
    return [(outcome, kind, detail or "") for outcome, kind, detail in rows]


def refusals(db: Database, account_id: int) -> list[str]:
    return [detail for outcome, _, detail in audit_of(db, account_id) if outcome == "refused"]


def reads(db: Database, account_id: int) -> int:
    return sum(1 for outcome, _, _ in audit_of(db, account_id) if outcome == "read")


def zns_seq(stack: DialogueStack) -> int:
    return max((m["seq"] for m in stack.simulator.messages(kind="zns")), default=0)


def new_otp(stack: DialogueStack, phone: str, after: int) -> str:
    """The one-time code sent by ZNS to ``phone`` (E.164) after the ZNS message ``after``."""
    found = stack.simulator.messages(kind="zns", phone=phone.removeprefix("+"), after=str(after), wait="20")
    codes = [m["template_data"]["otp"] for m in found if "otp" in m.get("template_data", {})]
    assert codes, f"no one-time code reached {phone}"
    return str(codes[-1])


def clean(replies: list[dict[str, Any]]) -> str:
    """The replies' text, checked to hold nothing clinical (for a user who must be refused)."""
    said = text_of(replies)
    leaked = [word for word in CLINICAL if word in said]
    assert not leaked, f"a refused user read {leaked}: {said}"
    return said


def share_and_code(stack: DialogueStack, user: str, phone: str, *, oa_id: str = OA_ID) -> str:
    """The user shares ``phone`` through Zalo's card; returns the code the ZNS brought to that phone."""
    before = zns_seq(stack)
    sent = text_of(stack.share_phone(user, phone, oa_id=oa_id))
    assert "đã gửi mã xác nhận" in sent, sent
    return new_otp(stack, "+84" + phone[1:], before)


def link(
    stack: DialogueStack, user: str, phone: str, *, oa_id: str = OA_ID, first: str = "xem tóm tắt hồ sơ bệnh án"
) -> list[dict[str, Any]]:
    """The whole link: ask, share the phone, type the code; returns what the bot answered the code (the link
    made, then the consent question when there is no consent yet)."""
    asked = clean(stack.say(user, first, oa_id=oa_id))
    assert "chia sẻ số điện thoại" in asked, asked
    code = share_and_code(stack, user, phone, oa_id=oa_id)
    return stack.say(user, code, oa_id=oa_id)


def link_and_consent(
    stack: DialogueStack, user: str, phone: str, *, oa_id: str = OA_ID, first: str = "xem tóm tắt hồ sơ bệnh án"
) -> list[dict[str, Any]]:
    """Linked and consenting; returns the replies to "Đồng ý" (the first summary)."""
    answered = link(stack, user, phone, oa_id=oa_id, first=first)
    assert "đã liên kết hồ sơ" in text_of(answered) and "Đồng ý" in str(buttons_of(answered[-1])), text_of(answered)
    return stack.tap(user, answered[-1], "Đồng ý", oa_id=oa_id)


def rasa_direct(stack: DialogueStack, user: str, message: str, *, oa_id: str = OA_ID) -> str:
    """``message`` straight to Rasa's REST channel as the user (what a forged button would send if the channel
    let it through); returns the text answered."""
    response = requests.post(
        f"{stack.rasa_url}/webhooks/rest/webhook",
        params={"token": stack.rasa_token},
        json={"sender": f"{oa_id}:{user}", "message": message, "metadata": {"oa_id": oa_id, "event": "user_send_text"}},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    answers = response.json()
    return "\n".join(str(a.get("text") or (a.get("custom") or {}).get("text") or "") for a in answers)
