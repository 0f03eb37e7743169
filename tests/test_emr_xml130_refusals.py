"""What core.emr.xml130 refuses, and how: a visit with the table, field and reason a records clerk can act on,
or the whole file; one bad visit never stops the others; hostile XML is refused unexpanded; sizes are bounded."""

from __future__ import annotations

import base64
import time

import pytest

from core.emr.records import ParsedFile, ParsedVisit, Problem
from core.emr.xml130 import Limits, parse_base64_submission, parse_submission
from tests import emr_his_files as his

pytestmark = pytest.mark.unit

BILLION_LAUGHS = (
    b'<?xml version="1.0"?>\n<!DOCTYPE TONG_HOP [\n<!ENTITY lol "lol">\n'
    + b"".join(
        b'<!ENTITY lol%d "%s">\n' % (n, (b"&lol%d;" % (n - 1) if n > 1 else b"&lol;") * 10) for n in range(1, 10)
    )
    + b"]>\n<TONG_HOP><MA_LK>LK0001</MA_LK><HO_TEN>&lol9;</HO_TEN></TONG_HOP>"
)
EXTERNAL_ENTITY = (
    b'<?xml version="1.0"?><!DOCTYPE TONG_HOP [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    b"<TONG_HOP><MA_LK>LK0001</MA_LK><HO_TEN>&x;</HO_TEN></TONG_HOP>"
)


def one_visit(visit: his.Visit, **kwargs: object) -> ParsedVisit:
    parsed = parse_submission(his.submission_bytes([visit], **kwargs))
    assert parsed.problems == ()
    (only,) = parsed.visits
    return only


def where(problems: tuple[Problem, ...]) -> list[tuple[str, str]]:
    return [(problem.table, problem.field) for problem in problems]


def refused(visit: his.Visit) -> ParsedVisit:
    parsed = one_visit(visit)
    assert parsed.record is None
    assert parsed.problems
    return parsed


def file_refused(parsed: ParsedFile, words: str) -> None:
    assert parsed.visits == ()
    assert len(parsed.problems) == 1
    assert parsed.problems[0].table == "GIAMDINHHS"
    assert words in parsed.problems[0].reason


def test_a_visit_without_xml1_is_refused() -> None:
    parsed = refused(his.outpatient(omit={"XML1"}))

    assert where(parsed.problems) == [("XML1", "LOAIHOSO")]
    assert "no XML1" in parsed.problems[0].reason


def test_a_visit_whose_xml1_is_not_xml_is_refused() -> None:
    parsed = refused(his.outpatient(payloads={"XML1": b"<TONG_HOP><MA_LK>LK0001</TONG_HOP>"}))

    assert where(parsed.problems) == [("XML1", "NOIDUNGFILE")]
    assert "not well-formed XML" in parsed.problems[0].reason


@pytest.mark.parametrize("tag", ["MA_LK", "MA_CSKCB"])
def test_a_visit_without_its_key_or_its_facility_is_refused(tag: str) -> None:
    parsed = refused(his.outpatient(xml1={tag: ""}))

    assert where(parsed.problems) == [("XML1", tag)]
    assert parsed.problems[0].reason == f"{tag} is missing"


def test_a_visit_of_another_facility_than_the_file_is_refused() -> None:
    parsed = refused(his.outpatient(facility_code="79002"))

    assert where(parsed.problems) == [("XML1", "MA_CSKCB")]
    assert "79002" in parsed.problems[0].reason and "79001" in parsed.problems[0].reason
    assert (parsed.facility_code, parsed.visit_key) == ("79002", "LK0001")


def test_a_table_of_another_visit_refuses_the_visit() -> None:
    visit = his.outpatient(drugs=[his.Drug(), his.Drug(extra={"MA_LK": "LK9999"})])

    parsed = refused(visit)

    assert [(p.table, p.field, p.row) for p in parsed.problems] == [("XML2", "MA_LK", 2)]
    assert "LK9999" in parsed.problems[0].reason
    assert parsed.visit_key == "LK0001"


@pytest.mark.parametrize("arrived", ["", "2026-11-02 07:30", "202613020730"])
def test_a_visit_without_a_readable_arrival_is_refused(arrived: str) -> None:
    parsed = refused(his.outpatient(arrived=arrived))

    assert where(parsed.problems) == [("XML1", "NGAY_VAO")]


def test_a_table_that_is_not_base64_refuses_the_visit() -> None:
    parsed = refused(his.outpatient(raw={"XML3": "this is not base64 at all!"}))

    assert where(parsed.problems) == [("XML3", "NOIDUNGFILE")]
    assert "not valid base64" in parsed.problems[0].reason


def test_a_table_with_an_undeclared_entity_refuses_the_visit() -> None:
    payload = b"<CHITIEU_CHITIET_THUOC><DSACH_CHI_TIET_THUOC><CHI_TIET_THUOC><TEN_THUOC>&nbsp;</TEN_THUOC>"
    payload += b"</CHI_TIET_THUOC></DSACH_CHI_TIET_THUOC></CHITIEU_CHITIET_THUOC>"

    parsed = refused(his.outpatient(payloads={"XML2": payload}))

    assert where(parsed.problems) == [("XML2", "NOIDUNGFILE")]


def test_a_table_with_an_unknown_root_refuses_the_visit() -> None:
    payload = b"<CHITIEU_TONGHOP_KCB><MA_LK>LK0001</MA_LK></CHITIEU_TONGHOP_KCB>"  # a tag that does not exist

    parsed = refused(his.outpatient(payloads={"XML1": payload}))

    assert where(parsed.problems) == [("XML1", "CHITIEU_TONGHOP_KCB")]
    assert "expected <TONG_HOP>" in parsed.problems[0].reason


def test_a_billion_laughs_table_is_refused_without_being_expanded() -> None:
    started = time.perf_counter()

    parsed = refused(his.outpatient(payloads={"XML1": BILLION_LAUGHS}))

    assert time.perf_counter() - started < 2
    assert where(parsed.problems) == [("XML1", "NOIDUNGFILE")]
    assert "DOCTYPE" in parsed.problems[0].reason


def test_an_external_entity_in_a_table_is_refused_without_being_read() -> None:
    parsed = refused(his.outpatient(payloads={"XML1": his.BOM + EXTERNAL_ENTITY}))

    assert "DOCTYPE" in parsed.problems[0].reason
    assert "root:" not in repr(parsed)


def test_a_doctype_on_the_file_refuses_the_file() -> None:
    data = his.submission_bytes([his.outpatient()])
    head, body = data.split(b"<GIAMDINHHS", 1)
    hostile = head + b'<!DOCTYPE GIAMDINHHS [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>\n<GIAMDINHHS' + body

    file_refused(parse_submission(hostile), "DOCTYPE")


def test_a_doctype_after_a_comment_on_the_file_refuses_the_file() -> None:
    hostile = b'<?xml version="1.0"?>\n<!-- exported -->\n<!DOCTYPE GIAMDINHHS SYSTEM "http://x/y.dtd"><GIAMDINHHS/>'

    file_refused(parse_submission(hostile), "DOCTYPE")


def test_a_doctype_behind_a_long_comment_is_refused_all_the_same() -> None:
    comment = b"<!--" + b"x" * 100_000 + b"-->"
    table = BILLION_LAUGHS.replace(b"<!DOCTYPE", comment + b"<!DOCTYPE", 1)
    data = his.submission_bytes([his.outpatient()])
    head, body = data.split(b"<GIAMDINHHS", 1)
    hostile = head + comment + b'<!DOCTYPE GIAMDINHHS [<!ENTITY a "a">]>\n<GIAMDINHHS' + body

    assert "DOCTYPE" in refused(his.outpatient(payloads={"XML1": table})).problems[0].reason
    file_refused(parse_submission(hostile), "DOCTYPE")


def test_an_optional_field_that_cannot_be_read_is_a_warning_and_left_empty() -> None:
    exam = his.Exam(results=[his.Lab(result_at="20261302")], result_at="2026-11-02")

    parsed = one_visit(his.outpatient(exams=[exam]))

    assert parsed.problems == ()
    assert parsed.record is not None
    assert parsed.record.results[0].result_at is None
    assert parsed.record.services[0].result_at is None
    assert [(w.table, w.field, w.row) for w in parsed.warnings] == [("XML3", "NGAY_KQ", 1), ("XML4", "NGAY_KQ", 1)]


def test_a_qd_4210_file_is_refused_asking_for_a_qd_4750_export() -> None:
    parsed = parse_submission(his.submission_bytes([his.qd4210_visit(), his.qd4210_visit(his.inpatient())]))

    assert all(visit.record is None for visit in parsed.visits)
    assert len(parsed.problems) == 1
    reason = parsed.problems[0].reason
    assert "QĐ 4210" in reason and "superseded" in reason and "QĐ 4750" in reason
    assert [visit.problems[0].reason for visit in parsed.visits] == [reason, reason]
    assert [visit.visit_key for visit in parsed.visits] == ["LK0001", "LK0002"]


def test_a_qd_4210_xml1_alone_is_recognised() -> None:
    visit = his.qd4210_visit()
    visit = visit.with_(payloads={"XML1": visit.payloads["XML1"]}, omit={"XML2", "XML3", "XML4", "XML5"})

    parsed = parse_submission(his.submission_bytes([visit]))

    assert parsed.visits[0].record is None
    assert "QĐ 4210" in parsed.visits[0].problems[0].reason
    assert "QĐ 4210" in parsed.problems[0].reason


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", "empty"),
        (b"\xef\xbb\xbf \r\n", "empty"),
        (b'{"resourceType": "Bundle"}', "not XML"),
        (b"MA_LK;HO_TEN\r\nLK1;An", "not XML"),
        (b'<?xml version="1.0"?><Bundle xmlns="http://hl7.org/fhir"/>', "expected <GIAMDINHHS>"),
        (b"<GIAMDINHHS><THONGTINDONVI>", "not well-formed"),
        (b"<GIAMDINHHS><THONGTINDONVI><MACSKCB>79001</MACSKCB></THONGTINDONVI></GIAMDINHHS>", "no visit"),
    ],
    ids=["empty", "blank", "json", "csv", "another-root", "truncated", "no-visit"],
)
def test_what_is_not_a_giamdinhhs_file_is_a_file_problem(data: bytes, words: str) -> None:
    parsed = parse_submission(data)

    assert parsed.visits == ()
    assert [problem.table for problem in parsed.problems] == ["GIAMDINHHS"]
    assert words in parsed.problems[0].reason


def test_the_gateway_string_that_is_not_base64_is_a_file_problem() -> None:
    file_refused(parse_base64_submission("PD94bWwg!!!"), "not valid base64")
    file_refused(parse_base64_submission(""), "empty")


def test_one_broken_visit_of_five_is_reported_and_the_four_others_kept() -> None:
    visits = [his.outpatient(ma_lk=f"LK{n}", patient_code=f"BN{n}") for n in range(1, 6)]
    visits[2] = visits[2].with_(raw={"XML2": "@@@@"})

    parsed = parse_submission(his.submission_bytes(visits))

    assert parsed.problems == ()
    assert [visit.visit_key for visit in parsed.visits if visit.record is not None] == ["LK1", "LK2", "LK4", "LK5"]
    broken = parsed.visits[2]
    assert (broken.facility_code, broken.visit_key, broken.record) == ("79001", "LK3", None)
    assert [(p.table, p.field, p.reason) for p in broken.problems] == [
        ("XML2", "NOIDUNGFILE", "XML2 is not valid base64")
    ]


def test_an_unknown_table_is_a_warning_and_the_known_unused_ones_are_skipped_quietly() -> None:
    parsed = one_visit(his.outpatient(extra_tables=["XML6", "XML9", "XML10", "XML11", "XML15", "XML0", "XML99"]))

    assert parsed.record is not None
    assert [(w.table, w.field) for w in parsed.warnings] == [("XML0", "LOAIHOSO"), ("XML99", "LOAIHOSO")]
    assert "not in GIAMDINHHS" in parsed.warnings[0].reason
    assert "unknown table" in parsed.warnings[1].reason


def test_an_icd_code_unknown_to_the_who_list_is_kept_with_a_warning() -> None:
    parsed = one_visit(his.outpatient(principal="J06.9", secondary="U99.9;E11.9", discharge_diagnosis=""))

    assert parsed.record is not None
    assert [d.code for d in parsed.record.diagnoses] == ["J06.9", "U99.9", "E11.9"]
    assert [(w.table, w.field) for w in parsed.warnings] == [("XML1", "MA_BENH_KT")]
    assert "U99.9" in parsed.warnings[0].reason


def test_an_invalid_phone_is_dropped_with_a_warning() -> None:
    parsed = one_visit(his.outpatient(phone="0281234"))

    assert parsed.record is not None and parsed.record.identity.phone is None
    assert where(parsed.warnings) == [("XML1", "DIEN_THOAI")]
    assert "0281234" not in repr(parsed.warnings)  # never the number itself


def test_a_file_larger_than_the_limit_is_refused_before_reading() -> None:
    data = his.submission_bytes([his.outpatient()])

    file_refused(parse_submission(data, limits=Limits(max_file_bytes=len(data) - 1)), "larger than")
    assert parse_submission(data, limits=Limits(max_file_bytes=len(data))).visits[0].record is not None
    gateway = his.gateway_base64([his.outpatient()])
    file_refused(parse_base64_submission(gateway, limits=Limits(max_file_bytes=len(data) - 1)), "larger than")


def test_a_table_larger_than_the_limit_refuses_its_visit_only() -> None:
    small = his.outpatient(ma_lk="LK1")
    big = his.outpatient(ma_lk="LK2", drugs=[his.Drug() for _ in range(40)])
    limit = max(len(payload) for _, payload in his.tables(small)) + 10

    parsed = parse_submission(his.submission_bytes([small, big]), limits=Limits(max_table_bytes=limit))

    assert parsed.visits[0].record is not None
    assert parsed.visits[1].record is None
    assert where(parsed.visits[1].problems) == [("XML2", "NOIDUNGFILE")]
    assert "larger than" in parsed.visits[1].problems[0].reason


def test_a_file_with_more_visits_than_the_limit_is_refused() -> None:
    visits = [his.outpatient(ma_lk=f"LK{n}") for n in range(4)]

    parsed = parse_submission(his.submission_bytes(visits), limits=Limits(max_visits=3))

    assert parsed.visits == ()
    assert [(p.table, p.field) for p in parsed.problems] == [("GIAMDINHHS", "HOSO")]
    assert "more than 3 visits" in parsed.problems[0].reason
    assert len(parse_submission(his.submission_bytes(visits[:3]), limits=Limits(max_visits=3)).visits) == 3


def test_a_huge_payload_over_libxml2s_text_limit_is_a_visit_problem_not_a_crash() -> None:
    filler = base64.b64encode(b"<TONG_HOP><HO_TEN>" + b"a" * 12_000_000 + b"</HO_TEN></TONG_HOP>").decode()

    parsed = parse_submission(his.submission_bytes([his.outpatient(raw={"XML1": filler})]))

    assert parsed.problems == ()
    assert parsed.visits[0].record is None
    assert where(parsed.visits[0].problems) == [("XML1", "NOIDUNGFILE")]
    assert "too long" in parsed.visits[0].problems[0].reason
