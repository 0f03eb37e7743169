"""The BHXH gateway's form of a submission: the whole GIAMDINHHS file base64-encoded once more (``fileHSBase64``).

A HIS that talks to the gateway keeps that string; the CLI, the API and the inbox accept it as well as the file
itself. :func:`unwrap_gateway_base64` tells the two apart, so nobody has to say which one they have.
"""

from __future__ import annotations

import base64
import binascii
import re

_BOM = b"\xef\xbb\xbf"
_SPACE = re.compile(rb"\s+")


def unwrap_gateway_base64(data: bytes) -> bytes | None:
    """The file inside ``data`` when ``data`` is the gateway's base64 string of an XML file; None otherwise
    (an XML or JSON file as it is, or something that is not base64 of XML: the importer says what it is)."""
    text = data.removeprefix(_BOM).strip()
    if not text or text[:1] in (b"<", b"{", b"["):
        return None
    try:
        decoded = base64.b64decode(_SPACE.sub(b"", text), validate=True)
    except (binascii.Error, ValueError):
        return None
    return decoded if decoded.removeprefix(_BOM).lstrip()[:1] == b"<" else None


def gateway_base64_to_file(text: str | bytes) -> bytes:
    """The file of an explicit fileHSBase64 string; ValueError when it is not base64."""
    raw = text.encode("ascii", "replace") if isinstance(text, str) else text
    try:
        return base64.b64decode(_SPACE.sub(b"", raw.removeprefix(_BOM)), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("fileHSBase64 is not valid base64") from None
