"""Digest schedules, quiet hours and rate limits: pure time arithmetic, with time zones."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from worker.core.pacing import (
    DigestSchedule,
    QuietHours,
    after_quiet_hours,
    in_quiet_hours,
    next_digest_at,
    rate_limit_release,
)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("now", "schedule", "expected"),
    [
        (
            utc(2026, 11, 23, 14, 30),
            DigestSchedule("hourly", time(0, 15)),
            utc(2026, 11, 23, 15, 15),
        ),
        (
            utc(2026, 11, 23, 14, 10),
            DigestSchedule("hourly", time(0, 15)),
            utc(2026, 11, 23, 14, 15),
        ),
        # 08:00 in Tehran (UTC+3:30) is 04:30 UTC; already past today, so tomorrow
        (
            utc(2026, 11, 23, 14, 30),
            DigestSchedule("daily", time(8, 0), timezone="Asia/Tehran"),
            utc(2026, 11, 24, 4, 30),
        ),
        (
            utc(2026, 11, 23, 3, 0),
            DigestSchedule("daily", time(8, 0), timezone="Asia/Tehran"),
            utc(2026, 11, 23, 4, 30),
        ),
        # exactly at the time: the next one, not now
        (utc(2026, 11, 23, 8, 0), DigestSchedule("daily", time(8, 0)), utc(2026, 11, 24, 8, 0)),
        # 2026-11-23 is a Monday
        (
            utc(2026, 11, 23, 14, 0),
            DigestSchedule("weekly", time(9, 0), "mon", "Europe/Paris"),
            utc(2026, 11, 30, 8, 0),
        ),
        (
            utc(2026, 11, 23, 14, 0),
            DigestSchedule("weekly", time(9, 0), "wed", "Europe/Paris"),
            utc(2026, 11, 25, 8, 0),
        ),
        # across the end of summer time in Paris (25 Oct 2026): 08:00 local stays 08:00 local
        (
            utc(2026, 10, 24, 7, 0),
            DigestSchedule("daily", time(8, 0), timezone="Europe/Paris"),
            utc(2026, 10, 25, 7, 0),
        ),
    ],
)
def test_next_digest_at(now: datetime, schedule: DigestSchedule, expected: datetime) -> None:
    assert next_digest_at(now, schedule) == expected


NIGHT = QuietHours(time(22, 0), time(7, 0), "Asia/Tehran")
LUNCH = QuietHours(time(12, 0), time(13, 0), "UTC")


@pytest.mark.parametrize(
    ("moment", "quiet", "expected"),
    [
        (utc(2026, 11, 23, 14, 30), NIGHT, utc(2026, 11, 23, 14, 30)),  # 18:00 local: not quiet
        (utc(2026, 11, 23, 20, 0), NIGHT, utc(2026, 11, 24, 3, 30)),  # 23:30 local → 07:00 local
        (utc(2026, 11, 24, 1, 0), NIGHT, utc(2026, 11, 24, 3, 30)),  # 04:30 local, after midnight
        (utc(2026, 11, 24, 3, 30), NIGHT, utc(2026, 11, 24, 3, 30)),  # the end is not quiet
        (utc(2026, 11, 23, 12, 30), LUNCH, utc(2026, 11, 23, 13, 0)),
        (utc(2026, 11, 23, 11, 59), LUNCH, utc(2026, 11, 23, 11, 59)),
    ],
)
def test_quiet_hours_defer_and_never_drop(
    moment: datetime, quiet: QuietHours, expected: datetime
) -> None:
    assert after_quiet_hours(moment, quiet) == expected
    assert not in_quiet_hours(after_quiet_hours(moment, quiet), quiet)


def test_no_quiet_hours_means_now() -> None:
    assert after_quiet_hours(utc(2026, 1, 1), None) == utc(2026, 1, 1)


def test_rate_limit() -> None:
    now = utc(2026, 11, 23, 12)
    hour = timedelta(hours=1)
    sent = [now - timedelta(minutes=m) for m in (50, 30, 10)]
    assert rate_limit_release(sent, limit=4, window=hour, now=now) is None
    assert rate_limit_release(sent, limit=3, window=hour, now=now) == now + timedelta(minutes=10)
    assert rate_limit_release(sent, limit=1, window=hour, now=now) == now + timedelta(minutes=50)
    old = [now - timedelta(hours=2)] * 5
    assert rate_limit_release(old, limit=1, window=hour, now=now) is None
    assert rate_limit_release(sent, limit=0, window=hour, now=now) is None  # 0: no limit
