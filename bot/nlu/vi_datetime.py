"""Vietnamese dates and times as patients type them: "sáng thứ 2 tuần sau", "8h30 mai", "15/12", "mùng 5
tháng sau", "2h kém 15 chiều", with or without diacritics.

Pure standard library: imported by the Rasa components (Python 3.10) and by the application (3.11+).
No library fits: dateparser reads neither "thứ hai tuần sau" nor "15h30" (shared/DESIGN.md).

``parse_datetime(text, now)`` returns the first expression in ``text`` resolved against ``now`` (a local
Asia/Ho_Chi_Minh date and time): its ``date``, ``time``, ``part_of_day`` and the character span
``start``..``end`` in ``text`` as given (also when the text is decomposed Unicode). The rules are a
receptionist's:
- a weekday alone is the next such day after today ("thứ 2" said on a Monday is next Monday);
  "tuần này" / "tuần sau" pick the Monday-to-Sunday week, and "chủ nhật" is that week's last day;
- "ngày 15" or "15/12" without a year is the next such date that is not in the past;
- "mai", "mốt", "hôm nay", "N ngày nữa", "mùng 5 tháng sau" as expected;
- "8h", "8g", "8 giờ", "8:00", "8h30", "8 rưỡi", "2h kém 15"; "chiều" / "tối" turn 1–11 into 13–23.
Words that are also common words without their tone marks ("sang" (to), "toi" (I), "mot" (one)) count as a
time of day only when written with their marks or next to another date or time word.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
import unicodedata
from dataclasses import dataclass

PARTS_OF_DAY = ("morning", "noon", "afternoon", "evening")


@dataclass(frozen=True)
class DateTimeMatch:
    date: dt.date | None
    time: dt.time | None
    part_of_day: str | None
    start: int
    end: int


def fold(text: str) -> tuple[str, list[int]]:
    """Lower-case ``text`` without tone marks (đ → d), and for each folded character its index in ``text``."""
    folded: list[str] = []
    where: list[int] = []
    for index, char in enumerate(text):
        for part in unicodedata.normalize("NFD", char):
            if unicodedata.category(part) == "Mn":
                continue
            base = "d" if part in "đĐ" else part.lower()
            folded.append(base)
            where.append(index)
    return "".join(folded), where


_WEEKDAYS = {
    "2": 0, "hai": 0, "3": 1, "ba": 1, "4": 2, "tu": 2, "5": 3, "nam": 3, "6": 4, "sau": 4, "7": 5, "bay": 5,
}  # fmt: skip
_POD = {"sang": "morning", "trua": "noon", "chieu": "afternoon", "toi": "evening", "dem": "evening"}
# Written with their tone marks these are unambiguous; folded they are also common words.
_POD_MARKED = {"sáng": "sang", "trưa": "trua", "chiều": "chieu", "tối": "toi", "đêm": "dem"}

_B = r"(?<![0-9a-z])"  # word start
_E = r"(?![0-9a-z])"  # word end
_COMPONENT = re.compile(
    "|".join(
        [
            rf"{_B}(?P<in_days>\d{{1,2}})\s*(?:ngay|hom)\s*nua{_E}",
            rf"{_B}(?P<dmy>(?P<d>\d{{1,2}})\s*[/-]\s*(?P<m>\d{{1,2}})(?:\s*[/-]\s*(?P<y>\d{{4}}|\d{{2}}))?){_E}",
            rf"{_B}(?:ngay|mung|mong)\s*(?P<day>\d{{1,2}})(?:\s*thang\s*(?P<month>\d{{1,2}}|sau|toi|nay))?{_E}",
            rf"{_B}(?P<rel>hom\s*nay|bua\s*nay|ngay\s*mai|ngay\s*mot|ngay\s*kia|mai|mot|hom\s*qua){_E}",
            rf"{_B}(?:thu\s*(?P<weekday>[2-7]|hai|ba|tu|nam|sau|bay)|t(?P<tday>[2-7])|(?P<sunday>chu\s*nhat|cn)){_E}",
            rf"{_B}tuan\s*(?P<week>nay|sau|toi|truoc){_E}",
            rf"{_B}(?P<hour>\d{{1,2}})\s*(?:h|g|gio|:)\s*(?:(?P<minute>\d{{1,2}})\s*(?:p|phut)?"
            rf"|(?P<half>ruoi)|kem\s*(?P<before>\d{{1,2}})\s*(?:p|phut)?)?{_E}",
            rf"{_B}(?P<hour2>\d{{1,2}})\s*(?P<half2>ruoi){_E}",
            rf"{_B}(?:buoi\s*)?(?P<pod>sang|trua|chieu|toi|dem)(?:\s*(?P<pod_today>nay))?{_E}",
        ]
    )
)
# What may stand between two parts of one expression: "8h sáng, thứ 2 tuần sau", "thứ 6 lúc 2h chiều".
_GLUE = re.compile(r"^[\s,.-]*(?:(?:luc|vao|khoang|tam|cua|ngay|buoi)\s*)*[\s,.-]*$")


_NAME_BEFORE = re.compile(r"(?<![a-z])(?:chi|anh|em|co|ba|ong|be|chau|ten|ho|tu)\s*$")


def folded_before(text: str, where: list[int], start: int) -> str:
    """The folded text of the few characters before a match (for a look at the word in front of it)."""
    begin = where[start] if start < len(where) else len(text)
    return fold(text[max(0, begin - 8) : begin])[0]


@dataclass
class _Part:
    kind: str  # date, weekday, week, time, pod
    start: int
    end: int
    groups: dict[str, str | None]
    marked: bool = True  # a part-of-day word written with its tone marks (or nothing ambiguous)


def parse_datetime(text: str, now: dt.datetime) -> DateTimeMatch | None:
    folded, where = fold(text)
    parts = [p for p in (_part(m, text, where) for m in _COMPONENT.finditer(folded)) if p is not None]
    for group in _groups(parts, folded):
        resolved = _resolve(group, now)
        if resolved is not None:
            date, time, pod = resolved
            start, end = where[group[0].start], where[group[-1].end - 1] + 1
            return DateTimeMatch(date, time, pod, start, end)
    return None


def _part(match: re.Match[str], text: str, where: list[int]) -> _Part | None:
    g = match.groupdict()
    start, end = match.start(), match.end()
    if g["rel"] == "mai" and _NAME_BEFORE.search(folded_before(text, where, start)):
        return None  # "chị Mai": a name, not tomorrow
    if g["in_days"] or g["dmy"] or g["day"] or g["rel"]:
        bare_mot = g["rel"] is not None and g["rel"].replace(" ", "") == "mot"
        if bare_mot and "ố" not in unicodedata.normalize("NFC", text[where[start] : where[end - 1] + 1]).lower():
            return None  # "một" (one), or "mot" without marks: not the day after tomorrow
        if g["dmy"] and not (1 <= int(g["d"]) <= 31 and 1 <= int(g["m"]) <= 12):
            return None
        return _Part("date", start, end, g)
    if g["weekday"] or g["tday"] or g["sunday"]:
        return _Part("weekday", start, end, g)
    if g["week"]:
        return _Part("week", start, end, g)
    if g["hour"] is not None or g["hour2"] is not None:
        hour = int(g["hour"] or g["hour2"])
        minute = int(g["minute"]) if g["minute"] else 0
        if hour > 24 or minute > 59 or (g["before"] and int(g["before"]) > 59):
            return None
        return _Part("time", start, end, g)
    word_start = where[match.start("pod")]
    original = unicodedata.normalize("NFC", text[word_start : where[match.end("pod") - 1] + 1]).lower()
    # "buổi tối", "tối nay" are unambiguous even without tone marks; a bare "toi" is mostly "tôi" (I).
    marked = original in _POD_MARKED or match.group(0).startswith("buoi") or bool(g["pod_today"])
    return _Part("pod", start, end, g, marked=marked)


def _groups(parts: list[_Part], folded: str) -> list[list[_Part]]:
    """Adjacent parts joined by glue words form one expression; each kind appears once in an expression."""
    groups: list[list[_Part]] = []
    for part in parts:
        last = groups[-1] if groups else None
        if (
            last is not None
            and _GLUE.match(folded[last[-1].end : part.start])
            and part.kind not in {p.kind for p in last}
            and not (part.kind == "weekday" and any(p.kind == "date" for p in last))
        ):
            last.append(part)
        else:
            groups.append([part])
    # A part-of-day word without tone marks counts only next to another part ("sang mai", "8h toi").
    return [g for g in groups if len(g) > 1 or g[0].kind != "pod" or g[0].marked]


def _resolve(group: list[_Part], now: dt.datetime) -> tuple[dt.date | None, dt.time | None, str | None] | None:
    today = now.date()
    kinds = {p.kind: p for p in group}
    date: dt.date | None = None
    pod = _POD[kinds["pod"].groups["pod"]] if "pod" in kinds else None
    if "pod" in kinds and kinds["pod"].groups["pod_today"]:
        date = today
    week_start = today - dt.timedelta(days=today.weekday())
    if "week" in kinds:
        offset = {"nay": 0, "sau": 7, "toi": 7, "truoc": -7}[kinds["week"].groups["week"]]
        week_start += dt.timedelta(days=offset)
    if "date" in kinds:
        date = _date(kinds["date"].groups, today)
    elif "weekday" in kinds:
        g = kinds["weekday"].groups
        weekday = 6 if g["sunday"] else _WEEKDAYS[g["weekday"] or g["tday"]]
        if "week" in kinds:
            date = week_start + dt.timedelta(days=weekday)
        else:
            date = today + dt.timedelta(days=(weekday - today.weekday() - 1) % 7 + 1)
    elif "week" in kinds:
        date = max(week_start, today)
    time = _time(kinds["time"].groups, pod) if "time" in kinds else None
    if date is None and time is None and pod is None:
        return None
    return date, time, pod


def _date(g: dict[str, str | None], today: dt.date) -> dt.date | None:
    if g["in_days"]:
        return today + dt.timedelta(days=int(g["in_days"]))
    if g["rel"]:
        rel = g["rel"].replace(" ", "")
        return today + dt.timedelta(
            days={"homnay": 0, "buanay": 0, "mai": 1, "ngaymai": 1, "mot": 2, "ngaymot": 2, "ngaykia": 2, "homqua": -1}[
                rel
            ]
        )
    if g["dmy"]:
        day, month = int(g["d"] or 0), int(g["m"] or 0)
        if g["y"]:
            year = int(g["y"]) + (2000 if len(g["y"]) == 2 else 0)
            return _valid(year, month, day)
        return _next_date(today, month, day)
    day = int(g["day"] or 0)
    month_word = g["month"]
    if month_word in ("sau", "toi"):
        year, month = (today.year + 1, 1) if today.month == 12 else (today.year, today.month + 1)
        return _valid(year, month, day)
    if month_word == "nay":
        return _valid(today.year, today.month, day)
    if month_word:
        return _next_date(today, int(month_word), day)
    # "ngày 15": this month's if not past, else next month's (skipping months too short for the day).
    year, month = today.year, today.month
    for _ in range(13):
        candidate = _valid(year, month, day)
        if candidate is not None and candidate >= today:
            return candidate
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return None


def _next_date(today: dt.date, month: int, day: int) -> dt.date | None:
    """The next ``day``/``month`` that is not in the past (this year, else next; 29/2 waits for a leap year)."""
    for year in range(today.year, today.year + 5):
        candidate = _valid(year, month, day)
        if candidate is not None and candidate >= today:
            return candidate
    return None


def _valid(year: int, month: int, day: int) -> dt.date | None:
    if 1 <= month <= 12 and 1 <= day <= calendar.monthrange(year, month)[1]:
        return dt.date(year, month, day)
    return None


def _time(g: dict[str, str | None], pod: str | None) -> dt.time | None:
    hour = int(g["hour"] if g["hour"] is not None else g["hour2"] or 0)
    minute = int(g["minute"]) if g["minute"] else 0
    if g["half"] or g["half2"]:
        minute = 30
    if g["before"]:  # "2h kém 15" is a quarter to two
        minute = 60 - int(g["before"])
        hour -= 1
    late = (pod in ("afternoon", "evening") and 1 <= hour <= 11) or (pod == "noon" and 1 <= hour <= 4)
    if late:
        hour += 12
    hour %= 24
    if not (0 <= minute <= 59):
        return None
    return dt.time(hour, minute)
