"""`coopwatch demo`: the whole product on this machine, with no network and no servers.

Serves the bundled sample feeds from a local HTTP server on 127.0.0.1, starts a real Celery
worker process on the embedded broker with a SQLite database in a scratch folder, rings the
scheduler's doorbell once, and waits until every alert is delivered through Apprise to the
`console://` target, which prints it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from models import Article, DeliveryStatus, Feed
from worker import migrations, store
from worker.celery_app import create_app
from worker.settings import Settings

WAIT_SECONDS = 120


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serve_folder(folder: Path) -> Iterator[str]:
    """Serve `folder` over HTTP on 127.0.0.1; yield the base URL."""
    handler = partial(_QuietHandler, directory=str(folder))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def demo_config(base_url: str, feed_files: list[str]) -> dict[str, Any]:
    return {
        "feeds": [{"url": f"{base_url}/{name}", "name": f"Demo: {name}"} for name in feed_files],
        "watchlists": [
            {
                "name": "iran-china-tech",
                "match": {"partners": ["IR", "CN"]},
                "notify": ["console://"],
            },
            {
                "name": "iran-russia-or-serbia-or-armenia",
                "match": {"partners_any": ["IR+RU", "IR+RS", "IR+AM"]},
                "notify": ["console://"],
            },
            {
                "name": "signed-agreements",
                "match": {"event_types": ["agreement"], "min_score": 0.5},
                "notify": ["console://"],
            },
        ],
    }


def demo_settings(folder: Path) -> Settings:
    return Settings(
        database_url=f"sqlite:///{folder / 'demo.db'}",
        broker_url="filesystem://",
        broker_dir=folder / "broker",
        config=folder / "coopwatch.yaml",
        allow_private_addresses="127.0.0.1",
        alert_on_first_poll=True,
    )


def _env(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "COOPWATCH_DATABASE_URL": settings.database_url,
            "COOPWATCH_BROKER_URL": settings.broker_url,
            "COOPWATCH_BROKER_DIR": str(settings.broker_dir),
            "COOPWATCH_CONFIG": str(settings.config),
            "COOPWATCH_ALLOW_PRIVATE_ADDRESSES": settings.allow_private_addresses,
            "COOPWATCH_ALERT_ON_FIRST_POLL": "true",
        }
    )
    return env


@dataclass(frozen=True, slots=True)
class Progress:
    feeds_polled: int
    feeds: int
    unprocessed: int
    deliveries: dict[str, int]  # status → count

    @property
    def finished(self) -> bool:
        open_ = sum(
            self.deliveries.get(s, 0) for s in (DeliveryStatus.PENDING, DeliveryStatus.SENDING)
        )
        return (
            bool(self.feeds)
            and self.feeds_polled == self.feeds
            and not self.unprocessed
            and not open_
        )


def _progress(sessions: sessionmaker[Session]) -> Progress:
    with sessions.begin() as session:
        polled = session.scalar(select(func.count(Feed.id)).where(Feed.last_polled_at.isnot(None)))
        total = session.scalar(select(func.count(Feed.id)))
        unprocessed = session.scalar(
            select(func.count(Article.id)).where(Article.processed_at.is_(None))
        )
        counts = store.delivery_counts(session)
    return Progress(polled or 0, total or 0, unprocessed or 0, counts)


def run_demo(keep: Path | None = None) -> int:
    folder = keep or Path(tempfile.mkdtemp(prefix="coopwatch-demo-"))
    folder.mkdir(parents=True, exist_ok=True)
    feeds_dir = Path(str(resources.files("worker.demo") / "feeds"))
    feed_files = sorted(p.name for p in feeds_dir.glob("*.xml"))
    settings = demo_settings(folder)
    with serve_folder(feeds_dir) as base_url:
        settings.config.write_text(
            yaml.safe_dump(demo_config(base_url, feed_files), allow_unicode=True), "utf-8"
        )
        migrations.upgrade(settings.database_url)
        print(f"coopwatch demo: {len(feed_files)} sample feeds at {base_url}, files in {folder}")
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "--quiet",
                "-A",
                "worker.celery_app",
                "worker",
                "--pool=solo",
                "--loglevel=WARNING",
                "--without-heartbeat",
                "--without-gossip",
                "--without-mingle",
            ],
            env=_env(settings),
        )
        engine = store.make_engine(settings.database_url)  # one pool for all the polling
        try:
            try:
                create_app(settings).send_task("coopwatch.schedule_due_feeds")
                done = _wait(store.make_sessions(engine), worker)
            finally:
                worker.terminate()
                worker.wait(timeout=30)
            return _report(store.make_sessions(engine), settings, done)
        finally:
            engine.dispose()


def _wait(sessions: sessionmaker[Session], worker: subprocess.Popen[bytes]) -> bool:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline and worker.poll() is None:
        if _progress(sessions).finished:
            return True
        time.sleep(0.5)
    return False


def _report(sessions: sessionmaker[Session], settings: Settings, done: bool) -> int:
    with sessions.begin() as session:
        rows = store.list_feeds(session)
    counts = _progress(sessions).deliveries
    sent, failed = counts.get(DeliveryStatus.SENT, 0), counts.get(DeliveryStatus.FAILED, 0)
    print("\n" + "─" * 72)
    for r in rows:
        error = f" ({r.feed.last_error})" if r.feed.last_error else ""
        print(
            f"{r.feed.url}: {r.articles} articles, {r.cooperation} cooperation, "
            f"status {r.feed.status}{error}"
        )
    print(
        f"alerts delivered: {sent}, failed: {failed}"
        f"{'' if done else ' — the run did not finish in time'}  "
        f"({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)"
    )
    print(f"look around: COOPWATCH_DATABASE_URL={settings.database_url} coopwatch articles list")
    return 0 if done and sent and not failed else 1
