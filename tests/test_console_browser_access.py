"""The console's doors in a real browser (Debian's Chromium through Playwright): logging in and out, bad logins
throttled, and a post without its CSRF token refused. The same rules through Flask's test client, in more
detail, are tests/test_console_access.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from core.staff.models import StaffAccount
from tests.console_support import (
    ConsoleStack,
    console_page,
    console_stack,
    login,
    make_staff,
)

pytestmark = pytest.mark.slow  # `browser`: tests/conftest.py (Debian's Chromium, shared by the module)


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[ConsoleStack]:
    folder = tmp_path_factory.mktemp("console-doors")
    with console_stack(
        folder,
        rate_limit_staff_login_per_user="3 per 15 minutes",
        rate_limit_staff_login_per_ip="100 per 15 minutes",
    ) as running:
        yield running


def _submit_login(page: Page, stack: ConsoleStack, username: str, password: str) -> None:
    page.goto(f"{stack.console_url}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    with page.expect_navigation():
        page.click("button[type=submit]")


def test_a_receptionist_logs_in_sees_their_menu_and_logs_out(stack, browser):
    username, _ = make_staff(stack.db, "receptionist")
    with console_page(browser) as page:
        page.goto(f"{stack.console_url}/")
        expect(page).to_have_url(f"{stack.console_url}/login?next=/staff/")  # no session: the login page
        login(page, stack, username)
        expect(page.locator(".who .person")).to_contain_text("Tiếp đón")
        expect(page.locator(".who .hospital")).to_have_text("Bệnh viện Thử nghiệm")
        expect(page.locator("nav.menu")).not_to_contain_text("Tài khoản nhân viên")  # a hospital admin's page
        with page.expect_navigation():
            page.click("#logout")
        expect(page).to_have_url(f"{stack.console_url}/login")
        expect(page.locator("p.notice")).to_have_text("Bạn đã đăng xuất.")
        page.goto(f"{stack.console_url}/")  # the session is gone: back to the login page
        expect(page.locator("h1")).to_have_text("Đăng nhập bàn làm việc")


def test_bad_logins_are_refused_then_throttled_even_with_the_right_password(stack, browser):
    username, password = make_staff(stack.db, "records")
    with console_page(browser) as page:
        for attempt in range(3):
            _submit_login(page, stack, username, f"wrong-guess-{attempt}")
            expect(page.locator("p.error")).to_have_text("Tên đăng nhập hoặc mật khẩu không đúng.")
        _submit_login(page, stack, username, password)  # the fourth try waits, whatever the password
        expect(page.locator("main")).to_contain_text("Bạn đã thử quá nhiều lần")
        page.goto(f"{stack.console_url}/")
        expect(page.locator("h1")).to_have_text("Đăng nhập bàn làm việc")  # not logged in
    other, _ = make_staff(stack.db, "records")
    with console_page(browser) as page:  # another account is not locked out by the guesses
        login(page, stack, other)
        expect(page.locator(".who .person")).to_contain_text("Hồ sơ bệnh án")


def test_a_post_without_the_csrf_token_is_refused_and_creates_nothing(stack, browser):
    admin, _ = make_staff(stack.db, "hospital_admin")
    with console_page(browser) as page:
        login(page, stack, admin)
        page.goto(f"{stack.console_url}/staff-accounts")
        form = page.locator("form[action$='/staff/staff-accounts']")
        form.locator("input[name=username]").fill("forged-account")
        form.locator("input[name=full_name]").fill("Người giả mạo")
        form.locator("input[name=password]").fill("mot-mat-khau-dai")
        form.locator("input[name=csrf_token]").evaluate("input => input.remove()")  # as a forged page would post
        with page.expect_navigation():
            form.locator("button[type=submit]").click()
        expect(page.locator("h1")).to_have_text("Yêu cầu chưa hợp lệ")
        expect(page.locator("main")).to_contain_text("tải lại trang")
        # a cross-site fetch without the token (what a forged form does) is refused too
        status = page.evaluate(
            """async () => (await fetch('/staff/staff-accounts', {method: 'POST',
                 headers: {'Content-Type': 'application/x-www-form-urlencoded'},
                 body: 'username=forged-two&full_name=X&role=receptionist&password=mot-mat-khau-dai'})).status"""
        )
        assert status == 400
    with stack.db.reader() as uow:
        made = uow.session.scalars(select(StaffAccount.username).where(StaffAccount.username.like("forged%"))).all()
    assert made == []
