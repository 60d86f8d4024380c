"""The one typed settings object. Read once at the process edge and passed in.

Every variable is prefixed ``COOPWATCH_``; this module is the only reader of the environment.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from worker import __version__

SOFT_LIMIT_MARGIN_SECONDS = 5  # Celery soft time limit = hard limit - this (celery_app.py)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="COOPWATCH_", extra="ignore")

    database_url: str = Field(
        default="sqlite:///coopwatch.db",
        description="SQLAlchemy URL; default is a SQLite file in the working directory.",
    )
    broker_url: str = Field(
        default="filesystem://",
        description="Celery broker; the default is an embedded file-system broker (no server).",
    )
    broker_dir: Path = Field(
        default=Path(".coopwatch/broker"),
        description="Folder of the embedded file-system broker.",
    )
    config: Path = Field(default=Path("coopwatch.yaml"), description="YAML configuration.")
    user_agent_contact: str = Field(
        default="https://github.com/coopwatch/coopwatch",
        description="Contact URL sent in the User-Agent header.",
    )
    allow_private_addresses: str = Field(
        default="",
        description="Comma-separated hosts or CIDRs that may be fetched despite the address guard.",
    )
    schedule_tick_seconds: float = Field(default=30.0, gt=0)
    sweep_tick_seconds: float = Field(default=30.0, gt=0)
    fetch_timeout_seconds: float = Field(default=30.0, gt=0)
    fetch_max_bytes: int = Field(default=10 * 1024 * 1024, gt=0)
    max_entries_per_poll: int = Field(default=500, gt=0)
    min_interval_seconds: int = Field(default=300, ge=1)
    max_interval_seconds: int = Field(default=6 * 3600, ge=1)
    default_interval_seconds: int = Field(default=1800, ge=1)
    feed_batch_size: int = Field(default=50, gt=0, description="Feeds fetched per task.")
    delivery_max_attempts: int = Field(default=8, ge=1)
    delivery_backoff_seconds: float = Field(default=30.0, gt=0)
    delivery_timeout_seconds: float = Field(default=15.0, gt=0)
    alert_on_first_poll: bool = Field(
        default=False,
        description="Alert on the backlog of a newly added feed (off: store it silently).",
    )
    claim_timeout_seconds: int = Field(
        default=600, ge=1, description="A claimed feed is reclaimable after this long."
    )
    delivery_lease_seconds: int = Field(
        default=120,
        ge=1,
        description="A delivery claimed by a worker that died is re-sent after this long; "
        "keep it above the delivery timeout.",
    )
    task_time_limit_seconds: int = Field(
        default=600, ge=10, description="Hard time limit of one task (Celery)."
    )
    sweep_grace_seconds: float = Field(
        default=60.0,
        gt=0,
        description="The sweeper re-rings a pending delivery or an unprocessed article whose "
        "last doorbell is older than this (its message was lost with the broker).",
    )
    log_level: str = "INFO"

    @model_validator(mode="after")
    def _lease_above_delivery_timeout(self) -> Settings:
        if self.delivery_lease_seconds <= self.delivery_timeout_seconds:
            raise ValueError(
                "delivery_lease_seconds must be above delivery_timeout_seconds: a delivery "
                "still waiting for its receiver would be claimed and sent a second time"
            )
        return self

    @model_validator(mode="after")
    def _fetch_deadline_inside_task_limit(self) -> Settings:
        soft_limit = self.task_time_limit_seconds - SOFT_LIMIT_MARGIN_SECONDS
        if self.fetch_timeout_seconds >= soft_limit:
            raise ValueError(
                f"fetch_timeout_seconds ({self.fetch_timeout_seconds:g}) must be below the "
                f"task's soft time limit ({soft_limit} s = task_time_limit_seconds - "
                f"{SOFT_LIMIT_MARGIN_SECONDS}): a slow feed would be killed with its task "
                "instead of being recorded as a timeout"
            )
        return self

    @property
    def allow_private(self) -> tuple[str, ...]:
        return tuple(p.strip() for p in self.allow_private_addresses.split(",") if p.strip())

    @property
    def user_agent(self) -> str:
        return f"coopwatch/{__version__} (+{self.user_agent_contact})"


def load_settings() -> Settings:
    return Settings()
