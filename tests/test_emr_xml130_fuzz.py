"""Whatever a file holds, core.emr.xml130 answers with a ParsedFile: odd values in any field, damaged bytes in
a payload or in the container never raise."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.emr.records import ParsedFile
from core.emr.xml130 import parse_base64_submission, parse_submission
from tests import emr_his_files as his

pytestmark = pytest.mark.unit

FUZZ = settings(
    max_examples=150,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
ODD_VALUES = st.sampled_from(
    ["", " ", "0", "00000000", "000101010000", "999912312359", "20261302", "1e5", "-1", "NaN", "١٢", "²", ";;;"]
) | st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=20)
TAGS = st.sampled_from(
    [
        "NGAY_VAO",
        "NGAY_RA",
        "NGAY_SINH",
        "GIOI_TINH",
        "MA_LOAI_KCB",
        "MA_DOITUONG_KCB",
        "MA_BENH_CHINH",
        "MA_BENH_KT",
        "CHAN_DOAN_RV",
        "DIEN_THOAI",
        "MA_THE_BHYT",
        "NGAY_TAI_KHAM",
        "SO_CCCD",
        "STT",
    ]
)
OUTPATIENT = his.tables(his.outpatient())
FILE = his.submission_bytes([his.outpatient(), his.inpatient()])


@FUZZ
@given(st.dictionaries(TAGS, ODD_VALUES, max_size=4), ODD_VALUES, ODD_VALUES, ODD_VALUES)
def test_odd_values_in_any_field_never_raise(xml1: dict[str, str], quantity: str, stt: str, result: str) -> None:
    visit = his.outpatient(
        xml1=xml1,
        drugs=[his.Drug(quantity=quantity, extra={"STT": stt})],
        exams=[his.Exam(results=[his.Lab(value=result, reference=result, result_at=result)])],
        xml14={"NGAY_HEN_KL": result},
        xml13={"NGAY_RA": quantity},
    )

    parsed = parse_submission(his.submission_bytes([visit]))

    assert isinstance(parsed, ParsedFile)
    assert len(parsed.visits) == 1


@FUZZ
@given(st.integers(min_value=0, max_value=len(OUTPATIENT) - 1), st.data())
def test_damaged_bytes_in_a_payload_never_raise(table: int, data: st.DataObject) -> None:
    name, payload = OUTPATIENT[table]
    at = data.draw(st.integers(min_value=0, max_value=len(payload) - 1))
    junk = data.draw(st.binary(min_size=0, max_size=8))
    damaged = payload[:at] + junk + payload[at + data.draw(st.integers(min_value=0, max_value=8)) :]

    parsed = parse_submission(his.submission_bytes([his.outpatient(payloads={name: damaged})]))

    assert len(parsed.visits) == 1
    visit = parsed.visits[0]
    assert (visit.record is None) == bool(visit.problems)


@FUZZ
@given(st.data())
def test_damaged_bytes_in_the_container_never_raise(data: st.DataObject) -> None:
    at = data.draw(st.integers(min_value=0, max_value=len(FILE) - 1))
    junk = data.draw(st.binary(min_size=0, max_size=8))
    damaged = FILE[:at] + junk + FILE[at + data.draw(st.integers(min_value=0, max_value=8)) :]

    parsed = parse_submission(damaged)

    assert isinstance(parsed, ParsedFile)
    assert parsed.problems or parsed.visits


@FUZZ
@given(st.text(max_size=200) | st.binary(max_size=200))
def test_any_gateway_string_never_raises(text: str | bytes) -> None:
    assert isinstance(parse_base64_submission(text), ParsedFile)
