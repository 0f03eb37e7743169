"""JSON from outside (API bodies, Zalo webhook events), decoded so that it cannot break the process or storage.

- UTF-8 only (RFC 8259): a UTF-16 or Latin-1 body is refused, not silently guessed;
- at most ``MAX_DEPTH`` nested arrays/objects: a deeply nested body is refused before the decoder recurses
  (Python's decoder raises RecursionError, which callers would not expect);
- no lone UTF-16 surrogate (``"\\ud800"``) in any string or key: it cannot be stored, nor even written back as
  UTF-8.

Every refusal is an ``UnsafeJSON``, a ValueError, with a message saying why.
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_DEPTH = 20
_SURROGATE = re.compile("[\ud800-\udfff]")
_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]')


class UnsafeJSON(ValueError):
    """The text is not JSON this system accepts."""


class InvalidJSON(UnsafeJSON):
    """The text is not JSON at all."""


def _depth_ok(raw: bytes, limit: int) -> bool:
    depth = 0
    for match in _TOKENS.finditer(raw):
        token = match.group()
        if token in (b"[", b"{"):
            depth += 1
            if depth > limit:
                return False
        elif token in (b"]", b"}"):
            depth -= 1
    return True


def _check_strings(value: Any) -> None:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                raise UnsafeJSON("strings must not contain lone UTF-16 surrogates")
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def loads(raw: str | bytes, *, max_depth: int = MAX_DEPTH, allow_surrogates: bool = False, **kwargs: Any) -> Any:
    """The decoded value; UnsafeJSON saying why not. ``allow_surrogates`` keeps escaped lone surrogates
    (``"\\ud83d"``) for a caller that stores the raw text and cleans the strings it reads (Zalo events); raw
    bytes that encode a surrogate are never UTF-8 and always refused."""
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UnsafeJSON("the body must be UTF-8 encoded JSON") from exc
    if not _depth_ok(data, max_depth):
        raise UnsafeJSON(f"JSON nested deeper than {max_depth} levels")
    try:
        value = json.loads(text, **kwargs)
    except RecursionError as exc:  # pragma: no cover - the depth check comes first
        raise UnsafeJSON("JSON nested too deeply") from exc
    except ValueError as exc:  # JSONDecodeError, or an integer too long to convert
        raise InvalidJSON("the body is not valid JSON") from exc
    if not allow_surrogates:
        _check_strings(value)
    return value
