"""A minimal writer of XML 130/4750 submission files (``GIAMDINHHS``, shared/xml130.md §2): a visit is a mapping
of LOAIHOSO ("XML1", "XML2", …) to its rows (tag -> value, written in the order given); each table becomes an
inner document, base64-encoded into NOIDUNGFILE, as a HIS writes it for the BHXH gateway. The demo records
(core/emr/demo.py) are written with it; a HIS's own exports carry every trap the parser handles, this writes
none of them.
"""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any
from xml.etree import ElementTree as ET

from core.emr.xml130.tables import STRUCTURE


def inner_table(kind: str, rows: list[dict[str, str]]) -> bytes:
    """One table of one visit as the inner XML document a HIS base64-encodes into NOIDUNGFILE."""
    root_tag, list_tag, row_tag = STRUCTURE[kind]
    root = ET.Element(root_tag)
    if list_tag is None:
        _fill(root, rows[0])
    else:
        listing = ET.SubElement(root, list_tag)
        for row in rows:
            _fill(ET.SubElement(listing, row_tag or ""), row)
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="utf-8", xml_declaration=False)


def _fill(element: ET.Element, fields: dict[str, str]) -> None:
    for tag, value in fields.items():
        ET.SubElement(element, tag).text = value or None


def submission(facility_code: str, visits: list[dict[str, Any]], *, made_on: dt.date) -> bytes:
    """A GIAMDINHHS file of ``visits`` (each: LOAIHOSO -> rows) as a HIS writes it for the gateway."""
    root = ET.Element("GIAMDINHHS")
    ET.SubElement(ET.SubElement(root, "THONGTINDONVI"), "MACSKCB").text = facility_code
    info = ET.SubElement(root, "THONGTINHOSO")
    ET.SubElement(info, "NGAYLAP").text = made_on.strftime("%Y%m%d")
    ET.SubElement(info, "SOLUONGHOSO").text = str(len(visits))
    listing = ET.SubElement(info, "DANHSACHHOSO")
    for visit in visits:
        hoso = ET.SubElement(listing, "HOSO")
        for kind, rows in visit.items():
            entry = ET.SubElement(hoso, "FILEHOSO")
            ET.SubElement(entry, "LOAIHOSO").text = kind
            ET.SubElement(entry, "NOIDUNGFILE").text = base64.b64encode(inner_table(kind, rows)).decode("ascii")
    ET.SubElement(root, "CHUKYDONVI")
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="utf-8", xml_declaration=False)
