"""Every answer that shows a match's persons (names, birth dates) is an audited read: the listing, and the
answers of confirm and reject, through the API and the command line (review of issue 13)."""

from __future__ import annotations

from sqlalchemy import select

from core.audit import AccessAudit
from henkham.web import create_app
from tests.test_emr_matches import API, auth, conflict, keys, open_ids, province, run  # noqa: F401


def audited(db, kind: str | None = None) -> list[tuple[str, str, str]]:
    with db.reader() as uow:
        rows = uow.session.execute(
            select(AccessAudit.actor_kind, AccessAudit.actor_name, AccessAudit.record_id).where(
                AccessAudit.record_kind == "emr_person_match"
            )
        ).all()
    return sorted(tuple(row) for row in rows if kind is None or row[0] == kind)


def test_the_command_line_listing_and_decisions_leave_audit_rows(db, province, run):  # noqa: F811
    holder, other = conflict(db)

    assert run().exit_code == 0
    assert audited(db, "cli") == sorted([("cli", "cli", str(holder)), ("cli", "cli", str(other))])

    [match_id] = open_ids(db)
    assert run("reject", str(match_id), "--by", "clerk-7").exit_code == 0
    assert ("cli", "clerk-7", str(holder)) in audited(db, "cli")
    assert ("cli", "clerk-7", str(other)) in audited(db, "cli")


def test_the_answer_of_a_confirmation_through_the_api_is_audited(db, province, keys):  # noqa: F811
    client = create_app(database=db).test_client()
    holder, other = conflict(db)
    [match_id] = open_ids(db)

    confirmed = client.post(f"{API}/{match_id}/confirm", headers=auth(keys["test"]))

    assert confirmed.status_code == 200, confirmed.json
    assert audited(db) == sorted([("api_client", "his-test", str(holder)), ("api_client", "his-test", str(other))])
