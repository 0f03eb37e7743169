"""The composition root (henkham/bootstrap.py): every process kind is wired from the settings it is given, and
nothing keeps an earlier process's settings (no cache a test must clear)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.actions import context
from core.config import Settings
from henkham import bootstrap
from henkham.cli import cli


def test_each_cli_command_reads_the_settings_of_its_own_environment(tmp_path: Path) -> None:
    bootstrap.load_settings()  # this process has said "development mode" (once per process) before any output
    runner = CliRunner()
    for name in ("first", "second"):
        done = runner.invoke(cli, ["migrate"], env={"HENKHAM_DATABASE_URL": f"sqlite:///{tmp_path / name}.db"})
        assert done.exit_code == 0, done.output
        assert (tmp_path / f"{name}.db").is_file(), f"{name}: the command used another command's settings"


def test_the_web_app_and_the_channel_are_wired_from_the_settings_given(tmp_path: Path) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'w.db'}",
        zalo_graph_base="http://127.0.0.1:9/graph",
        zalo_api_base="http://127.0.0.1:9/api",
        rasa_url="http://127.0.0.1:9/rasa",
        rasa_token="rasa-token-of-this-test",
    )
    app = bootstrap.web(settings)
    assert app.extensions["henkham.settings"] is settings
    assert app.extensions["henkham.zalo_graph"].base_url == "http://127.0.0.1:9/graph"
    assert app.extensions["henkham.db"].url == settings.database_url
    rasa = app.extensions["henkham.rasa"]  # the hand-back's Rasa client: the settings' URL and token
    assert (rasa.base, rasa.token) == ("http://127.0.0.1:9/rasa", "rasa-token-of-this-test")
    db = app.extensions["henkham.db"]
    try:
        channel = bootstrap.channel(settings, db)
        assert channel.client.api_base.startswith("http://127.0.0.1:9/api")
        assert channel.processor.bot.servers == ["http://127.0.0.1:9/rasa"]
        assert channel.sender.client is channel.client and channel.tokens.client is channel.client
    finally:
        db.dispose()


def test_the_actions_use_the_database_their_process_was_wired_with(tmp_path: Path) -> None:
    first = bootstrap.actions(Settings(database_url=f"sqlite:///{tmp_path / 'a.db'}"))
    second = bootstrap.actions(Settings(database_url=f"sqlite:///{tmp_path / 'b.db'}"))
    try:
        assert context.database() is second
    finally:
        first.dispose()
        second.dispose()
        context._DATABASE.clear()
    with pytest.raises(RuntimeError, match=r"bootstrap\.actions"):
        context.database()
