"""The production recipe's files (deploy/): every unit runs a command that exists with settings that exist, binds
127.0.0.1 unless told otherwise, and the README names each; the liveness check restarts only quiet units."""

from __future__ import annotations

import configparser
import json
import os
import shlex
import subprocess
import time
from pathlib import Path

import click
import pytest

from core.config import Settings
from henkham.cli import cli
from tests.zalo_sim import ROOT

UNITS = sorted((ROOT / "deploy" / "systemd").glob("*.service"))
SCRIPT_VARIABLES = {"RASA_PORT", "RASA_INTERFACE", "HENKHAM_ACTIONS_URL"}  # scripts/rasa-server, bot/endpoints.yml


def unit(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(path.read_text())
    return parser


def environment_of(path: Path) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if line.startswith("Environment="):
            name, _, value = line.removeprefix("Environment=").partition("=")
            found[name] = value
    return found


def example_env() -> dict[str, str]:
    lines = (ROOT / "deploy" / "henkham.env.example").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def known(name: str) -> bool:
    field = name.removeprefix("HENKHAM_").lower()
    return name in SCRIPT_VARIABLES or (name.startswith("HENKHAM_") and field in Settings.model_fields)


def test_there_is_a_unit_for_every_role():
    names = {path.name for path in UNITS}
    assert names >= {
        "henkham-web.service",
        "henkham-worker@.service",
        "henkham-sender@.service",
        "henkham-scheduler@.service",
        "henkham-rasa@.service",
        "henkham-actions.service",
        "henkham-liveness.service",
    }


@pytest.mark.parametrize("path", UNITS, ids=lambda p: p.name)
def test_each_unit_runs_an_existing_command_with_existing_settings(path):
    service = unit(path)["Service"]
    argv = shlex.split(service["ExecStart"])
    program = Path(argv[0].replace("/opt/henkham", str(ROOT)))
    assert program.name in {"henkham", "rasa-server", "liveness-check"}, argv
    if program.name == "henkham":
        command: click.Command = cli
        for word in argv[1:]:
            if word.startswith("-") or not isinstance(command, click.Group):
                break
            command = command.commands[word]  # KeyError: no such command
    else:
        assert program.exists() and os.access(program, os.X_OK), program
    for name in environment_of(path):
        assert known(name), f"{path.name}: {name} is no setting"
    assert service["EnvironmentFile" if program.name != "liveness-check" else "ExecStart"]


def test_the_example_environment_names_only_settings_and_is_production():
    env = example_env()
    unknown = [name for name in env if not known(name)]
    assert not unknown
    assert env["HENKHAM_ENV"] == "production" and env["HENKHAM_LOG_FORMAT"] == "json"
    assert "," in env["HENKHAM_RASA_URL"] and env["HENKHAM_RASA_LOCK_URL"].startswith("redis://")


def test_listening_units_bind_loopback_unless_told_otherwise():
    web = unit(ROOT / "deploy/systemd/henkham-web.service")["Service"]["ExecStart"]
    assert "--host 127.0.0.1" in web
    assert environment_of(ROOT / "deploy/systemd/henkham-rasa@.service")["RASA_INTERFACE"] == "127.0.0.1"
    assert environment_of(ROOT / "deploy/systemd/henkham-actions.service")["HENKHAM_ACTIONS_HOST"] == "127.0.0.1"
    assert Settings().metrics_host == "127.0.0.1" and Settings().actions_host == "127.0.0.1"


def test_the_readme_production_section_names_every_unit_and_the_recipe_test():
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Production: a province") : readme.index("## Configuration")]
    for path in UNITS:
        assert path.stem.rstrip("@") in section, path.name
    for door in ("5432", "6379", "5005", "5055", "9200"):
        assert door in section
    assert "tests/test_production_recipe.py" in section and (ROOT / "tests/test_production_recipe.py").exists()


def test_the_liveness_check_restarts_only_quiet_units(tmp_path):
    now = time.time()
    beats = {"worker-1": now, "worker-2": now - 120, "scheduler-1": now - 5, "sender-3": now - 300, "junk-x": 0}
    for name, at in beats.items():
        (tmp_path / f"{name}.alive").write_text(json.dumps({"pid": 1, "at": at}))
    done = subprocess.run(
        [str(ROOT / "scripts/liveness-check"), str(tmp_path), "30"],
        env={**os.environ, "RESTART": "echo"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert sorted(done.stdout.split()) == ["henkham-sender@3.service", "henkham-worker@2.service"]
