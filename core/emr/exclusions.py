"""What a record summary in chat never shows: visits with a sensitive diagnosis and sensitive test lines.

A Zalo chat is a weak channel (a shared phone, a screenshot, a relative looking over a shoulder), so the law's
most protected parts of a record stay at the hospital:

- a visit with an excluded diagnosis (ICD-10; default: chapter F, mental and behavioural disorders, and the
  HIV codes B20–B24, Z21, R75, Z11.4, Z20.6, Z71.7, O98.7) shows no diagnoses, medications, results, advice
  or departments in chat, only "please see the doctor" (the whole visit is *withheld*); a diagnosis whose
  wording holds an excluded word (default "HIV") withholds it too;
- an excluded service (by its code, or its name or the result line's name holding an excluded word) withholds
  that result line only.

Per hospital (``Settings.emr_chat_exclusions``, HENKHAM_EMR_CHAT_EXCLUSIONS, JSON: hospital slug →
``{"icd10": [...], "services": [...], "name_words": [...]}``): the entry ``"*"`` replaces the default lists
for every hospital; a hospital's own entry adds to them, for that hospital's visits (whichever OA shows them).

ICD-10 rules: a prefix ("F", "F32", "Z11.4": every code under it) or a range of categories ("B20-B24").
Words are matched whole, without regard to case or diacritics ("hiv" matches "Xét nghiệm HIV Ag/Ab").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from core.wording import fold

DEFAULT_ICD10: tuple[str, ...] = ("F", "B20-B24", "Z21", "R75", "Z11.4", "Z20.6", "Z71.7", "O98.7")
DEFAULT_SERVICES: tuple[str, ...] = ()
DEFAULT_NAME_WORDS: tuple[str, ...] = ("HIV",)
ALL_HOSPITALS = "*"
FIELDS = ("icd10", "services", "name_words")

_ICD10_RULE = re.compile(r"^[A-Z](?:\d{1,2}(?:\.?\d{0,4})?)?$")
_ICD10_RANGE = re.compile(r"^([A-Z]\d{2}(?:\.?\d{1,4})?)-([A-Z]\d{2}(?:\.?\d{1,4})?)$")


def _code(text: str) -> str:
    """An ICD-10 code or rule compared without dots or spaces, upper case ("z11.4 " -> "Z114")."""
    return "".join(text.split()).upper().replace(".", "")


def check_icd10_rule(rule: str) -> str:
    """The rule normalised ("b20 - b24" -> "B20-B24"); ValueError when it is no prefix or range of ICD-10."""
    text = "".join(rule.split()).upper()
    match = _ICD10_RANGE.match(text)
    if match:
        low, high = _code(match.group(1)), _code(match.group(2))
        if low > high:
            raise ValueError(f"ICD-10 range {rule!r} runs backwards")
        return text
    if _ICD10_RULE.match(text):
        return text
    raise ValueError(f"{rule!r} is no ICD-10 prefix (e.g. 'F', 'Z21', 'Z11.4') or range (e.g. 'B20-B24')")


@dataclass(frozen=True)
class Exclusions:
    """The exclusion lists in force for one OA's hospital; ``hospitals`` the additions of each hospital, which
    apply to that hospital's visits too (:meth:`at`)."""

    icd10: tuple[str, ...] = DEFAULT_ICD10
    services: tuple[str, ...] = DEFAULT_SERVICES
    name_words: tuple[str, ...] = DEFAULT_NAME_WORDS
    hospitals: tuple[tuple[str, Exclusions], ...] = ()

    def at(self, hospital_slug: str | None) -> Exclusions:
        """These lists with the additions of ``hospital_slug`` (the hospital of the visit being summarised)."""
        merged = self._at.get(hospital_slug)
        if merged is None:
            own = dict(self.hospitals).get(hospital_slug) if hospital_slug else None
            merged = (
                self
                if own is None
                else Exclusions(
                    _union(self.icd10, own.icd10),
                    _union(self.services, own.services),
                    _union(self.name_words, own.name_words),
                    self.hospitals,
                )
            )
            self._at[hospital_slug] = merged
        return merged

    # Answers already given (the same codes and wordings recur across a record's visits), kept per value.
    @cached_property
    def _at(self) -> dict[str | None, Exclusions]:
        return {}

    @cached_property
    def _seen_codes(self) -> dict[str, bool]:
        return {}

    @cached_property
    def _seen_names(self) -> dict[str, bool]:
        return {}

    @cached_property
    def _prefixes(self) -> tuple[str, ...]:
        return tuple(_code(rule) for rule in self.icd10 if "-" not in rule)

    @cached_property
    def _ranges(self) -> tuple[tuple[str, str], ...]:
        pairs = (rule.split("-", 1) for rule in self.icd10 if "-" in rule)
        return tuple((_code(low), _code(high)) for low, high in pairs)

    @cached_property
    def _service_codes(self) -> frozenset[str]:
        return frozenset(code.strip().upper() for code in self.services if code.strip())

    @cached_property
    def _words(self) -> re.Pattern[str] | None:
        words = [re.escape(fold(word).strip()) for word in self.name_words if word.strip()]
        return re.compile(rf"(?<![0-9a-z])(?:{'|'.join(words)})(?![0-9a-z])") if words else None

    def code_excluded(self, code: str) -> bool:
        """True when the ICD-10 code falls under an excluded prefix or range."""
        seen = self._seen_codes
        answer = seen.get(code)
        if answer is None:
            answer = _remember(seen, code, self._code_matches(_code(code)))
        return answer

    def _code_matches(self, text: str) -> bool:
        if not text:
            return False
        if text.startswith(self._prefixes):
            return True
        return any(low <= text[: len(low)] and text[: len(high)] <= high for low, high in self._ranges)

    def names_excluded(self, *names: str) -> bool:
        """True when one of ``names`` holds an excluded word."""
        pattern = self._words
        if pattern is None:
            return False
        seen = self._seen_names
        for name in names:
            if not name:
                continue
            answer = seen.get(name)
            if answer is None:
                answer = _remember(seen, name, pattern.search(fold(name)) is not None)
            if answer:
                return True
        return False

    def diagnosis_excluded(self, code: str, text: str = "") -> bool:
        return self.code_excluded(code) or self.names_excluded(text)

    def service_excluded(self, code: str, *names: str) -> bool:
        return code.strip().upper() in self._service_codes or self.names_excluded(*names)


_REMEMBERED = 4096  # answers kept per list of rules (then forgotten, all at once)


def _remember(seen: dict, key: str, answer: bool) -> bool:
    if len(seen) >= _REMEMBERED:
        seen.clear()
    seen[key] = answer
    return answer


def _union(first: Iterable[str], second: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys([*first, *second]))


def _lists(entry: Mapping[str, Any] | None, base: Exclusions) -> Exclusions:
    if entry is None:
        return base
    return Exclusions(
        tuple(entry.get("icd10", base.icd10)),
        tuple(entry.get("services", base.services)),
        tuple(entry.get("name_words", base.name_words)),
    )


def exclusions_for(settings: Any, hospital_slug: str | None) -> Exclusions:
    """The exclusions of the OA of ``hospital_slug`` (None: the defaults), from ``settings.emr_chat_exclusions``:
    the ``"*"`` entry (else the documented defaults), plus the hospital's own entry, with every hospital's
    additions for its own visits."""
    config: Mapping[str, Mapping[str, Any]] = getattr(settings, "emr_chat_exclusions", None) or {}
    base = _lists(config.get(ALL_HOSPITALS), Exclusions())
    own = {
        slug: Exclusions(
            tuple(entry.get("icd10", ())), tuple(entry.get("services", ())), tuple(entry.get("name_words", ()))
        )
        for slug, entry in config.items()
        if slug != ALL_HOSPITALS
    }
    with_hospitals = Exclusions(base.icd10, base.services, base.name_words, tuple(sorted(own.items())))
    return with_hospitals.at(hospital_slug)


def check_setting(config: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, list[str]]]:
    """The setting checked and normalised (ICD-10 rules upper case): ValueError naming the bad entry."""
    out: dict[str, dict[str, list[str]]] = {}
    for slug, entry in config.items():
        unknown = sorted(set(entry) - set(FIELDS))
        if unknown:
            raise ValueError(f"emr_chat_exclusions[{slug!r}]: unknown key(s) {', '.join(unknown)}; use {FIELDS}")
        checked: dict[str, list[str]] = {}
        for key, values in entry.items():
            items = [str(v).strip() for v in values if str(v).strip()]
            checked[key] = [check_icd10_rule(v) for v in items] if key == "icd10" else items
        out[slug] = checked
    return out
