"""Record links made and removed by staff: `henkham emr link|links|unlink` and /api/v1/emr/links (his scope,
confined to a key's hospital); refusals are one line and exit 1 on the command line, the error JSON in the API."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from core import access
from core.audit import AccessAudit, Actor
from core.booking import patients
from core.config import Settings
from core.emr import record_access as ra
from core.emr.models import CodeChallenge, ReaderLink
from henkham import bootstrap
from henkham.cli import cli
from henkham.web import create_app
from tests.emr_people import CCCD, OTHER, mai, store_visit
from tests.factories import add_hospital

pytestmark = pytest.mark.world(days=1)


@pytest.fixture
def person(db, world) -> int:
    add_hospital(db, "other")
    return store_visit(db, mai())


@pytest.fixture
def reader(db, world) -> int:
    with db.uow() as uow:
        return patients.get_or_create_account(uow, "zalo", "oa-1:user-123456789")


def desk_code(db, account_id: int) -> str:
    with db.uow() as uow:
        code, _ = ra.issue_desk_code(uow, account_id)
    return code


def live_links(db, account_id: int) -> list[tuple[int, str, str]]:
    with db.reader() as uow:
        rows = uow.session.execute(
            select(ReaderLink.person_id, ReaderLink.relation, ReaderLink.created_by)
            .where(ReaderLink.account_id == account_id, ReaderLink.removed_at.is_(None))
            .order_by(ReaderLink.id)
        ).all()
    return [tuple(row) for row in rows]


# --- the command ------------------------------------------------------------------------------------------------


@pytest.fixture
def run(database_url):
    runner = CliRunner(env={"HENKHAM_DATABASE_URL": database_url})
    bootstrap.load_settings()
    return lambda *args: runner.invoke(cli, ["emr", *args])


def error_lines(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if not line.startswith("henkham: development mode")]


def test_staff_link_by_person_or_cccd_list_and_unlink(db, person, reader, run):
    done = run("link", "--code", desk_code(db, reader), "--person", str(person), "--staff", "clerk-1")
    assert done.exit_code == 0, done.output
    assert done.stdout.startswith("link ") and f"person {person} (self)" in done.stdout
    assert live_links(db, reader) == [(person, "self", "clerk-1")]
    with db.uow() as uow:
        ra.unlink(uow, reader, None, by="patient")
    again = run("link", "--code", desk_code(db, reader), "--cccd", CCCD, "--staff", "clerk-2", "--hospital", "test")
    assert again.exit_code == 0, again.output
    assert live_links(db, reader) == [(person, "self", "clerk-2")]
    listed = run("links", "--person", str(person))
    assert listed.exit_code == 0, listed.output
    assert listed.stdout.rstrip().endswith("2 links") and "removed" in listed.stdout
    assert "zalo:oa-1:**********6789" in listed.stdout and "user-123456789" not in listed.stdout
    link_id = live_links_ids(db, reader)[0]
    removed = run("unlink", "--link", str(link_id), "--staff", "clerk-3")
    assert removed.exit_code == 0 and removed.stdout.strip() == f"link {link_id} removed"
    assert live_links(db, reader) == []
    gone = run("unlink", "--link", str(link_id), "--staff", "clerk-3")
    assert gone.exit_code == 1 and error_lines(gone) == [f"error: no current reader link {link_id}"]


def live_links_ids(db, account_id: int) -> list[int]:
    with db.reader() as uow:
        return list(
            uow.session.scalars(
                select(ReaderLink.id).where(ReaderLink.account_id == account_id, ReaderLink.removed_at.is_(None))
            )
        )


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["--code", "ZZZZZZZZ", "--person", "{person}"], "error: no live desk code like that"),
        (["--code", "{code}", "--person", "{person}", "--relation", "guardian"], "error: a guardian reads only"),
        (["--code", "{code}", "--person", "999999"], "error: no person 999999"),
        (["--code", "{code}", "--cccd", "123"], "error: CCCD must be 12 digits"),
        (["--code", "{code}", "--cccd", "079185009999"], "error: no person holds that CCCD"),
        (["--code", "{code}"], "error: give exactly one of --person and --cccd"),
        (["--code", "{code}", "--person", "{person}", "--hospital", "other"], "error: this person belongs to another"),
        (["--code", "{code}", "--person", "{person}", "--hospital", "nowhere"], "error: no hospital 'nowhere'"),
    ],
)
def test_a_refused_link_is_one_line_and_exit_1(db, person, reader, run, args, line):
    code = desk_code(db, reader)
    result = run("link", *[a.format(person=person, code=code) for a in args], "--staff", "clerk-1")
    assert result.exit_code == 1, result.output
    [only] = error_lines(result)
    assert only.startswith(line) and code not in only and CCCD not in only
    assert live_links(db, reader) == []


def test_the_staff_option_is_required(db, person, reader, run):
    result = run("link", "--code", desk_code(db, reader), "--person", str(person))
    assert result.exit_code == 2 and error_lines(result)[0].startswith("error: ")


# --- the API ------------------------------------------------------------------------------------------------------

LINKS = "/api/v1/emr/links"


@pytest.fixture
def client(db, database_url, person):
    return create_app(Settings(database_url=database_url), database=db).test_client()


@pytest.fixture
def keys(db, client) -> dict[str, str]:
    with db.uow() as uow:
        return {
            "test": access.create_api_key(uow, name="his-test", kind="his", hospital_slug="test"),
            "other": access.create_api_key(uow, name="his-other", kind="his", hospital_slug="other"),
            "kiosk": access.create_api_key(uow, name="kiosk-test", kind="kiosk", hospital_slug="test"),
        }


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    body = response.get_json()["error"]
    assert body["code"] == code and body["message"] and body["message_vi"]
    return body


def test_the_api_links_lists_and_removes(db, client, keys, person, reader):
    body = {"code": desk_code(db, reader), "person_id": person, "relation": "self"}
    made = client.post(LINKS, json=body, headers=auth(keys["test"]))
    assert made.status_code == 201, made.get_data(as_text=True)
    linked = made.get_json()
    assert (linked["person_id"], linked["relation"], linked["verified_by"], linked["is_child"]) == (
        person,
        "self",
        "desk",
        False,
    )
    assert live_links(db, reader) == [(person, "self", "his-test")]
    listed = client.get(f"/api/v1/emr/persons/{person}/links", headers=auth(keys["test"]))
    assert listed.status_code == 200
    [view] = listed.get_json()["links"]
    assert view["id"] == linked["link_id"] and view["account"] == "zalo:oa-1:**********6789"
    assert "user-123456789" not in listed.get_data(as_text=True)
    with db.reader() as uow:
        audited = uow.session.scalars(select(AccessAudit).where(AccessAudit.actor_name == "his-test")).all()
    assert [(a.record_kind, a.record_id, a.channel, a.outcome) for a in audited] == [
        ("emr_person", str(person), "api", "read")
    ]
    assert_error(client.delete(f"{LINKS}/{linked['link_id']}", headers=auth(keys["other"])), 403, "forbidden")
    removed = client.delete(f"{LINKS}/{linked['link_id']}", headers=auth(keys["test"]))
    assert removed.status_code == 204 and live_links(db, reader) == []
    assert_error(client.delete(f"{LINKS}/{linked['link_id']}", headers=auth(keys["test"])), 404, "not_found")


def test_the_api_refusals_are_json_errors(db, client, keys, person, reader):
    code = desk_code(db, reader)
    post = lambda body, key="test": client.post(LINKS, json=body, headers=auth(keys[key]))  # noqa: E731
    assert_error(post({"code": "ZZZZZZZZ", "person_id": person}), 404, "desk_code_unknown")
    assert_error(post({"code": code, "person_id": person, "relation": "guardian"}), 409, "not_guardian")
    assert_error(post({"code": code, "person_id": person}, "other"), 403, "forbidden")
    assert_error(post({"code": code, "person_id": person}, "kiosk"), 403, "forbidden")
    assert_error(post({"code": code, "person_id": 999999}), 404, "not_found")
    assert_error(post({"code": code, "person_id": person, "relation": "parent"}), 422, "invalid_input")
    assert_error(post({"code": code}), 422, "invalid_input")
    assert_error(post({"code": code, "person_id": person, "extra": 1}), 422, "invalid_input")
    assert_error(client.get(f"/api/v1/emr/persons/{person}/links", headers=auth(keys["other"])), 403, "forbidden")
    assert_error(client.get("/api/v1/emr/persons/999999/links", headers=auth(keys["test"])), 404, "not_found")
    assert_error(client.post(LINKS, json={"code": code, "person_id": person}), 401, "unauthorized")
    assert live_links(db, reader) == []
    # the code still works for the right key
    assert post({"code": code, "person_id": person}).status_code == 201


def test_a_key_of_the_other_hospital_links_its_own_persons(db, client, keys, reader):
    theirs = store_visit(db, mai(full_name="Lê Văn Hùng", sex="male", cccd=None, insurance_cards=()), facility=OTHER)
    made = client.post(LINKS, json={"code": desk_code(db, reader), "person_id": theirs}, headers=auth(keys["other"]))
    assert made.status_code == 201 and made.get_json()["person_id"] == theirs


def test_the_routes_are_in_the_openapi_document(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert "post" in paths[LINKS] and "delete" in paths[LINKS + "/{link_id}"]
    assert "get" in paths["/api/v1/emr/persons/{person_id}/links"]


def test_no_row_or_log_keeps_the_desk_code(db, reader, caplog, person):
    code = desk_code(db, reader)
    with db.uow() as uow:
        ra.link_at_desk(uow, code, person, relation="self", staff=Actor(kind="cli", client_id=None, client_name="c"))
    assert code not in caplog.text
    with db.reader() as uow:
        [row] = uow.session.scalars(select(CodeChallenge)).all()
    assert code not in row.digest and row.used_at is not None
