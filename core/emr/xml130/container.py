"""The GIAMDINHHS container streamed HOSO by HOSO (xml130.md §2), and the gateway's base64 of it."""

from __future__ import annotations

import base64
import binascii
import io

from lxml import etree

from core.emr.records import ParsedFile, ParsedVisit, Problem
from core.emr.xml130 import tables, values
from core.emr.xml130.safexml import (
    UnsafeXml,
    content_start,
    parser_options,
    refuse_doctype,
    unsafe,
    utf8_declared_utf16,
)
from core.emr.xml130.visit import Limits, read_visit

ROOT = "GIAMDINHHS"


def _local(tag: object) -> str:
    if not isinstance(tag, str):
        return ""
    return tag.rpartition("}")[2] if tag.startswith("{") else tag


def _file_problem(reason: str, tag: str = "", facility: str = "") -> ParsedFile:
    return ParsedFile(facility_code=facility, problems=(Problem(reason=reason, table=ROOT, field=tag),))


def parse_submission(data: bytes, *, limits: Limits = Limits()) -> ParsedFile:  # noqa: B008 - frozen value
    """Read a GIAMDINHHS file as a HIS writes it (one or many HOSO). Never raises on bad input: what cannot be
    read is a Problem, of the file or of one visit (the other visits are read all the same)."""
    if len(data) > limits.max_file_bytes:
        return _file_problem(f"the file is larger than {limits.max_file_bytes} bytes; send it in several parts")
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):  # a HIS that saved the whole file as UTF-16 (with its BOM)
        try:
            data = data.decode("utf-16").encode("utf-8")
        except UnicodeError:
            return _file_problem("the file starts as UTF-16 but is not UTF-16 text")
    start = content_start(data)  # no copy of the file: it may be hundreds of megabytes
    if start >= len(data):
        return _file_problem("the file is empty")
    if data[start : start + 1] != b"<":
        return _file_problem("the file is not XML (a GIAMDINHHS file of QĐ 130/4750 is expected)")
    try:
        root = refuse_doctype(data, start)
    except UnsafeXml as exc:
        return _file_problem(str(exc))
    if root and root != ROOT:  # refused before any of a large foreign document is read
        return _file_problem(f"the root element is <{root}>; expected <{ROOT}>")
    relabelled = utf8_declared_utf16(data, start)  # a copy of the file, only in that rare case
    source = io.BytesIO(relabelled if relabelled is not None else data)
    source.seek(0 if relabelled is not None else start)
    try:
        return _stream(source, limits)
    except (UnsafeXml, _WrongRoot) as exc:
        return _file_problem(str(exc))
    except etree.XMLSyntaxError as exc:
        return _file_problem(str(unsafe(exc) or f"the file is not well-formed XML ({exc.msg})"))


def _stream(source: io.BytesIO, limits: Limits) -> ParsedFile:
    # huge_tree lifts libxml2's 10 MB cap on one text node: a NOIDUNGFILE up to Limits.max_table_bytes (16 MiB
    # decoded, 22 MB of base64) must fit. The file's size is bounded by Limits.max_file_bytes, DTDs are refused
    # above and entities are never resolved; the inner tables are parsed with huge_tree off.
    events = etree.iterparse(source, events=("end",), tag=("{*}HOSO", "{*}MACSKCB"), **parser_options(huge_tree=True))
    facility = ""
    visits: list[ParsedVisit] = []
    checked = False
    for _event, element in events:
        if not checked:
            checked = True
            _check_root(element.getroottree())
        if element.tag == "HOSO" or element.tag.endswith("}HOSO"):
            if len(visits) >= limits.max_visits:
                return _file_problem(
                    f"the file has more than {limits.max_visits} visits (HOSO); send it in several parts",
                    "HOSO",
                    facility,
                )
            visits.append(read_visit(facility, _files(element), limits, file_facility=facility))
            element.clear()
            parent = element.getparent()
            while element.getprevious() is not None and parent is not None:
                del parent[0]
        elif not facility:
            facility = values.clean(element.text)
    if not checked:
        _check_root(events.root.getroottree())
    problems: list[Problem] = []
    if not visits:
        problems.append(Problem(reason="the file holds no visit (HOSO)", table=ROOT, field="HOSO"))
    elif all(_is_4210(visit) for visit in visits):
        problems.append(Problem(reason=tables.QD4210_REASON, table=ROOT))
    return ParsedFile(facility_code=facility, visits=tuple(visits), problems=tuple(problems))


class _WrongRoot(ValueError):
    pass


def _check_root(tree: etree._ElementTree) -> None:
    if tree.docinfo.internalDTD is not None:
        raise UnsafeXml("the document declares a DOCTYPE (DTD or entities), which is refused")
    name = _local(tree.getroot().tag)
    if name != ROOT:
        raise _WrongRoot(f"the root element is <{name}>; expected <{ROOT}>")


def _is_4210(visit: ParsedVisit) -> bool:
    return any(problem.reason == tables.QD4210_REASON for problem in visit.problems)


def _files(hoso: etree._Element) -> list[tuple[str, str | None]]:
    files = []
    for item in hoso:
        if _local(item.tag).upper() != "FILEHOSO":
            continue
        kind = content = None
        for child in item:
            name = _local(child.tag).upper()  # <noidungfile>: a HIS that lower-cases the container's tags
            if name == "LOAIHOSO":
                kind = child.text
            elif name == "NOIDUNGFILE":
                content = child.text
        files.append((values.clean(kind).upper(), content))
    return files


def parse_base64_submission(text: str | bytes, *, limits: Limits = Limits()) -> ParsedFile:  # noqa: B008
    """The gateway's form field fileHSBase64: the whole GIAMDINHHS file base64-encoded once more."""
    raw = text.encode("ascii", "replace") if isinstance(text, str) else text
    compact = b"".join(raw.split())
    if not compact:
        return _file_problem("the file is empty", "fileHSBase64")
    if len(compact) // 4 * 3 > limits.max_file_bytes:
        return _file_problem(
            f"the file is larger than {limits.max_file_bytes} bytes; send it in several parts", "fileHSBase64"
        )
    compact += b"=" * (-len(compact) % 4)
    try:
        data = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        return _file_problem("fileHSBase64 is not valid base64", "fileHSBase64")
    return parse_submission(data, limits=limits)
