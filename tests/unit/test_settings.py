"""Settings refuse combinations that would break a guarantee, and say which and why."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from worker.settings import SOFT_LIMIT_MARGIN_SECONDS, Settings


def test_the_defaults_are_consistent() -> None:
    settings = Settings()
    assert settings.fetch_timeout_seconds < settings.task_time_limit_seconds
    assert settings.delivery_lease_seconds > settings.delivery_timeout_seconds


def test_a_fetch_deadline_beyond_the_soft_time_limit_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"fetch_timeout_seconds .* soft time limit"):
        Settings(fetch_timeout_seconds=60, task_time_limit_seconds=60)


def test_a_fetch_deadline_just_inside_the_soft_time_limit_is_accepted() -> None:
    limit = 60
    ok = Settings(
        fetch_timeout_seconds=limit - SOFT_LIMIT_MARGIN_SECONDS - 1, task_time_limit_seconds=limit
    )
    assert ok.fetch_timeout_seconds == limit - SOFT_LIMIT_MARGIN_SECONDS - 1
