"""The pipeline end to end in one process: real database (SQLite and PostgreSQL), feeds over
real HTTP from a local server, alerts through real Apprise to a local webhook receiver."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import Article, Classification, Delivery, DeliveryStatus, Feed, FeedStatus
from tests.support.feed_server import FeedSite, rss
from tests.support.webhook_sink import WebhookSink
from worker import pipeline, store
from worker.runtime import build_runtime
from worker.settings import Settings

pytestmark = pytest.mark.timeout(120)

IR_CN = {
    "guid": "ir-cn-1",
    "title": "Iran and China sign memorandum of understanding on artificial intelligence",
    "description": (
        "Iran's Minister of Communications and China's ambassador in Tehran signed a memorandum "
        "of understanding on cooperation in artificial intelligence and 5G networks on Monday."
    ),
}
IR_RU = {
    "guid": "ir-ru-1",
    "title": "Iranian and Russian technology companies hold first joint meeting in Moscow",
    "description": (
        "The first joint meeting of Iranian and Russian technology companies was held in Moscow "
        "to expand cooperation between the two countries in cybersecurity and data centres."
    ),
}
WEATHER = {
    "guid": "weather-1",
    "title": "Heavy rain expected in Tehran on Friday",
    "description": "The national weather service forecasts heavy rain and cooler temperatures.",
}


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += timedelta(**kw)


MakeRuntime = Callable[..., tuple[pipeline.Runtime, Clock]]


@pytest.fixture
def make(
    tmp_path: Path, db_url: str, site: FeedSite, webhook: WebhookSink
) -> Iterator[MakeRuntime]:
    """Build a runtime on this test's database, feed server and receiver, with a clock."""
    made: list[pipeline.Runtime] = []

    def factory(
        *,
        first_poll: bool = True,
        pacing: dict[str, object] | None = None,
        start: datetime | None = None,
    ) -> tuple[pipeline.Runtime, Clock]:
        path = tmp_path / "coopwatch.yaml"
        path.write_text(yaml.safe_dump(_config(site, webhook, pacing or {})), "utf-8")
        settings = Settings(
            database_url=db_url,
            config=path,
            allow_private_addresses="127.0.0.1",
            alert_on_first_poll=first_poll,
            delivery_backoff_seconds=10,
            delivery_max_attempts=3,
        )
        built = build_runtime(settings)
        clock = Clock(start or datetime.now(UTC))
        made.append(replace(built, clock=clock, rules={}))
        return made[-1], clock

    yield factory
    for rt in made:
        rt.close()


def _config(site: FeedSite, webhook: WebhookSink, pacing: dict[str, object]) -> dict[str, object]:
    watchlists: list[dict[str, object]] = [
        {
            "name": "iran-china",
            "match": {"partners": ["IR", "CN"]},
            "notify": [f"json://{webhook.hostport}/iran-china"],
        },
        {
            "name": "iran-russia",
            "match": {"partners_any": ["IR+RU"]},
            "notify": [f"json://{webhook.hostport}/iran-russia"],
        },
    ]
    config: dict[str, object] = {
        "feeds": [{"url": site.url("/news.xml"), "name": "Test News"}],
        "watchlists": watchlists,
    }
    for key, value in pacing.items():  # watchlist keys go to iran-china
        if key in {"max_messages_per_hour", "feed_health"}:
            config[key] = value
        else:
            watchlists[0][key] = value
    return config


def paths(webhook: WebhookSink) -> list[str]:
    return sorted(d.path for d in webhook.deliveries)


def test_poll_classify_match_deliver_and_never_twice(
    make: MakeRuntime,
    site: FeedSite,
    webhook: WebhookSink,
) -> None:
    site.put("/news.xml", rss([IR_CN, IR_RU, WEATHER]))
    rt, clock = make()

    summary = pipeline.run_cycle(rt)

    assert summary.ok, summary
    assert summary.feeds_polled == 1 and summary.new_articles == 3
    assert paths(webhook) == ["/iran-china", "/iran-russia"]
    bodies = {d.path: d.json() for d in webhook.deliveries}
    assert "memorandum" in bodies["/iran-china"]["message"].lower()
    with rt.sessions.begin() as s:
        coop = s.scalar(select(func.count(Classification.id)).where(Classification.is_cooperation))
        assert coop == 2
        assert s.scalar(select(func.count(Article.id)).where(Article.processed_at.is_(None))) == 0

    # Polled again once due: the server answers 304, nothing new, nothing sent twice.
    clock.advance(hours=7)
    again = pipeline.run_cycle(rt)
    assert again.feeds_polled == 1 and again.new_articles == 0
    assert site.not_modified == 1
    assert paths(webhook) == ["/iran-china", "/iran-russia"]

    # A new item appears next to the old ones: only it is alerted.
    second = dict(IR_CN, guid="ir-cn-2", title=IR_CN["title"] + " (second round)")
    site.put("/news.xml", rss([second, IR_CN, IR_RU, WEATHER]))
    clock.advance(hours=7)
    third = pipeline.run_cycle(rt)
    assert third.new_articles == 1
    assert paths(webhook) == ["/iran-china", "/iran-china", "/iran-russia"]


def test_the_configured_feeds_are_written_once_per_process(
    make: MakeRuntime,
    site: FeedSite,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The configuration is read once per process; looking up every configured URL on every
    tick cost a query over N URLs per tick."""
    site.put("/news.xml", rss([WEATHER]))
    rt, clock = make()
    calls: list[int] = []
    real = store.add_feeds

    def counting(session: Session, specs: list[store.FeedSpec], now: datetime) -> list[int]:
        calls.append(len(specs))
        return real(session, specs, now)

    monkeypatch.setattr(store, "add_feeds", counting)
    assert pipeline.run_cycle(rt).feeds_polled == 1
    clock.advance(hours=7)
    assert pipeline.run_cycle(rt).feeds_polled == 1
    assert calls == [1]
    other, _ = make()  # a new process reads the configuration again and writes it again
    pipeline.schedule_due_feeds(other)
    assert calls == [1, 1]


def test_the_backlog_of_a_new_feed_is_stored_without_alerts(
    make: MakeRuntime,
    site: FeedSite,
    webhook: WebhookSink,
) -> None:
    site.put("/news.xml", rss([IR_CN, WEATHER]))
    rt, clock = make(first_poll=False)
    first = pipeline.run_cycle(rt)
    assert first.new_articles == 2 and webhook.deliveries == []
    site.put("/news.xml", rss([IR_RU, IR_CN, WEATHER]))
    clock.advance(hours=7)
    pipeline.run_cycle(rt)
    assert paths(webhook) == ["/iran-russia"]


def test_a_failing_receiver_is_retried_with_backoff_then_failed(
    make: MakeRuntime,
    site: FeedSite,
    webhook: WebhookSink,
) -> None:
    site.put("/news.xml", rss([IR_CN]))
    webhook.mode = "error"
    rt, clock = make()
    summary = pipeline.run_cycle(rt)
    assert not summary.ok and summary.deliveries == {"pending": 1}
    with rt.sessions.begin() as s:
        row = s.scalars(select(Delivery)).one()
        assert row.status == DeliveryStatus.PENDING and row.attempts == 1
        assert row.last_error and "500" in row.last_error
        first_retry = row.next_attempt_at
    assert first_retry - rt.clock() == timedelta(seconds=10)
    for expected_status in ("pending", "failed"):
        clock.now = first_retry + timedelta(hours=1)
        pipeline.run_cycle(rt)
        with rt.sessions.begin() as s:
            row = s.scalars(select(Delivery)).one()
            first_retry = row.next_attempt_at
        assert row.status == expected_status
    assert row.attempts == 3
    # The receiver recovers; an operator retries the failed alert.
    assert len(webhook.deliveries) == 3  # three refused attempts
    webhook.mode = "ok"
    with rt.sessions.begin() as s:
        assert store.retry_failed(s, rt.clock()) == 1
    assert pipeline.run_cycle(rt).deliveries == {"sent": 1}
    assert paths(webhook) == ["/iran-china"] * 4


def test_a_broken_feed_is_recorded_and_does_not_stop_the_others(
    make: MakeRuntime,
    site: FeedSite,
    webhook: WebhookSink,
) -> None:
    site.put("/news.xml", rss([IR_CN]))
    site.put("/broken.xml", b"<html><body>not a feed</body></html>", "text/html")
    rt, _ = make()
    with rt.sessions.begin() as s:
        store.add_feeds(s, [store.FeedSpec(site.url("/broken.xml"))], rt.clock())
        store.add_feeds(s, [store.FeedSpec(site.url("/missing.xml"))], rt.clock())
    summary = pipeline.run_cycle(rt)
    assert set(summary.feeds_failed) == {site.url("/broken.xml"), site.url("/missing.xml")}
    assert paths(webhook) == ["/iran-china"]
    with rt.sessions.begin() as s:
        feeds = {f.url: f for f in s.scalars(select(Feed))}
    broken, missing = feeds[site.url("/broken.xml")], feeds[site.url("/missing.xml")]
    assert broken.status == FeedStatus.ERROR and broken.last_error_kind == "not_a_feed"
    assert missing.last_error_kind == "http_4xx" and missing.error_count == 1
    assert missing.next_check_at > rt.clock()


IR_CN_2 = dict(IR_CN, guid="ir-cn-2", title="Iran and China open a joint AI laboratory in Tehran")
IR_CN_3 = dict(IR_CN, guid="ir-cn-3", title="Iran and China agree on 5G cooperation roadmap")
MONDAY_NOON = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def test_a_digest_watchlist_sends_one_message_at_its_time(
    make: MakeRuntime,
    site: FeedSite,
    webhook: WebhookSink,
) -> None:
    site.put("/news.xml", rss([IR_CN, IR_CN_2, WEATHER]))
    digest = {"mode": {"digest": "daily", "at": "08:00", "timezone": "UTC"}}
    rt, clock = make(pacing=digest, start=MONDAY_NOON)
    pipeline.run_cycle(rt)
    assert webhook.deliveries == []  # waits for 08:00 tomorrow
    clock.now = datetime(2026, 11, 24, 8, 0, 5, tzinfo=UTC)
    summary = pipeline.run_cycle(rt)
    assert summary.deliveries == {"sent": 1, "skipped": 1}  # the 2nd row went with the 1st
    assert paths(webhook) == ["/iran-china"]
    body = webhook.deliveries[0].json()
    assert "2 alerts" in body["title"]
    assert IR_CN["title"] in body["message"] and IR_CN_2["title"] in body["message"]
    with rt.sessions.begin() as s:
        rows = list(s.scalars(select(Delivery)))
    assert [(r.status, r.mode) for r in rows] == [("sent", "digest")] * 2


def test_quiet_hours_defer_delivery(
    make: MakeRuntime,
    site: FeedSite,
    webhook: WebhookSink,
) -> None:
    site.put("/news.xml", rss([IR_CN]))
    quiet = {"quiet_hours": {"start": "11:00", "end": "14:00", "timezone": "UTC"}}
    rt, clock = make(pacing=quiet, start=MONDAY_NOON)
    pipeline.run_cycle(rt)
    assert webhook.deliveries == []
    with rt.sessions.begin() as s:
        row = s.scalars(select(Delivery)).one()
        assert row.status == "pending"
        assert row.next_attempt_at == datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
    clock.now = datetime(2026, 11, 23, 14, 0, 1, tzinfo=UTC)
    pipeline.run_cycle(rt)
    assert paths(webhook) == ["/iran-china"]


def test_over_the_rate_limit_alerts_are_folded_into_a_digest(
    make: MakeRuntime,
    site: FeedSite,
    webhook: WebhookSink,
) -> None:
    site.put("/news.xml", rss([IR_CN, IR_CN_2, IR_CN_3]))
    limit = {"max_messages_per_hour": 1}
    rt, clock = make(pacing=limit, start=MONDAY_NOON)
    summary = pipeline.run_cycle(rt)
    assert summary.deliveries == {"sent": 1, "deferred": 2}
    assert len(webhook.deliveries) == 1
    clock.advance(minutes=30)
    pipeline.run_cycle(rt)
    assert len(webhook.deliveries) == 1  # still inside the hour
    clock.advance(minutes=31)
    pipeline.run_cycle(rt)
    assert len(webhook.deliveries) == 2
    folded = webhook.deliveries[1].json()
    assert "2 alerts" in folded["title"]
    with rt.sessions.begin() as s:
        assert {r.status for r in s.scalars(select(Delivery))} == {"sent"}


def test_a_failing_feed_is_reported_once_per_episode(
    make: MakeRuntime,
    site: FeedSite,
    webhook: WebhookSink,
) -> None:
    site.put("/news.xml", rss([WEATHER]))
    site.status["/news.xml"] = 500
    health = {"feed_health": {"notify": [f"json://{webhook.hostport}/health"], "after_errors": 2}}
    rt, clock = make(pacing=health)

    def poll(times: int) -> None:
        for _ in range(times):
            pipeline.run_cycle(rt)
            clock.advance(days=2)  # past any backoff

    poll(1)
    assert webhook.deliveries == []  # one failure is not yet a pattern
    poll(3)
    assert paths(webhook) == ["/health"]  # reported once, not at every failure
    report = webhook.deliveries[0].json()
    assert "1 feed need attention" in report["title"]
    assert "failures in a row" in report["message"] and "http_5xx" in report["message"]
    del site.status["/news.xml"]
    poll(1)  # recovers
    site.status["/news.xml"] = 500
    poll(2)
    assert paths(webhook) == ["/health", "/health"]  # a new episode, a new warning


def test_a_permanent_redirect_seen_three_times_moves_the_feed_and_410_retires_it(
    make: MakeRuntime,
    site: FeedSite,
    webhook: WebhookSink,
) -> None:
    site.put("/new.xml", rss([WEATHER]))
    site.redirects["/news.xml"] = (301, "/new.xml")
    rt, clock = make()
    urls = []
    for _ in range(3):
        summary = pipeline.run_cycle(rt)
        assert summary.feeds_failed == {}
        with rt.sessions.begin() as s:
            urls.append(s.scalars(select(Feed.fetch_url)).one())
        clock.advance(hours=7)
    assert urls == [None, None, site.url("/new.xml")]
    pipeline.run_cycle(rt)
    assert site.hits.get("/news.xml") == 3  # the old address is no longer asked
    clock.advance(hours=7)
    with rt.sessions.begin() as s:
        assert s.scalar(select(func.count(Article.id))) == 1  # the same entry, stored once
    site.status["/new.xml"] = 410
    pipeline.run_cycle(rt)
    clock.advance(days=30)
    hits = site.hits.get("/new.xml", 0)
    pipeline.run_cycle(rt)
    assert site.hits.get("/new.xml", 0) == hits  # a gone feed is not polled again
    with rt.sessions.begin() as s:
        feed = s.scalars(select(Feed)).one()
    assert feed.status == FeedStatus.GONE
    assert feed.last_error_kind == "gone"


def test_an_article_the_classifier_fails_on_does_not_hold_back_the_others(
    make: MakeRuntime,
    site: FeedSite,
    webhook: WebhookSink,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    boom = dict(WEATHER, guid="boom", title="BOOM " + WEATHER["title"])
    site.put("/news.xml", rss([IR_CN, boom]))
    real = pipeline.classify

    def flaky(title: str, text: str, lang: str | None = None) -> object:
        if title.startswith("BOOM"):  # fault injection: a classifier bug on one input
            raise IndexError("injected")
        return real(title, text, lang)

    monkeypatch.setattr(pipeline, "classify", flaky)
    rt, clock = make()
    pipeline.run_cycle(rt)
    assert paths(webhook) == ["/iran-china"]
    with rt.sessions.begin() as s:
        pending = list(s.scalars(select(Article.title).where(Article.processed_at.is_(None))))
    assert pending == [boom["title"]]  # kept for the sweeper, not lost
    monkeypatch.setattr(pipeline, "classify", real)
    clock.advance(minutes=1)
    pipeline.run_cycle(rt)
    with rt.sessions.begin() as s:
        assert s.scalar(select(func.count(Article.id)).where(Article.processed_at.is_(None))) == 0
