"""Every code a DomainError can carry has its HTTP status in the API's one table (henkham/web/errors.py).

The services name no status; a new error class or a new rule code without a row in the table would answer with
the fallback 400. The codes are read from the source (every DomainError subclass's ``code``, and the literal
first argument of every call to a subclass whose constructor takes the code), so nothing has to be listed twice.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from core.errors import DomainError, RuleViolation
from henkham.web.errors import STATUS_OF_CODE, status_of

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("core", "bot", "henkham")
SKIP = ("bot/nlu",)  # runs in the Rasa environment, raises no DomainError


def _trees() -> list[tuple[Path, ast.Module]]:
    files = [f for pkg in PACKAGES for f in sorted((ROOT / pkg).rglob("*.py"))]
    kept = [f for f in files if not str(f.relative_to(ROOT)).startswith(SKIP)]
    return [(f, ast.parse(f.read_text(encoding="utf-8"))) for f in kept]


def _name(node: ast.expr) -> str:
    return node.attr if isinstance(node, ast.Attribute) else node.id if isinstance(node, ast.Name) else ""


def raised_codes(trees: list[tuple[Path, ast.Module]]) -> dict[str, str]:
    """code -> where it is defined, for every code the source can put in a DomainError."""
    classes = {node.name: node for _, tree in trees for node in ast.walk(tree) if isinstance(node, ast.ClassDef)}
    errors = {"DomainError"}
    grown = True
    while grown:
        found = {name for name, node in classes.items() if any(_name(b) in errors for b in node.bases)}
        grown, errors = not found <= errors, errors | found
    codes: dict[str, str] = {}
    takes_code: set[str] = set()
    for path, tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and node.name in errors:
                for item in node.body:
                    if isinstance(item, ast.Assign) and any(_name(t) == "code" for t in item.targets):
                        assert isinstance(item.value, ast.Constant), f"{path}: {node.name}.code is not a literal"
                        codes[item.value.value] = f"{path.relative_to(ROOT)}: {node.name}"
                    init = isinstance(item, ast.FunctionDef) and item.name == "__init__"
                    if init and [a.arg for a in item.args.args[1:2]] == ["code"]:
                        takes_code.add(node.name)
    for path, tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _name(node.func) in takes_code:
                where = f"{path.relative_to(ROOT)}:{node.lineno}"
                assert node.args and isinstance(node.args[0], ast.Constant), f"{where}: the code is not a literal"
                codes[node.args[0].value] = where
    return codes


TREES = _trees()
CODES = raised_codes(TREES)


def test_the_scan_finds_the_kinds_of_codes() -> None:
    assert {"domain_error", "not_found", "invalid_input", "forbidden", "slot_full", "too_many_profiles"} <= set(CODES)


@pytest.mark.parametrize("code", sorted(CODES))
def test_every_code_the_services_raise_has_an_http_status(code: str) -> None:
    assert code in STATUS_OF_CODE, f"{code} ({CODES[code]}) has no HTTP status in henkham/web/errors.py"


def test_the_table_maps_no_code_nobody_raises() -> None:
    assert set(STATUS_OF_CODE) - set(CODES) == set()


def test_a_new_code_without_a_row_is_found() -> None:
    source = 'from core.errors import RuleViolation\nraise RuleViolation("brand_new_rule", "m", "Dạ, … ạ.")\n'
    codes = raised_codes([*TREES, (ROOT / "core/new_rule.py", ast.parse(source))])
    assert set(codes) - set(CODES) == {"brand_new_rule"}
    assert codes["brand_new_rule"] == "core/new_rule.py:2"
    assert "brand_new_rule" not in STATUS_OF_CODE


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (DomainError("m", "vi"), 400),
        (RuleViolation("slot_full", "m", "vi"), 409),
        (RuleViolation("not_a_code", "m", "vi"), 400),
    ],
)
def test_status_of(error: DomainError, status: int) -> None:
    assert status_of(error) == status
