"""A province on one machine: what a turn of chat costs each process role, and how many servers a province needs.

Run: ``.venv/bin/python bench/province.py`` (or ``make bench-province``), PostgreSQL and Redis running. It makes
sure the Rasa model is current, then starts the production recipe as tests/province_stack.py does (every role a
process of its own, from the systemd units: ``--roles`` (2) Rasa servers, workers, senders and schedulers, one
web process with 2 gunicorn workers, one action server; the Rasa tracker in PostgreSQL, locks in Redis) for
``--hospitals`` (20) hospitals with one Zalo OA each, the Zalo simulator in front. Patients book by chat as in
``bench/conversation.py`` (the same 10-turn conversation), each writing to their hospital's OA (user n to
hospital n mod 20). Phases, after an untimed warm-up conversation on each Rasa server:

1. ``paced``: ``--paced-users`` (20) patients at once who pause as people do (``--think`` s, 0.5 to 1.5 times,
   per turn): turn latency p50/p95, webhook received -> first reply handed to Zalo (target p95 <= 300 ms);
2. ``saturation``: ``--users`` (60) patients answering the instant a reply arrives: turns/s (target >= 50) and
   the CPU-seconds per turn of every role (read from /proc: each role's processes and their children, and the
   PostgreSQL backends of the two databases);
3. ``saturation + pushes`` (unless ``--no-pushes``): the same while ``--reminders`` (3,000) appointment
   reminders fall due at once at the last hospital (bench/reminder_world.py) and a health-education broadcast
   goes to as many followers of its OA (the schedulers queue them, the senders deliver them through the same
   Zalo API): turns/s beside the pushes; the phase ends when the last push is delivered, and its CPU beyond its
   turns' (at the saturation phase's cost a turn) is the pushes'.

Then a capacity table a province can size its servers from: cores per 1,000 conversations in progress (a
patient in a conversation sends a message every ``--pace`` (15) s: 1,000 of them make 1000/pace turns/s) and
cores per 100,000 reminders a day (sent within ``--reminder-hours`` (2) hours, as the 24-hour reminders of a
morning's clinics are). The CPU is measured, the sizing is arithmetic on it.

Exit status 1 when a target is missed or a conversation fails, 2 when the bench could not run. The last line of
the output is the figures as one JSON object.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import queue
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, select, text

from bench.booking import ms, percentile, print_columns
from bench.conversation import (
    REPLY_TIMEOUT,
    USERS_APPLICATION,
    CpuSnapshot,
    UserRun,
    collect_turns,
    count_bookings,
    cpu_seconds,
    cpu_snapshot,
    ensure_model,
    users_main,
)
from bench.procstat import own_child, processes
from bench.reminder_world import seed_due_reminders
from bot.zalo_webhook.campaign_channel import ZaloCampaignChannel
from bot.zalo_webhook.models import OutboundMessage
from core.news import campaigns
from core.news.campaigns import CampaignTarget, NewCampaign
from tests.harness import BenchError, log
from tests.province_stack import OBSERVER, Province, oa_settings, province_oas, running_province
from tests.zalo_sim import Simulator

ROOT = Path(__file__).resolve().parent.parent
TARGET_TURNS_PER_SECOND = 50.0
TARGET_PACED_P95_MS = 300.0
ROLES = ("web", "worker", "sender", "scheduler", "rasa", "actions", "postgres")
SETTINGS = {
    "HENKHAM_RASA_TIMEOUT_SECONDS": "60",
    # PostgreSQL's 100 connections: a pool as large as a worker's threads (8) per process, the bench's own few.
    "HENKHAM_DB_POOL_SIZE": "8",
    "HENKHAM_DB_MAX_OVERFLOW": "2",
}


@dataclass
class Phase:
    name: str
    users: list[UserRun]
    turns: int
    wall: float  # first webhook received -> last reply handed over
    latencies: list[float]  # seconds, webhook -> first reply, sorted
    cpu: dict[str, float]  # CPU seconds per group over the phase
    cpu_wall: float  # seconds between the CPU readings
    bookings: int
    reminders_sent: int = 0

    @property
    def errors(self) -> list[str]:
        return [f"{u.user}: {u.error}" for u in self.users if u.error]

    @property
    def turns_per_second(self) -> float:
        return self.turns / self.wall if self.wall > 0 else 0.0

    def per_turn(self, role: str) -> float:
        return self.cpu.get(role, 0.0) / max(1, self.turns)

    @property
    def stack_per_turn(self) -> float:
        return sum(self.per_turn(role) for role in ROLES)


def roots_of(province: Province, users_pid: int | None) -> dict[str, int | Sequence[int] | None]:
    """The process roots of each role (labels "worker-1", "rasa-0", ...), the simulator and the users."""
    roles: dict[str, list[int]] = {}
    for label, process in province.processes.items():
        roles.setdefault(label.rsplit("-", 1)[0], []).append(process.pid)
    simulator = own_child(processes(), "SimulatorConfig", province.sim.base.rsplit(":", 1)[1])
    return {**roles, "simulator": simulator, "users": users_pid}


def run_phase(province: Province, name: str, runs: list[UserRun], think: float, poll: float, pushes: int = 0) -> Phase:
    """The conversations of ``runs`` at once from a process of their own (bench/conversation.py's users); with
    ``pushes``, that many reminders fall due at a hospital of their own as the conversations start."""
    url, dbname = province.env["HENKHAM_DATABASE_URL"], province.env["HENKHAM_DATABASE_URL"].rsplit("/", 1)[1]
    spawn = mp.get_context("spawn")
    ready, go, results = spawn.Event(), spawn.Event(), spawn.Queue()
    process = spawn.Process(
        target=users_main, args=(url, province.sim.base, runs, think, poll, ready, go, results), name="bench-users"
    )
    process.start()
    reminder_users: list[str] = []
    try:
        if not ready.wait(timeout=120):
            raise BenchError("the users' process did not start within 120 s")
        if pushes:
            slug, sim_oa = province_oas(len({r.oa_id for r in runs}) or 1)[-1]  # the last hospital's OA
            oa = oa_settings(slug, sim_oa)
            reminder_users = seed_due_reminders(province.db, oa, pushes, user_prefix="9").user_ids
            with province.db.uow() as uow:  # and a health-education message to the same OA's followers
                campaigns.create(
                    uow,
                    NewCampaign(
                        hospital=slug,
                        title="Phòng sốt xuất huyết",
                        text="Dạ, bệnh viện nhắc anh/chị đậy kín dụng cụ chứa nước và diệt lăng quăng mỗi tuần ạ.",
                        target=CampaignTarget(kind="followers", oa_id=oa.oa_id),
                    ),
                    channel=ZaloCampaignChannel(),
                    created_by="bench",
                )
                uow.commit()
        roots = roots_of(province, process.pid)
        before: CpuSnapshot = cpu_snapshot(roots, [dbname, f"{dbname}_rasa"], users_backends(province))
        go.set()
        try:
            done: list[UserRun] = results.get(timeout=REPLY_TIMEOUT * 12 + 60)
        except queue.Empty:
            raise BenchError(f"{name}: the conversations did not end in time") from None
        if reminder_users:  # the pushes' CPU is all of their sending: wait for the last reminder
            deadline = time.monotonic() + 300
            while reminders_sent(province, reminder_users) < 2 * pushes and time.monotonic() < deadline:
                time.sleep(0.5)
        after = cpu_snapshot(roots_of(province, process.pid), [dbname, f"{dbname}_rasa"], users_backends(province))
    finally:
        process.join(timeout=30)
        if process.is_alive():
            process.terminate()
            process.join(timeout=5)
    oa_ids = sorted({r.oa_id for r in done})
    turns, _fallbacks = collect_turns(province.db, Simulator(province.sim.base), [r.user for r in done], oa_ids)
    ends = [t.last for t in turns if t.last is not None]
    codes = [r.code for r in done if r.code]
    sent = reminders_sent(province, reminder_users) if reminder_users else 0
    return Phase(
        name=name,
        users=done,
        turns=len(turns),
        wall=max(ends) - min(t.received for t in turns) if ends else float("nan"),
        latencies=sorted(t.first - t.received for t in turns if t.first is not None),
        cpu=cpu_seconds(before, after),
        cpu_wall=after.at - before.at,
        bookings=count_bookings(province.db, codes) if codes else 0,
        reminders_sent=sent,
    )


def users_backends(province: Province) -> dict[str, list[int]]:
    """The PostgreSQL backends of the users' process (polling whether their turn is settled) and of this bench's
    own look-ups: counted as "users", not as the stack's "postgres"."""
    with province.db.reader() as uow:
        pids = uow.session.scalars(
            text("SELECT pid FROM pg_stat_activity WHERE application_name IN (:users, :observer)"),
            {"users": USERS_APPLICATION, "observer": OBSERVER},
        ).all()
    return {"users": list(pids)}


def reminders_sent(province: Province, users: list[str]) -> int:
    with province.db.reader() as uow:
        return int(
            uow.session.scalar(
                select(func.count()).where(OutboundMessage.user_id.in_(users), OutboundMessage.sent_at.is_not(None))
            )
            or 0
        )


def user_runs(prefix: str, count: int, hospitals: list[tuple[str, str]], first: int = 0) -> list[UserRun]:
    """``count`` users, user n writing to the OA of hospital n mod len(hospitals)."""
    return [
        UserRun(f"{prefix}-{first + i:03d}", first + i, oa_id=hospitals[(first + i) % len(hospitals)][1])
        for i in range(count)
    ]


def capacity_rows(saturation: Phase, pushes: Phase | None, args: argparse.Namespace) -> list[list[str]]:
    """Cores per 1,000 conversations in progress and per 100,000 reminders a day, from the measured CPU."""
    turns_per_second = 1000 / args.pace
    rows = []
    for role in (*ROLES, "total"):
        per_turn = saturation.stack_per_turn if role == "total" else saturation.per_turn(role)
        rows.append([role, f"{per_turn * 1000:.1f}", f"{per_turn * turns_per_second:.2f}"])
    if pushes is not None and pushes.reminders_sent:
        # The pushes' CPU: what the phase with pushes used beyond its turns at the saturation phase's cost a turn.
        extra = sum(pushes.cpu.get(r, 0.0) for r in ROLES) - saturation.stack_per_turn * pushes.turns
        per_reminder = max(0.0, extra) / pushes.reminders_sent
        peak = 100_000 / (args.reminder_hours * 3600)
        rows.append(["push", f"{per_reminder * 1000:.1f}", f"{per_reminder * peak:.2f} (per 100,000 a day)"])
    return rows


# What a --baseline run takes from this checkout: the bench and the test harness that starts the province (and
# the Zalo simulator, a test double), never the product code, which is the baseline revision's.
HARNESS = ("bench", "tests", "bot/zalo_webhook/simulator")


def baseline_figures(revision: str, argv: Sequence[str], folder: Path) -> dict[str, Any]:
    """This bench run on the code of ``revision`` (a git worktree of it, with this checkout's environments,
    model and harness), as a subprocess: its figures."""
    tree = folder / "baseline"
    subprocess.run(
        ["git", "worktree", "add", "--detach", "--force", str(tree), revision],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    try:
        changed = subprocess.run(
            ["git", "diff", "--name-only", revision, "--", *HARNESS],
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.split()
        for name in changed:
            source, target = ROOT / name, tree / name
            if source.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target)
        # Older than the model (trained from the same data): neither the bench nor the Rasa servers retrain.
        stamp = (ROOT / "models/henkham.tar.gz").stat().st_mtime - 3600
        for path in tree.rglob("*"):
            os.utime(path, (stamp, stamp), follow_symlinks=False)
        for name in (".venv", ".venv-rasa", "models"):
            (tree / name).symlink_to(ROOT / name)
        log(f"baseline: {revision} in {tree} ({len(changed)} harness file(s) from this checkout)")
        done = subprocess.run(
            [sys.executable, str(tree / "bench/province.py"), *argv, "--keep-logs"],
            cwd=tree,
            env={**os.environ, "PYTHONPATH": str(tree)},
            capture_output=True,
            text=True,
            check=False,
        )
        (folder / "baseline.out").write_text(done.stdout + done.stderr)
        lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
        if not lines:
            raise BenchError(f"the baseline run printed no figures (exit {done.returncode}); see {folder}/baseline.out")
        return json.loads(lines[-1])
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, check=False, capture_output=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--hospitals", type=int, default=20)
    parser.add_argument("--users", type=int, default=60, help="patients of the saturation phase")
    parser.add_argument("--paced-users", type=int, default=20)
    parser.add_argument("--think", type=float, default=3.0, help="seconds a paced patient reads and answers")
    parser.add_argument("--poll", type=float, default=0.05)
    parser.add_argument("--roles", type=int, default=2, help="processes of each role (worker, sender, ...)")
    parser.add_argument("--reminders", type=int, default=3000)
    parser.add_argument("--no-pushes", dest="pushes", action="store_false")
    parser.add_argument("--pace", type=float, default=15.0, help="seconds between a patient's messages (sizing)")
    parser.add_argument("--reminder-hours", type=float, default=2.0, help="hours a day's reminders go out in")
    parser.add_argument("--keep-logs", action="store_true")
    parser.add_argument(
        "--baseline",
        metavar="REVISION",
        help="first run the same bench on the code of REVISION (a git commit) and print both runs' CPU per turn",
    )
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="henkham-bench-province-"))
    try:
        log(f"model: {ensure_model(folder, 1800)}")
        before = None
        if args.baseline:
            own = list(sys.argv[1:] if argv is None else argv)
            at = own.index("--baseline")
            before = baseline_figures(args.baseline, own[:at] + own[at + 2 :], folder)
        figures = run(folder, args)
        if before is not None:
            compare(before, figures, args.baseline)
            figures["baseline"] = {"revision": args.baseline, **before}
    except BenchError as error:
        print(f"bench failed: {error}\nlogs: {folder}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"interrupted; logs: {folder}", file=sys.stderr)
        return 130
    failed = not figures["pass"]
    if not failed and not args.keep_logs:
        shutil.rmtree(folder, ignore_errors=True)
    else:
        print(f"logs        : {folder}")
    print(json.dumps(figures, ensure_ascii=False))
    return 1 if failed else 0


def run(folder: Path, args: argparse.Namespace) -> dict[str, Any]:
    capacity = 10  # seats a slot: every phase's patients book the same Monday morning
    hospitals = [(slug, oa.oa_id) for slug, oa in province_oas(args.hospitals)]
    log(f"province: {args.hospitals} hospitals, {args.roles} of each role; starting")
    with running_province(
        folder, settings=SETTINGS, capacity=capacity, webs=1, actions=1, hospitals=args.hospitals, roles=args.roles
    ) as province:
        log("warm-up: one untimed conversation per Rasa server")
        warm = run_phase(province, "warm-up", user_runs("warm", 2 * args.roles, hospitals), 0.0, args.poll)
        if warm.errors:
            raise BenchError(f"the warm-up failed: {warm.errors[0]}")
        log(f"paced: {args.paced_users} patients pausing {args.think:g} s")
        paced = run_phase(province, "paced", user_runs("paced", args.paced_users, hospitals), args.think, args.poll)
        log(f"saturation: {args.users} patients answering at once")
        rush = run_phase(province, "saturation", user_runs("rush", args.users, hospitals), 0.0, args.poll)
        pushes = None
        if args.pushes:
            log(f"saturation + pushes: {args.users} patients and {args.reminders} reminders due")
            pushes = run_phase(
                province, "pushes", user_runs("push", args.users, hospitals), 0.0, args.poll, pushes=args.reminders
            )
    return report([paced, rush, *([pushes] if pushes else [])], args)


def compare(before: dict[str, Any], after: dict[str, Any], revision: str) -> None:
    """CPU per turn of each role, the baseline's and this run's (both measured by this bench, one after the
    other on this machine)."""
    print(f"\nCPU ms per turn, saturation phase: {revision} (baseline) -> this checkout")
    rows = []
    for role in (*ROLES, "stack"):
        old = before["cpu_ms_per_turn"].get(role) if role != "stack" else before["cpu_ms_per_turn_stack"]
        new = after["cpu_ms_per_turn"].get(role) if role != "stack" else after["cpu_ms_per_turn_stack"]
        change = f"{(new - old) / old * 100:+.0f}%" if old else "-"
        rows.append([role, f"{old:.1f}", f"{new:.1f}", change])
    rows.append(
        ["turns/s", f"{before['saturation_turns_per_second']:.1f}", f"{after['saturation_turns_per_second']:.1f}", ""]
    )
    print_columns(["role", "before", "after", "change"], rows, "<>>>")


def report(phases: list[Phase], args: argparse.Namespace) -> dict[str, Any]:
    paced, rush = phases[0], phases[1]
    pushes = phases[2] if len(phases) > 2 else None
    load = os.getloadavg()
    print(f"machine     : nproc={os.cpu_count()}, {platform.machine()}, load average {load[0]:.2f} {load[1]:.2f}")
    print(f"province    : {args.hospitals} hospitals (one OA each), {args.roles} of each role, tracker in PostgreSQL")
    head = ["phase", "users", "turns", "turns/s", "p50", "p95", "errors", "booked", "CPU s/turn (stack)"]
    rows = []
    for phase in phases:
        lat = phase.latencies
        rows.append(
            [
                phase.name,
                str(len(phase.users)),
                str(phase.turns),
                f"{phase.turns_per_second:.1f}",
                ms(percentile(lat, 0.5)) if lat else "-",
                ms(percentile(lat, 0.95)) if lat else "-",
                str(len(phase.errors)),
                f"{phase.bookings}/{len(phase.users)}",
                f"{phase.stack_per_turn:.4f}",
            ]
        )
    print_columns(head, rows, "<>>>>>>>>")
    if pushes is not None:
        print(
            f"pushes      : {pushes.reminders_sent} of {2 * args.reminders} pushes delivered ({args.reminders} "
            f"reminders and a broadcast to as many followers; {pushes.reminders_sent / pushes.cpu_wall:.0f}/s "
            "over the phase, chat included)"
        )
    print("\nCPU per turn by role (saturation phase), and cores for 1,000 conversations in progress")
    print(f"(a message every {args.pace:g} s each; reminders: 100,000 a day sent within {args.reminder_hours:g} h)")
    print_columns(["role", "CPU ms/turn", "cores"], capacity_rows(rush, pushes, args), "<>>")
    others = {k: v / max(1, rush.turns) for k, v in rush.cpu.items() if k not in ROLES}
    print("outside the stack, per turn: " + ", ".join(f"{k} {v * 1000:.1f} ms" for k, v in sorted(others.items())))
    for phase in phases:
        for error in phase.errors[:5]:
            print(f"error ({phase.name}): {error}")
    checks = {
        "saturation_turns_per_second": rush.turns_per_second >= TARGET_TURNS_PER_SECOND,
        "paced_p95": bool(paced.latencies) and percentile(paced.latencies, 0.95) * 1000 <= TARGET_PACED_P95_MS,
        "no_errors": not any(phase.errors for phase in phases),
        "all_booked": all(phase.bookings == len(phase.users) for phase in phases),
    }
    for name, ok in checks.items():
        print(f"target      : {name}: {'PASS' if ok else 'FAIL'}")
    return {
        "pass": all(checks.values()),
        "checks": checks,
        "saturation_turns_per_second": round(rush.turns_per_second, 2),
        "paced_p50_ms": round(percentile(paced.latencies, 0.5) * 1000, 1) if paced.latencies else None,
        "paced_p95_ms": round(percentile(paced.latencies, 0.95) * 1000, 1) if paced.latencies else None,
        "cpu_ms_per_turn": {role: round(rush.per_turn(role) * 1000, 2) for role in ROLES},
        "cpu_ms_per_turn_stack": round(rush.stack_per_turn * 1000, 2),
        "pushes_turns_per_second": round(pushes.turns_per_second, 2) if pushes else None,
        "reminders_sent": pushes.reminders_sent if pushes else None,
        "errors": Counter(phase.name for phase in phases for _ in phase.errors),
    }


if __name__ == "__main__":
    sys.exit(main())
