"""HENKHAM_ENV=production refuses development secrets and the simulator's addresses, in every process, with
one line and a non-zero exit; development says it is development, once per process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from core.config import Settings, ZaloOASettings

ROOT = Path(__file__).resolve().parent.parent
HENKHAM = str(Path(sys.executable).with_name("henkham"))
DEV_OA = {
    "oa_id": "1000000000000000001",
    "app_id": "2000000000000000001",
    "hospital": "bvdk-tinh-demo",
    "oa_secret_key": "dev-oa-secret",
    "app_secret": "dev-app-secret",
    "refresh_token": "dev-refresh-token",
}
REAL_OA = {**DEV_OA, "oa_secret_key": "Zq8sX1kP0aLm", "app_secret": "Ht6vB2nW9cRe", "refresh_token": ""}
PRODUCTION = {
    "HENKHAM_ENV": "production",
    "HENKHAM_SECRET_KEY": "a-long-random-production-key-3f9d1c",
    "HENKHAM_ZALO_OAS": json.dumps([REAL_OA]),
    "HENKHAM_ZALO_API_BASE": "https://openapi.zalo.me",
    "HENKHAM_ZALO_ZNS_BASE": "https://business.openapi.zalo.me",
    "HENKHAM_ZALO_OAUTH_BASE": "https://oauth.zaloapp.com",
    "HENKHAM_RASA_TOKEN": "r7Kp2xQm9VbT4wLs",
    "HENKHAM_ACTIONS_TOKEN": "a3Nf8yHc1ZuE6gJd",
    "HENKHAM_METRICS_TOKEN": "m9Wq4eRt2YuI7oPa",
    "HENKHAM_RATE_LIMIT_STORAGE_URL": "redis://127.0.0.1:6379/1",
}
LOAD = "from henkham import bootstrap; bootstrap.load_settings(); bootstrap.load_settings()"


def run(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HENKHAM_")}
    clean["HENKHAM_DATABASE_URL"] = f"sqlite:///{tmp_path / 'p.db'}"
    return subprocess.run(
        args, cwd=tmp_path, env={**clean, **env}, capture_output=True, text=True, timeout=120, check=False
    )


def test_production_with_the_dev_env_values_refuses_to_start_in_one_line(tmp_path):
    dev = {
        "HENKHAM_ENV": "production",
        "HENKHAM_ZALO_OAS": json.dumps([DEV_OA]),
        "HENKHAM_ZALO_API_BASE": "http://127.0.0.1:8010",
        "HENKHAM_ZALO_ZNS_BASE": "http://localhost:8010",
        "HENKHAM_ZALO_OAUTH_BASE": "http://[::1]:8010",
    }
    commands = (
        [HENKHAM, "migrate"],
        [HENKHAM, "serve", "--port", "1"],  # before gunicorn starts
        [HENKHAM, "zalo", "worker"],
        [HENKHAM, "zalo", "sender"],
        [HENKHAM, "scheduler"],
        [HENKHAM, "actions", "--port", "1"],  # before rasa-sdk starts
        [HENKHAM, "checkin", "ABC234"],
    )
    for command in commands:
        done = run(command, tmp_path, **dev)
        assert done.returncode != 0, command
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1, (command, done.stderr)
        line = lines[0]
        assert line.startswith("henkham: configuration refused: HENKHAM_ENV=production refuses to start")
        for named in (
            "HENKHAM_SECRET_KEY",
            "HENKHAM_ZALO_OAS[0].oa_secret_key",
            "HENKHAM_ZALO_OAS[0].app_secret",
            "HENKHAM_ZALO_OAS[0].refresh_token",
            "HENKHAM_ZALO_API_BASE",
            "HENKHAM_ZALO_ZNS_BASE",
            "HENKHAM_ZALO_OAUTH_BASE",
        ):
            assert named in line, (named, line)
        for secret in ("dev-oa-secret", "dev-app-secret", "dev-refresh-token", "dev-only-change-me"):
            assert secret not in done.stderr + done.stdout, "a refusal never prints the secret itself"
        assert "Traceback" not in done.stderr and "Booting worker" not in done.stderr


def test_production_with_real_values_starts_and_says_nothing(tmp_path):
    done = run([sys.executable, "-c", LOAD], tmp_path, **PRODUCTION)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    migrated = run([HENKHAM, "migrate"], tmp_path, **PRODUCTION)
    assert migrated.returncode == 0, migrated.stderr


def test_development_says_so_once_per_process(tmp_path):
    done = run([sys.executable, "-c", LOAD], tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("development mode") == 1
    assert len(done.stderr.strip().splitlines()) == 1


def test_a_misspelt_environment_is_refused_in_one_line(tmp_path):
    done = run([HENKHAM, "migrate"], tmp_path, HENKHAM_ENV="prod")
    assert done.returncode != 0
    [line] = done.stderr.strip().splitlines()  # one line, naming the setting and what it may be
    assert line.startswith("henkham: configuration refused: HENKHAM_ENV: "), line
    assert "'development'" in line and "'production'" in line, line


class WithMoreTokens(Settings):
    """Settings other parts add later: found by their names, not by a list to keep up to date."""

    actions_token: str = "dev-actions-token"
    rasa_token: str = ""
    reports_api_secret: str = ""  # a setting no code has yet: covered by its name alone


def _production(**overrides: object) -> dict:
    oa = ZaloOASettings(**REAL_OA)
    return {
        "env": "production",
        "secret_key": "a-long-random-production-key-3f9d1c",
        "zalo_oas": [oa],
        "actions_token": "Yt5rE3wQ",
        "rasa_token": "Pm2nB7vC",
        "metrics_token": "Qz6xC1vB",
        "rate_limit_storage_url": "redis://127.0.0.1:6379/1",
        "reports_api_secret": "Lk3jH8gF",
        **overrides,
    }


def test_production_accepts_real_values():
    assert WithMoreTokens(**_production()).env == "production"


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"actions_token": "dev-actions-token"}, "HENKHAM_ACTIONS_TOKEN is a development value"),
        ({"rasa_token": ""}, "HENKHAM_RASA_TOKEN is empty"),
        ({"rasa_token": "dev_rasa"}, "HENKHAM_RASA_TOKEN is a development value"),
        ({"metrics_token": ""}, "HENKHAM_METRICS_TOKEN is empty"),
        ({"reports_api_secret": ""}, "HENKHAM_REPORTS_API_SECRET is empty"),
        ({"secret_key": "please-change-me"}, "HENKHAM_SECRET_KEY is a development value"),
        ({"secret_key": ""}, "HENKHAM_SECRET_KEY is empty"),
        ({"zalo_oas": [ZaloOASettings(**{**REAL_OA, "app_secret": ""})]}, "HENKHAM_ZALO_OAS[0].app_secret is empty"),
        ({"zalo_api_base": "http://localhost:8010"}, "HENKHAM_ZALO_API_BASE points at a local address"),
        ({"zalo_oauth_base": "http://127.0.0.2:8010"}, "HENKHAM_ZALO_OAUTH_BASE points at a local address"),
        ({"zalo_api_base": "http://127.1:8010"}, "HENKHAM_ZALO_API_BASE points at a local address"),
        ({"zalo_api_base": "http://2130706433:8010"}, "HENKHAM_ZALO_API_BASE points at a local address"),
        ({"zalo_graph_base": "http://[::ffff:127.0.0.1]:8010"}, "HENKHAM_ZALO_GRAPH_BASE points at a local address"),
        ({"zalo_zns_base": "http://localhost.:8010"}, "HENKHAM_ZALO_ZNS_BASE points at a local address"),
        ({"rate_limit_storage_url": "memory://"}, "HENKHAM_RATE_LIMIT_STORAGE_URL is memory://"),
        ({"rate_limit_enabled": False}, "HENKHAM_RATE_LIMIT_ENABLED is off"),
    ],
)
def test_any_token_or_secret_setting_is_checked_by_its_name(overrides: dict, named: str):
    with pytest.raises(ValidationError) as refused:
        WithMoreTokens(**_production(**overrides))
    assert named in str(refused.value), str(refused.value)


def test_development_accepts_the_development_values():
    settings = WithMoreTokens(zalo_oas=[ZaloOASettings(**DEV_OA)], zalo_api_base="http://127.0.0.1:8010")
    assert settings.env == "development"


def test_a_mistyped_rate_limit_is_refused_in_one_line(tmp_path):
    done = run([HENKHAM, "migrate"], tmp_path, HENKHAM_RATE_LIMIT_FAILED_AUTH_PER_IP="10 a minute")
    assert done.returncode != 0
    assert done.stderr.strip().splitlines() == [
        "henkham: configuration refused: HENKHAM_RATE_LIMIT_FAILED_AUTH_PER_IP: "
        "'10 a minute' is not a rate limit such as '20 per minute; 200 per day'"
    ]


def test_the_rasa_server_script_refuses_production_with_development_tokens(tmp_path):
    dev_tokens = {**PRODUCTION, "HENKHAM_RASA_TOKEN": "dev-rasa-token", "HENKHAM_ACTIONS_TOKEN": "dev-actions-token"}
    done = run([str(ROOT / "scripts" / "rasa-server"), "--help"], tmp_path, **dev_tokens)
    assert done.returncode != 0
    assert "HENKHAM_RASA_TOKEN is a development value" in done.stderr
    assert "usage: rasa" not in done.stdout + done.stderr, "Rasa must not even start"
