"""Next-check scheduling maths: backoff, publishing rate, server hints, bounds and jitter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from worker.core.schedule import (
    ScheduleBounds,
    error_backoff,
    jitter_factor,
    next_check,
    publishing_interval,
)

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
NO_JITTER = ScheduleBounds(jitter_fraction=0.0)
MIN = timedelta(minutes=1)
H = timedelta(hours=1)


def _ago(*minutes: float) -> list[datetime]:
    return [NOW - timedelta(minutes=m) for m in minutes]


@pytest.mark.parametrize(
    ("error_count", "retry_after", "expected"),
    [
        (1, None, 5 * MIN),
        (2, None, 10 * MIN),
        (3, None, 20 * MIN),
        (4, None, 40 * MIN),
        (5, None, 80 * MIN),
        (9, None, 1280 * MIN),
        (10, None, 24 * H),  # 2560 min, capped at max_error_backoff
        (50, None, 24 * H),
        (10_000, None, 24 * H),  # no overflow
        (1, 3600.0, 1 * H),  # never sooner than Retry-After
        (3, 60.0, 20 * MIN),  # a shorter Retry-After does not shorten the backoff
        (10, 3 * 86400.0, 72 * H),  # Retry-After beyond the cap is still honoured
        (1, 0.0, 5 * MIN),
        (1, -30.0, 5 * MIN),
    ],
)
def test_error_backoff(error_count: int, retry_after: float | None, expected: timedelta) -> None:
    when = next_check(
        now=NOW,
        bounds=NO_JITTER,
        feed_key="feed-1",
        error_count=error_count,
        retry_after=retry_after,
        entry_times=_ago(1, 2, 3),  # ignored while failing
        ttl_minutes=600,  # ignored while failing
    )
    assert when - NOW == expected


def test_error_backoff_helper_without_errors() -> None:
    assert error_backoff(NO_JITTER, 0) == NO_JITTER.min_interval


@pytest.mark.parametrize(
    ("entry_minutes_ago", "expected"),
    [
        ((), 30 * MIN),  # nothing known: default
        ((10,), 30 * MIN),  # one entry says nothing about a rate
        ((10, 10, 10), 30 * MIN),  # duplicates count once
        ((60, 120), 60 * MIN),  # 2 entries over the last 2 hours
        ((0, 60, 120, 180), 45 * MIN),  # 4 entries over 3 hours
        ((5, 10, 15, 20, 25, 30), 5 * MIN),
        ((1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 1 * MIN),  # raw rate; bounds apply later
        # only the 10 newest count: the 2015 entry does not stretch the window
        ((*range(6, 66, 6), 60 * 24 * 365 * 10), 6 * MIN),
        ((-30, -60, 60, 120), 60 * MIN),  # entries dated in the future are ignored
        # a burst long ago and nothing since: slow, because the window runs up to now
        ((600, 601, 602, 603), timedelta(minutes=603) / 4),
    ],
)
def test_publishing_interval(entry_minutes_ago: tuple[float, ...], expected: timedelta) -> None:
    assert publishing_interval(NOW, _ago(*entry_minutes_ago), NO_JITTER) == expected


def test_publishing_interval_accepts_naive_and_other_zones() -> None:
    tehran = timezone(timedelta(hours=3, minutes=30))
    times = [
        datetime(2025, 3, 1, 11, 0),  # naive: UTC
        datetime(2025, 3, 1, 13, 30, tzinfo=tehran),  # 10:00 UTC
    ]
    assert publishing_interval(NOW, times, NO_JITTER) == H


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({}, 30 * MIN),  # default
        ({"entry_times": _ago(60, 120)}, 60 * MIN),  # publishing rate
        ({"entry_times": _ago(1, 2, 3, 4)}, 5 * MIN),  # raised to min_interval
        ({"entry_times": _ago(600, 1200)}, 6 * H),  # lowered to max_interval
        ({"ttl_minutes": 90}, 90 * MIN),  # <ttl> says not before
        ({"ttl_minutes": 10}, 30 * MIN),  # a short ttl does not hurry us
        ({"ttl_minutes": 0}, 30 * MIN),
        ({"ttl_minutes": 24 * 60}, 6 * H),  # a huge ttl is capped at max_interval
        ({"max_age": 7200.0}, 2 * H),
        ({"max_age": 60.0}, 30 * MIN),
        ({"max_age": 0.0}, 30 * MIN),
        ({"max_age": 1e30}, 6 * H),  # no overflow
        ({"expires": NOW + 3 * H}, 3 * H),
        ({"expires": NOW - 3 * H}, 30 * MIN),  # already expired: no hint
        ({"expires": NOW + 10 * MIN}, 30 * MIN),
        ({"ttl_minutes": 60, "max_age": 5400.0, "expires": NOW + 2 * H}, 2 * H),  # longest wins
        ({"entry_times": _ago(1, 2, 3), "ttl_minutes": 45}, 45 * MIN),
        ({"retry_after": 4 * 3600.0}, 4 * H),  # honoured without errors too
        ({"retry_after": 60.0}, 30 * MIN),
    ],
)
def test_interval_without_errors(kwargs: dict[str, object], expected: timedelta) -> None:
    when = next_check(now=NOW, bounds=NO_JITTER, feed_key="feed-1", **kwargs)  # type: ignore[arg-type]
    assert when - NOW == expected


def test_jitter_is_deterministic_and_depends_on_feed_and_now() -> None:
    bounds = ScheduleBounds()
    first = next_check(now=NOW, bounds=bounds, feed_key="feed-1")
    assert first == next_check(now=NOW, bounds=bounds, feed_key="feed-1")
    others = {next_check(now=NOW, bounds=bounds, feed_key=f"feed-{i}") for i in range(50)}
    assert len(others) > 40
    later = {
        next_check(now=NOW + i * MIN, bounds=bounds, feed_key="feed-1") - (NOW + i * MIN)
        for i in range(50)
    }
    assert len(later) > 40


def test_jitter_ignores_the_zone_of_now() -> None:
    tehran = timezone(timedelta(hours=3, minutes=30))
    assert jitter_factor("f", NOW, 0.1) == jitter_factor("f", NOW.astimezone(tehran), 0.1)


@pytest.mark.parametrize("fraction", [0.0, 0.05, 0.1, 0.5])
def test_jitter_stays_within_fraction_and_spreads(fraction: float) -> None:
    factors = [jitter_factor(f"feed-{i}", NOW, fraction) for i in range(2000)]
    assert all(1 - fraction <= f <= 1 + fraction for f in factors)
    if fraction:
        assert min(factors) < 1 - fraction * 0.9
        assert max(factors) > 1 + fraction * 0.9
        mean = sum(factors) / len(factors)
        assert abs(mean - 1) < fraction * 0.1


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"entry_times": _ago(60, 120)},
        {"entry_times": _ago(1, 2, 3)},
        {"entry_times": _ago(600, 1200)},
        {"ttl_minutes": 60},
        {"ttl_minutes": 10_000},
    ],
)
def test_jittered_interval_stays_within_bounds_and_hints(kwargs: dict[str, object]) -> None:
    bounds = ScheduleBounds(jitter_fraction=0.2)
    ttl = kwargs.get("ttl_minutes", 0)
    assert isinstance(ttl, int)
    floor = min(max(bounds.min_interval, timedelta(minutes=ttl)), bounds.max_interval)
    for i in range(200):
        now = NOW + i * timedelta(seconds=7)
        delay = next_check(now=now, bounds=bounds, feed_key="k", **kwargs) - now  # type: ignore[arg-type]
        assert floor <= delay <= bounds.max_interval


def test_jittered_backoff_stays_within_error_bounds() -> None:
    bounds = ScheduleBounds(jitter_fraction=0.3)
    delays = {
        next_check(now=NOW, bounds=bounds, feed_key=f"f{i}", error_count=count) - NOW
        for i in range(100)
        for count in (1, 2, 12)
    }
    assert min(delays) >= bounds.min_interval
    assert max(delays) <= bounds.max_error_backoff


def test_result_keeps_the_awareness_of_now() -> None:
    naive_now = NOW.replace(tzinfo=None)
    when = next_check(now=naive_now, bounds=NO_JITTER, feed_key="f", entry_times=_ago(60, 120))
    assert when.tzinfo is None
    assert when - naive_now == H


@pytest.mark.parametrize(
    "kwargs",
    [
        {"min_interval": timedelta(0)},
        {"min_interval": 2 * H, "max_interval": H},
        {"max_error_backoff": MIN},
        {"jitter_fraction": 1.0},
        {"jitter_fraction": -0.1},
    ],
)
def test_bounds_are_validated(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"must|need"):
        ScheduleBounds(**kwargs)  # type: ignore[arg-type]
