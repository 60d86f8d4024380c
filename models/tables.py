from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, UTCDateTime


class FeedStatus(StrEnum):
    ACTIVE = "active"
    ERROR = "error"  # last poll failed; retried with backoff
    GONE = "gone"  # HTTP 410: never polled again until re-enabled
    DISABLED = "disabled"


CLAIMABLE = "status IN ('active', 'error')"  # the statuses the scheduler polls


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # waiting for next_attempt_at
    SENDING = "sending"  # claimed by a worker until claimed_until
    SENT = "sent"
    FAILED = "failed"  # permanent failure or attempts exhausted; see last_error


AlertStatus = DeliveryStatus


class Feed(Base):
    __tablename__ = "feeds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(String(2048), unique=True)  # as configured: the identity
    # where it is fetched from after a permanent redirect was seen several polls in a row
    fetch_url: Mapped[str | None] = mapped_column(String(2048))
    name: Mapped[str | None] = mapped_column(String(300))
    language: Mapped[str | None] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(16), default="config")  # config, cli, opml
    status: Mapped[str] = mapped_column(String(16), default=FeedStatus.ACTIVE)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    next_check_at: Mapped[datetime] = mapped_column(UTCDateTime())
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    claim_token: Mapped[str | None] = mapped_column(String(36))
    last_polled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    etag: Mapped[str | None] = mapped_column(String(1024))
    last_modified: Mapped[str | None] = mapped_column(String(256))
    content_hash: Mapped[str | None] = mapped_column(String(64))
    ttl_minutes: Mapped[int | None] = mapped_column(Integer)
    error_count: Mapped[int] = mapped_column(Integer, default=0)
    last_error_kind: Mapped[str | None] = mapped_column(String(32))
    last_error: Mapped[str | None] = mapped_column(Text)
    redirect_count: Mapped[int] = mapped_column(Integer, default=0)
    # when the current failure episode was reported to the feed-health targets (None: not yet,
    # or the feed is healthy again)
    health_reported_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (
        Index("ix_feeds_due", "status", "next_check_at"),
        # the scheduler's claim: due feeds in next_check_at order, LIMIT n. A partial index
        # gives them in order without a scan and sort of the whole table (at 50,000 feeds:
        # 8.5 ms -> 0.13 ms per claim on PostgreSQL, and a poll makes N/50 claims)
        Index(
            "ix_feeds_claimable",
            "next_check_at",
            postgresql_where=text(CLAIMABLE),
            sqlite_where=text(CLAIMABLE),
        ),
    )


class Article(Base):
    __tablename__ = "articles"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    feed_id: Mapped[int] = mapped_column(ForeignKey("feeds.id", ondelete="CASCADE"))
    entry_key: Mapped[str] = mapped_column(String(600))
    guid: Mapped[str | None] = mapped_column(String(2048))
    url: Mapped[str | None] = mapped_column(String(2048))
    title: Mapped[str] = mapped_column(Text)
    summary: Mapped[str] = mapped_column(Text)
    content: Mapped[str] = mapped_column(Text)
    author: Mapped[str | None] = mapped_column(String(300))
    language: Mapped[str | None] = mapped_column(String(16))
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime())
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    alerts_suppressed: Mapped[bool] = mapped_column(Boolean, default=False)

    feed: Mapped[Feed] = relationship()

    __table_args__ = (
        UniqueConstraint("feed_id", "entry_key"),
        Index("ix_articles_unprocessed", "processed_at", "fetched_at"),
    )


class Classification(Base):
    __tablename__ = "classifications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    version: Mapped[str] = mapped_column(String(32))
    is_cooperation: Mapped[bool] = mapped_column(Boolean)
    score: Mapped[float] = mapped_column(Float)
    partners: Mapped[list[str]] = mapped_column(JSON)
    sectors: Mapped[list[str]] = mapped_column(JSON)
    event_type: Mapped[str | None] = mapped_column(String(32))
    lang: Mapped[str] = mapped_column(String(16))
    evidence: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (UniqueConstraint("article_id", "version"),)


class Watchlist(Base):
    """A watchlist from the configuration file, synced so alerts can reference it.

    Notification targets are not stored: they may hold secrets, and the configuration file
    stays their only home. Deliveries refer to a target by its hash.
    """

    __tablename__ = "watchlists"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Alert(Base):
    """One watchlist matched one article: unique, whatever polls or workers race."""

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    watchlist_id: Mapped[int] = mapped_column(ForeignKey("watchlists.id", ondelete="CASCADE"))
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    rule: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    watchlist: Mapped[Watchlist] = relationship()
    article: Mapped[Article] = relationship()

    __table_args__ = (UniqueConstraint("watchlist_id", "article_id"),)


class Delivery(Base):
    """The outbox: one row per alert and destination, claimed, sent and recorded."""

    __tablename__ = "deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"))
    target_hash: Mapped[str] = mapped_column(String(64))
    target_label: Mapped[str] = mapped_column(String(2048))  # redacted URL, safe to show
    # instant: one message per alert; digest: sent with every other due digest row of the same
    # destination as one message (a digest watchlist, or alerts over a rate limit)
    mode: Mapped[str] = mapped_column(String(16), default="instant", server_default="instant")
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    enqueued_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error_kind: Mapped[str | None] = mapped_column(String(32))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    alert: Mapped[Alert] = relationship()

    __table_args__ = (
        UniqueConstraint("alert_id", "target_hash"),
        Index("ix_deliveries_due", "status", "next_attempt_at"),
        Index("ix_deliveries_target_sent", "target_hash", "sent_at"),
    )
