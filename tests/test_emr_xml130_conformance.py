"""Files real HIS software writes that the test builder (tests/emr_his_files.py) does not make by itself: each one
must be read as the HIS meant it (or refused with a reason a clerk can act on)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import replace

import pytest

from core.emr.records import VisitRecord
from core.emr.xml130 import parse_submission
from tests import emr_his_files as his

pytestmark = pytest.mark.unit


def with_payloads(visit: his.Visit, change, style: his.Style = his.Style()) -> his.Visit:  # noqa: B008
    return replace(visit, payloads={table: change(payload) for table, payload in his.tables(visit, style)})


def record_of(data: bytes) -> VisitRecord:
    parsed = parse_submission(data)
    assert parsed.problems == ()
    visit = parsed.visits[0]
    assert visit.problems == (), visit.problems
    assert visit.record is not None
    return visit.record


def test_inner_tables_declaring_utf16_but_written_in_utf8_are_read() -> None:
    # A .NET HIS serialising to a string (StringWriter declares utf-16) then saving it as UTF-8.
    visit = with_payloads(his.outpatient(), lambda p: p.replace(b'encoding="utf-8"', b'encoding="utf-16"'))

    read = record_of(his.submission_bytes([visit]))

    assert read == record_of(his.submission_bytes([his.outpatient()]))
    assert read.identity.full_name == "Nguyễn Văn An"


def test_a_container_declaring_utf16_but_written_in_utf8_is_read() -> None:
    data = his.submission_bytes([his.outpatient()]).replace(b'encoding="utf-8"', b'encoding="utf-16"', 1)

    assert record_of(data).identity.full_name == "Nguyễn Văn An"


def test_inner_tables_really_in_utf16_are_still_read() -> None:
    def utf16(payload: bytes) -> bytes:
        return payload.removeprefix(his.BOM).decode().replace("utf-8", "utf-16").encode("utf-16")

    assert record_of(his.submission_bytes([with_payloads(his.outpatient(), utf16)])).identity.full_name == (
        "Nguyễn Văn An"
    )


TONES = "\u0300\u0301\u0303\u0309\u0323"


def windows_1258(text: str) -> bytes:
    """Text as a Windows-1258 writer stores it: letters with their vowel marks precomposed, tones combining."""
    out = []
    for char in text:
        decomposed = unicodedata.normalize("NFD", char)
        base = unicodedata.normalize("NFC", "".join(c for c in decomposed if c not in TONES))
        out.append(base + "".join(c for c in decomposed if c in TONES))
    return "".join(out).encode("cp1258")


def test_a_table_in_windows_1258_that_says_so_is_read_and_composed() -> None:
    def cp1258(payload: bytes) -> bytes:
        return windows_1258(payload.removeprefix(his.BOM).decode().replace("utf-8", "windows-1258"))

    visit = with_payloads(his.outpatient(), cp1258)
    name = record_of(his.submission_bytes([visit])).identity.full_name

    assert name == "Nguyễn Văn An" and unicodedata.is_normalized("NFC", name)


def test_a_table_in_another_encoding_that_does_not_say_so_is_refused_with_the_reason() -> None:
    style = his.Style(declaration=False, bom_in_payload=False)
    tables = dict(his.tables(his.outpatient(), style))
    tables["XML1"] = tables["XML1"].decode().encode("cp1258", "replace")

    visit = parse_submission(his.submission_bytes([replace(his.outpatient(), payloads=tables)])).visits[0]

    assert visit.record is None
    assert [(p.table, p.field) for p in visit.problems] == [("XML1", "NOIDUNGFILE")]
    assert "not UTF-8" in visit.problems[0].reason


def test_container_tags_in_lower_case_and_a_lower_case_table_name_are_read() -> None:
    data = his.submission_bytes([his.outpatient()])
    data = data.replace(b"NOIDUNGFILE>", b"noidungfile>").replace(b"LOAIHOSO>", b"loaihoso>")
    data = data.replace(b"<loaihoso>XML1<", b"<loaihoso> xml1\r\n<")

    assert record_of(data) == record_of(his.submission_bytes([his.outpatient()]))


def test_a_cccd_and_cards_typed_with_spaces_are_read_as_their_digits() -> None:
    visit = his.outpatient(xml1={"SO_CCCD": " 0791 9000 1234 ", "MA_THE_BHYT": "dn4 7979 0012 3456 ; "})

    identity = record_of(his.submission_bytes([visit])).identity

    assert identity.cccd == "079190001234"
    assert identity.insurance_cards == ("DN4797900123456",)
    assert identity.social_insurance_numbers == ("7900123456",)


def test_a_birth_date_of_eight_characters_and_rows_without_stt() -> None:
    visit = his.outpatient(xml1={"NGAY_SINH": "19850312"})
    data = his.submission_bytes([visit], style=his.Style(empty="omit"))
    data_no_stt = record_of(data)

    assert (data_no_stt.identity.birth_year, data_no_stt.identity.birth_month) == (1985, 3)
    assert data_no_stt.identity.birth_day == 12
    assert [m.position for m in data_no_stt.medications] == list(range(1, len(data_no_stt.medications) + 1))


def test_tabs_and_crlf_inside_base64_and_xml1_sent_last() -> None:
    visit = his.outpatient()
    style = his.Style(wrap=60, line_end="\t\r\n\t")

    data = his.submission_bytes([visit], style=style)
    hoso_start = data.index(b"<FILEHOSO>")
    first_end = data.index(b"</FILEHOSO>", hoso_start) + len(b"</FILEHOSO>")
    tail_end = data.rindex(b"</FILEHOSO>") + len(b"</FILEHOSO>")
    reordered = data[:hoso_start] + data[first_end:tail_end] + data[hoso_start:first_end] + data[tail_end:]
    assert reordered.index(b"<LOAIHOSO>XML1<") > reordered.index(b"<LOAIHOSO>XML2<")

    assert record_of(reordered) == record_of(his.submission_bytes([visit]))


def test_a_whole_file_saved_as_utf16_with_its_bom_is_read() -> None:
    text = his.submission_bytes([his.outpatient()]).removeprefix(his.BOM).decode()
    data = text.replace('encoding="utf-8"', 'encoding="utf-16"', 1).encode("utf-16")
    assert data[:2] == b"\xff\xfe"

    assert record_of(data) == record_of(his.submission_bytes([his.outpatient()]))


def test_supplies_in_xml3_results_of_an_unlisted_service_and_values_wrapped_in_blank_lines() -> None:
    supply = {"MA_DICH_VU": "", "MA_VAT_TU": "N03.04.070", "TEN_VAT_TU": "Bơm tiêm 5ml", "TEN_DICH_VU": ""}
    visit = his.outpatient()
    tables = dict(his.tables(visit))
    xml3 = tables["XML3"].decode()
    row_start = xml3.index("<CHI_TIET_DVKT>")
    row = xml3[row_start : xml3.index("</CHI_TIET_DVKT>") + len("</CHI_TIET_DVKT>")]
    for tag, value in supply.items():
        row = re.sub(rf"<{tag}>.*?</{tag}>|<{tag} />", f"<{tag}>{value}</{tag}>", row, count=1, flags=re.S)
    tables["XML3"] = (xml3[:row_start] + row + xml3[row_start:]).encode()
    xml4 = tables["XML4"].decode()
    tables["XML4"] = re.sub(r"<MA_DICH_VU>[^<]*</MA_DICH_VU>", "<MA_DICH_VU>99.9999.9999</MA_DICH_VU>", xml4, count=1)
    tables["XML4"] = tables["XML4"].encode()
    xml1 = tables["XML1"].decode()
    tables["XML1"] = re.sub(
        r"<HO_TEN>.*?</HO_TEN>", "<HO_TEN>\r\n    <![CDATA[ Nguyễn Văn An ]]>\r\n  </HO_TEN>", xml1, flags=re.S
    ).encode()

    parsed = parse_submission(his.submission_bytes([replace(visit, payloads=tables)])).visits[0]

    assert parsed.record is not None, parsed.problems
    assert parsed.record.identity.full_name == "Nguyễn Văn An"
    first = parsed.record.services[0]
    assert (first.code, first.name) == ("N03.04.070", "Bơm tiêm 5ml")
    orphan = [r for r in parsed.record.results if r.service_code == "99.9999.9999"]
    assert len(orphan) == 1, "a result whose service is not in XML3 is kept"
    assert any(w.table == "XML4" and w.field == "MA_DICH_VU" for w in parsed.warnings)


def test_a_placeholder_birth_year_in_the_future_is_a_warning_and_no_birth_date() -> None:
    parsed = parse_submission(his.submission_bytes([his.outpatient(xml1={"NGAY_SINH": "999912310000"})])).visits[0]

    assert parsed.record is not None and parsed.record.identity.birth_year is None
    assert [(w.table, w.field) for w in parsed.warnings if w.field == "NGAY_SINH"] == [("XML1", "NGAY_SINH")]
