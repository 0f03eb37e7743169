"""The `henkham` command: thin click commands over the same core services as the API."""

from __future__ import annotations

import datetime as dt
import os
import sys
from collections.abc import Callable
from typing import Any

import click

from core.heartbeat import Heartbeat, seconds_since_beat
from henkham import bootstrap, logs
from henkham.backup_cli import backup
from henkham.campaign_cli import campaign
from henkham.cli_errors import OneLineErrors
from henkham.cli_world import world
from henkham.emr_cli import emr
from henkham.services_cli import services
from henkham.staff_cli import staff


def _with_uow(fn: Callable[..., Any]) -> Any:
    with world().database.uow() as uow:
        return fn(uow)


@click.group(cls=OneLineErrors)
def cli() -> None:
    """henkham: the Zalo OA assistant of Vietnamese hospitals."""
    from bot import redaction

    redaction.install()  # every command's process: no phone, CCCD, BHYT or birth date in its logs
    world()  # every command checks the configuration first (production: no development secrets)


@cli.command()
def migrate() -> None:
    """Upgrade the database to the newest schema (SQLite file by default, HENKHAM_DATABASE_URL otherwise)."""
    from henkham.migrate import upgrade

    url = world().settings.database_url
    upgrade(url)
    click.echo(f"database migrated ({url.split('://')[0]})")


@cli.group()
def demo() -> None:
    """Demo data (fictional hospitals, clearly marked DEMO)."""


@demo.command("load")
@click.option("--days", default=35, show_default=True, help="Days of slots to create.")
def demo_load(days: int) -> None:
    """Load the demo hospitals (safe to re-run), their slots, and the demo family's clinical records."""
    from core.booking.demo import load_demo
    from core.emr.demo import load_demo_records

    result = _with_uow(lambda uow: load_demo(uow, slot_days=days))
    click.echo(f"demo data: {result['hospitals_created']} hospitals created, {result['slots_created']} slots created")
    records = load_demo_records(world().database)
    click.echo(
        f"demo records: {records['profiles_created']} profiles created; visits {records['imported']} imported, "
        f"{records['updated']} updated, {records['unchanged']} unchanged, {records['refused']} refused"
    )


@cli.group()
def slots() -> None:
    """Bookable slots."""


@slots.command("generate")
@click.option("--days", default=None, type=int, help="Days ahead (default: HENKHAM_SLOT_HORIZON_DAYS).")
def slots_generate(days: int | None) -> None:
    """Create the missing slots of every schedule for the rolling horizon."""
    from core.booking.slots import generate_slots

    created = _with_uow(lambda uow: generate_slots(uow, days=days or world().settings.slot_horizon_days))
    click.echo(f"{created} slots created")


@cli.command("checkin")
@click.argument("code", required=False)
@click.option("--phone", help="Fallback: the patient's phone number.")
@click.option("--date", "day", type=click.DateTime(["%Y-%m-%d"]), help="With --phone: the appointment date.")
def checkin_command(code: str | None, phone: str | None, day: dt.datetime | None) -> None:
    """Check a patient in by booking code (or --phone [--date]); prints queue number and room."""
    from core.booking import checkin

    if bool(code) == bool(phone):
        raise click.UsageError("give a booking code, or --phone")

    def run(uow):
        if code:
            return checkin.check_in(uow, code, channel="cli")
        return checkin.check_in_by_phone(uow, phone, day=day.date() if day else None, channel="cli")

    result = _with_uow(run)
    a = result.appointment
    state = "already checked in" if result.already_checked_in else "checked in"
    click.echo(f"{a.code} {state}: {a.patient_name} — {a.department_name}, {a.start:%H:%M %d/%m/%Y}")
    click.echo(f"queue number {result.queue_number}, {result.room}, {result.location}")
    for need in result.still_needed:
        click.echo(f"still needed: {need}")


@cli.command("no-shows")
@click.option("--grace-minutes", default=30, show_default=True)
def no_shows(grace_minutes: int) -> None:
    """Mark booked appointments of ended sessions as no-shows."""
    from core.booking.checkin import mark_no_shows

    codes = _with_uow(lambda uow: mark_no_shows(uow, grace_minutes=grace_minutes))
    click.echo(f"{len(codes)} appointments marked no_show")


@cli.group()
def apikey() -> None:
    """API keys of the API's clients."""


@apikey.command("create")
@click.option("--name", required=True, help="A unique name of the client, e.g. kiosk-bvdk-1.")
@click.option("--kind", type=click.Choice(["mini_app", "kiosk", "his", "admin"]), required=True)
@click.option("--scope", "scopes", multiple=True, help="Override the kind's default scopes (repeatable).")
@click.option("--hospital", help="Bind the key to this hospital (slug); required for a kiosk.")
@click.option(
    "--expires",
    type=click.DateTime(["%Y-%m-%d", "%Y-%m-%d %H:%M"]),
    help="Local date (and time) after which the key stops working; default: never.",
)
@click.option(
    "--trust-account-header",
    is_flag=True,
    help="A server-to-server client that may name its end users in X-Henkham-Account (never a mini_app).",
)
def apikey_create(
    name: str,
    kind: str,
    scopes: tuple[str, ...],
    hospital: str | None,
    expires: dt.datetime | None,
    trust_account_header: bool,
) -> None:
    """Create a key; it is printed once and stored only as a digest."""
    from core.access import create_api_key
    from core.timeutil import LOCAL_TZ

    expires_at = None
    if expires is not None:
        moment = expires if expires.hour or expires.minute else expires.replace(hour=23, minute=59)
        expires_at = moment.replace(tzinfo=LOCAL_TZ).astimezone(dt.UTC)
    key = _with_uow(
        lambda uow: create_api_key(
            uow,
            name=name,
            kind=kind,
            scopes=list(scopes) or None,
            hospital_slug=hospital,
            expires_at=expires_at,
            trusted_account_header=trust_account_header,
        )
    )
    click.echo(key)


@apikey.command("list")
def apikey_list() -> None:
    """The API clients: name, kind, hospital, scopes, state, expiry and last use (never the key)."""
    from core.access import list_api_keys
    from core.timeutil import to_local, utcnow

    def local(moment: dt.datetime | None) -> str:
        return f"{to_local(moment):%Y-%m-%d %H:%M}" if moment else "-"

    now = utcnow()
    rows = _with_uow(list_api_keys)
    if not rows:
        click.echo("no API clients")
        return
    click.echo("name\tkind\thospital\tscopes\tstate\texpires\tlast used\tkey starts")
    for row in rows:
        trusted = " (trusted account header)" if row.trusted_account_header else ""
        click.echo(
            f"{row.name}\t{row.kind}{trusted}\t{row.hospital or '-'}\t{','.join(row.scopes)}\t{row.state(now)}"
            f"\t{local(row.expires_at)}\t{local(row.last_used_at)}\t{row.key_prefix}…"
        )


@apikey.command("revoke")
@click.argument("name")
def apikey_revoke(name: str) -> None:
    """Revoke a client's key: refused from its next request on."""
    from core.access import revoke_api_key

    revoked = _with_uow(lambda uow: revoke_api_key(uow, name))
    click.echo(f"{name}: revoked" if revoked else f"{name}: was already revoked")


@cli.group()
def zalo() -> None:
    """The Zalo OA channel: OA rows, inbox workers, senders, the local simulator."""


@zalo.command("sync")
def zalo_sync() -> None:
    """Create the database rows of the OAs configured in HENKHAM_ZALO_OAS (idempotent)."""
    from bot.zalo_webhook.oas import OARegistry

    registry = OARegistry(world().settings)
    created = _with_uow(registry.sync)
    click.echo(f"{len(list(registry))} OA(s) configured, {created} new")


def _serve_metrics(role: str) -> None:
    """This role's /metrics on HENKHAM_METRICS_PORT when set (core/metrics_server.py)."""
    from core.metrics_server import serve_metrics

    settings = world().settings
    if not settings.metrics_port:
        return
    try:
        server = serve_metrics(settings.metrics_host, settings.metrics_port, settings.metrics_token)
    except (ValueError, OSError) as error:
        raise click.ClickException(f"cannot serve metrics: {error}") from None
    click.echo(f"henkham {role}: metrics on http://{settings.metrics_host}:{server.server_port}/metrics")


def _run_channel_loop(role: str, threads: int) -> None:
    import signal
    import threading

    from bot.zalo_webhook import wakeup, workers

    logs.configure(role, world().settings.log_format)
    process = bootstrap.channel_process(world().settings)
    database, channel = process.database, process.channel
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    if role == "worker":
        step = lambda: workers.inbox_step(database, channel.processor)  # noqa: E731
        listen = wakeup.INBOX_CHANNEL
    else:
        step = lambda: workers.sender_step(database, channel.sender)  # noqa: E731
        listen = wakeup.OUTBOX_CHANNEL
    click.echo(f"henkham {role}: {threads} thread(s) on {database.engine.url.render_as_string(hide_password=True)}")
    heartbeat = Heartbeat(world().settings.heartbeat_file)
    _serve_metrics(role)
    try:
        workers.run_workers(database, step, threads=threads, stop=stop, channel=listen, heartbeat=heartbeat)
    finally:
        heartbeat.stop()
        database.dispose()


@cli.command("scheduler")
def scheduler() -> None:
    """Run the scheduler: reminders and other pushes derived from the database. Start as many as you like;
    one leads at a time (a PostgreSQL advisory lock; on SQLite one process) and a stopped leader is
    replaced within HENKHAM_SCHEDULER_RETRY_SECONDS."""
    import logging
    import signal
    import threading

    from core.scheduler.runner import run_scheduler

    settings = world().settings
    logs.configure("scheduler", settings.log_format)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    try:
        process = bootstrap.scheduler(settings)
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    database = process.database
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    click.echo(f"henkham scheduler on {database.engine.url.render_as_string(hide_password=True)}")
    heartbeat = Heartbeat(settings.heartbeat_file)
    _serve_metrics("scheduler")
    try:
        run_scheduler(
            process.leadership,
            process.jobs,
            stop,
            retry_seconds=settings.scheduler_retry_seconds,
            beat=lambda: heartbeat.beat(force=True),
        )
    finally:
        heartbeat.stop()
        database.dispose()


@zalo.command("simulator")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=lambda: int(os.environ.get("HENKHAM_SIMULATOR_PORT", 8010)), show_default="8010")
def zalo_simulator(host: str, port: int) -> None:
    """Serve the local Zalo simulator (development only): Zalo's API for the configured OAs and a chat page
    posting signed events to this deployment's webhook."""
    from bot.zalo_webhook.record_channel import TEMPLATE_PARAMETERS
    from bot.zalo_webhook.simulator import SimulatedOA, SimulatorConfig, serve

    settings = world().settings
    if not settings.zalo_oas:
        raise click.ClickException("no OA configured (HENKHAM_ZALO_OAS)")
    config = SimulatorConfig(
        webhook_url=settings.public_base_url.rstrip("/") + "/zalo/webhook",
        oas=[
            SimulatedOA(oa.oa_id, oa.app_id, oa.oa_secret_key, oa.app_secret, oa.refresh_token, oa.hospital)
            for oa in settings.zalo_oas
        ],
        # A ZNS template takes the text of the message as one parameter (see sender.py), but those of record
        # access (a code, a results notice), which take their own.
        templates={
            tid: list(TEMPLATE_PARAMETERS.get(purpose, ("noi_dung",)))
            for oa in settings.zalo_oas
            for purpose, tid in oa.zns_templates.items()
        },
    )
    serve(config, host=host, port=port)


@zalo.command("queue")
def zalo_queue() -> None:
    """List the conversations waiting for staff, oldest first."""
    from bot.zalo_webhook.handoff import staff_queue

    waiting = staff_queue(world().database)
    for c in waiting:
        click.echo(f"{c.updated_at:%Y-%m-%d %H:%M}Z  {c.oa_id} {c.user_id}  [{c.mode}] {c.staff_reason}")
    click.echo(f"{len(waiting)} conversation(s) waiting for staff")


@zalo.command("handback")
@click.argument("oa_id")
@click.argument("user_id")
@click.option("--staff", default="staff", show_default=True, help="Who hands back (kept as the reason).")
def zalo_handback(oa_id: str, user_id: str, staff: str) -> None:
    """Hand a conversation in human mode back to the assistant (resumes the paused bot)."""
    from bot.zalo_webhook.handoff import hand_back

    hand_back(world().database, world().rasa, oa_id, user_id, staff)  # refused: OneLineErrors' one line
    click.echo(f"conversation {oa_id}:{user_id} is back with the assistant")


@cli.command()
@click.option("--host", default=None, help="Interface to listen on.  [default: HENKHAM_ACTIONS_HOST or 127.0.0.1]")
@click.option("--port", default=None, type=int, help="Port.  [default: HENKHAM_ACTIONS_PORT or 5055]")
def actions(host: str | None, port: int | None) -> None:
    """Serve the assistant's custom actions to Rasa (needs HENKHAM_ACTIONS_TOKEN, which Rasa sends)."""
    settings = world().settings
    if not settings.actions_token:
        raise click.ClickException("HENKHAM_ACTIONS_TOKEN is not set: the action server runs nothing without it")
    from bot.action_server import serve

    bootstrap.actions(settings)
    serve(
        host or settings.actions_host,
        port or settings.actions_port,
        settings.actions_token,
        configure_logs=lambda: logs.configure("actions", settings.log_format),
    )


@zalo.command("worker")
@click.option("--threads", default=8, show_default=True, help="Users served in parallel by this process.")
def zalo_worker(threads: int) -> None:
    """Handle inbox events: in order per user, users in parallel (run any number of these)."""
    _run_channel_loop("worker", threads)


@zalo.command("sender")
@click.option("--threads", default=4, show_default=True)
def zalo_sender(threads: int) -> None:
    """Deliver outbox messages to Zalo within the rate limit (run any number of these)."""
    _run_channel_loop("sender", threads)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=lambda: int(os.environ.get("PORT", 8000)), show_default="8000 or $PORT")
@click.option("--workers", default=2, show_default=True)
@click.option("--threads", default=4, show_default=True, help="Threads per worker (gthread; keep-alive).")
def serve(host: str, port: int, workers: int, threads: int) -> None:
    """Serve the web application (REST API, Zalo webhook) with gunicorn."""
    args = [
        sys.executable,
        "-m",
        "gunicorn",
        "--config",
        "python:henkham.gunicorn_conf",
        "--bind",
        f"{host}:{port}",
        "--workers",
        str(workers),
        # Threads let a worker keep connections alive (Zalo, kiosks and the Mini App reuse them) instead of
        # paying a TCP set-up per request; requests are short and mostly wait on the database.
        "--worker-class",
        "gthread",
        "--threads",
        str(threads),
        "--keep-alive",
        "5",
        "--access-logfile",
        "-",
        "henkham.bootstrap:web()",
    ]
    os.execv(sys.executable, args)


@cli.command("alive")
@click.argument("heartbeat_file", type=click.Path(dir_okay=False))
@click.option("--within", default=30.0, show_default=True, help="Seconds the last beat may be old.")
def alive(heartbeat_file: str, within: float) -> None:
    """Exit 0 if the process whose heartbeat is HEARTBEAT_FILE beat within the last --within seconds, else 1
    (what a supervisor runs: scripts/liveness-check)."""
    age = seconds_since_beat(heartbeat_file)
    if age is None:
        raise click.ClickException(f"no heartbeat in {heartbeat_file}")
    if age > within:
        raise click.ClickException(f"last heartbeat {age:.0f} s ago (more than {within:g} s)")
    click.echo(f"alive: last heartbeat {age:.1f} s ago")


@cli.command("rasa-stores")
def rasa_stores() -> None:
    """Create Rasa's tracker database when missing and print the shell assignments of Rasa's stores
    (HENKHAM_RASA_TRACKER_URL, HENKHAM_RASA_LOCK_URL) that scripts/rasa-server evaluates."""
    import shlex

    from core.db import ensure_database

    settings = world().settings
    if len(settings.rasa_servers) > 1 and not settings.rasa_lock_url:
        raise click.ClickException(
            "HENKHAM_RASA_URL lists several Rasa servers: set HENKHAM_RASA_LOCK_URL (redis://host:6379/2) so that two "
            "never handle one conversation at once"
        )
    url = settings.rasa_tracker_store_url
    try:
        ensure_database(url)
    except Exception as error:  # the server refused: one line, no URL (it may hold a password)
        raise click.ClickException(f"cannot create Rasa's tracker database: {type(error).__name__}") from None
    click.echo(f"export HENKHAM_RASA_TRACKER_URL={shlex.quote(url)}")
    click.echo(f"export HENKHAM_RASA_LOCK_URL={shlex.quote(settings.rasa_lock_url)}")


@cli.command()
@click.option("--port", default=8000, show_default=True)
def urls(port: int) -> None:
    """Print where the running system can be reached."""
    base = f"http://127.0.0.1:{port}"
    click.echo("henkham is starting; reach it at:")
    click.echo(f"  REST API      {base}/api/v1/hospitals")
    click.echo(f"  API docs      {base}/api/v1/docs  (OpenAPI: {base}/api/v1/openapi.json)")
    click.echo(f"  health        {base}/healthz")
    simulator = os.environ.get("HENKHAM_SIMULATOR_PORT")
    if simulator:
        click.echo(f"  Zalo chat     http://127.0.0.1:{simulator}/  (the simulator: chat with the demo OA)")


cli.add_command(backup)
cli.add_command(campaign)
cli.add_command(emr)
cli.add_command(services)
cli.add_command(staff)


if __name__ == "__main__":
    cli()
