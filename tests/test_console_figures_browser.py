"""Acceptance: the figures page in a real browser (Debian's Chromium under Playwright) shows the seeded numbers:
the table's cells as a hospital admin sees them, the charts drawn by static/figures.js from the JSON route (no
inline script: the page runs under the console's CSP), the CSV download; a province admin's province total
and one hospital picked from the scope selector."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from core.figures.rollup import roll_up
from tests.console_support import (
    ConsoleStack,
    browser,  # noqa: F401
    console_page,
    console_stack,
    login,
    make_staff,
)
from tests.factories import add_department
from tests.figures_seed import DAY, appointment, at, place, reception

RANGE = f"from={(DAY - dt.timedelta(days=2)).isoformat()}&to={DAY.isoformat()}"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleStack]:
    with console_stack(tmp_path_factory.mktemp("console-figures")) as running:
        db = running.db
        add_department(db, "noi", "Nội", hospital="other")
        here, there = place(db), place(db, "other")
        first = appointment(db, here, channel="zalo")
        appointment(db, here, channel="mini_app")
        appointment(db, here, channel="staff", created=at(DAY, "07:00"))
        appointment(db, here, channel="zalo", status="no_show")
        appointment(db, there, channel="kiosk")
        for seconds in (15, 20, 40):
            reception(db, here, first, None, "Quầy 1", seconds)
        with db.uow() as uow:
            roll_up(uow, DAY)
            uow.commit()
        yield running


def test_the_figures_page_shows_the_seeded_numbers_and_draws_the_charts(stack, browser):  # noqa: F811
    username, _ = make_staff(stack.db, "hospital_admin")
    with console_page(browser) as page:
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))  # a script error, a CSP refusal
        login(page, stack, username)
        page.get_by_role("navigation", name="Chức năng").get_by_role("link", name="Số liệu").click()
        expect(page.get_by_role("heading", name="Số liệu: Bệnh viện Thử nghiệm")).to_be_visible()
        page.goto(f"{stack.console_url}/figures?{RANGE}&group=day")
        row = page.locator("#figures-table tbody tr", has_text="10/11/2026")
        expect(row.locator("td").nth(0)).to_have_text("66,7 %")  # 2 online of 3 check-ins
        expect(row.locator("td").nth(1)).to_have_text("3")
        expect(row.locator("td").nth(2)).to_have_text("20 giây")  # median of 15, 20, 40
        expect(row.locator("td").nth(3)).to_have_text("40 giây")
        expect(row.locator("td").nth(4)).to_have_text("25,0 %")  # 1 no-show of 4
        expect(page.locator("#total-online-share")).to_have_text("66,7 %")
        expect(page.locator("#visits-source")).to_contain_text("lượt tiếp đón (check-in)")
        for chart in ("online", "reception", "no-show", "bookings"):
            canvas = page.locator(f"#chart-{chart}")
            expect(canvas).to_have_attribute("data-rendered", "1")
            box = canvas.bounding_box()
            assert box is not None and box["width"] > 100 and box["height"] > 100, chart
        with page.expect_download() as download:
            page.get_by_role("link", name="Tải CSV").click()
        text = Path(download.value.path()).read_text(encoding="utf-8-sig")
        assert "Cả khoảng,2026-11-08,Tổng lượt khám,,3" in text
        assert not errors, errors


def test_the_province_admin_sees_the_province_and_picks_a_hospital(stack, browser):  # noqa: F811
    username, _ = make_staff(stack.db, "province_admin", None)
    with console_page(browser) as page:
        login(page, stack, username)
        page.goto(f"{stack.console_url}/figures?{RANGE}&group=month")
        expect(page.get_by_role("heading", name="Số liệu: Toàn tỉnh")).to_be_visible()
        total = page.locator("#figures-table tbody tr.total")
        expect(total.locator("td").nth(0)).to_have_text("75,0 %")  # 2 + 1 online of 3 + 1 check-ins
        expect(total.locator("td").nth(1)).to_have_text("4")
        expect(page.locator("#reception-table")).to_contain_text("Bệnh viện Thử nghiệm")
        page.locator(".figures-query select[name=scope]").select_option(label="Bệnh viện Khác")
        page.get_by_role("button", name="Xem số liệu").click()
        expect(page.get_by_role("heading", name="Số liệu: Bệnh viện Khác")).to_be_visible()
        expect(page.locator("#total-online-share")).to_have_text("100,0 %")
        expect(page.locator("#chart-online")).to_have_attribute("data-rendered", "1")
