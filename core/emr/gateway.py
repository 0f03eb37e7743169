"""The BHXH gateway's form of a submission: the whole GIAMDINHHS file base64-encoded once more (``fileHSBase64``).

A HIS that talks to the gateway keeps that string; ``core.emr.importing.import_bytes`` recognises it by itself
(a body that does not start with "<" or "{"). This decodes it where a caller names it explicitly: the API's
``{"fileHSBase64": "…"}`` body and ``henkham emr import --base64``, which answer a bad string with their own error.
"""

from __future__ import annotations

import base64
import binascii
import re

_BOM = b"\xef\xbb\xbf"
_SPACE = re.compile(rb"\s+")


def gateway_base64_to_file(text: str | bytes) -> bytes:
    """The file of an explicit fileHSBase64 string; ValueError when it is not base64."""
    raw = text.encode("ascii", "replace") if isinstance(text, str) else text
    try:
        return base64.b64decode(_SPACE.sub(b"", raw.removeprefix(_BOM)), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("fileHSBase64 is not valid base64") from None
