"""The production recipe on one machine, for tests: every role started as its unit in deploy/systemd starts it
(ExecStart and Environment, with deploy/henkham.env.example's environment) on an empty PostgreSQL database and
Redis, after the README's once-steps (`henkham migrate`, `zalo sync`, `slots generate`), with the Zalo simulator
in front. Any process can be killed and started again (``Province.kill``/``start``), as a chaos loop does.

Differences from a real machine, all outside the recipe: the checkout is this one instead of /opt/henkham, ports
are free ones instead of the units' (nothing may collide), heartbeat files go to a temporary folder instead of
/run/henkham, and HENKHAM_ENV is development, since production refuses the Zalo simulator's loopback address
(the only Zalo there is here). The hospital is made by the tests' factories.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shlex
import signal
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from bot.zalo_webhook.simulator import SimulatedOA
from core.config import ZaloOASettings
from core.timeutil import local_today
from core.uow import Database
from tests.conftest import POSTGRES_ADMIN_URL, _postgres_unavailable, needs_services, redis_unavailable
from tests.dialogue_stack import DialogueStack
from tests.factories import build_world
from tests.harness import answers, create_database, drop_database, free_port, wait_until
from tests.test_deploy_units import environment_of, example_env, unit
from tests.zalo_helpers import OA_ID, REFRESH_TOKEN, SECRET, SIMULATED_OA
from tests.zalo_sim import ROOT, Simulator, simulator_process

UNITS = ROOT / "deploy" / "systemd"
TOKENS = {"HENKHAM_RASA_TOKEN": "recipe-rasa", "HENKHAM_ACTIONS_TOKEN": "recipe-actions"}
METRICS_TOKEN = "recipe-metrics"
OBSERVER = "henkham-test-observer"  # application_name of the test's own connections
RASA_START_SECONDS = 1200  # a Rasa server trains first when the model is stale (a fresh clone)


@dataclass
class Spec:
    argv: list[str]
    env: dict[str, str]
    log: Path
    ready_url: str | None = None


@dataclass
class Province:
    db: Database
    sim: Simulator
    folder: Path
    env: dict[str, str]
    web_ports: list[int]
    specs: dict[str, Spec] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    metrics: dict[str, int] = field(default_factory=dict)
    _logs: dict[str, IO[bytes]] = field(default_factory=dict)

    @property
    def beats(self) -> Path:
        return self.folder / "run"

    def dialogue(self) -> DialogueStack:
        """The patients' side (``DialogueStack.say``/``tap`` through the simulator) of this province."""
        return DialogueStack(
            db=self.db,
            channel=None,  # type: ignore[arg-type]  # the channel runs in the worker processes
            simulator=self.sim,
            rasa_url=self.env["HENKHAM_RASA_URL"],
            rasa_token=self.env["HENKHAM_RASA_TOKEN"],
            rasa_pid=0,
            actions_pid=0,
            rasa_pids=[],
        )

    def start(self, label: str) -> None:
        spec = self.specs[label]
        log = self._logs.get(label) or spec.log.open("ab")
        self._logs[label] = log
        process = subprocess.Popen(spec.argv, cwd=ROOT, env={**os.environ, **spec.env}, stdout=log, stderr=log)
        self.processes[label] = process
        if spec.ready_url:
            timeout = RASA_START_SECONDS if label.startswith("rasa") else 60
            url, alive = spec.ready_url, lambda: process.poll() is None
            try:
                wait_until(lambda: answers(url), timeout=timeout, what=label, alive=alive)
            except Exception as error:
                tail = spec.log.read_text(errors="replace")[-3000:]
                raise AssertionError(f"{label} did not start: {error}\n{tail}") from None

    def kill(self, label: str) -> None:
        """SIGKILL, as a crashed machine or the OOM killer stops a process."""
        process = self.processes[label]
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)

    def is_ready(self, label: str) -> bool:
        spec, process = self.specs[label], self.processes[label]
        return process.poll() is None and (spec.ready_url is None or answers(spec.ready_url))

    def stop_all(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        for log in self._logs.values():
            log.close()

    def json_lines(self, label: str) -> list[dict[str, Any]]:
        found = []
        for line in self.specs[label].log.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                try:
                    found.append(json.loads(line))
                except ValueError:
                    continue
        return found


def province_oas(hospitals: int) -> list[tuple[str, SimulatedOA]]:
    """(hospital slug, its OA) of a province of ``hospitals``: "test" with the tests' OA, then h01, h02, ... with
    OAs (and refresh tokens) of their own, of the same Zalo app."""
    found = [("test", SIMULATED_OA)]
    for n in range(1, hospitals):
        oa = dataclasses.replace(
            SIMULATED_OA,
            oa_id=str(int(OA_ID) + n),
            oa_secret_key=f"{SECRET}-{n}",
            refresh_token=f"{REFRESH_TOKEN}-{n}",  # a refresh token is one OA's
            name=f"BV H{n:02d}",
        )
        found.append((f"h{n:02d}", oa))
    return found


def oa_settings(slug: str, oa: SimulatedOA) -> ZaloOASettings:
    """The deployment's setting of the simulated OA ``oa``, speaking for hospital ``slug``."""
    return ZaloOASettings(
        oa_id=oa.oa_id,
        app_id=oa.app_id,
        hospital=slug,
        oa_secret_key=oa.oa_secret_key,
        app_secret=oa.app_secret,
        refresh_token=oa.refresh_token,
    )


def command_of(name: str, instance: str, replace: dict[str, str] | None = None) -> tuple[list[str], dict[str, str]]:
    """The argv and the unit's own environment of unit ``name`` (instance ``instance``), as systemd runs it."""
    path = UNITS / name
    argv = [word.replace("/opt/henkham", str(ROOT)) for word in shlex.split(unit(path)["Service"]["ExecStart"])]
    for flag, value in (replace or {}).items():
        argv[argv.index(flag) + 1] = value
    env = {key: value.replace("%i", instance) for key, value in environment_of(path).items()}
    return argv, env


@contextmanager
def running_province(
    folder: Path,
    *,
    settings: dict[str, str] | None = None,
    capacity: int = 2,
    days: int = 16,
    webs: int = 2,
    actions: int = 2,
    hospitals: int = 1,
    roles: int = 2,
) -> Iterator[Province]:
    """``roles`` of every role (worker, sender, scheduler, Rasa; ``webs`` web processes and ``actions`` action
    servers, the Rasa servers sharing them in turn), as the README's production section runs them; ``settings``
    are added to the environment file's. ``hospitals`` hospitals with an OA each (``province_oas``): the first
    is the tests' hospital "test" and OA."""
    needs_services(_postgres_unavailable(), redis_unavailable("redis://127.0.0.1:6379/4"))
    name, url = create_database(POSTGRES_ADMIN_URL, prefix="henkham_recipe")  # empty: the recipe migrates it
    with ExitStack() as cleanup:
        cleanup.callback(drop_database, POSTGRES_ADMIN_URL, f"{name}_rasa")
        cleanup.callback(drop_database, POSTGRES_ADMIN_URL, name)
        sim_port, rasa_ports = free_port(), [free_port() for _ in range(roles)]
        web_ports = [free_port() for _ in range(webs)]
        actions_ports = [free_port() for _ in range(actions)]
        sim = f"http://127.0.0.1:{sim_port}"
        oas = province_oas(hospitals)
        env = {
            **example_env(),
            "HENKHAM_ENV": "development",
            "HENKHAM_DATABASE_URL": url,
            "HENKHAM_SECRET_KEY": "recipe-secret-key-0123456789",
            "HENKHAM_PUBLIC_BASE_URL": f"http://127.0.0.1:{web_ports[0]}",
            "HENKHAM_RATE_LIMIT_STORAGE_URL": "redis://127.0.0.1:6379/4",
            "HENKHAM_TRUSTED_PROXIES": "0",
            "HENKHAM_RASA_URL": ",".join(f"http://127.0.0.1:{p}" for p in rasa_ports),
            "HENKHAM_RASA_LOCK_URL": "redis://127.0.0.1:6379/5",
            "HENKHAM_METRICS_TOKEN": METRICS_TOKEN,
            "HENKHAM_ZALO_OAS": json.dumps([oa_settings(slug, oa).model_dump() for slug, oa in oas]),
            "HENKHAM_ZALO_API_BASE": sim,
            "HENKHAM_ZALO_ZNS_BASE": sim,
            "HENKHAM_ZALO_OAUTH_BASE": sim,
            "HENKHAM_ZALO_GRAPH_BASE": sim,
            "HENKHAM_RASA_TIMEOUT_SECONDS": "20",
            **TOKENS,
            **(settings or {}),
        }
        henkham = str(ROOT / ".venv/bin/henkham")
        for step in (["migrate"], ["zalo", "sync"], ["slots", "generate"]):
            if step == ["zalo", "sync"]:  # the hospital first (the factories, as the API would make it)
                db = Database(
                    f"{url}?application_name={OBSERVER}", pool_size=5, max_overflow=5
                )  # the test's look-ups (few: PostgreSQL's 100 connections are shared), not cut by a chaos loop
                cleanup.callback(db.dispose)
                for slug, _oa in oas:
                    build_world(
                        db,
                        start=local_today(),
                        days=days,
                        capacity=capacity,
                        slug=slug,
                        booking_horizon_days=30,
                        min_lead_minutes=60,
                    )
            subprocess.run([henkham, *step], env={**os.environ, **env}, capture_output=True, text=True, check=True)
        province = Province(db=db, sim=Simulator(sim), folder=folder, env=env, web_ports=web_ports)
        cleanup.callback(province.stop_all)

        def add(label: str, unit_name: str, instance: str, ready: str | None, *, extra=None, replace=None) -> None:
            argv, own = command_of(unit_name, instance, replace)
            own = {**env, **own, **(extra or {})}
            if "HENKHAM_HEARTBEAT_FILE" in own:
                own["HENKHAM_HEARTBEAT_FILE"] = str(province.beats / Path(own["HENKHAM_HEARTBEAT_FILE"]).name)
            if "HENKHAM_METRICS_PORT" in own:
                province.metrics[label] = free_port()
                own["HENKHAM_METRICS_PORT"] = str(province.metrics[label])
            province.specs[label] = Spec(argv, own, folder / f"{label}.log", ready)
            province.start(label)

        for n, port in enumerate(actions_ports):
            add(
                f"actions-{n}",
                "henkham-actions.service",
                str(n),
                f"http://127.0.0.1:{port}/health",
                extra={"HENKHAM_ACTIONS_PORT": str(port)},
            )
        for n, port in enumerate(rasa_ports):
            add(
                f"rasa-{n}",
                "henkham-rasa@.service",
                str(n),
                f"http://127.0.0.1:{port}/status?token={TOKENS['HENKHAM_RASA_TOKEN']}",
                extra={
                    "RASA_PORT": str(port),
                    "HENKHAM_ACTIONS_URL": f"http://127.0.0.1:{actions_ports[n % actions]}/webhook",
                },
            )
        for n, port in enumerate(web_ports):
            add(
                f"web-{n}",
                "henkham-web.service",
                str(n),
                f"http://127.0.0.1:{port}/healthz",
                replace={"--port": str(port), "--workers": "2"},
            )
        for role in ("worker", "sender", "scheduler"):
            for n in range(1, roles + 1):
                add(f"{role}-{n}", f"henkham-{role}@.service", str(n), None)
        cleanup.enter_context(
            simulator_process(
                f"http://127.0.0.1:{web_ports[0]}/zalo/webhook",
                [oa for _slug, oa in oas],
                folder / "sim.log",
                port=sim_port,
            )
        )
        yield province
