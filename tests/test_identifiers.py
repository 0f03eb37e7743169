"""Phone, CCCD and BHYT numbers as patients type them (shared/domain-vn.md)."""

from __future__ import annotations

import datetime as dt

import pytest

from core.booking.codes import ALPHABET, new_booking_code, normalise_booking_code
from core.errors import InvalidInput
from core.identifiers import (
    mask_identifier,
    mask_phone,
    national_phone,
    normalise_phone,
    validate_cccd,
    validate_insurance_number,
)

pytestmark = pytest.mark.unit  # pure: no database, no process


@pytest.mark.parametrize("raw", ["0912345678", "091 234 5678", "0912.345.678", "84912345678", "+84912345678"])
def test_phone_forms_become_one_canonical_form(raw):
    assert normalise_phone(raw) == "+84912345678"
    assert national_phone(normalise_phone(raw)) == "0912345678"


@pytest.mark.parametrize("raw", ["", "12345", "091234567", "09123456789", "abc", "02903000001"])
def test_bad_phones_are_refused_politely(raw):
    with pytest.raises(InvalidInput) as info:
        normalise_phone(raw)
    assert info.value.message_vi.startswith("Dạ") and info.value.details["field"] == "phone"


def test_masks_never_show_the_whole_number():
    assert mask_phone("+84912345678") == "091****678"
    assert mask_identifier("096190123456") == "********3456"


def test_cccd_checks_digits_and_birth_year_and_sex():
    assert validate_cccd("096 190 123456") == "096190123456"
    assert validate_cccd("096190123456", date_of_birth=dt.date(1990, 5, 1), sex="female") == "096190123456"
    assert validate_cccd("096205123456", date_of_birth=dt.date(2005, 1, 1), sex="male") == "096205123456"
    for bad, kwargs in [
        ("09619012345", {}),  # 11 digits
        ("09619012345X", {}),
        ("096190123456", {"date_of_birth": dt.date(1991, 5, 1)}),  # year digits say 1990
        ("096290123456", {"date_of_birth": dt.date(1990, 5, 1)}),  # century digit says 2000s
        ("096090123456", {"sex": "female"}),  # even century digit: male
    ]:
        with pytest.raises(InvalidInput):
            validate_cccd(bad, **kwargs)


def test_insurance_numbers_in_all_accepted_forms():
    assert validate_insurance_number("dn 479 1234567890") == "DN4791234567890"
    assert validate_insurance_number("7912345678") == "7912345678"
    assert validate_insurance_number("096190123456") == "096190123456"
    for bad in ["DN6791234567890", "D14791234567890", "12345", "DN479123456789"]:
        with pytest.raises(InvalidInput):
            validate_insurance_number(bad)


def test_booking_codes_are_easy_to_read_aloud():
    codes = {new_booking_code() for _ in range(2000)}
    assert len(codes) > 1990
    assert all(len(c) == 6 and not set(c) & set("01OI") and set(c) <= set(ALPHABET) for c in codes)
    assert normalise_booking_code(" ab2-cd3 ") == "AB2CD3"
    assert normalise_booking_code("AB0CD3") is None  # 0 is never in a code
    assert normalise_booking_code("ABC") is None
