"""The store on real PostgreSQL and real SQLite: idempotent inserts, claims, concurrency."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from models import Article, Delivery, DeliveryStatus
from worker import store
from worker.core.feeds import ParsedEntry

NOW = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)


@pytest.fixture
def sessions(db_url: str) -> Iterator[sessionmaker[Session]]:
    engine = store.make_engine(db_url)
    try:
        yield store.make_sessions(engine)
    finally:
        engine.dispose()


def entry(key: str, title: str = "t") -> ParsedEntry:
    return ParsedEntry(
        entry_key=key,
        guid=key,
        url=f"https://example.org/{key}",
        title=title,
        summary="s",
        content="c",
        content_html=None,
        published=NOW,
        author=None,
        language="en",
    )


def add_feed(sessions: sessionmaker[Session], url: str = "https://example.org/rss") -> int:
    with sessions.begin() as s:
        ids = store.add_feeds(s, [store.FeedSpec(url)], NOW)
    return ids[0]


def test_add_feeds_is_idempotent_by_url(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as s:
        first = store.add_feeds(s, [store.FeedSpec("https://a.example/rss")], NOW)
        again = store.add_feeds(
            s,
            [store.FeedSpec("https://a.example/rss"), store.FeedSpec("https://b.example/rss")],
            NOW,
        )
    assert len(first) == 1
    assert len(again) == 1 and again[0] != first[0]


def test_insert_new_articles_returns_only_what_it_inserted(sessions: sessionmaker[Session]) -> None:
    feed_id = add_feed(sessions)
    with sessions.begin() as s:
        first = store.insert_new_articles(
            s, feed_id, [entry("a"), entry("b")], NOW, suppress_alerts=False
        )
    with sessions.begin() as s:
        second = store.insert_new_articles(
            s, feed_id, [entry("b"), entry("c"), entry("c")], NOW, suppress_alerts=False
        )
        total = s.scalar(select(func.count(Article.id)))
    assert len(first) == 2
    assert len(second) == 1
    assert total == 3


@pytest.mark.parametrize("may_have_articles", [True, False])
def test_stored_entries_are_not_inserted_again_with_or_without_the_lookup(
    sessions: sessionmaker[Session], may_have_articles: bool
) -> None:
    """The lookup of stored keys only saves work: without it the conflict still decides, and
    keys longer than the column are looked up as they were stored (cut at 600 characters)."""
    feed_id = add_feed(sessions)
    long_key = "guid:" + "x" * 700
    with sessions.begin() as s:
        store.insert_new_articles(
            s, feed_id, [entry("a"), entry(long_key)], NOW, suppress_alerts=False
        )
    with sessions.begin() as s:
        again = store.insert_new_articles(
            s,
            feed_id,
            [entry("a"), entry(long_key), entry("new")],
            NOW,
            suppress_alerts=False,
            may_have_articles=may_have_articles,
        )
        keys = s.scalars(select(Article.entry_key).where(Article.id.in_(again))).all()
        total = s.scalar(select(func.count(Article.id)))
    assert keys == ["new"]
    assert total == 3


def test_concurrent_inserts_of_the_same_entries_create_each_article_once(
    sessions: sessionmaker[Session],
) -> None:
    feed_id = add_feed(sessions)
    entries = [entry(f"k{i}") for i in range(40)]
    inserted: list[list[int]] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def worker() -> None:
        try:
            barrier.wait(timeout=10)
            with sessions.begin() as s:
                inserted.append(
                    store.insert_new_articles(s, feed_id, entries, NOW, suppress_alerts=False)
                )
        except BaseException as exc:  # collected and re-raised in the test thread
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    all_ids = [i for ids in inserted for i in ids]
    assert len(all_ids) == 40 and len(set(all_ids)) == 40
    with sessions.begin() as s:
        assert s.scalar(select(func.count(Article.id))) == 40


def test_two_claimers_never_get_the_same_feed(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as s:
        store.add_feeds(s, [store.FeedSpec(f"https://f{i}.example/rss") for i in range(30)], NOW)
    got: list[list[int]] = []
    barrier = threading.Barrier(3)

    def claimer() -> None:
        barrier.wait(timeout=10)
        with sessions.begin() as s:
            got.append(store.claim_due_feeds(s, NOW, limit=20, lease=timedelta(minutes=5))[1])

    threads = [threading.Thread(target=claimer) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    claimed = [i for ids in got for i in ids]
    assert len(claimed) == len(set(claimed)) == 30
    with sessions.begin() as s:  # nothing left while the leases hold
        assert store.claim_due_feeds(s, NOW, limit=50, lease=timedelta(minutes=5))[1] == []
    with sessions.begin() as s:  # an expired lease makes the feeds claimable again
        later = NOW + timedelta(minutes=6)
        assert len(store.claim_due_feeds(s, later, limit=50, lease=timedelta(minutes=5))[1]) == 30


def test_stale_claim_token_cannot_release_a_feed(sessions: sessionmaker[Session]) -> None:
    feed_id = add_feed(sessions)
    with sessions.begin() as s:
        old_token, _ = store.claim_due_feeds(s, NOW, limit=1, lease=timedelta(seconds=1))
    later = NOW + timedelta(seconds=5)
    with sessions.begin() as s:
        new_token, ids = store.claim_due_feeds(s, later, limit=1, lease=timedelta(minutes=5))
    assert ids == [feed_id]
    checked = later + timedelta(minutes=1)
    with sessions.begin() as s:
        assert store.load_claimed_feeds(s, [feed_id], old_token) == []
        store.release_feeds(s, old_token, [(feed_id, {"error_count": 7})])
    with sessions.begin() as s:
        [feed] = store.load_feeds(s, [feed_id])
        assert feed.error_count == 0  # the stale claim changed nothing
        assert feed.claim_token == new_token
        store.release_feeds(
            s, new_token, [(feed_id, {"error_count": 2, "last_polled_at": checked})]
        )
    with sessions.begin() as s:
        [feed] = store.load_feeds(s, [feed_id])
        assert (feed.error_count, feed.claim_token, feed.last_polled_at) == (2, None, checked)


def _alert_with_delivery(sessions: sessionmaker[Session]) -> tuple[int, list[int]]:
    feed_id = add_feed(sessions)
    with sessions.begin() as s:
        [article_id] = store.insert_new_articles(
            s, feed_id, [entry("a")], NOW, suppress_alerts=False
        )
        wl = store.sync_watchlists(s, {"w": {"match": {}}}, NOW)
        alert_id = store.insert_alert(s, wl["w"], article_id, "cooperation", NOW)
        assert alert_id is not None
        assert store.insert_alert(s, wl["w"], article_id, "again", NOW) is None
        d1, d2 = (store.NewDelivery(k, f"json://{k}", "instant", NOW) for k in ("k1", "k2"))
        deliveries = store.insert_deliveries(s, alert_id, [d1, d2], NOW)
        again = store.insert_deliveries(s, alert_id, [d1], NOW)
    assert again == []
    return alert_id, deliveries


def test_alerts_and_deliveries_are_unique(sessions: sessionmaker[Session]) -> None:
    _, deliveries = _alert_with_delivery(sessions)
    assert len(deliveries) == 2


def test_a_delivery_is_claimed_once_until_its_lease_expires(
    sessions: sessionmaker[Session],
) -> None:
    _, [d1, _] = _alert_with_delivery(sessions)
    lease = timedelta(minutes=5)
    with sessions.begin() as s:
        assert store.claim_delivery(s, d1, NOW, lease)
    with sessions.begin() as s:
        assert not store.claim_delivery(s, d1, NOW + timedelta(minutes=1), lease)
    with sessions.begin() as s:  # the worker died: the lease runs out, the sweeper sees it
        assert d1 in store.due_delivery_ids(
            s, NOW + timedelta(minutes=6), enqueued_before=NOW, limit=10
        )
        assert store.claim_delivery(s, d1, NOW + timedelta(minutes=6), lease)
        row = s.get(Delivery, d1)
        assert row is not None and row.attempts == 2 and row.status == DeliveryStatus.SENDING


def test_failed_deliveries_can_be_retried(sessions: sessionmaker[Session]) -> None:
    _, [d1, d2] = _alert_with_delivery(sessions)
    with sessions.begin() as s:
        store.record_delivery(s, d1, status=DeliveryStatus.FAILED, last_error="x")
    with sessions.begin() as s:
        assert store.retry_failed(s, NOW) == 1
        row = s.get(Delivery, d1)
        assert row is not None and row.status == DeliveryStatus.PENDING and row.attempts == 0
        other = s.get(Delivery, d2)
        assert other is not None and other.status == DeliveryStatus.PENDING


def test_datetimes_come_back_aware_utc(sessions: sessionmaker[Session]) -> None:
    feed_id = add_feed(sessions)
    with sessions.begin() as s:
        [feed] = store.load_feeds(s, [feed_id])
        assert feed.next_check_at == NOW and feed.next_check_at.tzinfo is not None
