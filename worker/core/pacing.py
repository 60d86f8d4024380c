"""When an alert may go out: digest schedules, quiet hours, per-destination rate limits.

Pure: every function takes `now` (aware UTC) and returns aware UTC datetimes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, slots=True)
class DigestSchedule:
    every: Literal["hourly", "daily", "weekly"]
    at: time = time(8, 0)  # hourly: only the minute counts
    weekday: str = "mon"
    timezone: str = "UTC"


@dataclass(frozen=True, slots=True)
class QuietHours:
    start: time
    end: time  # may be before start: the quiet period crosses midnight
    timezone: str = "UTC"


def next_digest_at(now: datetime, schedule: DigestSchedule) -> datetime:
    """The first scheduled send strictly after `now`."""
    tz = ZoneInfo(schedule.timezone)
    local = now.astimezone(tz)
    if schedule.every == "hourly":
        candidate = local.replace(minute=schedule.at.minute, second=0, microsecond=0)
        step = timedelta(hours=1)
    else:
        candidate = local.replace(
            hour=schedule.at.hour, minute=schedule.at.minute, second=0, microsecond=0
        )
        step = timedelta(days=1)
        if schedule.every == "weekly":
            days = (WEEKDAYS.index(schedule.weekday) - local.weekday()) % 7
            candidate += timedelta(days=days)
            step = timedelta(days=7)
    while candidate <= local:
        candidate = _wall_add(candidate, step, tz)
    return candidate.astimezone(UTC)


def _wall_add(moment: datetime, step: timedelta, tz: ZoneInfo) -> datetime:
    """Add wall-clock time (08:00 stays 08:00 across a DST change)."""
    naive = moment.replace(tzinfo=None) + step
    return naive.replace(tzinfo=tz)


def in_quiet_hours(moment: datetime, quiet: QuietHours) -> bool:
    local = moment.astimezone(ZoneInfo(quiet.timezone)).time()
    if quiet.start <= quiet.end:
        return quiet.start <= local < quiet.end
    return local >= quiet.start or local < quiet.end


def after_quiet_hours(moment: datetime, quiet: QuietHours | None) -> datetime:
    """`moment`, or the end of the quiet period it falls in (deferred, never dropped)."""
    if quiet is None or not in_quiet_hours(moment, quiet):
        return moment
    tz = ZoneInfo(quiet.timezone)
    local = moment.astimezone(tz)
    end = local.replace(hour=quiet.end.hour, minute=quiet.end.minute, second=0, microsecond=0)
    if end <= local:
        end = _wall_add(end, timedelta(days=1), tz)
    return end.astimezone(UTC)


def rate_limit_release(
    sent_times: Sequence[datetime], *, limit: int, window: timedelta, now: datetime
) -> datetime | None:
    """None if one more message fits in the window ending now; else when a slot frees up."""
    if limit <= 0:
        return None
    recent = sorted(t for t in sent_times if t > now - window)
    if len(recent) < limit:
        return None
    return recent[len(recent) - limit] + window
