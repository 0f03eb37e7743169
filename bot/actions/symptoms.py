"""A department to suggest from the symptoms a patient describes: a suggestion, never a diagnosis.

A short keyword table rather than a model: the suggestion only orders the department buttons, the patient
chooses, and a wrong guess costs one tap. Matching ignores diacritics, as patients often type without them.
"""

from __future__ import annotations

from bot.nlu.departments import fold as fold_characters

# (keywords without diacritics, department slug); the first match wins, so specific entries come first.
SYMPTOMS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("mang thai", "co thai", "tre kinh", "tre kinh nguyet", "kinh nguyet", "khi hu", "bau"), "san_phu_khoa"),
    (("chich ngua", "tiem ngua", "tiem vac", "vaccine", "vac xin"), "tiem_chung"),
    (("dau nguc", "hoi hop", "tim dap nhanh", "huyet ap", "cao huyet ap"), "tim_mach"),
    (("dau bung", "dau da day", "o chua", "tao bon", "tieu chay", "buon non", "non oi", "ta thao"), "tieu_hoa"),
    (("ho", "kho tho", "kho khe", "hen suyen", "dau hong"), "ho_hap"),
    (("dau tai", "u tai", "nghet mui", "chay mui", "viem xoang", "viem hong", "amidan"), "tai_mui_hong"),
    (("dau rang", "sau rang", "nho rang", "chay mau chan rang", "ham"), "rang_ham_mat"),
    (("mo mat", "dau mat", "do mat", "nhin mo", "can thi", "ngua mat", "mat mo", "mat bi", "mat em bi"), "mat"),
    (("ngua", "noi man", "mun", "phat ban", "nam da", "me day"), "da_lieu"),
    (("dau dau", "chong mat", "te tay", "mat ngu", "dong kinh"), "than_kinh"),
    (
        ("dau lung", "dau khop", "dau goi", "dau vai", "thoai hoa", "gut", "gout", "bong gan", "gay xuong"),
        "co_xuong_khop",
    ),
    (("tieu buot", "tieu rat", "tieu ra mau", "soi than", "dau hong lung"), "than_tiet_nieu"),
    (("tieu duong", "duong huyet", "tuyen giap", "buou co"), "noi_tiet"),
    (("sot", "met moi", "sut can"), "noi_tong_hop"),
)
_CHILD = (
    "be ",
    "con toi",
    "con em",
    "con minh",
    "chau be",
    "tre ",
    "em be",
    "thang be",
    "con be",
    "con gai",
    "con trai",
)


def fold(text: str) -> str:
    """Lower case, without diacritics, single spaces, padded with spaces: how the keywords are written."""
    return " " + " ".join(fold_characters(text).split()) + " "


def suggest_department(text: str) -> str | None:
    """The department the patient's words point to, or None when they describe no known symptom."""
    folded = fold(text)
    for keywords, slug in SYMPTOMS:
        if any(f" {keyword} " in folded for keyword in keywords):
            if slug in {"ho_hap", "noi_tong_hop", "tai_mui_hong", "tieu_hoa", "da_lieu"} and any(
                f" {c.strip()} " in folded for c in _CHILD
            ):
                return "nhi"  # a child's common complaints go to paediatrics first
            return slug
    return None
