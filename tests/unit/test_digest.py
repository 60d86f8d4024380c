"""Digest rendering: one message, most important first, counts, escaping, length limits."""

from __future__ import annotations

from dataclasses import replace

from worker.core.digest import render_digest
from worker.core.render import AlertContext

BASE = AlertContext(
    watchlist="iran-tech",
    rule="cooperation",
    title="Iran and China sign AI memorandum",
    url="https://news.example/1",
    outlet="Tehran Times",
    lang="en",
    published=None,
    partners=("CN", "IR"),
    sectors=("ai",),
    event_type="agreement",
    score=0.9,
    evidence="They signed.",
    summary="",
)
LOW = replace(
    BASE,
    title="Iran and Russia discuss <b>cyber</b> @everyone",
    url="https://news.example/2",
    partners=("IR", "RU"),
    sectors=("cybersecurity", "ai"),
    event_type="meeting",
    score=0.6,
)


def test_text_digest_orders_by_importance_with_counts() -> None:
    message = render_digest([LOW, BASE], "text")
    assert message.title == "coopwatch: 2 alerts (iran-tech)"
    assert message.body_format == "text"
    assert message.body.index("sign AI memorandum") < message.body.index("Iran and Russia")
    assert "Partners: Iran 2, China 1, Russia 1" in message.body
    assert "Sectors: AI 2, cybersecurity 1" in message.body


def test_html_digest_escapes_feed_text() -> None:
    message = render_digest([LOW], "email")
    assert message.body_format == "html"
    assert "<b>cyber</b>" not in message.body
    assert "&lt;b&gt;cyber&lt;/b&gt;" in message.body


def test_chat_digest_neutralises_mentions() -> None:
    message = render_digest([LOW], "chat")
    assert message.body_format == "markdown"
    assert "@everyone" not in message.body


def test_digest_fits_the_channel_limit_and_says_how_many_are_hidden() -> None:
    items = [replace(BASE, title=f"item {i} " + "x" * 200, score=i / 100) for i in range(50)]
    message = render_digest(items, "chat", max_length=2000)
    assert len(message.title) + len(message.body) <= 2000
    assert "more" in message.body
    assert "item 49" in message.body  # the most important survives
