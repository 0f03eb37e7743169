"""Safe XML for files that come from outside: no DTD, no entity expansion, no network, bounded sizes.

A DOCTYPE (and with it any entity declaration) is refused before lxml sees the document; the parser is also
built never to load a DTD nor resolve an entity, so a billion-laughs payload is never expanded.
"""

from __future__ import annotations

import re
import threading
import unicodedata

from lxml import etree

BOM = b"\xef\xbb\xbf"
_PROLOG = re.compile(rb"(?:\s+|<\?.*?\?>|<!--.*?-->)*", re.S)
_ROOT_NAME = re.compile(rb"<([A-Za-z_][\w.:-]*)")
# The encoding pseudo-attribute of an XML declaration at the very start of a document.
_DECLARED_ENCODING = re.compile(rb"""^<\?xml[^>]{0,200}?\sencoding\s*=\s*["']([A-Za-z0-9._-]{1,40})["']""")
_UTF16 = frozenset({b"utf-16", b"utf16", b"utf-16le", b"utf-16be", b"unicode", b"ucs-2"})
_local = threading.local()


class UnsafeXml(ValueError):
    """The document declares a DTD or entities."""


def content_start(data: bytes) -> int:
    """Where the document begins once the UTF-8 byte-order marks (.NET writers put one on the file and one
    inside every payload) and the blanks before the first tag are skipped."""
    start, size = 0, len(data)
    while start < size:
        if data.startswith(BOM, start):
            start += 3
        elif data[start] in b" \t\r\n":
            start += 1
        else:
            break
    return start


def utf8_declared_utf16(data: bytes, start: int = 0) -> bytes | None:
    """The document from ``start`` with its declaration saying utf-8, when it declares UTF-16 but its bytes are
    UTF-8 (a .NET HIS serialises to a string, whose writer always declares utf-16, then saves the string as
    UTF-8); None when the declaration is true or there is none. Real UTF-16 starts with FF FE / FE FF or has a
    NUL in its first characters, and never comes here (the '<' at ``start`` is then followed by a NUL)."""
    head = data[start : start + 256]
    match = _DECLARED_ENCODING.match(head)
    if match is None or match.group(1).lower() not in _UTF16 or b"\x00" in head:
        return None
    return data[start : start + match.start(1)] + b"utf-8" + data[start + match.end(1) :]


def strip_bom(data: bytes) -> bytes:
    start = content_start(data)
    return data[start:] if start else data


def refuse_doctype(data: bytes, start: int = 0) -> str:
    """Raise UnsafeXml when the prolog of the document (from start, within its first 64 KiB) holds a DOCTYPE,
    the only place one can be. Returns the root element's local name as far as the prolog tells ("" if not)."""
    window = data[start : start + 65536]
    match = _PROLOG.match(window)
    head = window[match.end() : match.end() + 200] if match else window[:200]
    if head[:9].upper().startswith(b"<!DOCTYPE"):
        raise UnsafeXml("the document declares a DOCTYPE (DTD or entities), which is refused")
    name = _ROOT_NAME.match(head)
    return name.group(1).decode("ascii", "replace").rpartition(":")[2] if name else ""


def unsafe(exc: etree.XMLSyntaxError) -> UnsafeXml | None:
    """libxml2's own guard against entity bombs fired (a DTD past the part of the prolog checked up front)."""
    if "amplification" in (exc.msg or ""):
        return UnsafeXml("the document declares a DOCTYPE (DTD or entities), which is refused")
    return None


def parser_options(*, huge_tree: bool = False) -> dict[str, bool]:
    return {
        "resolve_entities": False,
        "no_network": True,
        "load_dtd": False,
        "dtd_validation": False,
        "huge_tree": huge_tree,
        "remove_comments": True,
        "remove_pis": True,
        "remove_blank_text": True,  # the indentation between tags: fewer nodes, faster (values are trimmed anyway)
        "collect_ids": False,
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
    data = utf8_declared_utf16(data) or data
    refuse_doctype(data)
    data, exact = _nfc(data)
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        refused = unsafe(exc)
        if refused is None:
            raise
        raise refused from exc
    if root.getroottree().docinfo.internalDTD is not None:  # after a prolog longer than refuse_doctype looks at
        raise UnsafeXml("the document declares a DOCTYPE (DTD or entities), which is refused")
    if root.tag[0] == "{":  # inner tables have no namespace; tolerate a HIS that declares a default one
        for element in root.iter():
            if isinstance(element.tag, str) and element.tag[0] == "{":
                element.tag = element.tag.partition("}")[2]
    if not exact or b"&#" in data:  # another encoding, or a character reference the NFC above did not see
        for element in root.iter():
            text = element.text
            if text and not text.isascii() and not unicodedata.is_normalized("NFC", text):
                element.text = unicodedata.normalize("NFC", text)
    return root


def _nfc(data: bytes) -> tuple[bytes, bool]:
    """Vietnamese text may come decomposed (NFD): normalise the whole UTF-8 document to NFC at once (tags and
    markup are ASCII, so only the values change), cheaper than value by value. Vietnamese decomposes only into
    marks of U+0300-U+036F, so a document without them is taken as NFC without a scan. False when it could not (not
    UTF-8: the document declares another encoding, and its values are normalised once parsed)."""
    if b"\xcc" not in data and b"\xcd" not in data:
        # No combining diacritical mark (U+0300-U+036F: UTF-8 lead bytes CC/CD): Vietnamese text is NFC already.
        return data, True
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return data, False
    return unicodedata.normalize("NFC", text).encode("utf-8"), True
