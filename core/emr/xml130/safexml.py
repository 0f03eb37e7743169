"""Safe XML for files that come from outside: no DTD, no entity expansion, no network, bounded sizes.

A DOCTYPE (and with it any entity declaration) is refused before lxml sees the document; the parser is also
built never to load a DTD nor resolve an entity, so a billion-laughs payload is never expanded.
"""

from __future__ import annotations

import re
import threading

from lxml import etree

BOM = b"\xef\xbb\xbf"
_PROLOG = re.compile(rb"(?:\s+|<\?.*?\?>|<!--.*?-->)*", re.S)
_local = threading.local()


class UnsafeXml(ValueError):
    """The document declares a DTD or entities."""


def strip_bom(data: bytes) -> bytes:
    """Drop UTF-8 byte-order marks (.NET writers put one on the file and one inside every payload) and the
    blanks before the first tag."""
    start, size = 0, len(data)
    while start < size:
        if data.startswith(BOM, start):
            start += 3
        elif data[start] in b" \t\r\n":
            start += 1
        else:
            break
    return data[start:] if start else data


def refuse_doctype(data: bytes) -> None:
    """Raise UnsafeXml when the prolog of the document holds a DOCTYPE (the only place one can be)."""
    match = _PROLOG.match(data)
    head = data[match.end() : match.end() + 9] if match else data[:9]
    if head.upper().startswith(b"<!DOCTYPE"):
        raise UnsafeXml("the document declares a DOCTYPE (DTD or entities), which is refused")


def parser_options(*, huge_tree: bool = False) -> dict[str, bool]:
    return {
        "resolve_entities": False,
        "no_network": True,
        "load_dtd": False,
        "dtd_validation": False,
        "huge_tree": huge_tree,
        "remove_comments": True,
        "remove_pis": True,
    }


def _parser() -> etree.XMLParser:
    parser = getattr(_local, "parser", None)
    if parser is None:
        parser = _local.parser = etree.XMLParser(**parser_options())
    return parser


def parse_document(data: bytes) -> etree._Element:
    """Parse one small document (an inner table): BOMs stripped, DOCTYPE refused. Raises UnsafeXml or
    etree.XMLSyntaxError."""
    data = strip_bom(data)
    refuse_doctype(data)
    root = etree.fromstring(data, _parser())
    if root.getroottree().docinfo.internalDTD is not None:  # pragma: no cover - refused above already
        raise UnsafeXml("the document declares a DOCTYPE (DTD or entities), which is refused")
    return root
