"""Celery tasks: thin. Ids in, one orchestrator call, follow-up tasks after its commit."""

from __future__ import annotations

import logging
from typing import Any

from celery import Task
from sqlalchemy.exc import OperationalError

from worker import pipeline
from worker.celery_app import app
from worker.pipeline import Runtime
from worker.runtime import build_runtime

log = logging.getLogger(__name__)

_runtime: Runtime | None = None


def runtime() -> Runtime:
    """The process's runtime, built on first use (after the fork, in a prefork child)."""
    global _runtime  # noqa: PLW0603  (one runtime per process, by design)
    if _runtime is None:
        _runtime = build_runtime()
    return _runtime


def reset_runtime() -> None:
    global _runtime  # noqa: PLW0603
    if _runtime is not None:
        _runtime.close()
    _runtime = None


class CoopwatchTask(Task):  # type: ignore[misc]
    """Database errors are transient (a restarting PostgreSQL): retry with backoff.

    Every task is safe to run twice, so a retry after a partial failure is harmless.
    """

    autoretry_for = (OperationalError, OSError)
    retry_backoff = True
    retry_backoff_max = 300
    retry_jitter = True
    max_retries = 10


def _task(name: str) -> Any:
    return app.task(name=f"coopwatch.{name}", base=CoopwatchTask)


@_task("schedule_due_feeds")
def schedule_due_feeds() -> int:
    rt = runtime()
    batches = pipeline.schedule_due_feeds(rt)
    for batch in batches:
        refresh_feeds.delay(batch.feed_ids, batch.token)
    if len(batches) == pipeline.MAX_BATCHES_PER_SCHEDULE:
        # More feeds may be due. Claim them once the workers have taken these batches (this
        # message queues behind them) instead of at the next beat tick: with more than
        # 20 batches due, a poll took one tick (30 s) per 20 batches. Claimed just in time,
        # batches do not age in the queue while their lease runs; if this message waits
        # longer than a tick, it expires and beat's next tick claims instead.
        schedule_due_feeds.apply_async(expires=rt.settings.schedule_tick_seconds)
    return sum(len(b.feed_ids) for b in batches)


@_task("refresh_feeds")
def refresh_feeds(feed_ids: list[int], token: str) -> int:
    outcome = pipeline.refresh_feeds(runtime(), feed_ids, token)
    if outcome.new_article_ids:
        process_articles.delay(outcome.new_article_ids)
    return len(outcome.new_article_ids)


@_task("process_articles")
def process_articles(article_ids: list[int]) -> int:
    delivery_ids = pipeline.process_articles(runtime(), article_ids)
    for delivery_id in delivery_ids:
        deliver_alert.delay(delivery_id)
    return len(delivery_ids)


@_task("deliver_alert")
def deliver_alert(delivery_id: int) -> str:
    return pipeline.deliver(runtime(), delivery_id).status


@_task("redeliver_due_alerts")
def redeliver_due_alerts() -> int:
    swept = pipeline.sweep(runtime())
    if swept.article_ids:
        process_articles.delay(swept.article_ids)
    for delivery_id in swept.delivery_ids:
        deliver_alert.delay(delivery_id)
    return len(swept.delivery_ids) + len(swept.article_ids)


@_task("report_feed_health")
def report_feed_health() -> int:
    return pipeline.report_feed_health(runtime())
