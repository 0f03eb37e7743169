"""The traps of XML 130/4750 (shared/xml130.md §1), one test each, on small files built the way HIS write them."""

from __future__ import annotations

import base64
import datetime as dt
import unicodedata
from decimal import Decimal

import pytest

from core.emr.records import ParsedFile, ParsedVisit, VisitKind, VisitRecord
from core.emr.xml130 import parse_base64_submission, parse_submission
from tests import emr_his_files as his

pytestmark = pytest.mark.unit
UTC = dt.UTC


def read(visit: his.Visit, style: his.Style = his.Style()) -> ParsedVisit:  # noqa: B008 - frozen value
    parsed = parse_submission(his.submission_bytes([visit], style=style))
    assert parsed.problems == ()
    assert len(parsed.visits) == 1
    return parsed.visits[0]


def record(visit: his.Visit, style: his.Style = his.Style()) -> VisitRecord:  # noqa: B008
    parsed = read(visit, style)
    assert parsed.problems == (), parsed.problems
    assert parsed.record is not None
    return parsed.record


def test_a_bom_on_the_file_and_inside_every_payload_is_skipped() -> None:
    data = his.submission_bytes([his.outpatient()], style=his.Style(bom_on_file=True, bom_in_payload=True))
    assert data.startswith(his.BOM)
    assert b"<NOIDUNGFILE>77u/PD94" in data  # the .NET signature of a BOM-prefixed payload

    parsed = parse_submission(data)

    assert parsed.visits[0].record == record(his.outpatient(), his.Style(bom_on_file=False, bom_in_payload=False))


def test_a_payload_with_two_boms_and_blank_lines_before_its_declaration_is_read() -> None:
    payload = his.BOM + his.BOM + b"\r\n" + his.tables(his.outpatient(), his.Style(bom_in_payload=False))[0][1]

    assert record(his.outpatient(payloads={"XML1": payload})).identity.full_name == "Nguyễn Văn An"


def test_inner_tables_without_an_xml_declaration_are_read() -> None:
    style = his.Style(declaration=False)
    assert not his.tables(his.outpatient(), style)[0][1].lstrip(his.BOM).startswith(b"<?xml")

    assert record(his.outpatient(), style) == record(his.outpatient())


def test_cdata_values_ending_in_a_bracket_or_holding_the_cdata_end_are_read_whole() -> None:
    drug = his.Drug(dose="2 viên/lần * 2 lần/ngày * 3 ngày [4 viên/ngày]", instructions="Uống ]]> sau ăn [no]]")
    payload = his.tables(his.outpatient(drugs=[drug]))[1][1]
    assert b"[4 vi\xc3\xaan/ng\xc3\xa0y]]]>" in payload  # the "]]]>" that breaks regex readers

    medication = record(his.outpatient(drugs=[drug])).medications[0]

    assert medication.dose == "2 viên/lần * 2 lần/ngày * 3 ngày [4 viên/ngày]"
    assert medication.instructions == "Uống ]]> sau ăn [no]]"
    assert medication.days == 3


@pytest.mark.parametrize(
    "style",
    [
        his.Style(wrap=76, line_end="\r\n"),
        his.Style(wrap=76, line_end="\n"),
        his.Style(wrap=64, line_end=" \r\n  "),
    ],
    ids=["mime-crlf", "mime-lf", "blanks-and-indent"],
)
def test_base64_wrapped_in_lines_with_blanks_decodes(style: his.Style) -> None:
    data = his.submission_bytes([his.outpatient()], style=style)
    assert b"\n" in data.split(b"<NOIDUNGFILE>")[1].split(b"</NOIDUNGFILE>")[0]

    assert parse_submission(data).visits[0].record == record(his.outpatient())


def test_base64_without_its_padding_still_decodes() -> None:
    payloads = dict(his.tables(his.outpatient()))
    encoded = base64.b64encode(payloads["XML1"]).decode()
    unpadded = encoded.rstrip("=")
    assert unpadded != encoded or len(encoded) % 4 == 0

    assert record(his.outpatient(raw={"XML1": unpadded})) == record(his.outpatient())


def test_decomposed_vietnamese_text_is_stored_composed() -> None:
    nfd = his.Style(nfd=True)
    payload = his.tables(his.outpatient(), nfd)[0][1].decode("utf-8-sig")
    assert "Nguye\u0302\u0303n" in payload  # ễ as e + circumflex + tilde

    person = record(his.outpatient(), nfd).identity

    assert person.full_name == "Nguyễn Văn An"
    assert unicodedata.is_normalized("NFC", person.address)


def test_decomposed_text_written_as_character_references_is_composed_too() -> None:
    tables = dict(his.tables(his.outpatient(), his.Style(cdata=False)))
    referenced = tables["XML1"].replace("Nguyễn".encode(), b"Nguye&#770;&#771;n")

    assert record(his.outpatient(payloads={"XML1": referenced})).identity.full_name == "Nguyễn Văn An"


@pytest.mark.parametrize("empty", ["short", "long", "omit"])
def test_an_empty_tag_an_empty_pair_and_a_missing_tag_all_mean_no_value(empty: str) -> None:
    visit = his.outpatient(cccd="", phone="", admitted="")

    got = record(visit, his.Style(empty=empty))

    assert got.identity.cccd is None
    assert got.identity.phone is None
    assert got.admitted_at is None
    assert got.treatment == "Điều trị nội khoa"
    assert got == record(visit)


def test_instants_are_vietnam_local_time_read_as_aware_utc() -> None:
    got = record(his.inpatient(arrived="202611010700", admitted="202611010830", discharged="202611050000"))

    assert got.arrived_at == dt.datetime(2026, 11, 1, 0, 0, tzinfo=UTC)
    assert got.admitted_at == dt.datetime(2026, 11, 1, 1, 30, tzinfo=UTC)
    assert got.discharged_at == dt.datetime(2026, 11, 4, 17, 0, tzinfo=UTC)  # midnight local is 17:00 UTC


def test_fourteen_character_instants_keep_their_minute() -> None:
    assert record(his.inpatient(), his.Style(seconds=True)) == record(his.inpatient())
    got = record(his.outpatient(arrived="20261102073059"))
    assert got.arrived_at == dt.datetime(2026, 11, 2, 0, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("written", "year", "month", "day"),
    [
        ("198503140830", 1985, 3, 14),  # 12 characters, time of birth known
        ("198503140000", 1985, 3, 14),  # unknown time
        ("198503000000", 1985, 3, None),  # unknown day
        ("198500000000", 1985, None, None),  # unknown day and month
        ("19850314", 1985, 3, 14),  # 8 characters (QĐ 4210 habit)
        ("1985", 1985, None, None),  # the year only
    ],
)
def test_birth_dates_with_unknown_parts(written: str, year: int, month: int | None, day: int | None) -> None:
    person = record(his.outpatient(birth=written)).identity

    assert (person.birth_year, person.birth_month, person.birth_day) == (year, month, day)


def test_an_unreadable_birth_date_is_a_warning_and_no_birth_date() -> None:
    parsed = read(his.outpatient(birth="19851399"))

    assert parsed.record is not None
    assert parsed.record.identity.birth_year is None
    assert [(w.table, w.field) for w in parsed.warnings] == [("XML1", "NGAY_SINH")]


def test_numbers_with_a_decimal_point_and_a_zero_fraction() -> None:
    drugs = [his.Drug(quantity="50600.00"), his.Drug(quantity="0.5"), his.Drug(quantity="12")]

    quantities = [m.quantity for m in record(his.outpatient(drugs=drugs)).medications]

    assert quantities == [Decimal("50600"), Decimal("0.5"), Decimal("12")]


def test_a_number_with_a_decimal_comma_is_a_warning_and_no_quantity() -> None:
    parsed = read(his.outpatient(drugs=[his.Drug(quantity="1,5")]))

    assert parsed.record is not None
    assert parsed.record.medications[0].quantity is None
    assert [(w.table, w.field, w.row) for w in parsed.warnings] == [("XML2", "SO_LUONG", 1)]


def test_lists_with_stray_spaces_and_empty_items() -> None:
    visit = his.outpatient(
        secondary=" E11.9 ;; I10 ; ",
        departments="K02; ;K03;",
        cards="DN4797912345678 ; HN2010198765432;",
        re_exam_dates="20261109 ; ;20261116",
        discharge_diagnosis="",
    )

    got = record(visit)

    assert [d.code for d in got.diagnoses] == ["J06.9", "E11.9", "I10"]
    assert got.departments == ("K02", "K03")
    assert got.identity.insurance_cards == ("DN4797912345678", "HN2010198765432")
    assert got.re_exam_dates == (dt.date(2026, 11, 9), dt.date(2026, 11, 16))
    assert record(visit, his.Style(stray_spaces=True)) == got


def test_codes_that_look_numeric_keep_their_leading_zeros() -> None:
    visit = his.outpatient(cccd="001190004567", care_type="01", coverage="1.10")

    got = record(visit)

    assert got.identity.cccd == "001190004567"
    assert got.care_type_code == "01"
    assert got.medications[0].route == "1.01"
    assert got.medications[0].ingredient_code == "40.30"


def test_treatment_is_read_under_both_spellings() -> None:
    xml1_other_spelling = his.inpatient(treatment="", xml1={"PP_DIEUTRI": "Kháng sinh tĩnh mạch"})
    papers_other_spelling = his.inpatient(
        xml7={"PP_DIEUTRI": "", "PP_DIEU_TRI": "Mổ nội soi"}, xml8={"PP_DIEUTRI": "", "PP_DIEU_TRI": "Mổ nội soi"}
    )

    assert record(xml1_other_spelling).treatment == "Kháng sinh tĩnh mạch"
    got = record(papers_other_spelling)
    assert got.discharge is not None and got.discharge.treatment == "Mổ nội soi"
    assert got.summary is not None and got.summary.treatment == "Mổ nội soi"


def test_a_referral_with_the_qd_4750_names_and_with_the_qd_3176_renames() -> None:
    visit = his.outpatient(xml13={})

    for style in (his.Style(), his.Style(qd3176=True)):
        referral = record(visit, style).referral
        assert referral is not None
        assert (referral.from_facility, referral.to_facility) == ("79001", "79010")
        assert referral.condition == "Tỉnh, mạch 90 lần/phút"
        assert referral.treatment == "Điều trị nội khoa"
        assert referral.direction == "Chuyển tuyến trên can thiệp mạch vành"
        assert referral.issued_at == dt.datetime(2026, 11, 2, 3, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("written", "due_date", "due_time"),
    [
        ("202611120800", dt.date(2026, 11, 12), dt.time(8, 0)),  # QĐ 4750: 12 characters
        ("202611120000", dt.date(2026, 11, 12), None),  # 12 characters, no time
        ("20261112", dt.date(2026, 11, 12), None),  # QĐ 3176: 8 characters
    ],
)
def test_the_re_exam_date_in_twelve_or_eight_characters(
    written: str, due_date: dt.date, due_time: dt.time | None
) -> None:
    slip = record(his.inpatient(xml14={"NGAY_HEN_KL": written})).re_exam

    assert slip is not None
    assert (slip.due_date, slip.due_time) == (due_date, due_time)
    assert slip.number == "HK2026-0042"


def test_a_re_exam_slip_without_a_readable_date_is_skipped_with_a_warning() -> None:
    parsed = read(his.inpatient(xml14={"NGAY_HEN_KL": "2026-11-12"}))

    assert parsed.record is not None and parsed.record.re_exam is None
    assert [(w.table, w.field) for w in parsed.warnings] == [("XML14", "NGAY_HEN_KL")]


def test_course_notes_sent_for_an_outpatient_are_accepted() -> None:
    got = record(his.outpatient(notes=[his.Note(at="202611020800", text="Khám lần đầu")]))

    assert got.kind is VisitKind.OUTPATIENT
    assert [(n.note, n.at) for n in got.course] == [("Khám lần đầu", dt.datetime(2026, 11, 2, 1, 0, tzinfo=UTC))]


def test_the_container_without_namespaces_as_qd_130_wrote_it() -> None:
    data = his.submission_bytes([his.outpatient()], style=his.Style(xmlns=False))

    assert parse_submission(data).visits[0].record == record(his.outpatient())


def test_a_container_with_a_default_namespace_is_read() -> None:
    data = his.submission_bytes([his.outpatient()]).replace(b"<GIAMDINHHS ", b'<GIAMDINHHS xmlns="urn:bhxh" ', 1)

    parsed = parse_submission(data)

    assert parsed.facility_code == "79001"
    assert parsed.visits[0].record == record(his.outpatient())


@pytest.mark.parametrize(
    "xmlns", [his.XML_SERIALIZER_NAMESPACES, ' xmlns="urn:his"'], ids=["xsi-xsd", "default-namespace"]
)
def test_inner_tables_with_namespace_declarations_are_read(xmlns: str) -> None:
    assert record(his.inpatient(), his.Style(inner_xmlns=xmlns)) == record(his.inpatient())


def test_the_gateway_string_wrapped_in_lines_is_read_as_the_file() -> None:
    text = his.gateway_base64([his.outpatient()])
    wrapped = "\r\n".join(text[i : i + 76] for i in range(0, len(text), 76)).encode()

    parsed: ParsedFile = parse_base64_submission(wrapped)

    assert parsed.visits[0].record == record(his.outpatient())
