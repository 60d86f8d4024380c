"""Feed-health warnings: which feeds keep failing (or are gone), said in one message."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from markupsafe import escape

from worker.core.render import Channel, Message, clean_text, escape_markdown


@dataclass(frozen=True, slots=True)
class FeedHealth:
    url: str
    name: str | None
    status: str  # error or gone
    error_count: int
    error_kind: str | None
    error: str | None
    last_success: datetime | None


def _line(feed: FeedHealth) -> str:
    since = (
        f"last success {feed.last_success:%Y-%m-%d %H:%M} UTC"
        if feed.last_success
        else ("never fetched successfully")
    )
    what = (
        "gone (HTTP 410), no longer polled"
        if feed.status == "gone"
        else (f"{feed.error_count} failures in a row")
    )
    error = clean_text(feed.error or "")[:300]
    return f"{feed.name or feed.url}: {what}; {since}; {feed.error_kind or 'error'}: {error}"


def render_feed_health(feeds: Sequence[FeedHealth], channel: Channel) -> Message:
    title = f"coopwatch: {len(feeds)} feed{'s' * (len(feeds) != 1)} need attention"
    lines = [_line(f) for f in feeds]
    if channel == "email":
        items = "".join(f"<li>{escape(line)}</li>" for line in lines)
        return Message(title, f"<ul>{items}</ul>", "html")
    if channel == "chat":
        return Message(title, "\n".join(f"- {escape_markdown(line)}" for line in lines), "markdown")
    return Message(title, "\n".join(f"- {line}" for line in lines), "text")
