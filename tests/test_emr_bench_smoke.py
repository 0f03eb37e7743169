"""Acceptance 7: `bench/emr_import.py` stays one command that prints visits imported per second and the record
fetch p99 (a tiny run here; the real figures come from the full run on PostgreSQL)."""

from __future__ import annotations

import pytest

from bench import emr_import
from tests.conftest import POSTGRES_ADMIN_URL


@pytest.mark.postgres_only("the bench runs on PostgreSQL")
def test_the_bench_prints_visits_per_second_and_the_read_p99(database_url, capsys):
    code = emr_import.main(
        ["--admin-url", POSTGRES_ADMIN_URL, "--visits", "40", "--people", "12", "--person-visits", "5", "--reads", "5"]
    )

    out = capsys.readouterr().out
    assert code == 0, out
    assert "v/s" in out and "p99" in out and "targets: import visits/s" in out
