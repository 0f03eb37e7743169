"""Configuration: one typed settings object, read from the environment (prefix HENKHAM_)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SQLITE_PATH = PROJECT_ROOT / "var" / "henkham.db"


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


@lru_cache
def get_settings() -> Settings:
    return Settings()
