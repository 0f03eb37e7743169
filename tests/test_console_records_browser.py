"""Records staff confirm a person-match conflict in a real browser (Debian's Chromium, Playwright): the two
records side by side with what differs, the right birth date chosen, the merge done and the match gone."""

from __future__ import annotations

from playwright.sync_api import expect
from sqlalchemy import select

from core.emr.models import Person, PersonMatch
from tests.console_support import browser, console_page, console_stack, login, make_staff  # noqa: F401
from tests.emr_people import OTHER, TEST, mai, store_visit


def test_records_staff_confirm_a_match_in_the_browser(tmp_path, browser):  # noqa: F811
    with console_stack(tmp_path) as stack:
        store_visit(stack.db, mai(), facility=TEST)
        store_visit(
            stack.db, mai(birth_month=12, birth_day=3, insurance_cards=(), his_patient_code="X9"), facility=OTHER
        )
        with stack.db.reader() as uow:
            match = uow.session.scalars(select(PersonMatch)).one()
            match_id, other_id = match.id, match.other_person_id
        username, _ = make_staff(stack.db, "records")
        with console_page(browser) as page:
            login(page, stack, username)
            page.get_by_role("navigation", name="Chức năng").get_by_role("link", name="Hồ sơ bệnh án").click()
            card = page.locator(f"#match-{match_id}")
            expect(card).to_contain_text("Cùng CCCD, khác ngày sinh hoặc giới tính")
            expect(card.locator("tr.differs")).to_contain_text("1985-12-03")
            expect(card).to_contain_text("********1234")
            card.get_by_label(f"Hồ sơ #{other_id}").check()
            card.get_by_role("button", name="Xác nhận gộp").click()
            expect(page.get_by_role("status")).to_have_text("Đã xác nhận: hai hồ sơ đã được gộp.")
            expect(page.locator("#no-matches")).to_be_visible()
            expect(page.locator(f"#match-{match_id}")).to_have_count(0)
        with stack.db.reader() as uow:
            decided = uow.session.get(PersonMatch, match_id)
            survivor = uow.session.get(Person, decided.person_id)
            assert decided.status == "confirmed" and decided.decided_by == f"staff:{username}"
            assert (survivor.birth_month, survivor.birth_day) == (12, 3)
            assert uow.session.get(Person, other_id).merged_into_id == survivor.id
