"""Department names as patients write them → the canonical slugs of shared/nlu-schema.md.

The names come from the synonyms of the NLU data (data/training/nlu.yml), so there is one list. The NLU
extracts departments; this catches what it leaves unmapped ("khám nhi" as the value) or misses in a long
message, but only where the word follows "khám"/"khoa", so "tim" (tìm, to look for) typed without
diacritics is not taken for cardiology.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml

from .symptoms import fold

NLU_DATA = Path(__file__).resolve().parents[2] / "data" / "training" / "nlu.yml"
LEADS = ("kham", "khoa", "chuyen khoa")


@cache
def names() -> dict[str, str]:
    """Folded name → slug, for every department synonym of the NLU data and the slugs themselves."""
    found: dict[str, str] = {}
    for item in yaml.safe_load(NLU_DATA.read_text(encoding="utf-8"))["nlu"]:
        slug = item.get("synonym")
        if not slug or "-" in slug:  # hospital slugs contain dashes; department slugs never do
            continue
        found[fold(slug.replace("_", " ")).strip()] = slug
        for line in item.get("examples", "").splitlines():
            name = fold(line.strip().lstrip("-")).strip()
            if name:
                found[name] = slug
    return found


def slugs() -> set[str]:
    return set(names().values())


def canonical(value: object) -> str | None:
    """The slug of an extracted department value, or None when it names no department."""
    text = str(value or "").strip()
    if text in slugs():
        return text
    folded = fold(text).strip()
    for lead in LEADS:
        if folded.startswith(lead + " "):
            folded = folded[len(lead) + 1 :]
    return names().get(folded)


def mentioned(text: str) -> str | None:
    """A department the message names after "khám"/"khoa" (the longest name wins)."""
    folded = fold(text)
    for name in sorted(names(), key=len, reverse=True):
        if any(f" {lead} {name} " in folded for lead in LEADS):
            return names()[name]
    return None
