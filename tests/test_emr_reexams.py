"""Re-exam slips (XML14) of imported visits remind the patient (issue 13, acceptance 4).

A visit with a slip, of a person linked to a booking profile, becomes a re-exam date; the scheduler's real
``re_exams`` job plans its reminders and the real sender delivers them to the Zalo simulator, which records what
the patient received: 3 and 1 days before at 08:00, with the button that opens booking on that date in that
department. A corrected slip moves the date, a cancelled visit removes it, history reminds nobody.

Visits come in through the importer (``import_bytes``) as the HIS writes them (``tests/emr_his_files.py``):
the importer stores each visit and calls ``sync_visit`` in the same transaction.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
import time_machine
from click.testing import CliRunner
from sqlalchemy import select, update

from bot.zalo_webhook import workers
from bot.zalo_webhook.models import Conversation, OutboundMessage
from core import access
from core.booking import patients
from core.booking.demo import load_demo
from core.booking.models import Department, Hospital
from core.emr.importing import import_bytes
from core.emr.models import Person, PersonIdentifier, ProfileLink, ReExamSlip, Visit
from core.emr.reexam_sync import sync_person, sync_visit, sync_visits
from core.reminders.models import ReExam, Reminder
from core.reminders.reexams import record_re_exam
from core.timeutil import local_to_utc, to_local, utcnow
from core.uow import Database
from henkham import bootstrap
from henkham.cli import cli
from henkham.web import create_app
from tests import emr_his_files as his_files
from tests.factories import add_hospital, new_patient, today_local
from tests.identity_helpers import bearer, with_fake_graph
from tests.zalo_helpers import OA_ID, synced_channel
from tests.zalo_sim import Simulator, running_simulator, sim_settings

FACILITY = "99999"  # hospital "test" of tests/factories.build_world
TODAY = today_local()
IMPORTED_AT = local_to_utc(TODAY, dt.time(10, 0))
DUE = TODAY + dt.timedelta(days=6)
DIAGNOSIS = "J20.9 - Viêm phế quản cấp"
CCCD = "001090000001"
NAME = "Nguyễn Văn Thử"

pytestmark = pytest.mark.world(days=1)


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with running_simulator() as simulator:
        yield simulator


@dataclass
class Harness:
    db: Database
    sim: Simulator
    job: Callable[[], object]  # the scheduler's re_exams job, as henkham/bootstrap.py wires it
    sender: object
    patient_id: int
    person_id: int

    def run_at(self, day: dt.date, hhmm: str) -> int:
        """At that local time: the patient wrote to the OA an hour ago (the chat window is open), the scheduler
        runs its re-exam job and the sender delivers what it queued; returns how many messages the patient
        received."""
        at = local_to_utc(day, dt.time.fromisoformat(hhmm))
        with time_machine.travel(at, tick=True):
            talk(self.db, at - dt.timedelta(hours=1))
            before = len(self.received())
            self.job()
            drain(self.db, self.sender)
            return len(self.received()) - before

    def received(self) -> list[dict]:
        return self.sim.messages(user_id="u1", kind="cs")


@pytest.fixture
def harness(db: Database, database_url: str, world, sim: Simulator) -> Harness:
    sim.reset()
    settings = sim_settings(database_url, sim, zalo_rate_limit_per_minute=60_000, zalo_http_timeout_seconds=5.0)
    channel = synced_channel(db, settings, backoff_base=0.01)
    [job] = [job for job in bootstrap.jobs(settings, db) if job.name == "re_exams"]
    with db.uow() as uow:
        uow.session.execute(update(Department).where(Department.slug == "nhi").values(his_codes="K01;K18"))
        uow.commit()
        account_id = patients.get_or_create_account(uow, "zalo", f"{OA_ID}:u1")
    patient_id = new_patient(db, account_id, 1, cccd=CCCD)
    return Harness(db, sim, job.run, channel.sender, patient_id, new_person(db, linked_to=patient_id))


def new_person(db: Database, *, linked_to: int | None = None, cccd: str = CCCD) -> int:
    """The person of the record with this CCCD (seen before), linked to the booking profile ``linked_to``."""
    with db.uow() as uow:
        person = Person(full_name=NAME, name_key="nguyen van thu", cccd=cccd)
        uow.session.add(person)
        uow.session.flush()
        uow.session.add(PersonIdentifier(person_id=person.id, kind="cccd", facility_code="", value=cccd))
        if linked_to is not None:
            uow.session.add(ProfileLink(patient_id=linked_to, person_id=person.id, matched_by="cccd"))
        uow.commit()
        return person.id


def his_time(at: dt.datetime) -> str:
    """An instant as XML 130 writes it (local time, yyyyMMddHHmm)."""
    return f"{to_local(at):%Y%m%d%H%M}"


def import_visit(
    db: Database,
    *,
    key: str = "LK-0001",
    due: dt.date | None = DUE,
    facility: str = FACILITY,
    departments: str = "K18",
    arrived_at: dt.datetime | None = None,
    cccd: str = CCCD,
    short_date: bool = False,
    now: dt.datetime = IMPORTED_AT,
    outcome: str = "imported",
) -> int:
    """Import, at ``now``, the HIS file of one outpatient visit of the patient, with a re-exam slip for ``due``
    (NGAY_HEN_KL in 12 characters, or 8 with ``short_date``) unless None; returns the stored visit's id."""
    arrived_at = arrived_at or IMPORTED_AT - dt.timedelta(hours=3)  # the visit that morning
    slip = None
    if due is not None:
        slip = {"NGAY_HEN_KL": f"{due:%Y%m%d}" if short_date else f"{due:%Y%m%d}0800"}
    visit = his_files.outpatient(
        ma_lk=key,
        facility_code=facility,
        name=NAME,
        cccd=cccd,
        departments=departments,
        arrived=his_time(arrived_at),
        discharged=his_time(arrived_at + dt.timedelta(hours=2)),
        discharge_diagnosis=DIAGNOSIS,
        re_exam_dates="",
        drugs=[],
        exams=[],
        xml14=slip,
    )
    data = his_files.submission_bytes([visit], facility)
    report = import_bytes(db, data, channel="cli", filename=f"{key}.xml", now=now)
    [item] = report.items
    assert item.outcome.value == outcome, report.as_dict()
    assert item.visit_id is not None
    return item.visit_id


def talk(db: Database, at: dt.datetime) -> None:
    """The patient (Zalo user u1) wrote to the OA at ``at``."""
    with db.uow() as uow:
        conversation = uow.session.scalar(
            select(Conversation).where(Conversation.oa_id == OA_ID, Conversation.user_id == "u1")
        )
        if conversation is None:
            uow.session.add(Conversation(oa_id=OA_ID, user_id="u1", last_interaction_at=at))
        else:
            conversation.last_interaction_at = at
        uow.commit()


def drain(db: Database, sender, *, rounds: int = 400) -> None:
    """Run the sender until nothing is left to send (retries included)."""
    for _ in range(rounds):
        if workers.sender_step(db, sender, batch=10) == 0:
            with db.reader() as uow:
                open_row = uow.session.scalar(
                    select(OutboundMessage.id).where(OutboundMessage.status.in_(("pending", "processing"))).limit(1)
                )
            if open_row is None:
                return
            threading.Event().wait(0.02)
    raise AssertionError("the outbox did not drain")


def re_exams(db: Database) -> list[tuple[int, str, str | None, dt.date, str | None, str, bool]]:
    """(patient, source, source_ref, date, department, note, live) of every re-exam row, oldest first."""
    with db.reader() as uow:
        rows = uow.session.execute(
            select(ReExam, Department.slug)
            .outerjoin(Department, Department.id == ReExam.department_id)
            .order_by(ReExam.id)
        ).all()
        return [
            (r.patient_id, r.source, r.source_ref, r.due_date, slug, r.note, r.cancelled_at is None) for r, slug in rows
        ]


def reminder_dates(received: list[dict]) -> list[str]:
    """The re-exam date each message the patient received is about (from its booking button)."""
    dates = []
    for message in received:
        [book, _human] = message["message"]["attachment"]["payload"]["buttons"]
        dates.append(json.loads(book["payload"].removeprefix("/book_appointment"))["time"]["date"])
    return dates


def test_an_imported_slip_reminds_the_patient_3_and_1_days_before_with_the_booking_button(harness: Harness) -> None:
    import_visit(harness.db, departments="K03;K18")
    ref = f"emr:{FACILITY}:LK-0001"
    assert re_exams(harness.db) == [(harness.patient_id, "emr", ref, DUE, "nhi", DIAGNOSIS, True)], (
        "one re-exam in the department the visit ended in (MA_KHOA K18 is Nhi), the slip's diagnosis as the note"
    )

    assert harness.run_at(DUE - dt.timedelta(days=4), "20:00") == 0
    assert harness.run_at(DUE - dt.timedelta(days=3), "07:55") == 0, "not before 08:00"
    assert harness.run_at(DUE - dt.timedelta(days=3), "08:00") == 1
    [three_days] = harness.received()
    assert harness.run_at(DUE - dt.timedelta(days=2), "08:00") == 0
    assert harness.run_at(DUE - dt.timedelta(days=1), "08:00") == 1
    assert harness.run_at(DUE, "08:00") == 0
    first, second = harness.received()
    assert first == three_days, "the 3-day reminder once"

    for message in (first, second):
        text = message["message"]["text"]
        assert f"{DUE:%d/%m/%Y}" in text and "tái khám khoa Nhi" in text, text
        assert f"Ghi chú của bác sĩ: {DIAGNOSIS}" in text
        book = message["message"]["attachment"]["payload"]["buttons"][0]
        assert book["title"] == "Xem giờ còn trống"
        assert json.loads(book["payload"].removeprefix("/book_appointment")) == {
            "time": {"date": DUE.isoformat()},
            "department": "nhi",
        }, "the booking form opens on that date in that department"
    with harness.db.reader() as uow:
        kinds = uow.session.execute(select(Reminder.kind, Reminder.outcome).order_by(Reminder.id)).all()
    assert [tuple(k) for k in kinds] == [("reexam_3d", "queued"), ("reexam_1d", "queued")]


def test_a_corrected_slip_moves_the_date_and_the_reminders_follow_it(harness: Harness) -> None:
    db = harness.db
    import_visit(db)
    assert harness.run_at(DUE - dt.timedelta(days=3), "08:00") == 1, "the first date's 3-day reminder went"
    import_visit(db, now=IMPORTED_AT + dt.timedelta(days=1), outcome="unchanged")  # the HIS sent it again
    assert [row[-1] for row in re_exams(db)] == [True], "the same date again is the same re-exam"

    moved = DUE + dt.timedelta(days=7)
    corrected_at = local_to_utc(DUE - dt.timedelta(days=2), dt.time(9, 0))
    import_visit(db, now=corrected_at, due=moved, short_date=True, outcome="updated")  # NGAY_HEN_KL in 8 characters
    ref = f"emr:{FACILITY}:LK-0001"
    assert re_exams(db) == [
        (harness.patient_id, "emr", ref, DUE, "nhi", DIAGNOSIS, False),
        (harness.patient_id, "emr", ref, moved, "nhi", DIAGNOSIS, True),
    ], "the old date is cancelled (its sent reminder stays with it), the new one is live"

    assert harness.run_at(DUE - dt.timedelta(days=1), "08:00") == 0, "nothing more for the old date"
    assert harness.run_at(moved - dt.timedelta(days=3), "08:00") == 1
    assert harness.run_at(moved - dt.timedelta(days=1), "08:00") == 1
    assert reminder_dates(harness.received()) == [DUE.isoformat(), moved.isoformat(), moved.isoformat()]


def test_a_slip_dropped_by_a_correction_reminds_nobody(harness: Harness) -> None:
    import_visit(harness.db)
    import_visit(harness.db, due=None, now=IMPORTED_AT + dt.timedelta(hours=1), outcome="updated")
    assert [row[-1] for row in re_exams(harness.db)] == [False]
    assert harness.run_at(DUE - dt.timedelta(days=1), "08:00") == 0
    assert harness.received() == []


def test_a_visit_cancelled_through_the_api_reminds_nobody(harness: Harness) -> None:
    db = harness.db
    import_visit(db, key="LK/2026/7")
    add_hospital(db, "other")
    with db.uow() as uow:
        his = access.create_api_key(uow, name="his-test", kind="his", hospital_slug="test")
        other = access.create_api_key(uow, name="his-other", kind="his", hospital_slug="other")
        kiosk = access.create_api_key(uow, name="kiosk-test", kind="kiosk", hospital_slug="test")
    client = with_fake_graph(create_app(database=db)).test_client()
    url = f"/api/v1/emr/visits/{FACILITY}/LK/2026/7/cancel"

    assert client.post(url, headers=bearer(kiosk)).status_code == 403, "a key without the his scope"
    refused = client.post(url, headers=bearer(other))
    assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "forbidden", "another hospital's"
    assert [row[-1] for row in re_exams(db)] == [True], "refused: nothing changed"
    assert client.post(f"/api/v1/emr/visits/{FACILITY}/LK-none/cancel", headers=bearer(his)).status_code == 404

    done = client.post(url, headers=bearer(his))
    assert done.status_code == 200, done.get_data(as_text=True)
    body = done.get_json()
    assert (body["facility_code"], body["visit_key"], body["version"], body["re_exams_cancelled"]) == (
        FACILITY,
        "LK/2026/7",
        1,
        1,
    )
    assert client.post(url, headers=bearer(his)).get_json()["re_exams_cancelled"] == 0, "twice is harmless"
    with db.reader() as uow:
        visit = uow.session.scalar(select(Visit).where(Visit.visit_key == "LK/2026/7"))
        assert visit.cancelled_at is not None, "the visit stays in the record, marked cancelled"
        assert uow.session.scalar(select(ReExamSlip.due_date).where(ReExamSlip.visit_id == visit.id)) == DUE
    assert [row[-1] for row in re_exams(db)] == [False]

    assert harness.run_at(DUE - dt.timedelta(days=3), "08:00") == 0
    assert harness.run_at(DUE - dt.timedelta(days=1), "08:00") == 0
    assert harness.received() == []


def test_a_visit_cancelled_from_the_command_line_reminds_nobody(harness: Harness, database_url: str) -> None:
    import_visit(harness.db, key="LK-0002")
    bootstrap.load_settings()  # the process's one "development mode" line, before any captured output
    runner = CliRunner(env={"HENKHAM_DATABASE_URL": database_url})
    result = runner.invoke(cli, ["emr", "cancel-visit", FACILITY, "LK-0002"])
    assert result.exit_code == 0, (result.output, result.exception)
    assert result.stdout.strip() == f"visit {FACILITY}/LK-0002 (version 1) cancelled; 1 re-exam dates cancelled"
    missing = runner.invoke(cli, ["emr", "cancel-visit", FACILITY, "LK-none"])
    assert missing.exit_code == 1 and "no such visit" in missing.stderr
    assert [row[-1] for row in re_exams(harness.db)] == [False]
    assert harness.run_at(DUE - dt.timedelta(days=1), "08:00") == 0 and harness.received() == []


def test_history_is_kept_in_the_record_and_reminds_nobody(harness: Harness) -> None:
    db = harness.db
    import_visit(db, key="LK-past", due=TODAY - dt.timedelta(days=3))
    years_ago = IMPORTED_AT - dt.timedelta(days=3 * 365)
    import_visit(db, key="LK-old", due=DUE, arrived_at=years_ago)
    assert re_exams(db) == [], "no re-exam date to remind"
    with db.reader() as uow:
        slips = uow.session.execute(
            select(Visit.visit_key, ReExamSlip.due_date).join(ReExamSlip).order_by(Visit.visit_key)
        ).all()
    assert [tuple(s) for s in slips] == [("LK-old", DUE), ("LK-past", TODAY - dt.timedelta(days=3))], (
        "both slips are in the record"
    )
    assert harness.run_at(DUE - dt.timedelta(days=3), "08:00") == 0
    assert harness.run_at(DUE - dt.timedelta(days=1), "08:00") == 0
    assert harness.received() == []


def test_a_visit_of_a_facility_that_is_no_henkham_hospital_reminds_nobody(harness: Harness) -> None:
    import_visit(harness.db, facility="77777")
    assert re_exams(harness.db) == []
    assert harness.run_at(DUE - dt.timedelta(days=1), "08:00") == 0 and harness.received() == []


def test_a_department_code_the_hospital_does_not_know_leaves_the_department_open(harness: Harness) -> None:
    import_visit(harness.db, departments="K99")
    [row] = re_exams(harness.db)
    assert row[3:5] == (DUE, None)
    assert harness.run_at(DUE - dt.timedelta(days=1), "08:00") == 1
    [message] = harness.received()
    book = message["message"]["attachment"]["payload"]["buttons"][0]
    assert json.loads(book["payload"].removeprefix("/book_appointment")) == {"time": {"date": DUE.isoformat()}}


def test_a_profile_linked_after_the_import_gets_the_reminder(harness: Harness) -> None:
    db = harness.db
    unlinked = new_person(db, cccd="001090000002")
    import_visit(db, key="LK-later", cccd="001090000002")
    assert re_exams(db) == [], "no booking profile to remind yet"
    with db.reader() as uow:
        account_id = patients.find_account(uow, "zalo", f"{OA_ID}:u1")
    child = new_patient(db, account_id, 2)  # the same Zalo user's second profile (a child, say)
    with db.uow() as uow:
        uow.session.add(ProfileLink(patient_id=child, person_id=unlinked, matched_by="cccd"))
        assert sync_person(uow.session, unlinked, IMPORTED_AT + dt.timedelta(days=1)) == 1
        uow.commit()
    with db.uow() as uow:
        assert sync_person(uow.session, unlinked, IMPORTED_AT + dt.timedelta(days=1)) == 0, "idempotent"
        uow.commit()
    assert [(row[0], row[2], row[-1]) for row in re_exams(db)] == [(child, f"emr:{FACILITY}:LK-later", True)]
    assert harness.run_at(DUE - dt.timedelta(days=1), "08:00") == 1
    assert reminder_dates(harness.received()) == [DUE.isoformat()]


def test_a_date_the_hospital_already_entered_is_not_reminded_twice(harness: Harness) -> None:
    db = harness.db
    with db.uow() as uow:
        entered, _ = record_re_exam(
            uow, patient_id=harness.patient_id, hospital="test", department="nhi", due_date=DUE, now=IMPORTED_AT
        )
    import_visit(db)
    assert [(row[1], row[2], row[-1]) for row in re_exams(db)] == [("api", f"emr:{FACILITY}:LK-0001", True)], (
        "the import adopts the date entered by hand"
    )
    assert harness.run_at(DUE - dt.timedelta(days=1), "08:00") == 1
    assert len(harness.received()) == 1
    assert entered.id == re_exams_ids(db)[0]


def re_exams_ids(db: Database) -> list[int]:
    with db.reader() as uow:
        return list(uow.session.scalars(select(ReExam.id).order_by(ReExam.id)))


def test_sync_of_a_superseded_version_follows_the_current_one(harness: Harness) -> None:
    db = harness.db
    first = import_visit(db)
    import_visit(db, due=DUE + dt.timedelta(days=2), now=IMPORTED_AT + dt.timedelta(hours=1), outcome="updated")
    with db.uow() as uow:
        done = sync_visit(uow.session, first, utcnow())
        uow.commit()
    assert done.created == () and done.cancelled == ()
    assert [(row[3], row[-1]) for row in re_exams(db)] == [(DUE, False), (DUE + dt.timedelta(days=2), True)]


def test_an_imports_batch_synced_again_changes_nothing(harness: Harness) -> None:
    db = harness.db
    ids = [import_visit(db, key="LK-a", due=None), import_visit(db, key="LK-b"), import_visit(db, key="LK-c", due=None)]
    before = re_exams(db)
    assert [(row[2], row[3]) for row in before] == [(f"emr:{FACILITY}:LK-b", DUE)]
    with db.uow() as uow:
        done = sync_visits(uow.session, ids, IMPORTED_AT + dt.timedelta(hours=1))
        uow.commit()
    assert (done.created, done.cancelled, len(done.kept)) == ((), (), 1)
    assert re_exams(db) == before


def test_a_demo_hospitals_slip_books_back_into_the_department_its_his_code_names(db: Database) -> None:
    with db.uow() as uow:
        load_demo(uow, slot_days=1)
        account_id = patients.get_or_create_account(uow, "zalo", f"{OA_ID}:u1")
    patient_id = new_patient(db, account_id, 1, cccd=CCCD)
    new_person(db, linked_to=patient_id)
    import_visit(db, facility="96001", departments="K01;K03")  # exam room, then internal medicine
    with db.reader() as uow:
        row = uow.session.execute(
            select(Hospital.slug, Department.slug)
            .join(ReExam, ReExam.hospital_id == Hospital.id)
            .join(Department, Department.id == ReExam.department_id)
        ).one()
    assert tuple(row) == ("bvdk-tinh-demo", "noi_tong_hop")
