"""The shared harness itself: waiting on an event, and the Rasa environment required in CI."""

from __future__ import annotations

import itertools

import pytest

from tests import rasa_env
from tests.harness import NotReady, free_port, wait_until


def test_waiting_ends_as_soon_as_the_event_happens() -> None:
    calls = itertools.count(1)
    wait_until(lambda: next(calls) >= 3, timeout=30, what="the third look", every=0.001)
    assert next(calls) == 4, "no look after the event"


def test_a_wait_that_times_out_names_what_it_waited_for_and_shows_the_details() -> None:
    with pytest.raises(NotReady, match=r"the answer: not ready after 0\.05 s\nthe log's tail"):
        wait_until(lambda: False, timeout=0.05, what="the answer", details=lambda: "the log's tail", every=0.01)


def test_a_wait_on_a_process_that_died_fails_at_once() -> None:
    with pytest.raises(NotReady, match="the server: the process exited"):
        wait_until(lambda: False, timeout=3600, what="the server", alive=lambda: False)


def test_a_free_port_is_a_port() -> None:
    assert 0 < free_port() < 65536


def test_without_the_rasa_environment_its_tests_skip_and_fail_when_required(monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(rasa_env, "RASA_PYTHON", tmp_path / ".venv-rasa" / "bin" / "python")
    monkeypatch.delenv("HENKHAM_REQUIRE_RASA", raising=False)
    with pytest.raises(pytest.skip.Exception, match=r"\.venv-rasa not created"):
        rasa_env.require_rasa()
    monkeypatch.setenv("HENKHAM_REQUIRE_RASA", "1")
    with pytest.raises(pytest.fail.Exception, match=r"HENKHAM_REQUIRE_RASA=1 but \.venv-rasa not created"):
        rasa_env.require_rasa()
