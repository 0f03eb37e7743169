"""Services named instead of departments (data/catalogue/services.yml through bot/nlu/departments.py), and
departments right after "lịch" and "bác sĩ": what a patient writes finds the department that does it."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.nlu.departments import DepartmentNames, service_names
from bot.nlu.folding import strip_diacritics
from tests.rasa_env import run_in_rasa
from tests.test_nlu_departments import department_synonyms

SYNONYMS = department_synonyms()  # the department synonyms of the training data (name -> slug)
SERVICES = service_names()
NAMES = DepartmentNames({**SERVICES, **SYNONYMS})  # as the extractor learns them: synonyms win


def found(text: str) -> str | None:
    hit = NAMES.find(text)
    return hit[2] if hit else None


@pytest.mark.parametrize(
    ("text", "slug"),
    [
        ("em muốn nhổ răng khôn", "rang_ham_mat"),
        ("bên mình có niềng răng không ạ", "rang_ham_mat"),
        ("cạo vôi răng giá nhiêu", "rang_ham_mat"),
        ("đặt lịch siêu âm thai tuần sau", "san_phu_khoa"),
        ("cho mình nội soi dạ dày sáng thứ 7", "tieu_hoa"),
        ("mẹ em cần đo mắt cắt kính", "mat"),
        ("bé nhà mình chích ngừa mũi 6 trong 1", "tiem_chung"),
        ("muốn châm cứu chữa đau lưng", "y_hoc_co_truyen"),
        ("tập vật lý trị liệu sau mổ", "phuc_hoi_chuc_nang"),
        ("có đo điện tim không", "tim_mach"),
        ("tìm nha sĩ giỏi", "rang_ham_mat"),
    ],
)
def test_a_service_finds_its_department_with_and_without_diacritics(text: str, slug: str) -> None:
    assert found(text) == slug
    assert found(strip_diacritics(text)) == slug


@pytest.mark.parametrize(
    ("text", "slug"),
    [
        ("hủy lịch mắt giúp em", "mat"),
        ("đổi lịch nhi của bé sang thứ 7", "nhi"),
        ("lịch hẹn tai mũi họng của em", "tai_mui_hong"),
        ("bác sĩ da liễu nào giỏi", "da_lieu"),
        ("bs nhi có làm chủ nhật không", "nhi"),
        ("cho em đặt lịch khám nhi sáng thứ 2", "nhi"),
    ],
)
def test_a_department_right_after_lich_or_bac_si(text: str, slug: str) -> None:
    assert found(text) == slug
    assert found(strip_diacritics(text)) == slug


@pytest.mark.parametrize(
    "text",
    [
        "lich da dat roi ma",  # lịch đã đặt
        "bac si da noi la tuan sau tai kham",  # bác sĩ đã nói
        "xem kết quả siêu âm thai của em",  # a record, not a visit
        "sổ tiêm phòng của bé",
    ],
)
def test_look_alikes_and_records_are_not_departments(text: str) -> None:
    assert found(text) is None


def test_the_catalogue_names_only_departments_of_the_schema_and_no_bare_words() -> None:
    assert set(SERVICES.values()) <= set(SYNONYMS.values())
    assert all(" " in name for name in SERVICES), [name for name in SERVICES if " " not in name]


@given(st.sampled_from(sorted(SERVICES)))
def test_every_service_is_found_as_written_and_stripped(name: str) -> None:
    for text in (f"cho em hỏi {name} ạ", strip_diacritics(f"cho em hỏi {name} ạ")):
        hit = NAMES.find(text)
        assert hit is not None, text


def test_the_rasa_component_learns_the_catalogue_and_its_fingerprint_follows_the_file(tmp_path) -> None:
    catalogue = tmp_path / "services.yml"
    # "khám thai" is also a department synonym of the training data (san_phu_khoa): the synonym must win.
    catalogue.write_text(
        "version: 1\nservices:\n  rang_ham_mat:\n    - bọc sứ thẩm mỹ\n  nhi:\n    - khám thai\n", encoding="utf-8"
    )
    code = f"""
import json, pathlib, tempfile
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.loading import load_data
from rasa.shared.nlu.training_data.message import Message
from bot.nlu.department_extractor import DepartmentExtractor
config = {{"services": {str(catalogue)!r}}}
storage = LocalModelStorage(pathlib.Path(tempfile.mkdtemp()))
resource = Resource("departments")
component = DepartmentExtractor.create(config, storage, resource, None)
component.train(load_data("data/training/nlu.yml"))
loaded = DepartmentExtractor.load(config, storage, resource, None)
texts = ("em muốn bọc sứ thẩm mỹ", "boc su tham my gia bao nhieu", "đặt lịch khám thai")
messages = [Message(data={{"text": t, "entities": []}}) for t in texts]
loaded.process(messages)
before = DepartmentExtractor.fingerprint_addon(config)
pathlib.Path(config["services"]).write_text("version: 1\\nservices: {{}}\\n", encoding="utf-8")
print(json.dumps({{"found": [[e["value"] for e in m.get("entities")] for m in messages],
                  "changed": before != DepartmentExtractor.fingerprint_addon(config)}}))
"""
    assert json.loads(run_in_rasa(code)) == {
        "found": [["rang_ham_mat"], ["rang_ham_mat"], ["san_phu_khoa"]],
        "changed": True,
    }
