"""The staff console's doors, through Flask's test client: login and logout, refused and throttled logins,
CSRF, the idle timeout, a deactivated account, permissions by role, and the first admin made by the CLI.

The role and tenancy matrix over every page is tests/test_console_matrix.py; the same doors in a real browser
are tests/test_console_browser_access.py.
"""

from __future__ import annotations

import re
import time

import pytest
from argon2 import PasswordHasher
from click.testing import CliRunner
from sqlalchemy import select

from core.config import Settings
from core.staff import accounts
from core.staff.accounts import authenticate, set_active
from core.staff.models import StaffAccount, StaffAction
from henkham.cli import cli
from henkham.web import create_app
from tests.conftest import PRODUCTION_HASHING
from tests.console_support import PASSWORD, make_staff
from tests.identity_helpers import with_fake_graph

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def make_app(db, **overrides):
    return with_fake_graph(create_app(Settings(database_url=db.url, **overrides), database=db))


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "the page has no CSRF token"
    return found.group(1)


def log_in(client, username: str, password: str = PASSWORD):
    token = csrf_of(client.get("/staff/login").get_data(as_text=True))
    return client.post("/staff/login", data={"username": username, "password": password, "csrf_token": token})


def actions(db) -> list[tuple[str, str]]:
    with db.reader() as uow:
        return [(a.action, a.target_id) for a in uow.session.scalars(select(StaffAction).order_by(StaffAction.id))]


def test_login_opens_the_home_page_and_logout_closes_the_session(db, world):
    username, _ = make_staff(db, "receptionist")
    client = make_app(db).test_client()
    assert client.get("/staff/").status_code == 302  # not logged in: to the login page
    response = log_in(client, username)
    assert response.status_code == 302 and response.headers["Location"].endswith("/staff/")
    home = client.get("/staff/")
    assert home.status_code == 200
    html = home.get_data(as_text=True)
    assert "Nhân viên receptionist" in html and "Bệnh viện Thử nghiệm" in html
    cookie = next(c for c in client._cookies.values() if c.key == "henkham_staff")
    assert cookie.http_only and cookie.same_site == "Strict" and cookie.path == "/staff"
    assert home.headers["Cache-Control"] == "no-store"
    assert "script-src 'self'" in home.headers["Content-Security-Policy"]
    token = csrf_of(html)
    assert client.post("/staff/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/staff/").status_code == 302
    assert [a for a, _ in actions(db)] == ["login", "logout"]


def test_a_wrong_password_is_refused_without_saying_which_part_was_wrong(db, world):
    username, _ = make_staff(db, "receptionist")
    client = make_app(db).test_client()
    wrong = log_in(client, username, "not-the-password")
    unknown = log_in(client, "nobody-here", "not-the-password")
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert "Tên đăng nhập hoặc mật khẩu không đúng." in response.get_data(as_text=True)
    assert client.get("/staff/").status_code == 302
    # an unknown name is not kept: it may be a password typed in the wrong field
    assert actions(db) == [("login_refused", username), ("login_refused", "?")]


def test_refused_logins_are_throttled_per_username_but_the_right_password_of_another_account_still_works(db, world):
    victim, _ = make_staff(db, "receptionist")
    other, _ = make_staff(db, "records")
    app = make_app(db, rate_limit_staff_login_per_user="3 per 15 minutes", rate_limit_staff_login_per_ip="50/hour")
    client = app.test_client()
    statuses = [log_in(client, victim, f"guess-{n}-wrong").status_code for n in range(4)]
    assert statuses == [401, 401, 401, 429]
    limited = log_in(client, victim, PASSWORD)  # even the right password waits: a guesser learns nothing
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    assert "thử quá nhiều lần" in limited.get_data(as_text=True)
    assert log_in(app.test_client(), other).status_code == 302


def test_refused_logins_are_throttled_per_address(db, world):
    app = make_app(db, rate_limit_staff_login_per_ip="3 per 15 minutes", rate_limit_staff_login_per_user="50/hour")
    client = app.test_client()
    statuses = [log_in(client, f"user-{n}", "wrong-password-x").status_code for n in range(4)]
    assert statuses == [401, 401, 401, 429]


def test_a_post_without_the_csrf_token_is_refused_and_changes_nothing(db, world):
    admin, _ = make_staff(db, "hospital_admin")
    client = make_app(db).test_client()
    log_in(client, admin)
    form = {"username": "made-by-forgery", "full_name": "X", "role": "receptionist", "password": "x" * 12}
    refused = client.post("/staff/staff-accounts", data=form)
    assert refused.status_code == 400
    assert "tải lại trang" in refused.get_data(as_text=True)
    assert client.post("/staff/staff-accounts", data={**form, "csrf_token": "forged"}).status_code == 400
    with db.reader() as uow:
        assert uow.session.scalar(select(StaffAccount).where(StaffAccount.username == "made-by-forgery")) is None
    # the same form with the page's token works
    token = csrf_of(client.get("/staff/staff-accounts").get_data(as_text=True))
    assert client.post("/staff/staff-accounts", data={**form, "csrf_token": token}).status_code == 302


def test_a_login_without_the_csrf_token_is_refused(db, world):
    username, _ = make_staff(db, "receptionist")
    client = make_app(db).test_client()
    response = client.post("/staff/login", data={"username": username, "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/staff/").status_code == 302


def test_an_idle_session_ends(db, world, time_machine):
    username, _ = make_staff(db, "receptionist")
    client = make_app(db, staff_idle_minutes=30).test_client()
    log_in(client, username)
    assert client.get("/staff/").status_code == 200
    time_machine.move_to(time.time() + 29 * 60)
    assert client.get("/staff/").status_code == 200  # each request keeps the session alive
    time_machine.move_to(time.time() + 31 * 60)
    ended = client.get("/staff/")
    assert ended.status_code == 302 and "/staff/login" in ended.headers["Location"]
    assert "hết hạn" in client.get("/staff/login").get_data(as_text=True)
    assert client.get("/staff/").status_code == 302


def test_a_busy_session_still_ends_after_its_hours(db, world, time_machine):
    username, _ = make_staff(db, "receptionist")
    client = make_app(db, staff_idle_minutes=30, staff_session_hours=2).test_client()
    log_in(client, username)
    for step in range(4):  # busy all along: a request every 25 minutes, 1 h 40 in all
        time_machine.move_to(time.time() + 25 * 60)
        assert client.get("/staff/").status_code == 200, step
    time_machine.move_to(time.time() + 25 * 60)  # 2 h 05 after the login
    ended = client.get("/staff/")
    assert ended.status_code == 302 and "/staff/login" in ended.headers["Location"]


def test_a_deactivated_account_is_logged_out_at_its_next_request(db, world):
    username, _ = make_staff(db, "receptionist")
    client = make_app(db).test_client()
    log_in(client, username)
    with db.uow() as uow:
        staff_id = uow.session.scalar(select(StaffAccount.id).where(StaffAccount.username == username))
        set_active(uow, staff_id, False, hospital_id=None)
    assert client.get("/staff/").status_code == 302
    assert log_in(client, username).status_code == 401


def test_an_htmx_request_without_a_session_is_told_where_to_log_in(db, world):
    response = make_app(db).test_client().get("/staff/", headers={"HX-Request": "true"})
    assert response.status_code == 401 and response.headers["HX-Redirect"].startswith("/staff/login")


def test_the_login_page_never_redirects_elsewhere(db, world):
    username, _ = make_staff(db, "receptionist")
    client = make_app(db).test_client()
    token = csrf_of(client.get("/staff/login").get_data(as_text=True))
    for target in ("https://evil.example/", "//evil.example/x", "/api/v1/hospitals", "/\\evil.example"):
        response = client.post(
            "/staff/login?next=" + target, data={"username": username, "password": PASSWORD, "csrf_token": token}
        )
        assert response.headers["Location"] == "/staff/", target
        client.post("/staff/logout", data={"csrf_token": csrf_of(client.get("/staff/").get_data(as_text=True))})
        token = csrf_of(client.get("/staff/login").get_data(as_text=True))


def test_a_role_without_the_permission_gets_a_403_page_and_the_menu_shows_only_its_own(db, world):
    username, _ = make_staff(db, "communications")
    client = make_app(db).test_client()
    log_in(client, username)
    refused = client.get("/staff/staff-accounts")
    assert refused.status_code == 403 and "text/html" in refused.content_type
    assert "không có quyền" in refused.get_data(as_text=True)
    assert "Tài khoản nhân viên" not in client.get("/staff/").get_data(as_text=True)


def test_errors_under_the_console_are_pages_not_json(db, world):
    username, _ = make_staff(db, "hospital_admin")
    client = make_app(db).test_client()
    log_in(client, username)
    missing = client.get("/staff/no-such-page")
    assert missing.status_code == 404 and "text/html" in missing.content_type
    token = csrf_of(client.get("/staff/staff-accounts").get_data(as_text=True))
    unknown = client.post("/staff/staff-accounts/999999/active", data={"csrf_token": token, "active": "0"})
    assert unknown.status_code == 404 and "text/html" in unknown.content_type


def test_passwords_are_stored_as_argon2id_hashes(db, world, production_passwords):
    username, password = make_staff(db, "records")
    with db.uow() as uow:
        stored = uow.session.scalar(select(StaffAccount.password_hash).where(StaffAccount.username == username))
        assert stored.startswith("$argon2id$") and password not in stored
        assert not PasswordHasher().check_needs_rehash(stored)  # argon2-cffi's default cost, not the tests' one
        assert authenticate(uow, username, password) is not None
        assert authenticate(uow, username.upper(), password) is not None  # usernames are not case-sensitive


def test_a_login_rehashes_a_password_stored_at_another_cost(db, world, monkeypatch):
    username, password = make_staff(db, "records")  # hashed at the tests' cost (tests/conftest.py)
    hasher, dummy = PRODUCTION_HASHING
    monkeypatch.setattr(accounts, "_HASHER", hasher)
    monkeypatch.setattr(accounts, "_DUMMY_HASH", dummy)
    with db.uow() as uow:
        assert authenticate(uow, username, password) is not None
    with db.uow() as uow:
        stored = uow.session.scalar(select(StaffAccount.password_hash).where(StaffAccount.username == username))
        assert not hasher.check_needs_rehash(stored)  # now at the current (default) cost
        assert authenticate(uow, username, password) is not None


def test_the_first_admin_is_made_by_the_cli_and_bad_input_is_one_line(db, world, monkeypatch):
    monkeypatch.setenv("HENKHAM_DATABASE_URL", db.url)
    runner = CliRunner()
    made = runner.invoke(
        cli,
        [
            "staff",
            "create",
            "--username",
            "admin.tinh",
            "--name",
            "Quản trị",
            "--role",
            "hospital_admin",
            "--hospital",
            "test",
            "--password-stdin",
        ],
        input="mot-mat-khau-dai\n",
    )
    assert made.exit_code == 0, made.output
    assert "admin.tinh" in made.output
    client = make_app(db).test_client()
    assert log_in(client, "admin.tinh", "mot-mat-khau-dai").status_code == 302
    short = runner.invoke(
        cli,
        [
            "staff",
            "create",
            "--username",
            "x.y.z",
            "--name",
            "Q",
            "--role",
            "receptionist",
            "--hospital",
            "test",
            "--password-stdin",
        ],
        input="short\n",
    )
    assert short.exit_code == 1 and len(short.output.strip().splitlines()) == 1
    nohospital = runner.invoke(
        cli,
        ["staff", "create", "--username", "x.y.w", "--name", "Q", "--role", "receptionist", "--password-stdin"],
        input="long-enough-password\n",
    )
    assert nohospital.exit_code == 1


@pytest.mark.parametrize("role", ["receptionist", "records", "communications", "hospital_admin"])
def test_a_hospital_account_needs_its_hospital_and_a_province_admin_has_none(db, world, role):
    username, _ = make_staff(db, role)
    with db.reader() as uow:
        account = uow.session.scalar(select(StaffAccount).where(StaffAccount.username == username))
        assert account.hospital_id is not None
    admin, _ = make_staff(db, "province_admin")
    with db.reader() as uow:
        assert uow.session.scalar(select(StaffAccount.hospital_id).where(StaffAccount.username == admin)) is None
