"""The Celery application. Every setting here is chosen on purpose; see the comments.

`celery -A worker.celery_app worker` and `celery -A worker.celery_app beat` use this module;
`coopwatch run` starts the same worker with an embedded beat.
"""

from __future__ import annotations

import gc
import sys
from pathlib import Path
from typing import Any

from celery import Celery
from celery.signals import beat_init, worker_init, worker_process_init
from kombu.entity import Exchange, Queue

from worker.config import ConfigError
from worker.runtime import read_config
from worker.settings import SOFT_LIMIT_MARGIN_SECONDS, Settings, load_settings


def broker_options(settings: Settings) -> dict[str, Any]:
    if settings.broker_url.startswith("filesystem"):
        folder = Path(settings.broker_dir)
        for sub in ("queue", "processed"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        return {
            "data_folder_in": str(folder / "queue"),
            "data_folder_out": str(folder / "queue"),
            "processed_folder": str(folder / "processed"),
            "store_processed": False,
        }
    # Redis redelivers an unacknowledged message after this long; it must exceed the longest
    # task, or a running task would be delivered a second time. The database sweeper finds
    # lost work much sooner (one tick), so this is only the broker's own last resort.
    return {"visibility_timeout": 3 * settings.task_time_limit_seconds}


def create_app(settings: Settings) -> Celery:
    app = Celery("coopwatch", include=["worker.tasks"])
    broker_url = settings.broker_url
    if broker_url == "filesystem://":
        broker_url = "filesystem://localhost//"  # kombu warns about a URL without a host
    app.conf.update(
        broker_url=broker_url,
        broker_transport_options=broker_options(settings),
        broker_connection_retry_on_startup=True,
        # JSON only: tasks take ids, never pickled objects.
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        # No result backend: the database holds every outcome.
        task_ignore_result=True,
        # Acknowledge after the task ran, so a killed worker's task is delivered again ...
        task_acks_late=True,
        # ... also when the child process died (SIGKILL, OOM) rather than raised.
        task_reject_on_worker_lost=True,
        # One message at a time per process: a long task never sits on others' work.
        worker_prefetch_multiplier=1,
        # The longest any task may run. Fetching is bounded by the HTTP deadlines (feeds are
        # fetched concurrently), delivery by the notifier timeout; this is the backstop.
        task_time_limit=settings.task_time_limit_seconds,
        task_soft_time_limit=settings.task_time_limit_seconds - SOFT_LIMIT_MARGIN_SECONDS,
        # Recycle children now and then; bounds any slow leak in parsers or libraries.
        worker_max_tasks_per_child=1000,
        worker_hijack_root_logger=False,
        # console:// alerts print to stdout; keep it stdout rather than a log line.
        worker_redirect_stdouts=False,
        timezone="UTC",
        enable_utc=True,
        beat_schedule={
            "schedule-due-feeds": {
                "task": "coopwatch.schedule_due_feeds",
                "schedule": settings.schedule_tick_seconds,
                # A tick that waited longer than its period is obsolete: the next one claims.
                "options": {"expires": settings.schedule_tick_seconds},
            },
            "report-feed-health": {
                "task": "coopwatch.report_feed_health",
                "schedule": settings.sweep_tick_seconds,
                "options": {"expires": settings.sweep_tick_seconds},
            },
            "redeliver-due-alerts": {
                "task": "coopwatch.redeliver_due_alerts",
                "schedule": settings.sweep_tick_seconds,
                "options": {"expires": settings.sweep_tick_seconds},
            },
        },
    )
    if not broker_url.startswith("filesystem"):
        # Deliveries have their own queue, which workers consume alongside the default one:
        # an alert then waits for a free worker, not behind every queued feed refresh. (The
        # embedded file-system broker keeps one queue: it is one process, and with two queues
        # it was seen to hold a delivery for over a minute now and then.)
        app.conf.update(
            task_queues=(
                Queue("celery", Exchange("celery", type="direct"), routing_key="celery"),
                Queue(
                    "deliveries", Exchange("deliveries", type="direct"), routing_key="deliveries"
                ),
            ),
            task_default_queue="celery",
            task_routes={"coopwatch.deliver_alert": {"queue": "deliveries"}},
        )
    return app


app = create_app(load_settings())


@worker_process_init.connect
def _reset_after_fork(**_: Any) -> None:
    """Database connections must not cross a fork: each child builds its own engine."""
    from worker import tasks  # noqa: PLC0415  (tasks imports this module; the signal runs later)

    tasks.reset_runtime()


@worker_init.connect
def _freeze_startup_objects(**_: Any) -> None:
    """Leave the objects made by the imports (about 120,000) out of every later garbage
    collection. Sent in the main process before the pool children are forked; they inherit it.

    Each full collection walked all of them: 0.6 s of the 10.5 s of CPU of a cold poll of 400
    feeds in one process. Frozen, they are also no longer written by the collector, so the
    children keep sharing those memory pages with the main process (the use the Python
    documentation gives for `gc.freeze`). They live as long as the process anyway."""
    gc.freeze()


@worker_init.connect
@beat_init.connect
def _check_configuration(**_: Any) -> None:
    """Refuse a wrong configuration file at start rather than in every task: print the error
    (file, line, field) and exit 2, as `coopwatch config check` does."""
    try:
        read_config(load_settings())
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        raise SystemExit(2) from exc
