"""Configuration: one typed settings object, read from the environment (prefix HENKHAM_)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SQLITE_PATH = PROJECT_ROOT / "var" / "henkham.db"


def url_list(value: str) -> list[str]:
    """The URLs of a comma-separated setting (``HENKHAM_RASA_URL``), in order, without trailing slashes."""
    return [url.strip().rstrip("/") for url in value.split(",") if url.strip()]


class ZaloOASettings(BaseModel):
    """One Zalo Official Account served by this deployment (one per hospital)."""

    oa_id: str
    app_id: str
    hospital: str = Field(description="Slug of the hospital this OA speaks for.")
    oa_secret_key: str = Field(description="The OA Secret Key of the app's webhook page (signs webhook events).")
    app_secret: str = Field(description="The App Secret (header secret_key of token refreshes).")
    refresh_token: str = Field(
        default="", description="First refresh token, used only while the database holds no token for this OA."
    )
    # ZNS templates by message purpose (e.g. {"reply": "231234", "reminder": "231235"}): what may be sent
    # to the patient's phone when the chat window is closed.
    zns_templates: dict[str, str] = Field(default_factory=dict)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HENKHAM_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default=f"sqlite:///{DEFAULT_SQLITE_PATH}",
        description="SQLAlchemy URL; postgresql://... selects PostgreSQL through psycopg 3.",
    )
    timezone: str = "Asia/Ho_Chi_Minh"
    # Slots are materialised this many days ahead; a hospital's own booking horizon may be shorter.
    slot_horizon_days: int = 60
    db_pool_size: int = 10
    db_max_overflow: int = 10
    db_pre_ping: bool = Field(
        default=False, description="Check each pooled connection before use (costs a round trip)."
    )
    secret_key: str = Field(default="dev-only-change-me", description="Flask secret; set it in production.")
    public_base_url: str = "http://127.0.0.1:8000"

    # --- Zalo channel (see shared/zalo-api.md). Production points the three hosts at Zalo; development and
    # tests point them at the simulator (henkham zalo-simulator).
    zalo_oas: list[ZaloOASettings] = Field(
        default_factory=list, description="JSON list of the OAs served, with their secrets (HENKHAM_ZALO_OAS)."
    )
    zalo_api_base: str = "https://openapi.zalo.me"
    zalo_zns_base: str = "https://business.openapi.zalo.me"
    zalo_oauth_base: str = "https://oauth.zaloapp.com"
    zalo_site_verification: str = Field(
        default="", description="Content of the zalo-platform-site-verification meta tag of the domain."
    )
    zalo_max_body_bytes: int = 64 * 1024
    zalo_rate_limit_per_minute: int = 4000
    zalo_allow_billed: bool = Field(
        default=False, description="Send chat messages 48 h - 7 days after the user's last interaction (billed)."
    )
    zalo_human_mode_minutes: int = Field(
        default=30, description="How long the bot stays silent after a staff member replies from the OA inbox."
    )
    zalo_http_timeout_seconds: float = 10.0
    zalo_token_refresh_margin_minutes: int = 30
    # How long a worker or sender holds a claimed event or message: one that dies is replaced after this.
    zalo_inbox_lease_seconds: int = 60
    zalo_outbox_lease_seconds: int = 90
    # --- Health-education broadcasts (core/news/sending.py, bot/zalo_webhook/follower_tags.py).
    news_monthly_cap: int = Field(
        default=4, ge=0, description="At most this many broadcast messages per user within news_cap_window_days."
    )
    news_cap_window_days: int = Field(default=30, ge=1)
    news_night_margin_minutes: int = Field(
        default=5, ge=0, description="Stop queueing broadcasts this long before the 22:00 night ban begins."
    )
    news_tag_sync_minutes: int = Field(
        default=5, ge=0, description="Mirror news subscriptions to Zalo follower tags this often (0: never)."
    )
    rasa_url: str = Field(
        default="http://127.0.0.1:5005",
        description="The Rasa server, or a comma-separated list of them: each user is served by one, in order, "
        "and moves to the next when it cannot be reached (bot/zalo_webhook/rasa_bridge.py).",
    )
    rasa_timeout_seconds: float = 8.0
    rasa_unreachable_wait_seconds: float = Field(
        default=90.0,
        ge=0,
        description="While no Rasa server answers, a message waits this long (retried) before staff are told.",
    )
    log_format: Literal["text", "json"] = Field(
        default="text", description="json: one JSON object per log line (role, correlation id), for a collector."
    )
    heartbeat_file: str = Field(
        default="",
        description="Worker, sender, scheduler: the file this process rewrites every few seconds while it works "
        "(its supervisor runs `henkham alive FILE --within 30`); empty: none. One file per process.",
    )
    # --- Rasa's own state (issue 17): conversations in a SQL tracker store, a lock store across servers.
    rasa_tracker_url: str = Field(
        default="",
        description="Rasa's tracker store (SQLAlchemy URL). Default: database <name>_rasa on the PostgreSQL server "
        "of HENKHAM_DATABASE_URL, or var/rasa-tracker.db beside a SQLite database.",
    )
    rasa_lock_url: str = Field(
        default="",
        description="Rasa's lock store: redis://host:port/db, shared by every Rasa server (required for more "
        "than one); empty: each server's own memory.",
    )
    rasa_tracker_retention_days: float = Field(
        default=30.0, gt=0, description="A conversation untouched this long is pruned from Rasa's tracker store."
    )
    scheduler_rasa_retention_seconds: float = Field(
        default=3600.0, gt=0, description="How often old conversations are pruned from Rasa's tracker store."
    )
    # --- The scheduler (henkham scheduler) and appointment reminders (core/reminders).
    reminder_offsets_hours: list[float] = Field(
        default_factory=lambda: [24.0, 2.0], description="Remind this many hours before each visit."
    )
    scheduler_retry_seconds: float = Field(
        default=10.0, gt=0, description="A waiting scheduler tries to lead this often (a stopped leader's successor)."
    )
    scheduler_reminders_seconds: float = Field(default=30.0, gt=0, description="How often due reminders are planned.")
    scheduler_no_shows_seconds: float = Field(default=300.0, gt=0, description="How often missed visits are marked.")
    scheduler_campaigns_seconds: float = Field(
        default=5.0, gt=0, description="How often broadcasts queue their next batch (500 a run: up to 6,000 a minute)."
    )
    reexam_reminder_days: list[int] = Field(
        default_factory=lambda: [3, 1], description="Remind this many days before a re-exam date (at 08:00)."
    )
    no_show_grace_minutes: int = Field(
        default=30, ge=0, description="A booked visit is a no-show this long after its session ends."
    )
    # --- doors (issue 11): the action server and Rasa's HTTP API behind their credentials.
    rasa_token: str = Field(
        default="", description="Rasa's --auth-token (scripts/rasa-server): sent by the worker and hand-back."
    )
    actions_token: str = Field(
        default="", description="Secret Rasa sends to the action server (bot/endpoints.yml); required to serve."
    )
    actions_host: str = Field(default="127.0.0.1", description="Where henkham actions listens.")
    actions_port: int = Field(default=5055, description="The port henkham actions listens on.")
    metrics_token: str = Field(
        default="", description="Bearer token the Prometheus scraper sends to /metrics (refused without it)."
    )
    metrics_port: int = Field(
        default=0,
        ge=0,
        le=65535,
        description="Worker, sender, scheduler: serve /metrics on this port (0: not served). One port per process.",
    )
    metrics_host: str = Field(default="127.0.0.1", description="Where the metrics port of those roles listens.")
    # --- tenancy (issue 11): Mini App identity through Zalo's Graph API, caps per API client and account.
    zalo_graph_base: str = Field(
        default="https://graph.zalo.me", description="Zalo's Graph API (Mini App user tokens); the simulator in dev."
    )
    zalo_graph_timeout_seconds: float = Field(default=5.0, gt=0, description="Time-out of one Graph API call.")
    zalo_graph_cache_seconds: float = Field(
        default=300.0, ge=0, description="How long a verified Zalo user token is trusted without asking again."
    )
    api_max_profiles_per_account: int = Field(default=10, ge=1, description="Patient profiles per end user.")
    api_max_profiles_per_client: int = Field(
        default=100_000, ge=1, description="Patient profiles all end users of one API client may hold."
    )
    api_max_live_bookings_per_account: int = Field(
        default=10, ge=1, description="Booked (not yet visited) appointments per end user, all profiles together."
    )
    api_max_live_bookings_per_client: int = Field(
        default=20_000, ge=1, description="Booked appointments all end users of one API client may hold."
    )

    # --- web (issue 11): production mode, rate limits, proxies (see core/environment.py, henkham/web/limits.py)
    env: Literal["development", "production"] = Field(
        default="development",
        description="production refuses to start with development secrets or the simulator's addresses.",
    )
    rate_limit_enabled: bool = True
    rate_limit_storage_url: str = Field(
        default="memory://",
        description="Where rate-limit counters live: memory:// (per process) or redis://host:port/db (shared).",
    )
    rate_limit_lookups_per_key: str = Field(
        default="600 per minute", description="Booking-code lookups and check-ins per API key (found or not)."
    )
    rate_limit_lookups_per_ip: str = Field(
        default="600 per minute", description="Booking-code lookups and check-ins per client IP (found or not)."
    )
    rate_limit_failed_lookups_per_key: str = Field(
        default="20 per minute; 200 per day", description="Lookups of codes (or phones) that match nothing, per key."
    )
    rate_limit_failed_lookups_per_ip: str = Field(
        default="30 per minute; 300 per day", description="Lookups that match nothing, per client IP."
    )
    rate_limit_failed_auth_per_ip: str = Field(
        default="10 per minute; 100 per hour", description="Requests refused for a missing or bad key, per IP."
    )
    rate_limit_bookings_per_account: str = Field(
        default="10 per hour; 30 per day", description="New bookings per end-user account (or per key without one)."
    )
    rate_limit_staff_login_per_ip: str = Field(
        default="20 per 15 minutes; 100 per day", description="Refused staff console logins per client IP."
    )
    rate_limit_staff_login_per_user: str = Field(
        default="5 per 15 minutes; 20 per day", description="Refused staff console logins per username."
    )
    # --- the staff console (issue 15)
    staff_idle_minutes: int = Field(
        default=30, ge=1, le=24 * 60, description="A console session idle this long ends (log in again)."
    )
    staff_session_hours: int = Field(
        default=12, ge=1, le=72, description="A console session ends this long after its login, busy or not."
    )
    staff_cookie_secure: bool | None = Field(
        default=None,
        description="Send the console's session cookie over HTTPS only (default: in production only).",
    )
    trusted_proxies: int = Field(
        default=0, ge=0, le=5, description="Reverse proxies in front of the web process (X-Forwarded-For hops)."
    )

    @property
    def rasa_servers(self) -> list[str]:
        """The Rasa servers of ``rasa_url``, in order."""
        return url_list(self.rasa_url)

    @property
    def rasa_tracker_store_url(self) -> str:
        """Where Rasa keeps its conversations (see ``rasa_tracker_url``)."""
        if self.rasa_tracker_url:
            return self.rasa_tracker_url
        from sqlalchemy.engine import make_url

        url = make_url(self.database_url)
        if url.get_backend_name() == "postgresql":
            return url.set(drivername="postgresql", database=f"{url.database}_rasa").render_as_string(
                hide_password=False
            )
        folder = Path(url.database).parent if url.database else DEFAULT_SQLITE_PATH.parent
        return f"sqlite:///{folder / 'rasa-tracker.db'}"

    @field_validator(
        "rate_limit_lookups_per_key",
        "rate_limit_lookups_per_ip",
        "rate_limit_failed_lookups_per_key",
        "rate_limit_failed_lookups_per_ip",
        "rate_limit_failed_auth_per_ip",
        "rate_limit_bookings_per_account",
        "rate_limit_staff_login_per_ip",
        "rate_limit_staff_login_per_user",
    )
    @classmethod
    def _rate_limit(cls, value: str) -> str:
        from limits import parse_many

        try:
            parse_many(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a rate limit such as '20 per minute; 200 per day'") from None
        return value

    @model_validator(mode="after")
    def _production_refuses_development_values(self) -> Settings:
        from core.environment import refuse_development_values

        refuse_development_values(self)
        return self

    # --- webhook (issue 11): freshness of Zalo events, staff replies told by message id, retention.
    zalo_event_max_age_hours: float = Field(
        default=24.0, gt=0, description="A signed event whose timestamp is older than this is refused (replays)."
    )
    zalo_event_future_minutes: float = Field(
        default=10.0, ge=0, description="Clock skew tolerated for an event timestamp ahead of ours."
    )
    zalo_echo_wait_seconds: float = Field(
        default=300.0,
        ge=0,
        description="How long an oa_send_* echo waits for a send to its user still in flight before it is judged.",
    )
    zalo_retention_days: float = Field(
        default=30.0, gt=0, description="Handled inbox events and settled outbox messages are pruned after this."
    )
    scheduler_prune_seconds: float = Field(default=3600.0, gt=0, description="How often old inbox/outbox rows go.")

    # --- EMR entry points (issue 13, entry): API body limit, the inbox folder per hospital, raw-file retention.
    emr_import_max_bytes: int = Field(
        default=20 * 1024 * 1024,
        gt=0,
        description="Largest file POST /api/v1/emr/imports accepts (bytes); a larger body is 413.",
    )
    emr_inbox_dir: str = Field(
        default="var/emr-inbox",
        description="Inbox folder of the HIS exports: <dir>/<facility_code>/ per hospital, then done/ or failed/.",
    )
    emr_inbox_settle_seconds: float = Field(
        default=60.0,
        ge=0,
        description="An inbox file is picked up once it has not changed for this long (the HIS finished writing).",
    )
    scheduler_emr_inbox_seconds: float = Field(default=60.0, gt=0, description="How often the EMR inbox is read.")
    emr_raw_retention_days: float = Field(
        default=90.0, gt=0, description="Raw imported files are deleted after this; the parsed record stays."
    )
    scheduler_emr_retention_seconds: float = Field(
        default=3600.0, gt=0, description="How often raw imported files past their retention are deleted."
    )
    # --- Record access in chat (issue 14, rec/access): the lockout after the 5th wrong one-time code.
    emr_otp_lockout_minutes: int = Field(
        default=60,
        gt=0,
        le=24 * 60,
        description="After the 5th wrong one-time code, chat verification of the account is locked this long.",
    )
    # --- Record access in chat (issue 14, channel): "your results are ready" notices.
    emr_result_notice_days: int = Field(
        default=14,
        ge=0,
        description="A newly imported visit is announced in chat only if discharged (or begun) within this many days.",
    )
    scheduler_emr_result_notices_seconds: float = Field(
        default=60.0, gt=0, description='How often newly imported visits are announced ("your results are ready").'
    )

    # --- Record summaries in chat (issue 14, H2): what a summary never shows (core/emr/exclusions.py).
    emr_chat_exclusions: dict[str, dict[Literal["icd10", "services", "name_words"], list[str]]] = Field(
        default_factory=dict,
        description=(
            "JSON: hospital slug -> {icd10, services, name_words} withheld from record summaries in chat; "
            '"*" replaces the defaults (ICD-10 F, B20-B24, Z21 and the other HIV codes; the word "HIV") for '
            "every hospital, a hospital's entry adds to them for its visits (HENKHAM_EMR_CHAT_EXCLUSIONS)."
        ),
    )

    # --- The staff console's figures (issue 15): the daily roll-ups kept by the scheduler (core/figures).
    scheduler_figures_seconds: float = Field(
        default=900.0, gt=0, description="How often today's figures are rolled up (core/figures/rollup.py)."
    )
    scheduler_figures_settled_seconds: float = Field(
        default=600.0, gt=0, description="How often the scheduler looks for a settled day to roll up (nightly)."
    )
    figures_settle_minutes: int = Field(
        default=120,
        ge=0,
        description="A day is rolled up for good this many minutes after its end (the no-shows marked by then).",
    )

    @field_validator("emr_chat_exclusions")
    @classmethod
    def _check_chat_exclusions(cls, value: dict) -> dict:
        from core.emr.exclusions import check_setting

        return check_setting(value)

    # --- Staff console, records (issue 15): days off beyond weekends and the fixed-date holidays.
    records_holidays: list[dt.date] = Field(
        default_factory=list,
        description=(
            "JSON list of ISO dates that are not working days for data-subject request deadlines, beyond weekends, "
            "1/1, 30/4, 1/5, 2/9 and each hospital's whole-hospital closures: Tết, the Hùng Kings' day, the day "
            'next to 2/9, swapped days (HENKHAM_RECORDS_HOLIDAYS, e.g. ["2027-02-05", "2027-02-08"]).'
        ),
    )


def get_settings() -> Settings:
    """The settings in the environment, checked (production refuses development secrets: one line, exit 1).
    Not cached: each process loads them once, in henkham/bootstrap.py, and passes them on."""
    from core.environment import checked

    return checked(Settings)
