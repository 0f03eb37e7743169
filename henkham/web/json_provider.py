"""JSON bodies of API requests: UTF-8 only, and never deeper than Python's parser can go.

Flask turns a ``ValueError`` from ``loads`` into 400 Bad Request; two inputs escaped that and became 500s: a
body nested deeper than the recursion limit (``RecursionError``), and UTF-16 or invalid UTF-8 (Python's
``json.loads`` of bytes guesses UTF-16/32 and lets UTF-8-encoded lone surrogates through).
"""

from __future__ import annotations

from typing import Any

from flask.json.provider import DefaultJSONProvider


class StrictJSONProvider(DefaultJSONProvider):
    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        if isinstance(s, bytes | bytearray):
            s = bytes(s).decode("utf-8")  # UnicodeDecodeError is a ValueError: 400
        try:
            return super().loads(s, **kwargs)
        except RecursionError:
            raise ValueError("the JSON body is nested too deeply") from None
