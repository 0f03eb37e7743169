"""Departments as patients name them → canonical slugs (bot/nlu/departments.py, the NLU's
DepartmentExtractor), with the names of the NLU data's synonyms."""

from __future__ import annotations

import json

import pytest
import yaml

from bot.nlu.departments import DepartmentNames
from bot.nlu.folding import strip_diacritics
from tests.rasa_env import ROOT, run_in_rasa


def _names() -> DepartmentNames:
    return DepartmentNames(department_synonyms())


def department_synonyms() -> dict[str, str]:
    """The department synonyms of the training data: name as written -> slug."""
    synonyms = {}
    for item in yaml.safe_load((ROOT / "data/training/nlu.yml").read_text(encoding="utf-8"))["nlu"]:
        slug = item.get("synonym")
        if slug and "-" not in slug:  # hospital slugs have dashes
            for line in item["examples"].splitlines():
                if line.strip().lstrip("-").strip():
                    synonyms[line.strip().lstrip("-").strip()] = slug
    return synonyms


NAMES = _names()


@pytest.mark.parametrize(
    ("value", "expected"),
    [("nhi", "nhi"), ("khám nhi", "nhi"), ("Khoa Mắt", "mat"), ("tai mui hong", "tai_mui_hong"), ("họng", None)],
)
def test_extracted_values_become_slugs(value: str, expected: str | None) -> None:
    assert NAMES.canonical(value) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("cho em đặt lịch khám nhi sáng thứ 2 tuần sau", "nhi"),
        ("đổi sang khoa mắt", "mat"),
        ("kham tim mach sang mai", "tim_mach"),
        ("huy lich y hoc co truyen thu 5", "y_hoc_co_truyen"),
        ("nhi ạ", "nhi"),
        ("tim bac si gioi", None),  # "tìm" (look for) without diacritics is not cardiology
        ("coi lai lich da dat cua ba em", None),  # "lịch đã đặt", not dermatology
        ("Tôi đồng ý nhận tin", None),  # "đồng ý" (agree), not "đông y"
    ],
)
def test_departments_found_in_a_message(text: str, expected: str | None) -> None:
    found = NAMES.find(text)
    assert (found[2] if found else None) == expected


def _found(text: str) -> str | None:
    found = NAMES.find(text)
    return found[2] if found else None


def _both(cases: list[tuple[str, str | None]]) -> list[tuple[str, str | None]]:
    """Each message as written and typed without diacritics."""
    return cases + [(strip_diacritics(text), expected) for text, expected in cases if not text.isascii()]


@pytest.mark.parametrize(
    ("text", "expected"),
    _both(
        [
            # words that fold to a department name ("ngoài" → "ngoai", "đã" → "da", "đồng ý" → "dong y")
            ("khám ngoài giờ", None),
            ("có khám ngoài giờ hành chính ko", None),
            ("phí khám ngoài giờ là bao nhiêu", None),
            ("bệnh nhân khám ngoại trú có cần giấy chuyển viện không", None),
            ("khám đã", None),
            ("để em đi khám đã rồi tính", None),
            ("lịch khám đã được duyệt chưa", None),
            ("em muốn xem lại lịch khám đã đặt", None),
            ("đồng ý", None),
            ("dạ đồng ý ạ", None),
            ("khám mất thời gian không", None),
            # department words inside a record, a news topic, or saying who is seen
            ("cho em xem sổ tiêm chủng điện tử của bé", None),
            ("xem lịch sử tiêm chủng của con", None),
            ("xem kết quả nội soi dạ dày tuần rồi", None),
            ("bao nhiêu tiền một mũi vaccine cúm", None),
            ("đăng ký nhận tin về tiểu đường", None),
            ("nhận bài viết về chế độ ăn cho người tiểu đường", None),
            ("ngừng nhận bản tin về tim mạch", None),
            ("con tôi còn nhỏ, trẻ em có được miễn phí không", None),
            ("trẻ em đi khám cần mang gì", None),
            # positive controls
            ("khám ngoại khoa", "ngoai_tong_hop"),
            ("dời lịch khám ngoại của ông nội sang tuần sau", "ngoai_tong_hop"),
            ("khoa da liễu", "da_lieu"),
            ("đăng ký khám da cho con gái, bé nổi mẩn", "da_lieu"),
            ("khám đông y", "y_hoc_co_truyen"),
            ("khoa đông y", "y_hoc_co_truyen"),
            ("cho bé khám nhi", "nhi"),
            ("khám cho trẻ em thứ 7", "nhi"),
            ("bên mình có khám trẻ em thứ 7 ko", "nhi"),
            ("trẻ em", "nhi"),
            ("khám mắt chiều mai", "mat"),
            ("khám mắt hết bao nhiêu", "mat"),
            ("giá khám mắt cho trẻ em", "mat"),
            ("đk khám tiểu đường cho mẹ, sáng thứ 5", "noi_tiet"),
            ("dời lịch tiêm chủng lùi 3 ngày", "tiem_chung"),
            ("lấy số tiêm chủng cho bé", "tiem_chung"),
            ("bao nhiêu tiền 1 mũi tiêm phòng dại", "tiem_chung"),
            ("kết quả khám nội soi dạ dày của em", "tieu_hoa"),
            ("khám nội", "noi_tong_hop"),
            ("khám tiêu hoá", "tieu_hoa"),  # the old placement of the tone mark
        ]
    ),
)
def test_words_that_only_look_like_a_department_are_not_one(text: str, expected: str | None) -> None:
    assert _found(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("đông y", "y_hoc_co_truyen"),  # spelled as the department: a whole answer
        ("dạ đông y", "y_hoc_co_truyen"),
        ("dong y", None),  # without diacritics a bare "dong y" is far more often "đồng ý" (agree)
        ("kham dong y", "y_hoc_co_truyen"),
        ("kham da roi tinh", None),  # "khám đã rồi tính"
        ("kham da", None),
        ("dat lich kham da", "da_lieu"),  # asking for a visit: the skin
        ("kham da sang mai", "da_lieu"),
        ("khoa da", "da_lieu"),
        ("khám da", "da_lieu"),  # typed with diacritics: "da" is the skin ("đã" would be written so)
        ("dieu tri noi tru", None),  # "nội trú" (inpatient)
        ("kham noi voi bs An", "noi_tong_hop"),
        ("kham o noi nao re", None),  # "nơi nào" (where)
        ("khám mất bao lâu", None),  # spelled "mất" (takes), not "mắt"
    ],
)
def test_departments_typed_with_or_without_diacritics(text: str, expected: str | None) -> None:
    assert _found(text) == expected


def test_a_name_inside_another_entity_is_not_found() -> None:
    text = "cho em xem tiêm chủng của bé"
    span = (text.index("tiêm"), len("cho em xem tiêm chủng"))
    assert _found(text) == "tiem_chung"
    assert NAMES.find(text, avoid=[span]) is None


def test_spans_point_at_the_name_in_the_message() -> None:
    text = "cho em đặt lịch khám nhi sáng thứ 2 tuần sau"
    start, end, _ = NAMES.find(text)
    assert text[start:end] == "nhi"


def test_a_learned_span_cut_short_widens_to_the_name_the_message_spells() -> None:
    # a learned extractor that tags "than" in "than kinh" (thần kinh) would book the kidney clinic
    text = "khoa than kinh tang may ad"
    start = text.index("than")
    assert NAMES.widened(text, start, start + 4) == (start, start + len("than kinh"), "than_kinh")
    text = "phí khám thần kinh là bao nhiêu"
    start = text.index("thần")
    assert NAMES.widened(text, start, start + 4) == (start, start + len("thần kinh"), "than_kinh")
    text = "khám thận ạ"
    assert NAMES.widened(text, text.index("thận"), text.index("thận") + 4) is None  # already the whole name


def test_what_a_learned_extractor_finds_must_be_plausible() -> None:
    text = "không đồng ý"
    assert not NAMES.plausible(text, text.index("đồng"), len(text))
    assert NAMES.plausible("ok mắt", 3, 6)  # spelled with diacritics: the eye
    assert not NAMES.plausible("ok mat", 3, 6)  # "mất"? "mát"? not without a lead word
    text = "khám ngoài giờ"
    assert not NAMES.plausible(text, text.index("ngoài"), len(text) - 4)
    text = "đăng ký nhận tin về tiểu đường"
    assert not NAMES.plausible(text, text.index("tiểu"), len(text))
    text = "con tôi còn nhỏ, trẻ em có được miễn phí không"
    assert not NAMES.plausible(text, text.index("trẻ"), text.index("trẻ") + 6)
    text = "khám cho trẻ em"
    assert NAMES.plausible(text, text.index("trẻ"), len(text))
    text = "khám đã"
    assert not NAMES.plausible(text, text.index("đã"), len(text))


def test_the_rasa_component_maps_and_finds_departments_in_a_pipeline() -> None:
    code = """
import json
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.loading import load_data
from rasa.shared.nlu.training_data.message import Message
import tempfile, pathlib
from bot.nlu.department_extractor import DepartmentExtractor
storage = LocalModelStorage(pathlib.Path(tempfile.mkdtemp()))
resource = Resource("departments")
component = DepartmentExtractor.create({}, storage, resource, None)
component.train(load_data("data/training/nlu.yml"))
loaded = DepartmentExtractor.load({}, storage, resource, None)
a = Message(data={"text": "đặt lịch khám nhi", "entities": [
    {"entity": "department", "start": 11, "end": 17, "value": "khám nhi", "extractor": "DIETClassifier"}]})
b = Message(data={"text": "cho em đặt lịch khám nhi sáng thứ 2 tuần sau", "entities": []})
c = Message(data={"text": "không đồng ý", "entities": [
    {"entity": "department", "start": 6, "end": 12, "value": "y_hoc_co_truyen", "extractor": "CRFEntityExtractor"}]})
d = Message(data={"text": "cho em xem tiêm chủng của bé", "entities": [
    {"entity": "record_section", "start": 11, "end": 21, "value": "tiem_chung", "extractor": "CRFEntityExtractor"}]})
e = Message(data={"text": "đăng ký nhận tin về tiểu đường", "entities": [
    {"entity": "news_topic", "start": 20, "end": 30, "value": "tiểu đường", "extractor": "CRFEntityExtractor"}]})
f = Message(data={"text": "khám ngoài giờ", "entities": [
    {"entity": "department", "start": 5, "end": 10, "value": "ngoai_tong_hop", "extractor": "CRFEntityExtractor"}]})
g = Message(data={"text": "khám đã", "entities": []})
h = Message(data={"text": "đồng ý", "entities": []})
i = Message(data={"text": "cho bé khám nhi", "entities": []})
j = Message(data={"text": "hẹn bác sĩ Bích khám sản", "entities": [
    {"entity": "doctor", "start": 11, "end": 24, "value": "Bích khám sản", "extractor": "CRFEntityExtractor"}]})
loaded.process([a, b, c, d, e, f, g, h, i, j])
print(json.dumps([[(e["entity"], e["value"]) for e in m.get("entities")] for m in (a, b, c, d, e, f, g, h, i, j)]))
"""
    assert json.loads(run_in_rasa(code)) == [
        [["department", "nhi"]],
        [["department", "nhi"]],
        [],
        [["record_section", "tiem_chung"]],  # the record, not the vaccination department
        [["news_topic", "tiểu đường"]],  # the news topic, not endocrinology
        [],  # "ngoài giờ" (after hours), not surgery
        [],  # "khám đã" (get checked first), not dermatology
        [],  # "đồng ý" (agree), not traditional medicine
        [["department", "nhi"]],
        [["doctor", "Bích khám sản"], ["department", "san_phu_khoa"]],  # a learned name span that ran over
    ]
