"""Vietnamese dates and times as patients type them: "sáng thứ 2 tuần sau", "8h30 mai", "15/12", "mùng 5
tháng sau", "ba giờ rưỡi chiều", "thứ 5 vừa rồi", "3/9/91", with or without diacritics.

Pure standard library: imported by the Rasa components (Python 3.10) and by the application (3.11+).
No library fits: dateparser reads neither "thứ hai tuần sau" nor "15h30" (shared/DESIGN.md).

``parse_datetime(text, now)`` returns the first expression in ``text`` resolved against ``now`` (a local
Asia/Ho_Chi_Minh date and time): its ``date``, ``time``, ``part_of_day``, the character span
``start``..``end`` in ``text`` as given (also when the text is decomposed Unicode), and its ``grain``
("day", or "week" / "month" / "year" for "tuần trước", "tháng 3 năm 2018", "năm 2018": then ``date`` is the
first day of that period, or today for the current week or month). The rules are a receptionist's:
- a weekday alone is the next such day after today ("thứ 2" said on a Monday is next Monday); "thứ 2 tới",
  "thứ 2 sắp tới" the same; "thứ 5 vừa rồi" / "thứ 5 vừa qua" / "thứ 5 trước" the last one before today;
  "tuần này" / "tuần sau" / "tuần trước" pick the Monday-to-Sunday week, "chủ nhật" is its last day;
- "ngày 15", "15/12", "ngày 12 tháng mười một" without a year are the next such date that is not in the
  past, unless "vừa rồi" / "vừa qua" follows (then the last one not in the future);
- months in words: "tháng ba", "tháng tư", "tháng mười hai"; "tháng giêng" is January and "tháng chạp"
  December: people name the calendar month so too, and this parser knows no lunar calendar;
- "mai", "mốt", "hôm nay", "hôm qua", "hôm kia" (two days ago), "ngày kia" (in two days), "N ngày nữa",
  "3 ngày trước", "cách đây 2 tuần", "mùng 5 tháng sau", "ngày 10 tháng trước", "tối qua";
- years: "15/3/2018", "15/3 năm 2018", "tháng 3 năm 2018", "ngày 3 tháng 9 năm 91", "tháng 3 năm sau"; a
  two-digit year is the one nearest to today (within 50 years: "3/9/91" is 1991, "1/3/27" is 2027);
  ``parse_birth_date`` instead takes the latest that is not in the future;
- "8h", "8g", "8 giờ", "8:00", "8h30", "8 rưỡi", "2h kém 15", and in words "ba giờ rưỡi", "bảy giờ kém
  mười lăm", "mười hai giờ"; "chiều" / "tối" turn 1–11 into 13–23, "trưa" 1–4 into 13–16, "đêm" 6–11
  into 18–23 and 12 into 0 ("2 giờ đêm" stays 2:00).
Words that are also common words without their tone marks count as a time of day only when written with
their marks or next to another date or time word: "sang" (to), "toi" (I), "mot" (one). "tới" (coming, or
"to" in "8h tới 10h") is not "tối" (evening); without marks "toi" reads as "tới" right after a weekday
("thu 2 toi": the coming Monday), unless a time follows ("thu 6 toi 7h": Friday 19:00), and as "tới"
(until) before a number ("tu 8h toi 10h"); elsewhere ("8h toi", "toi nay", "buoi toi") it is the evening.
Likewise "tháng sáu" is June but "tháng sau" / "thang sau" next month; a bare "sang" is "to" in a message
written with marks or after a verb of moving ("doi lich sang thu 6"); "toi qua" / "dem qua" without marks
are "tôi qua" / "đem qua" (come over, bring over), not last night; "số thứ tự", "ngày 2 lần", "1 tuần nay",
"3 tháng 2 ngày" are no dates.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

PARTS_OF_DAY = ("morning", "noon", "afternoon", "evening")
GRAINS = ("day", "week", "month", "year")


@dataclass(frozen=True)
class DateTimeMatch:
    date: dt.date | None
    time: dt.time | None
    part_of_day: str | None
    start: int
    end: int
    grain: str = "day"  # of ``date``: "day", "week", "month" or "year"


@dataclass(frozen=True)
class BirthDate:
    """What ``parse_birth_date`` read: a plausible ``date``, or the ``problem`` that keeps it from being one.

    problem: None, "unreadable" (no date, or an impossible one), "no_year" ("3/9"), "no_day" ("tháng 9 năm
    1991"), "year_only" ("sinh năm 91"), "future", "too_old" (more than 120 years ago). ``year`` is the year
    understood, also when the date is incomplete."""

    date: dt.date | None
    problem: str | None = None
    year: int | None = None


def fold(text: str) -> tuple[str, list[int]]:
    """Lower-case ``text`` without tone marks (đ → d), and for each folded character its index in ``text``."""
    folded: list[str] = []
    where: list[int] = []
    for index, char in enumerate(text):
        if char < "\u0080":  # ASCII: nothing to take off (most of every message)
            folded.append(char.lower())
            where.append(index)
            continue
        for part in unicodedata.normalize("NFD", char):
            if unicodedata.category(part) == "Mn":
                continue
            folded.append("d" if part in "đĐ" else part.lower())
            where.append(index)
    return "".join(folded), where


def has_marks(text: str) -> bool:
    """Whether ``text`` is written with Vietnamese tone marks (any combining mark, or đ)."""
    return any(
        unicodedata.category(part) == "Mn" or part in "đĐ"
        for char in text
        if char >= "\u0080"
        for part in unicodedata.normalize("NFD", char)
    )


_WEEKDAYS = {
    "2": 0, "hai": 0, "3": 1, "ba": 1, "4": 2, "tu": 2, "5": 3, "nam": 3, "6": 4, "sau": 4, "7": 5, "bay": 5,
}  # fmt: skip
_WEEKDAY_MARKED = {"tu": "tư", "nam": "năm", "sau": "sáu", "bay": "bảy"}
_POD = {"sang": "morning", "trua": "noon", "chieu": "afternoon", "toi": "evening", "dem": "evening"}
# Written with their tone marks these are unambiguous; folded they are also common words.
_POD_MARKED = {"sang": "sáng", "trua": "trưa", "chieu": "chiều", "toi": "tối", "dem": "đêm"}
_UNIT_VALUES = {"mot": 1, "hai": 2, "ba": 3, "bon": 4, "tu": 4, "nam": 5, "lam": 5, "sau": 6, "bay": 7, "tam": 8}
_UNIT_VALUES["chin"] = 9
_MONTH_NAMES = {"gieng": 1, "chap": 12, "muoi": 10, "muoi mot": 11, "muoi hai": 12}
_MONTH_OFFSETS = {"sau": 1, "toi": 1, "ke tiep": 1, "nay": 0, "truoc": -1, "qua": -1, "vua roi": -1}
_MONTH_OFFSETS["vua qua"] = -1
_WEEK_OFFSETS = {"nay": 0, "sau": 1, "toi": 1, "ke tiep": 1, "truoc": -1, "qua": -1, "vua roi": -1}
_WEEK_OFFSETS["vua qua"] = -1
_YEAR_OFFSETS = {"nay": 0, "sau": 1, "toi": 1, "truoc": -1, "ngoai": -1, "qua": -1}
_REL_DAYS = {"homnay": 0, "buanay": 0, "mai": 1, "ngaymai": 1, "mot": 2, "ngaymot": 2, "ngaykia": 2}
_REL_DAYS |= {"homqua": -1, "buaqua": -1, "homkia": -2}

_B = r"(?<![0-9a-z])"  # word start
_E = r"(?![0-9a-z])"  # word end
_U = r"(?:mot|hai|ba|bon|tu|lam|nam|sau|bay|tam|chin)"  # units in words (folded)
_TENS = rf"(?:(?:hai|ba|bon|nam)\s+muoi(?:\s+{_U})?|muoi(?:\s+{_U})?)"  # 10–59 in words
_HOUR_WORD = rf"(?:hai\s+muoi(?:\s+(?:mot|hai|ba|bon|tu))?|muoi(?:\s+{_U})?|mot|hai|ba|bon|nam|sau|bay|tam|chin)"
_MINUTES = rf"(?:\d{{1,2}}|{_TENS}|{_U}(?=\s*phut))"  # "8 giờ 15", "8 giờ mười lăm", "8 giờ năm phút"
_BEFORE = rf"(?:\d{{1,2}}|{_TENS}|{_U})"  # "kém 15", "kém mười lăm", "kém năm"
_COUNT = r"(?:\d{1,2}|mot|hai|ba|bon|nam|sau|bay|tam|chin|muoi)"  # "3 ngày nữa", "hai tuần nữa"
_DAY_WORD = r"(?:muoi|mot|hai|ba|bon|nam|sau|bay|tam|chin)"  # "mùng một" .. "mùng mười"
_MONTH = (
    r"(?:\d{1,2}|muoi\s+mot|muoi\s+hai|muoi|gieng|chap|mot|hai|ba|bon|tu|nam(?!\s*\d)|sau|bay|tam|chin"
    r"|toi|nay|truoc|qua|vua\s+roi|vua\s+qua|ke\s+tiep)"
)


def _time_tail(p: str) -> str:
    """What may follow the hour: minutes, "rưỡi" (half past) or "kém N" (N to); group names start with ``p``."""
    return (
        rf"(?:\s*(?P<{p}minute>{_MINUTES})\s*(?:p|phut)?|\s*(?P<{p}half>ruoi)"
        rf"|\s*kem\s*(?P<{p}before>{_BEFORE})\s*(?:p|phut)?)?"
    )


# Every component starts a word with one of these characters: checked first, the many alternatives are
# tried only there (a single parse stays well under a millisecond).
_COMPONENT = re.compile(
    rf"{_B}(?=[0-9bcdhmnstv])(?:"
    + "|".join(
        [
            rf"cach\s*day\s*(?P<ago>{_COUNT})\s*(?P<ago_unit>ngay|hom|tuan|thang)(?:\s*truoc)?{_E}",
            rf"(?P<in_n>{_COUNT})\s*(?P<in_unit>ngay|hom|tuan|thang)\s*(?P<in_dir>nua|sau|truoc){_E}",
            rf"(?:(?:ngay|mung|mong|hom)\s*)?(?P<dmy>(?P<d>\d{{1,2}})\s*(?P<sep>[/.-])\s*(?P<m>\d{{1,2}})"
            rf"(?:\s*(?P=sep)\s*(?P<y>\d{{4}}|\d{{2}}))?){_E}",
            rf"(?P<ymd>(?P<iso_y>(?:19|20)\d{{2}})-(?P<iso_m>\d{{1,2}})-(?P<iso_d>\d{{1,2}})){_E}",
            rf"(?:(?:ngay|mung|mong|hom)\s*(?P<day>\d{{1,2}})(?!\s*(?:lan|vien|goi|ong|muong))|(?:mung|mong)\s+(?P<day_word>{_DAY_WORD})"
            rf"|(?P<day_bare>\d{{1,2}})(?=\s*thang))(?:\s*thang\s*(?P<month>{_MONTH}))?{_E}",
            rf"thang\s*(?P<month_only>{_MONTH})(?:\s*[/-]\s*(?P<month_year>\d{{4}}))?{_E}",
            rf"(?P<hour>\d{{1,2}})\s*(?:h|g|gio|:){_time_tail('')}{_E}",
            rf"(?P<w_hour>{_HOUR_WORD})\s+gio{_time_tail('w_')}{_E}",
            rf"(?P<half_hour>\d{{1,2}}|{_HOUR_WORD})\s+ruoi{_E}",
            rf"(?P<rel>(?:ngay\s*)?hom\s*(?:nay|qua|kia)|bua\s*(?:nay|qua)|ngay\s*(?:mai|mot|kia)|mai|mot){_E}",
            rf"(?:thu\s*(?P<weekday>[2-7]|hai|ba|tu|nam|sau|bay)|t(?P<tday>[2-7])|(?P<sunday>chu\s*nhat|cn))"
            rf"(?:\s*(?P<wmod>nay|truoc(?!\s*\d)|sap\s*toi|ke\s*tiep))?{_E}",
            rf"tuan\s*(?P<week>nay|sau|toi|truoc|qua|vua\s+roi|vua\s+qua|ke\s+tiep){_E}",
            rf"(?:nam\s*(?P<year>\d{{4}}|\d{{2}}|nay|sau|toi|truoc|ngoai|qua)|(?P<year4>(?:19|20)\d{{2}})){_E}",
            rf"(?P<buoi>buoi\s*)?(?P<pod>sang(?!\s*(?:kien|tao|suot))|trua|chieu(?!\s*(?:cao|dai|rong|sau))"
            rf"|toi(?!\s*(?:da|thieu|uu|om|tam))|dem)(?:\s*(?P<pod_rel>nay|qua))?{_E}",
            rf"(?P<past>vua\s*(?:roi|qua)){_E}",
        ]
    )
    + ")"
)
# What may stand between two parts of one expression: "8h sáng, thứ 2 tuần sau", "thứ 6 lúc 2h chiều".
_GLUE = re.compile(r"^[\s,.-]*(?:(?:luc|vao|khoang|tam|cua|ngay|buoi)\s*)*[\s,.-]*$")
_TIGHT = re.compile(r"^[\s,]*$")  # a year, "vừa rồi", "tới" follow their date directly
_NAME_BEFORE = re.compile(r"(?<![a-z])(?:chi|anh|em|co|ba|ong|be|chau|ten|ho|tu)\s*$")
# "dời lịch sang thứ 6", "chuyen sang ngay 15": "sang" is "to" after a verb of moving.
_MOVE_BEFORE = re.compile(r"(?<![a-z])(?:doi|chuyen|hoan|lui|dich|doi lich|chuyen lich)(?:\s+\w+)?\s*$")
_COUNT_BEFORE = re.compile(r"(?<![0-9a-z])(?<!thu )(?:\d{1,2}|mot|hai|ba|bon|nam|sau|bay|tam|chin|muoi|may|vai)\s*$")
_UNIT_AFTER = re.compile(r"\s*(?:ngay|tuan|tuoi|lan)(?![0-9a-z])")
_NUMBER_AFTER = re.compile(r"\s*\d")
_TIME_AFTER = re.compile(r"\s*\d{1,2}\s*(?:h|g|gio|:)")  # "thu 6 toi 7h"; not "thu 2 toi luc 8h"


@dataclass
class _Part:
    kind: str  # date, month, year, weekday, week, time, pod, coming, past
    start: int
    end: int
    data: dict[str, Any] = field(default_factory=dict)
    marked: bool = True  # a part-of-day word written with its tone marks (or nothing ambiguous)


def parse_datetime(text: str, now: dt.datetime) -> DateTimeMatch | None:
    folded, where = fold(text)
    for group in _groups(_parts(text, folded, where, birth=False), folded, birth=False):
        resolved = _resolve(group, now)
        if resolved is not None:
            date, time, pod, grain = resolved
            start, end = where[group[0].start], where[group[-1].end - 1] + 1
            return DateTimeMatch(date, time, pod, start, end, grain)
    return None


def parse_birth_date(text: str, today: dt.date) -> BirthDate:
    """A birth date as people write it: "3/9/91", "03-09-1991", "1991-09-03", "3 tháng 9 năm 1991", "sinh
    năm 91". A birth date is never in the future: a two-digit year is the latest one not after today
    ("3/2/20" is 2020, "3/9/91" is 1991). Only calendar dates count (not "hôm qua" or "thứ 2")."""
    folded, where = fold(text)
    for group in _groups(_parts(text, folded, where, birth=True), folded, birth=True):
        return _birth(group, today)
    return BirthDate(None, "unreadable")


def _parts(text: str, folded: str, where: list[int], *, birth: bool) -> list[_Part]:
    found = [_part(m, text, folded, where) for m in _COMPONENT.finditer(folded)]
    parts = [p for p in found if p is not None]
    if birth:  # only calendar dates: no times, weekdays or "hôm qua"
        parts = [
            p
            for p in parts
            if p.kind == "year" or (p.kind in ("date", "month") and "month" in p.data and "offset" not in p.data)
        ]
    return parts


def _original(text: str, where: list[int], start: int, end: int) -> str:
    """The text as written (composed, lower case) behind the folded span ``start``..``end``."""
    return unicodedata.normalize("NFC", text[where[start] : where[end - 1] + 1]).lower()


def _number(words: str) -> int:
    """ "15", "tám", "mười lăm", "hai mươi ba" (folded) as a number."""
    if words.isdigit():
        return int(words)
    tokens = words.split()
    if "muoi" not in tokens:
        return _UNIT_VALUES[tokens[0]]
    at = tokens.index("muoi")
    tens = _UNIT_VALUES[tokens[0]] if at else 1
    return tens * 10 + (_UNIT_VALUES[tokens[at + 1]] if len(tokens) > at + 1 else 0)


def _month_value(token: str, original: str) -> dict[str, int] | None:
    """A month token: {"month": 1..12} or {"month_offset": -1|0|1}; None for no month."""
    token = " ".join(token.split())
    if token.isdigit():
        return {"month": int(token)} if 1 <= int(token) <= 12 else None
    if token == "sau" and original.endswith("sáu"):
        return {"month": 6}  # "tháng sáu" (June); "tháng sau" and a bare "thang sau" are next month
    if token in _MONTH_OFFSETS:
        return {"month_offset": _MONTH_OFFSETS[token]}
    return {"month": _MONTH_NAMES.get(token) or _UNIT_VALUES[token]}


def _part(match: re.Match[str], text: str, folded: str, where: list[int]) -> _Part | None:
    g = match.groupdict()
    start, end = match.start(), match.end()
    if g["ago"] or g["in_n"]:
        count = _number(g["ago"] or g["in_n"])
        unit = g["ago_unit"] or g["in_unit"]
        sign = -1 if g["ago"] or g["in_dir"] == "truoc" else 1
        if unit == "thang":
            return _Part("date", start, end, {"months": sign * count})
        return _Part("date", start, end, {"offset": sign * count * (7 if unit == "tuan" else 1)})
    if g["dmy"]:
        day, month = int(g["d"]), int(g["m"])
        if not (1 <= day <= 31 and 1 <= month <= 12) or (g["sep"] == "." and not g["y"]):
            return None  # "15/13"; "8.5" is a number
        return _Part("date", start, end, {"day": day, "month": month, "year": g["y"]})
    if g["ymd"]:
        return _Part("date", start, end, {"day": int(g["iso_d"]), "month": int(g["iso_m"]), "year": g["iso_y"]})
    if g["day"] or g["day_word"] or g["day_bare"]:
        if g["day_word"] and not g["month"] and _original(text, where, start, start + 4).isascii():
            return None  # "mong ba mẹ khỏe" (hope): a bare "mong" with a word counts only before "tháng"
        day = _number(g["day"] or g["day_word"] or g["day_bare"])
        data: dict[str, Any] = {"day": day}
        if g["month"]:
            month = _month_value(g["month"], _original(text, where, match.start("month"), match.end("month")))
            if month is None or (g["day_bare"] and ("month" not in month or _UNIT_AFTER.match(folded, end))):
                return None  # "3 tháng nay" (these three months), "3 tháng 2 ngày" (an age) are no dates
            data |= month
        elif g["day_bare"]:
            return None  # "3 tháng" is a duration
        return _Part("date", start, end, data) if 1 <= day <= 31 else None
    if g["month_only"]:
        month = _month_value(g["month_only"], _original(text, where, match.start("month_only"), end))
        if month is None:
            return None
        return _Part("month", start, end, {**month, "year": g["month_year"]})
    if g["hour"] is not None or g["w_hour"] or g["half_hour"]:
        return _time_part(g, start, end)
    if g["rel"]:
        rel = g["rel"].replace(" ", "")
        rel = rel[4:] if rel.startswith("ngayhom") else rel
        if rel == "mai" and _NAME_BEFORE.search(fold(text[max(0, where[start] - 8) : where[start]])[0]):
            return None  # "chị Mai": a name, not tomorrow
        if rel == "mot" and "ố" not in _original(text, where, start, end):
            return None  # "một" (one), or "mot" without marks: not the day after tomorrow
        return _Part("date", start, end, {"offset": _REL_DAYS[rel]})
    if g["weekday"] or g["tday"] or g["sunday"]:
        if g["weekday"] and not _is_weekday(g["weekday"], text, folded, where, match):
            return None  # "số thứ tự" (queue number), "thử 2 lần" (try twice)
        weekday = 6 if g["sunday"] else _WEEKDAYS[g["weekday"] or g["tday"]]
        mod = (g["wmod"] or "").replace(" ", "")
        return _Part("weekday", start, end, {"weekday": weekday, "last": mod == "truoc", "this": mod == "nay"})
    if g["week"]:
        if g["week"] == "nay" and _COUNT_BEFORE.search(folded, 0, start):
            return None  # "đau 1 tuần nay": for a week now
        return _Part("week", start, end, {"offset": _WEEK_OFFSETS[" ".join(g["week"].split())]})
    if g["year"] or g["year4"]:
        word = g["year"] or g["year4"]
        if word.isdigit():
            return _Part("year", start, end, {"year": word, "bare": bool(g["year4"])})
        return _Part("year", start, end, {"year_offset": _YEAR_OFFSETS[word]})
    if g["past"]:
        return _Part("past", start, end)
    return _pod_part(match, text, folded, where)


def _is_weekday(word: str, text: str, folded: str, where: list[int], match: re.Match[str]) -> bool:
    """ "thứ tư" but not "thứ tự" (order) or "số thu tu"; written words must carry their own marks."""
    thu = _original(text, where, match.start(), match.start() + 3)
    day = _original(text, where, match.start("weekday"), match.end("weekday"))
    if thu not in ("thứ", "thu") or not (day.isascii() or day == _WEEKDAY_MARKED.get(word, day)):
        return False
    return not (word == "tu" and folded[max(0, match.start() - 3) : match.start()] == "so ")


def _time_part(g: dict[str, str | None], start: int, end: int) -> _Part | None:
    p = "w_" if g["w_hour"] else ""
    hour = _number(g["hour"] or g["w_hour"] or g["half_hour"] or "0")
    minute = _number(g[f"{p}minute"] or "0") if not g["half_hour"] else 30
    if g[f"{p}half"]:
        minute = 30
    before = _number(g[f"{p}before"] or "0")
    if hour > 24 or minute > 59 or before > 59:
        return None
    return _Part("time", start, end, {"hour": hour % 24, "minute": minute, "before": before})


def _pod_part(match: re.Match[str], text: str, folded: str, where: list[int]) -> _Part | None:
    g = match.groupdict()
    word = g["pod"]
    original = _original(text, where, match.start("pod"), match.end("pod"))
    written = original == _POD_MARKED[word]
    if word == "toi" and original == "tới":
        return _Part("coming", match.start(), match.end("pod"))  # "thứ 2 tới": the coming Monday
    if not written and not original.isascii():
        return None  # another word: "tôi" (I), "đem" (bring), "chiếu" (screen)
    end = match.end()
    if not written and word == "sang":
        before = folded[max(0, match.start() - 20) : match.start()]
        if has_marks(text) or _MOVE_BEFORE.search(before):
            return None  # "đổi sang khoa mắt", "doi lich sang thu 6": "sang" is "to"
    rel = g["pod_rel"]
    if rel == "qua" and not (written or g["buoi"] or word in ("chieu", "trua")):
        rel, end = None, match.end("pod")  # "toi qua", "dem qua" are also "I come over", "bring over"
    data = {"pod": _POD[word], "word": word, "rel": {"nay": 0, "qua": -1}.get(rel or ""), "toi": word == "toi"}
    marked = written or bool(g["buoi"]) or rel is not None
    return _Part("pod", match.start(), end, data, marked=marked)


def _groups(parts: list[_Part], folded: str, *, birth: bool) -> list[list[_Part]]:
    """Adjacent parts joined by glue words form one expression; each kind appears once in an expression."""
    groups: list[list[_Part]] = []
    for part in parts:
        last = groups[-1] if groups else None
        between = folded[last[-1].end : part.start] if last else ""
        if part.kind == "pod" and part.data["toi"] and not part.marked:
            part = _bare_toi(part, last, between, folded)
            if part is None:
                continue
        if last is not None and _joins(last, part, between):
            last.append(part)
        elif part.kind not in ("coming", "past"):
            groups.append([part])
    return [g for g in groups if _stands(g, birth=birth)]


def _bare_toi(part: _Part, last: list[_Part] | None, between: str, folded: str) -> _Part | None:
    """A "toi" without marks: "tới" (coming) right after a weekday, "tới" (until) before a number, else
    "tối" (evening, which still needs another part beside it)."""
    follows_weekday = last is not None and last[-1].kind == "weekday" and _TIGHT.match(between)
    if follows_weekday and not _TIME_AFTER.match(folded, part.end):
        return _Part("coming", part.start, part.end)
    if not follows_weekday and _NUMBER_AFTER.match(folded, part.end):
        return None  # "tu 8h toi 10h"
    return part


def _joins(last: list[_Part], part: _Part, between: str) -> bool:
    kinds = {p.kind for p in last}
    previous = last[-1]
    if not _GLUE.match(between) or part.kind in kinds:
        return False
    if part.kind == "year":
        takes_year = previous.kind in ("date", "month") and "month" in previous.data and not previous.data.get("year")
        return bool(takes_year and _TIGHT.match(between))
    if part.kind == "past":
        return bool(kinds & {"date", "weekday", "month"}) and bool(_TIGHT.match(between))
    if part.kind == "coming":
        return previous.kind == "weekday" and bool(_TIGHT.match(between))
    if part.kind in ("date", "month") and kinds & {"date", "month"}:
        return False
    return not (part.kind == "weekday" and "date" in kinds)


def _stands(group: list[_Part], *, birth: bool) -> bool:
    """Whether a group is an expression: an unmarked "sang" / "toi" needs company, a bare year (or "năm
    nay", "năm 91") counts alone only as a birth year or as "năm 2018"."""
    first = group[0]
    if len(group) > 1:
        return True
    if first.kind == "pod":
        return first.marked
    if first.kind == "year":
        return birth or (not first.data.get("bare") and len(first.data.get("year") or "") == 4)
    return True


def _resolve(group: list[_Part], now: dt.datetime) -> tuple[dt.date | None, dt.time | None, str | None, str] | None:
    today = now.date()
    kinds = {p.kind: p.data for p in group}
    past = "past" in kinds
    date: dt.date | None = None
    grain = "day"
    pod = kinds["pod"]["pod"] if "pod" in kinds else None
    if "pod" in kinds and kinds["pod"]["rel"] is not None:
        date = today + dt.timedelta(days=kinds["pod"]["rel"])
    week_start = today - dt.timedelta(days=today.weekday()) + dt.timedelta(weeks=kinds.get("week", {}).get("offset", 0))
    if "date" in kinds:
        date = _date(kinds["date"], kinds.get("year"), today, past=past)
    elif "month" in kinds:
        date, grain = _month(kinds["month"], kinds.get("year"), today, past=past), "month"
    elif "weekday" in kinds:
        weekday = kinds["weekday"]
        if "week" in kinds:
            date = week_start + dt.timedelta(days=weekday["weekday"])
        elif past or weekday["last"]:
            date = today - dt.timedelta(days=(today.weekday() - weekday["weekday"] - 1) % 7 + 1)
        elif weekday["this"]:
            date = today + dt.timedelta(days=(weekday["weekday"] - today.weekday()) % 7)
        else:
            date = today + dt.timedelta(days=(weekday["weekday"] - today.weekday() - 1) % 7 + 1)
    elif "week" in kinds:
        date, grain = (today if kinds["week"]["offset"] == 0 else week_start), "week"
    elif "year" in kinds:
        year = _year(kinds["year"], today)
        date, grain = dt.date(year, 1, 1), "year"
    time = _time(kinds["time"], kinds["pod"]["word"] if "pod" in kinds else None) if "time" in kinds else None
    if date is None and time is None and pod is None:
        return None
    return date, time, pod, grain


def _year(data: dict[str, Any], today: dt.date) -> int:
    """A year part's year: "2018"; "18" is the year nearest to today; "năm sau" next year."""
    if "year_offset" in data:
        return today.year + data["year_offset"]
    return _nearest_year(data["year"], today)


def _nearest_year(digits: str, today: dt.date) -> int:
    year = int(digits)
    if len(digits) == 4:
        return year
    # The year ending in these two digits within 50 years of today: "91" is 1991, "27" is 2027.
    return today.year - 50 + (year - (today.year - 50)) % 100


def _date(data: dict[str, Any], year_part: dict[str, Any] | None, today: dt.date, *, past: bool) -> dt.date | None:
    if "offset" in data:
        return today + dt.timedelta(days=data["offset"])
    if "months" in data:
        return _add_months(today, data["months"])
    day = data["day"]
    year = _nearest_year(data["year"], today) if data.get("year") else None
    if year is None and year_part is not None:
        year = _year(year_part, today)
    if "month_offset" in data:
        first = _add_months(today.replace(day=1), data["month_offset"])
        return _valid(first.year, first.month, day)
    if "month" in data:
        if year is not None:
            return _valid(year, data["month"], day)
        return _last_date(today, data["month"], day) if past else _next_date(today, data["month"], day)
    # "ngày 15": this month's if not past, else next month's (skipping months too short for the day);
    # "ngày 15 vừa rồi": the latest 15th not in the future.
    first = today.replace(day=1)
    for step in range(13):
        month = _add_months(first, -step if past else step)
        candidate = _valid(month.year, month.month, day)
        if candidate is not None and (candidate <= today if past else candidate >= today):
            return candidate
    return None


def _month(data: dict[str, Any], year_part: dict[str, Any] | None, today: dt.date, *, past: bool) -> dt.date:
    """A month without a day: its first day, or today for the current month."""
    this_month = today.replace(day=1)
    if "month_offset" in data:
        first = _add_months(this_month, data["month_offset"])
    elif data.get("year") or year_part is not None:
        year = int(data["year"]) if data.get("year") else _year(year_part or {}, today)
        first = dt.date(year, data["month"], 1)
    elif past:
        first = dt.date(today.year - (data["month"] > today.month), data["month"], 1)
    else:
        first = dt.date(today.year + (data["month"] < today.month), data["month"], 1)
    return today if first == this_month else first


def _add_months(day: dt.date, months: int) -> dt.date:
    """The same day ``months`` later (or earlier), on the month's last day when it is shorter."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return dt.date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def _next_date(today: dt.date, month: int, day: int) -> dt.date | None:
    """The next ``day``/``month`` that is not in the past (this year, else next; 29/2 waits for a leap year)."""
    for year in range(today.year, today.year + 5):
        candidate = _valid(year, month, day)
        if candidate is not None and candidate >= today:
            return candidate
    return None


def _last_date(today: dt.date, month: int, day: int) -> dt.date | None:
    """The latest ``day``/``month`` that is not in the future."""
    for year in range(today.year, today.year - 5, -1):
        candidate = _valid(year, month, day)
        if candidate is not None and candidate <= today:
            return candidate
    return None


def _valid(year: int, month: int, day: int) -> dt.date | None:
    if 1 <= year <= 9999 and 1 <= month <= 12 and 1 <= day <= calendar.monthrange(year, month)[1]:
        return dt.date(year, month, day)
    return None


def _time(data: dict[str, int], pod_word: str | None) -> dt.time:
    hour, minute = data["hour"], data["minute"]
    if pod_word == "dem":  # "10 giờ đêm" is 22:00, "12 giờ đêm" midnight, "2 giờ đêm" 2:00
        hour = 0 if hour == 12 else hour + 12 if 6 <= hour <= 11 else hour
    elif (pod_word in ("chieu", "toi") and 1 <= hour <= 11) or (pod_word == "trua" and 1 <= hour <= 4):
        hour += 12
    if data["before"]:  # "2h kém 15" is a quarter to two; "2h kém 15 chiều" 13:45
        total = (hour * 60 + minute - data["before"]) % (24 * 60)
        hour, minute = divmod(total, 60)
    return dt.time(hour, minute)


def _birth(group: list[_Part], today: dt.date) -> BirthDate:
    kinds = {p.kind: p.data for p in group}
    year_part = kinds.get("year")
    if "date" not in kinds and "month" not in kinds:
        year = _birth_year(year_part or {}, today)
        return BirthDate(None, "future" if year > today.year else "year_only", year)
    data = kinds.get("date") or kinds["month"]
    digits = data.get("year") or (year_part or {}).get("year")
    if digits is None and year_part is not None:
        digits = str(today.year + year_part["year_offset"])
    if digits is None:
        return BirthDate(None, "no_year")
    if "date" not in kinds:
        return BirthDate(None, "no_day", _birth_year({"year": digits}, today))
    year = int(digits)
    if len(digits) == 2:  # the latest such year that does not put the birth in the future
        year += 2000 if (_valid(2000 + year, data["month"], data["day"]) or today) <= today else 1900
    born = _valid(year, data["month"], data["day"])
    if born is None:
        return BirthDate(None, "unreadable", year)
    if born > today:
        return BirthDate(None, "future", year)
    if born.year < today.year - 120:
        return BirthDate(None, "too_old", year)
    return BirthDate(born, None, year)


def _birth_year(data: dict[str, Any], today: dt.date) -> int:
    if "year_offset" in data:
        return today.year + data["year_offset"]
    year = int(data["year"])
    if len(data["year"]) == 2:
        year += 2000 if 2000 + year <= today.year else 1900
    return year
