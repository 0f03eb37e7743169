"""The log safety net (bot/redaction.py): whatever a process logs, no full phone, CCCD, BHYT number or birth
date reaches its output, and the masks read as core/identifiers.py writes them in chat."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys

import pytest

from bot import redaction
from core.identifiers import mask_identifier, mask_phone
from tests.rasa_env import run_in_rasa
from tests.zalo_sim import ROOT

TODAY = dt.date(2026, 12, 1)
PHONES = ["0912345678", "0912 345 678", "0912.345.678", "84912345678", "+84912345678"]


@pytest.mark.parametrize("phone", PHONES)
def test_a_phone_in_any_spelling_is_masked_as_in_chat(phone: str) -> None:
    line = redaction.redact(f"user shared {phone}, call back", TODAY)
    assert "912345678" not in line.replace(" ", "").replace(".", "")
    assert mask_phone("+84912345678") in line


def test_identifiers_and_birth_dates_are_masked_but_ids_and_visit_dates_stay() -> None:
    text = (
        'CCCD 079190001234 thẻ DN4797908500123 BHXH 7908500123; {"new_name": "Nguyễn Thị Mai", '
        '"new_dob": "1990-05-01"} sinh 01/05/1990 full_name=\'Trần Văn Bình\' visit 2026-12-07 08:30 '
        "oa 1000000000000000001 user 8723645120985123456 GET /x?token=s3cret&a=1 Authorization: Bearer abc.def"
    )
    line = redaction.redact(text, TODAY)
    for secret in ("079190001234", "DN4797908500123", "7908500123", "1990-05-01", "01/05/1990", "s3cret", "abc.def"):
        assert secret not in line, secret
    assert "Nguyễn Thị Mai" not in line and "Trần Văn Bình" not in line
    assert mask_identifier("079190001234") in line and mask_identifier("DN4797908500123") in line
    for kept in ("2026-12-07 08:30", "1000000000000000001", "8723645120985123456", "a=1"):
        assert kept in line, kept
    assert redaction.redact("nothing personal here", TODAY) == "nothing personal here"


def test_json_escaped_text_is_masked_too() -> None:
    dumped = json.dumps({"tracker": {"slots": {"new_name": "Nguyễn Thị Mai", "phone": "0912345678"}}})
    line = redaction.redact(f"body='{dumped}'", TODAY)
    assert "0912345678" not in line and json.dumps("Nguyễn Thị Mai")[1:-1] not in line


SCRIPT = r"""
import io, json, logging
from bot import redaction
redaction.install()
output = io.StringIO()
logging.basicConfig(stream=output, level=logging.INFO, format="%(levelname)s %(message)s")
log = logging.getLogger("any.library")
log.info("patient %s phone %s cccd %s", "Mai 01/05/1990", "0912345678", "079190001234")
try:
    raise ValueError("insert failed: ('Nguyễn Thị Mai', '1990-05-01', '+84912345678', 'DN4797908500123')")
except ValueError:
    log.exception("booking failed for %s", "0987654321")
print(json.dumps(output.getvalue() + "done"))
"""


def check_output(output: str) -> None:
    assert "done" in output and "booking failed" in output and "ValueError" in output
    secrets = ("0912345678", "912345678", "079190001234", "1990-05-01", "01/05/1990", "DN4797908500123", "987654321")
    for secret in secrets:
        assert secret not in output, secret


def test_installed_in_a_process_every_logger_and_every_traceback_is_masked() -> None:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    check_output(json.loads(result.stdout.strip().splitlines()[-1]))


def test_the_same_module_works_in_the_rasa_environment() -> None:
    check_output(json.loads(run_in_rasa(SCRIPT)))


def test_a_failed_statement_never_shows_its_values(tmp_path) -> None:
    from sqlalchemy import text
    from sqlalchemy.exc import IntegrityError

    from core.db import make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE people (phone TEXT UNIQUE)"))
            connection.execute(text("INSERT INTO people VALUES (:phone)"), {"phone": "0912345678"})
        with pytest.raises(IntegrityError) as raised, engine.begin() as connection:
            connection.execute(text("INSERT INTO people VALUES (:phone)"), {"phone": "0912345678"})
    finally:
        engine.dispose()
    assert "INSERT INTO people" in str(raised.value) and "0912345678" not in str(raised.value)


@pytest.mark.parametrize(
    "line, secret",
    [
        ("GET /api/v1/appointments?q=An%20012345678901", "012345678901"),  # the 0 of %20 hid the number
        ("GET /api/v1/patients?q=Nguyen%20Van%20An%2001%2F05%2F1990", "1990"),
        ("CCCD 012 345 678 901", "678 901"),
        ("the card dn4010123456789", "dn4010123456789"),
        ("sinh ngày 1 tháng 5 năm 1990", "1990"),
        ("dob 01/05/90", "01/05/90"),
        ("dob 1990/05/01", "1990/05/01"),
    ],
)
def test_identifiers_in_other_spellings_are_masked_too(line, secret):
    assert secret not in redaction.redact(line, today=dt.date(2026, 12, 1))
