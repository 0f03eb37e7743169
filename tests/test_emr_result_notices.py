""" "Your results are ready" in chat (core/emr/result_notices.py through the Zalo outbox; issue 14, acceptance 4):
exactly once per imported visit version and reader (the same file twice: nothing more; a correction: one more),
only to readers linked to the person with consent to result notices, not at night, not for old visits, each
linked account its own, and two planners at once still once. The message carries no health data."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import time_machine
from sqlalchemy import select, update

from bot.zalo_webhook.messages import OutgoingMessage
from bot.zalo_webhook.models import OutboundMessage
from bot.zalo_webhook.record_channel import ZaloResultNotifier
from core.booking import patients
from core.config import Settings
from core.emr import consent
from core.emr import record_access as ra
from core.emr.importing import import_bytes
from core.emr.models import ConsentDecision, Person, ResultNoticeRow, Visit
from core.emr.result_notices import plan_result_notices
from core.timeutil import local_to_utc
from henkham import bootstrap
from tests import emr_his_files as his
from tests.emr_people import TEST
from tests.harness import run_together

pytestmark = pytest.mark.world(days=1)

# 09:00 in Vietnam on 03/11/2026, the morning after the outpatient visit of tests/emr_his_files (02/11/2026).
NOW = dt.datetime(2026, 11, 3, 2, 0, tzinfo=dt.UTC)
LATER = NOW + dt.timedelta(minutes=1)
PHONE = "+84912345678"  # the DIEN_THOAI of Nguyễn Văn An's record (0912345678)
OA = "388613280878808645"


class Codes:
    """The ZNS side of the phone check: keeps the code the user would read on the phone."""

    code = ""

    def send_code(self, uow, *, account_id, phone, code, expires_at, now) -> None:
        self.code = code


def import_visits(db, *visits: his.Visit, now: dt.datetime = NOW) -> None:
    data = his.submission_bytes([v.with_(facility_code=TEST) for v in visits], facility_code=TEST)
    report = import_bytes(db, data, channel="cli", filename="kcb.xml", now=now)
    assert report.ok, report.as_dict()


def reader(db, user: str = "u1", *, oa: str = OA, results: bool | None = True, now: dt.datetime = NOW) -> int:
    """A Zalo account linked to An's record by the code sent to his phone, with its answer on result notices."""
    codes = Codes()
    with db.uow() as uow:
        account_id = patients.get_or_create_account(uow, "zalo", f"{oa}:{user}")
        ra.start_phone_check(uow, account_id, PHONE, codes, now=now)
        assert ra.check_code(uow, account_id, codes.code, now=now)
        consent.decide(uow, account_id, consent.SUMMARY, True, channel="zalo", now=now)
        if results is not None:
            consent.decide(uow, account_id, consent.RESULTS, results, channel="zalo", now=now)
    return account_id


def plan(db, now: dt.datetime = LATER, **kw) -> int:
    return plan_result_notices(db, ZaloResultNotifier(), now=now, **kw)


def sent(db) -> list[tuple[str | None, OutgoingMessage]]:
    """(Zalo user, message) of every results message queued, in order."""
    with db.reader() as uow:
        rows = uow.session.execute(
            select(OutboundMessage.user_id, OutboundMessage.body)
            .where(OutboundMessage.purpose == "results")
            .order_by(OutboundMessage.id)
        ).all()
    return [(user, OutgoingMessage.from_json(body)) for user, body in rows]


def current_visit(db, key: str = "LK0001") -> int:
    with db.reader() as uow:
        return uow.session.scalar(select(Visit.id).where(Visit.visit_key == key, Visit.superseded_at.is_(None)))


def notice_rows(db) -> list[tuple[int, int, str]]:
    with db.reader() as uow:
        rows = uow.session.execute(
            select(ResultNoticeRow.visit_id, ResultNoticeRow.account_id, ResultNoticeRow.outcome).order_by(
                ResultNoticeRow.id
            )
        ).all()
    return [tuple(row) for row in rows]


def test_an_imported_visit_is_announced_once_without_health_data(db, world):
    import_visits(db, his.outpatient())
    account_id = reader(db)
    assert plan(db) == 1
    [(user, message)] = sent(db)
    visit_id = current_visit(db)
    assert user == "u1"
    assert message.text == (
        'Dạ, kết quả lần khám ngày 02/11/2026 tại Bệnh viện Thử nghiệm đã có. Anh/chị bấm "Xem kết quả" để xem ạ.'
    )
    [button] = message.buttons
    assert (button.title, button.payload) == ("Xem kết quả", f'/ask_record_summary{{"record_visit": "{visit_id}"}}')
    assert message.zns_data == {"facility": "Bệnh viện Thử nghiệm", "date": "02/11/2026"}
    everything = message.to_json()
    for health_data in ("J06.9", "Viêm họng", "Đái tháo đường", "Amoxicilin", "12.5", "Glucose", "X-quang", "phổi"):
        assert health_data not in everything
    assert notice_rows(db) == [(visit_id, account_id, "queued")]

    assert plan(db, LATER + dt.timedelta(minutes=1)) == 0, "the next run sends nothing more"
    import_visits(db, his.outpatient(), now=NOW + dt.timedelta(minutes=5))  # the same file again: no new version
    assert plan(db, LATER + dt.timedelta(minutes=6)) == 0
    assert len(sent(db)) == 1


def test_a_corrected_visit_is_announced_once_more(db, world):
    import_visits(db, his.outpatient())
    reader(db)
    assert plan(db) == 1
    first = current_visit(db)
    import_visits(db, his.outpatient(advice="Tái khám sau 2 tuần"), now=NOW + dt.timedelta(hours=1))
    corrected = current_visit(db)
    assert corrected != first, "the correction is a new version of the visit"
    assert plan(db, NOW + dt.timedelta(hours=1, minutes=1)) == 1
    assert plan(db, NOW + dt.timedelta(hours=1, minutes=2)) == 0
    messages = sent(db)
    assert len(messages) == 2
    assert json.loads(messages[1][1].buttons[0].payload.removeprefix("/ask_record_summary")) == {
        "record_visit": str(corrected)
    }


@pytest.mark.parametrize("answer", ["withdrawn", "refused", "never asked", "older text"])
def test_no_notice_without_a_current_yes_to_result_notices(db, world, answer):
    import_visits(db, his.outpatient())
    if answer == "withdrawn":
        account_id = reader(db)
        with db.uow() as uow:
            consent.withdraw(uow, account_id, channel="zalo", now=NOW)
    elif answer == "refused":
        reader(db, results=False)
    elif answer == "never asked":
        reader(db, results=None)
    else:  # a yes to a wording no longer in force: asked again, not told meanwhile
        account_id = reader(db)
        with db.uow() as uow:
            uow.session.execute(update(ConsentDecision).values(text_version="results-2025-v0"))
            uow.commit()
    assert plan(db) == 0
    assert sent(db) == [] and notice_rows(db) == []


def test_a_removed_link_gets_no_notice(db, world):
    import_visits(db, his.outpatient())
    account_id = reader(db)
    with db.uow() as uow:
        assert ra.unlink(uow, account_id, None, by="patient", now=NOW) == 1
    assert plan(db) == 0 and sent(db) == []


def test_nothing_is_planned_at_night_and_the_first_run_after_six_sends(db, world):
    tonight = local_to_utc(dt.date(2026, 11, 3), dt.time(22, 0))
    import_visits(db, his.outpatient(), now=tonight - dt.timedelta(minutes=30))
    reader(db, now=tonight - dt.timedelta(minutes=20))
    for at in (dt.time(22, 0), dt.time(23, 59)):
        assert plan(db, local_to_utc(dt.date(2026, 11, 3), at)) == 0
    for at in (dt.time(0, 30), dt.time(5, 59)):
        assert plan(db, local_to_utc(dt.date(2026, 11, 4), at)) == 0
    assert sent(db) == []
    assert plan(db, local_to_utc(dt.date(2026, 11, 4), dt.time(6, 0))) == 1
    assert len(sent(db)) == 1


def test_visits_that_ended_over_14_days_ago_are_not_announced(db, world):
    old = his.outpatient(ma_lk="LK-OLD", arrived="202610150730", discharged="202610151030", re_exam_dates="")
    recent = his.outpatient(ma_lk="LK-NEW", arrived="202610210730", discharged="202610211030", re_exam_dates="")
    import_visits(db, old, recent)  # history arriving today: 19 and 13 days old
    reader(db)
    assert plan(db) == 1
    [(_, message)] = sent(db)
    assert "ngày 21/10/2026" in message.text
    assert plan(db, LATER + dt.timedelta(minutes=1), recent_days=30) == 1, "the setting decides"


def test_a_visit_imported_more_than_48_hours_ago_is_not_announced_late(db, world):
    import_visits(db, his.outpatient(), now=NOW - dt.timedelta(hours=49))
    reader(db)
    assert plan(db) == 0 and sent(db) == []


def test_each_linked_account_gets_its_own_notice(db, world):
    import_visits(db, his.outpatient())
    first = reader(db, "u1")
    second = reader(db, "u9", oa="1000000000000000001")  # An on another OA of the province
    assert plan(db) == 2
    assert sorted(user for user, _ in sent(db)) == ["u1", "u9"]
    visit_id = current_visit(db)
    assert sorted(notice_rows(db)) == [(visit_id, first, "queued"), (visit_id, second, "queued")]
    assert plan(db, LATER + dt.timedelta(minutes=1)) == 0


def test_a_visit_of_a_person_merged_into_the_linked_one_is_announced(db, world):
    import_visits(
        db, his.outpatient(ma_lk="LK-A", arrived="202610010730", discharged="202610011030")
    )  # An's record: an old visit
    reader(db)
    other = his.outpatient(
        ma_lk="LK-B", patient_code="BN-B", name="Nguyễn Văn Ân", cccd="079085099999", phone="0987654321"
    )
    import_visits(db, other)  # a second person, found later to be An (staff confirm the match)
    with db.uow() as uow:
        an = uow.session.scalar(select(Visit.person_id).where(Visit.visit_key == "LK-A"))
        duplicate = uow.session.scalar(select(Visit.person_id).where(Visit.visit_key == "LK-B"))
        assert duplicate != an
        uow.session.execute(update(Person).where(Person.id == duplicate).values(merged_into_id=an))
        uow.commit()
    assert plan(db) == 1
    assert notice_rows(db)[0][0] == current_visit(db, "LK-B")


def test_two_planners_at_once_announce_each_visit_once(db, world):
    visits = [
        his.outpatient(ma_lk=f"LK{n:03d}", arrived=f"202611{n % 2 + 1:02d}0730", discharged="", re_exam_dates="")
        for n in range(40)
    ]
    import_visits(db, *visits)
    first, second = reader(db, "u1"), reader(db, "u2")
    written = run_together(lambda: plan(db, batch=7), 2)
    assert sum(written) >= 80, f"between them every notice was written: {written}"
    rows = notice_rows(db)
    assert len(rows) == 80 and len(set(rows)) == 80
    assert {account for _, account, _ in rows} == {first, second}
    messages = sent(db)
    assert len(messages) == 80, "one message per visit and account, none twice"
    assert plan(db, LATER + dt.timedelta(minutes=1)) == 0


def test_the_scheduler_job_announces_with_the_settings_days(db, world, database_url):
    import_visits(db, his.outpatient(ma_lk="LK-20", arrived="202610140730", discharged="202610141030"))
    reader(db)
    settings = Settings(database_url=database_url, emr_result_notice_days=30)
    [job] = [job for job in bootstrap.jobs(settings, db) if job.name == "emr_result_notices"]
    assert job.every_seconds == 60.0
    with time_machine.travel(LATER, tick=False):
        job.run()
    assert len(sent(db)) == 1, "20 days ago is within the 30 the setting allows"


def test_a_guardian_is_told_of_the_childs_visits_while_the_child_is_under_16(db, world):
    """The record's contact phone is the parent's: the parent's account links self and guardian. Khôi turns 16
    on 04/11/2026: his visit of the 5th is no longer the guardian's to read, nor to be told of."""
    kid = {"phone": "0912345678", "birth": "201011040000", "admitted": "", "days": "0", "care_type": "01"}
    import_visits(db, his.outpatient(), his.child(**kid, arrived="202611020800", discharged="202611021100"))
    account_id = reader(db)
    with db.reader() as uow:
        assert sorted(x.relation for x in ra.linked_persons(uow, account_id, now=NOW)) == ["guardian", "self"]
    assert plan(db) == 2, "his own visit and his son's"
    assert {current_visit(db, "LK0001"), current_visit(db, "LK0003")} == {v for v, _, _ in notice_rows(db)}

    later = dt.datetime(2026, 11, 5, 3, 0, tzinfo=dt.UTC)
    import_visits(db, his.child(**kid, ma_lk="LK0004", arrived="202611050800", discharged="202611051000"), now=later)
    assert plan(db, later + dt.timedelta(minutes=1)) == 0
    assert len(sent(db)) == 2
