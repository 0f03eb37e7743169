"""The section of a medical record a patient asks about → one of the six section slugs.

Pure Python (both environments; nothing of the application is imported). ``find_section`` matches the
message's words without diacritics against the names below, so "ket qua mau" is "kết quả máu"; a word the
patient wrote with diacritics must be spelled as in the name ("tòa" is a building, not "toa" (thuốc), "tiệm"
a shop, not "tiêm"; "hoá" and "hóa" are one spelling). Where names overlap, the longest wins ("siêu âm tim"
over "tim", "chẩn đoán hình ảnh" over "chẩn đoán"); between names of equal length, the first in the message;
a name that says little alone ("kết luận", "thuốc", "chụp") only when there is no other. A name of several
words may have one word misspelled ("xét nghiêm").

Some phrases hold a section word but name no section: "bệnh án" and "kết quả khám" are the whole record,
"bệnh viện" a hospital, "tai mũi họng" a department. They are listed as ``None`` so that they win over the
shorter name inside them. "máu" alone counts only written so ("xem mau" may be "xem mau", quickly). "nội
soi" right after "khám"/"khoa" is the department (bot/nlu/departments.py), not the imaging result.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from bot.nlu.departments import fold, spelling

SECTIONS = ("chan_doan", "don_thuoc", "xet_nghiem", "chan_doan_hinh_anh", "tiem_chung", "tai_kham")

# Names as written with diacritics (the spelling check reads them); ASCII names are abbreviations.
_NAMES: dict[str | None, tuple[str, ...]] = {
    "chan_doan": (
        "chẩn đoán", "chuẩn đoán", "chẩn đoán bệnh", "chẩn đoán ra viện", "kết luận", "kết luận của bác sĩ",
        "bị bệnh gì", "bị gì", "bệnh gì", "tên bệnh", "mã bệnh", "mã icd", "icd", "chẩn đoán xác định",
    ),
    "don_thuoc": (
        "đơn thuốc", "toa thuốc", "toa", "kê thuốc", "kê đơn", "kê toa", "thuốc", "uống thuốc", "liều dùng",
        "liều thuốc", "cách uống", "đơn thuốc ra viện", "toa về",
    ),
    "xet_nghiem": (
        "xét nghiệm", "xn", "kqxn", "kết quả máu", "xét nghiệm máu", "thử máu", "lấy máu", "máu", "mỡ máu",
        "nước tiểu", "xét nghiệm nước tiểu", "đường huyết", "đường máu", "men gan", "chức năng gan",
        "chức năng thận", "công thức máu", "sinh hóa", "sinh hoá", "hba1c", "cholesterol", "test nhanh",
        "lab test", "pcr", "ure", "creatinin", "acid uric", "axit uric", "glucose", "thử nước tiểu",
        "chỉ số", "kết quả test", "cấy máu", "nhóm máu", "bạch cầu", "hồng cầu", "tiểu cầu", "huyết đồ",
        "double test", "triple test", "nipt", "tổng phân tích máu", "tổng phân tích nước tiểu", "kq xn",
        "âm tính", "dương tính", "ast", "alt", "ggt", "psa", "afp", "cea", "tsh", "ft3", "ft4", "hbsag", "hcv",
        "ns1", "crp", "troponin", "ldl", "hdl", "triglycerid", "điện giải", "test sốt xuất huyết", "ion đồ",
        "chỉ số gan", "chỉ số thận", "mỡ trong máu", "máu lắng", "pap", "pap smear", "tinh dịch đồ",
    ),
    "chan_doan_hinh_anh": (
        "chẩn đoán hình ảnh", "siêu âm", "siêu âm tim", "siêu âm thai", "siêu âm bụng", "x quang", "xquang",
        "chụp x quang", "chụp", "chụp phim", "phim chụp", "phim", "ct", "chụp ct", "ct scan", "cắt lớp",
        "chụp cắt lớp", "cắt lớp vi tính", "mri", "cộng hưởng từ", "chụp cộng hưởng từ", "nội soi",
        "điện tim", "điện tâm đồ", "ecg", "điện não", "điện não đồ", "nhũ ảnh", "chụp nhũ ảnh", "đo loãng xương",
        "kết quả chụp", "siêu âm doppler", "mammo", "chụp phổi", "phim phổi", "kết quả siêu âm",
    ),
    "tiem_chung": (
        "tiêm chủng", "tiêm", "tiêm ngừa", "tiêm phòng", "chích ngừa", "chích", "mũi tiêm", "mũi vắc xin",
        "mũi vaccine", "mũi nào", "mấy mũi", "mũi tiếp", "mũi tiếp theo", "đủ mũi", "thiếu mũi", "mũi nhắc",
        "tiêm nhắc", "mũi thứ", "các mũi", "những mũi", "vắc xin", "vacxin", "vaccine", "vaccin", "vacin",
        "sổ tiêm", "sổ tiêm chủng", "lịch sử tiêm", "lịch sử tiêm chủng", "lịch tiêm",
    ),
    "tai_kham": (
        "tái khám", "ngày tái khám", "lịch tái khám", "hẹn tái khám", "ngày hẹn tái khám", "giấy hẹn tái khám",
        "khám lại", "hẹn khám lại", "quay lại khám", "tái khám lại", "ngày hẹn", "giấy hẹn", "bác sĩ hẹn",
        "bs hẹn", "bsi hẹn", "hẹn quay lại", "hẹn tái", "lịch hẹn tái khám",
    ),
    # Phrases that hold a section word but are something else (they win over the shorter name inside).
    None: (
        "bệnh án", "hồ sơ bệnh án", "khám bệnh", "bệnh viện", "kết quả khám", "tai mũi họng", "mũi họng",
        "tiệm thuốc", "nhà thuốc", "quầy thuốc", "tiền thuốc", "mua thuốc", "chỉ số bmi", "dị ứng",
        "dị ứng thuốc",
    ),
}  # fmt: skip
# Names that say little on their own: any other name in the message wins over them ("bác sĩ kết luận gì
# sau khi siêu âm" asks for the ultrasound's conclusion).
_WEAK = {"ket luan", "chi so", "thuoc", "bi gi", "benh gi", "chup", "phim", "tiem", "chich"}
_WEAK |= {"ngay hen", "giay hen", "bac si hen", "bs hen", "bsi hen"}
# Names that count only written with their diacritics: "mau" alone is as often "mau" (quick) as "máu" (blood).
_MARKED_ONLY = {"mau"}
# Names that are a department right after one of these words ("khám nội soi" is a visit, not a result).
_DEPARTMENT_AFTER = {"noi soi": ("kham", "khoa", "phong")}


@dataclass(frozen=True)
class SectionMatch:
    section: str
    start: int  # character span in the message (its NFC form)
    end: int


class _Lexicon:
    def __init__(self, names: dict[str | None, tuple[str, ...]]) -> None:
        self.sections: dict[str, str | None] = {}
        self.spellings: dict[str, set[tuple[tuple[str, str], ...]]] = {}
        for section, phrases in names.items():
            for phrase in phrases:
                key = " ".join(fold(phrase).split())
                self.sections[key] = section
                written = tuple(spelling(word) for word in unicodedata.normalize("NFC", phrase).lower().split())
                self.spellings.setdefault(key, set()).add(written)
        self.longest = max(len(key.split()) for key in self.sections)

    def matches(self, text: str) -> tuple[list[tuple[int, int]], list[tuple[int, int, str]]]:
        """The word spans of the message, and every (first word, end word, name) of the names its words
        spell (a name: the lexicon key, words without diacritics)."""
        nfc = unicodedata.normalize("NFC", text).lower()
        folded = fold(nfc)
        spans = [match.span() for match in re.finditer(r"[a-z0-9]+", folded)]
        words = [folded[start:end] for start, end in spans]
        written = [nfc[start:end] for start, end in spans]
        found: list[tuple[int, int, str]] = []
        for first in range(len(words)):
            for size in range(min(self.longest, len(words) - first), 0, -1):
                key = " ".join(words[first : first + size])
                if key not in self.sections or not self._spelled(key, written[first : first + size]):
                    continue
                if key in _MARKED_ONLY and written[first].isascii():
                    continue
                if first and words[first - 1] in _DEPARTMENT_AFTER.get(key, ()):
                    continue
                found.append((first, first + size, key))
        return spans, found

    def _spelled(self, key: str, written: list[str]) -> bool:
        """Whether the words written with diacritics are spelled as in the name; a name of several words
        may have one misspelled ("xét nghiêm"): the other words make it that name."""
        allowed = 1 if len(written) > 1 else 0
        return any(
            sum(not word.isascii() and spelling(word) != expected for word, expected in zip(written, name, strict=True))
            <= allowed
            for name in self.spellings[key]
            if len(name) == len(written)
        )

    def best(self, text: str) -> SectionMatch | None:
        spans, found = self.matches(text)
        # Longest names first: a name inside a longer one (a None phrase too) does not count.
        covered: list[tuple[int, int]] = []
        choices = []
        for first, end, key in sorted(found, key=lambda m: (m[0] - m[1], m[0])):
            if any(first < other_end and other_first < end for other_first, other_end in covered):
                continue
            covered.append((first, end))
            if self.sections[key] is not None:
                choices.append((first, end, key))
        if not choices:
            return None
        first, end, key = min(choices, key=lambda m: (m[2] in _WEAK, m[0] - m[1], m[0]))
        return SectionMatch(str(self.sections[key]), spans[first][0], spans[end - 1][1])


_LEXICON = _Lexicon(_NAMES)


def find_section_match(text: str) -> SectionMatch | None:
    """The section the message names, with its span, or None."""
    return _LEXICON.best(text)


def find_section(text: str) -> str | None:
    """The section slug the message names ("kết quả máu" → "xet_nghiem", "toa thuoc" → "don_thuoc"), or None."""
    match = _LEXICON.best(text)
    return match.section if match else None


ENTITY = "record_section"


def _split_learned(text: str, entities: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The other entities, and the learned ``record_section`` entities whose value is a slug or whose text
    names a section (then that slug is their value); the rest are dropped."""
    others, learned = [], []
    for entity in entities:
        if entity.get("entity") != ENTITY:
            others.append(entity)
            continue
        value = entity.get("value")
        if value not in SECTIONS:
            start, end = entity.get("start"), entity.get("end")
            value = find_section(text[start:end]) if isinstance(start, int) and isinstance(end, int) else None
        if value is not None:
            learned.append({**entity, "value": value})
    return others, learned


def valid_sections(text: str, entities: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The entities of a message of another intent: a learned ``record_section`` entity keeps its span only
    when it names a section (its value then that slug); nothing is added."""
    others, learned = _split_learned(text, entities)
    return others + learned


def section_entities(text: str, entities: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The entities of an ``ask_record_summary`` message with its ``record_section`` settled.

    A learned ``record_section`` entity keeps its span when its value is a section slug or its text names
    one (then that slug is its value); one that names none is dropped. The lexicon decides between them:
    when it finds a section, only learned entities of that section stay, or the lexicon's own match is
    added (its ``confidence`` 1.0, no ``extractor``: the caller names itself). Other entities are kept."""
    others, learned = _split_learned(text, entities)
    match = find_section_match(text)
    if match is None:
        return others + learned
    agreeing = [entity for entity in learned if entity["value"] == match.section]
    if agreeing:
        return others + agreeing
    found = {"entity": ENTITY, "start": match.start, "end": match.end, "value": match.section, "confidence": 1.0}
    return [*others, found]
