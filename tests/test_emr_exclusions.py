"""What a chat summary never shows (core/emr/exclusions.py): the default ICD-10 rules and words, the setting
HENKHAM_EMR_CHAT_EXCLUSIONS (a "*" entry replaces the defaults, a hospital's adds for its own visits), and the
refusal of a setting that is no ICD-10 rule."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from core.config import Settings
from core.emr.exclusions import DEFAULT_ICD10, Exclusions, exclusions_for


@pytest.mark.parametrize(
    "code",
    ["F32.9", "F329", "f20.0", "F99", "B20", "B20.1", "B22.7", "B24", "Z21", "Z11.4", "Z20.6", "Z71.7", "R75", "O98.7"],
)
def test_the_default_withholds_mental_health_and_hiv_diagnoses(code):
    assert Exclusions().code_excluded(code)


@pytest.mark.parametrize("code", ["J06.9", "B19.9", "B25", "B25.0", "Z11.5", "Z20.8", "E11.9", "K35.8", "O98.6", ""])
def test_the_default_shows_other_diagnoses(code):
    assert not Exclusions().code_excluded(code)


@pytest.mark.parametrize(
    "name", ["HIV Ab test nhanh", "Xét nghiệm hiv", "Kháng thể kháng HIV-1/2", "Định lượng HIV RNA (tải lượng)"]
)
def test_a_service_named_with_the_word_hiv_is_withheld(name):
    assert Exclusions().service_excluded("22.0000.0000", name)


@pytest.mark.parametrize("name", ["Tổng phân tích tế bào máu", "Archive phim X-quang", "Định lượng Glucose", ""])
def test_other_service_names_are_shown(name):
    assert not Exclusions().service_excluded("22.0000.0000", name)


def test_words_match_without_case_or_diacritics_and_codes_match_exactly():
    rules = Exclusions(icd10=(), services=("22.0115.1597",), name_words=("trầm cảm", "Giang mai"))
    assert rules.names_excluded("Test nhanh GIANG MAI")
    assert rules.diagnosis_excluded("X00", "Rối loạn tram cam")
    assert rules.service_excluded(" 22.0115.1597 ", "Một xét nghiệm")
    assert not rules.service_excluded("22.0115.1598", "Một xét nghiệm")
    assert not rules.code_excluded("F32.9"), "the lists replaced, F is no longer excluded"


def settings(monkeypatch, value: str | None) -> Settings:
    if value is None:
        monkeypatch.delenv("HENKHAM_EMR_CHAT_EXCLUSIONS", raising=False)
    else:
        monkeypatch.setenv("HENKHAM_EMR_CHAT_EXCLUSIONS", value)
    return Settings(_env_file=None)


def test_unset_the_documented_defaults_apply_everywhere(monkeypatch):
    rules = exclusions_for(settings(monkeypatch, None), "bvtinh")
    assert rules.icd10 == DEFAULT_ICD10 and rules.name_words == ("HIV",) and rules.services == ()


def test_a_star_entry_replaces_the_defaults_and_a_hospitals_entry_adds_for_its_own_visits(monkeypatch):
    config = settings(
        monkeypatch,
        '{"*": {"icd10": ["F", "b20 - b24"]}, "bvtinh": {"services": ["22.0115.1597"], "icd10": ["A50-A53"]}}',
    )
    assert config.emr_chat_exclusions["*"]["icd10"] == ["F", "B20-B24"], "rules normalised when read"

    at_tinh = exclusions_for(config, "bvtinh")
    assert at_tinh.code_excluded("A51.0") and at_tinh.service_excluded("22.0115.1597")
    assert not at_tinh.code_excluded("Z21"), "the star entry replaced the default list"
    assert at_tinh.name_words == ("HIV",), "a list the star entry does not give keeps its default"

    elsewhere = exclusions_for(config, "bvhuyen")
    assert not elsewhere.code_excluded("A51.0") and not elsewhere.service_excluded("22.0115.1597")
    assert elsewhere.at("bvtinh").code_excluded("A51.0"), "a visit of bvtinh shown by another OA keeps its rules"


@pytest.mark.parametrize(
    "value, says",
    [
        ('{"*": {"icd10": ["HIV"]}}', "no ICD-10 prefix"),
        ('{"*": {"icd10": ["B24-B20"]}}', "runs backwards"),
        ('{"*": {"codes": ["X"]}}', "codes"),
    ],
)
def test_a_setting_that_is_no_rule_is_refused_naming_it(monkeypatch, value, says):
    with pytest.raises(ValidationError) as refused:
        settings(monkeypatch, value)
    assert says in str(refused.value)
