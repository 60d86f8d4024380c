"""When to check a feed next: pure maths, no clock, no settings, no randomness.

* After an error: exponential backoff from ``min_interval``, doubling per consecutive error, capped
  at ``max_error_backoff``, and never sooner than the server's ``Retry-After``.
* Otherwise: the feed's own publishing rate (the recent entries spread over the time up to
  ``now``), raised to whatever the feed and the server say is "not before" (RSS ``<ttl>``,
  Cache-Control ``max-age``, ``Expires``), clamped to ``[min_interval, max_interval]``.
* Then a deterministic jitter of ``± jitter_fraction`` from a hash of ``(feed_key, now)``, so that
  feeds added together drift apart; the jittered value stays inside the bounds above.

The result has the same time zone awareness as ``now``; naive datetimes are taken as UTC.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

#: How many of the most recent entries describe a feed's current publishing rate.
RECENT_ENTRIES = 10
#: Longest hint (max-age, Retry-After) taken at face value; keeps timedelta from overflowing.
_LONGEST_HINT = timedelta(days=3650)


@dataclass(frozen=True, slots=True)
class ScheduleBounds:
    min_interval: timedelta = timedelta(minutes=5)
    max_interval: timedelta = timedelta(hours=6)
    default_interval: timedelta = timedelta(minutes=30)
    max_error_backoff: timedelta = timedelta(hours=24)
    jitter_fraction: float = 0.1

    def __post_init__(self) -> None:
        if not timedelta(0) < self.min_interval <= self.max_interval:
            raise ValueError("need 0 < min_interval <= max_interval")
        if self.max_error_backoff < self.min_interval:
            raise ValueError("max_error_backoff must not be below min_interval")
        if not 0.0 <= self.jitter_fraction < 1.0:
            raise ValueError("jitter_fraction must be in [0, 1)")


def next_check(
    *,
    now: datetime,
    bounds: ScheduleBounds,
    feed_key: str,
    entry_times: Sequence[datetime] = (),
    ttl_minutes: int | None = None,
    max_age: float | None = None,
    expires: datetime | None = None,
    retry_after: float | None = None,
    error_count: int = 0,
) -> datetime:
    """The time at which the feed should be checked next."""
    factor = jitter_factor(feed_key, now, bounds.jitter_fraction)
    if error_count > 0:
        backoff = error_backoff(bounds, error_count)
        delay = _clamp(backoff * factor, bounds.min_interval, bounds.max_error_backoff)
    else:
        not_before = min(_not_before(now, ttl_minutes, max_age, expires), bounds.max_interval)
        wanted = max(publishing_interval(now, entry_times, bounds), not_before)
        interval = _clamp(wanted, bounds.min_interval, bounds.max_interval)
        delay = _clamp(interval * factor, max(bounds.min_interval, not_before), bounds.max_interval)
    if retry_after is not None and retry_after > 0:
        delay = max(delay, _seconds(retry_after))
    return now + delay


def error_backoff(bounds: ScheduleBounds, error_count: int) -> timedelta:
    """``min_interval * 2 ** (error_count - 1)``, capped at ``max_error_backoff``."""
    if error_count <= 0:
        return bounds.min_interval
    cap = bounds.max_error_backoff.total_seconds()
    exponent = min(error_count - 1, 64)  # 2**64 minimum intervals is past any sensible cap
    seconds = bounds.min_interval.total_seconds() * 2.0**exponent
    return timedelta(seconds=min(seconds, cap))


def publishing_interval(
    now: datetime, entry_times: Sequence[datetime], bounds: ScheduleBounds
) -> timedelta:
    """The mean time between entries over the window from the oldest recent entry to ``now``.

    Uses the ``RECENT_ENTRIES`` newest distinct entry times not after ``now``. Counting up to
    ``now`` (not just up to the newest entry) makes a feed that published a burst long ago and
    nothing since slow down. Fewer than two usable times give ``default_interval``.
    """
    reference = _as_utc(now)
    past = sorted({_as_utc(t) for t in entry_times if _as_utc(t) <= reference})
    recent = past[-RECENT_ENTRIES:]
    if len(recent) < 2:  # one entry says nothing about a rate
        return bounds.default_interval
    return (reference - recent[0]) / len(recent)


def jitter_factor(feed_key: str, now: datetime, fraction: float) -> float:
    """A factor in ``[1 - fraction, 1 + fraction)`` set by ``feed_key`` and the instant ``now``."""
    if fraction <= 0:
        return 1.0
    material = f"{feed_key}\x00{_as_utc(now).isoformat()}".encode()
    digest = hashlib.blake2b(material, digest_size=8).digest()
    unit = int.from_bytes(digest, "big") / 2.0**64  # uniform in [0, 1)
    return 1.0 + fraction * (2.0 * unit - 1.0)


def _not_before(
    now: datetime, ttl_minutes: int | None, max_age: float | None, expires: datetime | None
) -> timedelta:
    """The longest of the "do not ask again before" hints; zero when there are none."""
    hints = [timedelta(0)]
    if ttl_minutes is not None and ttl_minutes > 0:
        hints.append(_seconds(ttl_minutes * 60.0))
    if max_age is not None and max_age > 0:
        hints.append(_seconds(max_age))
    if expires is not None:
        hints.append(min(_as_utc(expires) - _as_utc(now), _LONGEST_HINT))
    return max(hints)


def _seconds(value: float) -> timedelta:
    return min(timedelta(seconds=min(value, _LONGEST_HINT.total_seconds())), _LONGEST_HINT)


def _clamp(value: timedelta, low: timedelta, high: timedelta) -> timedelta:
    return max(low, min(value, high))


def _as_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
