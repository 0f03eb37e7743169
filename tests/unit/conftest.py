"""The fast tier: pure rules tested directly, with no database, no network and no process.

Every test here is marked ``unit`` (``pytest -m unit`` runs the tier alone, in seconds); asking for a
database here is a mistake the ``db`` fixture below reports.
"""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(item.path).parents:
            item.add_marker(pytest.mark.unit)


@pytest.fixture
def db() -> None:
    pytest.fail("a unit test takes no database: put it beside the integration tests in tests/")
