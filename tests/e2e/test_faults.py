"""Guarantees, proven by fault tests against real processes (issue 5).

Real `celery worker` and `celery beat` processes on Redis and PostgreSQL, feeds from a local
server, alerts to local webhook and SMTP receivers through Apprise. The faults are real too:
SIGKILL of a worker's whole process group, a Redis without persistence killed and restarted,
a PostgreSQL cluster stopped with `pg_ctl stop -m immediate`, two beats, a worker frozen past
the broker's visibility timeout, and receivers that refuse, fail, rate-limit or hang.

Receipts are attributed by a marker (``CWK-<feed>-<n>``) in each article's guid, title and
link, which the alert carries to the receiver; a duplicate is a marker received twice.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import Engine, select, text

from models import Alert, Article, Base, Delivery
from tests.conftest import _create_pg_database, _drop_pg_database
from tests.support.processes import (
    GatedFeedSite,
    PrivatePostgres,
    celery_beat,
    celery_worker,
    coopwatch_env,
    gated_feed_server,
    markers_in,
    matching_feed,
    private_postgres,
    private_redis,
    running,
    stopping,
    wait_for,
)
from tests.support.smtp_sink import SmtpSink, running_smtp_sink
from tests.support.webhook_sink import WebhookSink, running_webhook_sink
from worker import migrations, store

pytestmark = pytest.mark.timeout(300)
COOPWATCH = str(Path(sys.executable).parent / "coopwatch")
CANARY = "CANARY-5ecr3t-token"
#: Generous bound for the system to converge after a fault. The sweeper re-rings a pending
#: row only when its last doorbell is older than its grace (60 s, not configurable today), so
#: some recoveries take a minute; none of these bounds is a performance assertion.
CONVERGE = 180


# -- receivers with receipt times ------------------------------------------------------------


class _TimedList(list[Any]):
    """A list that records when each item was appended (the sinks append under their lock)."""

    def __init__(self) -> None:
        super().__init__()
        self.times: list[float] = []

    def append(self, item: Any) -> None:
        self.times.append(time.time())
        super().append(item)


def timed(sink: WebhookSink | SmtpSink) -> None:
    if isinstance(sink, WebhookSink):
        sink.deliveries = _TimedList()
    else:
        sink.received = _TimedList()


def hook_receipts(sink: WebhookSink) -> list[tuple[float, set[str]]]:
    with sink.lock:
        items = list(zip(getattr(sink.deliveries, "times", []), sink.deliveries, strict=False))
    return [(t, markers_in(d.body.decode("utf-8", "replace"))) for t, d in items]


def smtp_receipts(sink: SmtpSink) -> list[tuple[float, set[str]]]:
    with sink.lock:
        items = list(zip(getattr(sink.received, "times", []), sink.received, strict=False))
    return [
        (t, markers_in(m.subject + m.part("text/plain") + m.part("text/html"))) for t, m in items
    ]


def counts(receipts: list[tuple[float, set[str]]]) -> Counter[str]:
    return Counter(m for _, ms in receipts for m in ms)


def config_file(folder: Path, feeds: list[str], watchlists: list[dict[str, Any]]) -> Path:
    path = folder / "coopwatch.yaml"
    body = {"feeds": [{"url": u} for u in feeds], "watchlists": watchlists}
    path.write_text(yaml.safe_dump(body, allow_unicode=True, sort_keys=False), "utf-8")
    return path


def matching_config(
    folder: Path, site: GatedFeedSite, feeds: dict[str, int], name: str, notify: list[str]
) -> tuple[Path, list[str], set[str]]:
    """Serve one Iran–Serbia feed per name at /<name>.xml with that many items, and write a
    configuration that polls them with one IR+RS watchlist notifying `notify`.
    Returns (the configuration, the feeds' paths, every marker served)."""
    paths: list[str] = []
    expected: set[str] = set()
    for feed, count in feeds.items():
        body, markers = matching_feed(feed, count)
        site.put(f"/{feed}.xml", body)
        paths.append(f"/{feed}.xml")
        expected.update(markers)
    watchlist = {"name": name, "match": {"partners": ["IR", "RS"]}, "notify": notify}
    return config_file(folder, [site.url(p) for p in paths], [watchlist]), paths, expected


def fault_env(db_url: str, broker_url: str, config: Path, **extra: str) -> dict[str, str]:
    values = {
        "database_url": db_url,
        "broker_url": broker_url,
        "config": str(config),
        "allow_private_addresses": "127.0.0.1",
        "alert_on_first_poll": "true",
        "schedule_tick_seconds": "1",
        "sweep_tick_seconds": "1",
        "min_interval_seconds": "1",
        "max_interval_seconds": "2",
        "default_interval_seconds": "1",
        "claim_timeout_seconds": "3",
        "delivery_timeout_seconds": "3",
        "delivery_lease_seconds": "5",
        "delivery_backoff_seconds": "1",
        # Not a setting yet (the grace is fixed at 60 s in pipeline.sweep); harmless until then.
        "sweep_grace_seconds": "2",
    }
    values.update(extra)
    return coopwatch_env(**values)


@dataclass
class Db:
    engine: Engine

    def deliveries(self) -> list[dict[str, Any]]:
        stmt = (
            select(Delivery, Article.guid)
            .join(Alert, Alert.id == Delivery.alert_id)
            .join(Article, Article.id == Alert.article_id)
            .order_by(Delivery.id)
        )
        sessions = store.make_sessions(self.engine)
        with sessions.begin() as s:
            return [
                {
                    "id": d.id,
                    "marker": guid,
                    "target": d.target_label,
                    "status": d.status,
                    "attempts": d.attempts,
                    "last_error": d.last_error,
                    "sent_at": d.sent_at,
                }
                for d, guid in s.execute(stmt)
            ]

    def scalar(self, sql: str) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(text(sql)).scalar()

    def all_text(self) -> str:
        """Every row of every table, as text (for the secret canary)."""
        parts: list[str] = []
        with self.engine.connect() as conn:
            for table in Base.metadata.sorted_tables:
                parts.extend(repr(tuple(row)) for row in conn.execute(table.select()))
        return "\n".join(parts)

    def sent_markers(self, target_prefix: str) -> set[str]:
        return {
            d["marker"]
            for d in self.deliveries()
            if d["status"] == "sent" and d["target"].startswith(target_prefix)
        }


@pytest.fixture
def db(pg_url: str) -> Iterator[Db]:
    engine = store.make_engine(pg_url)
    try:
        yield Db(engine)
    finally:
        engine.dispose()


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[str]:
    """A private Redis per test: no other test run on this machine can take our messages."""
    with private_redis(tmp_path) as server:
        yield server.url


@pytest.fixture
def hook() -> Iterator[WebhookSink]:
    with running_webhook_sink() as sink:
        timed(sink)
        yield sink


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    with running_smtp_sink() as sink:
        timed(sink)
        yield sink


@pytest.fixture
def site() -> Iterator[GatedFeedSite]:
    with gated_feed_server() as s:
        yield s


def mailto(smtp: SmtpSink, password: str = "pw") -> str:
    return f"mailto://cw:{password}@127.0.0.1:{smtp.port}?to=desk@example.org&from=cw@example.org"


def settle(site: GatedFeedSite, paths: list[str], polls: int = 2) -> None:
    """Let every feed be polled `polls` more times: the sweeper and scheduler ran meanwhile."""
    base = {p: site.hits(p) for p in paths}
    wait_for(
        lambda: all(site.hits(p) >= base[p] + polls for p in paths),
        60,
        "repeated polls after convergence",
    )


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [COOPWATCH, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


# -- 1. SIGKILL of the worker's process group during polling and during delivery -------------


def test_worker_sigkilled_while_polling_and_while_delivering_loses_no_alert(
    tmp_path: Path,
    db: Db,
    pg_url: str,
    broker: str,
    site: GatedFeedSite,
    hook: WebhookSink,
    smtp: SmtpSink,
) -> None:
    notify = [f"json://{hook.hostport}/iran-serbia", mailto(smtp)]
    config, paths, expected = matching_config(
        tmp_path, site, {"a": 6, "b": 6}, "iran-serbia", notify
    )
    # A slow receiver (accepts the body, answers after 0.4 s) widens the window between
    # "the receiver has it" and "the database knows", so a kill lands in it now and then.
    hook.mode, hook.hang_seconds = "hang", 0.4
    env = fault_env(pg_url, broker, config)
    worker, beat = celery_worker(env, tmp_path), celery_beat(env, tmp_path)
    kills_in_delivery = 0
    explained_window: set[str] = set()  # markers a kill caught between receipt and record
    with running(beat), stopping(worker):
        # Kill 1: a poll is in flight (the feed server holds the request).
        site.gate.clear()
        worker.start()
        wait_for(lambda: site.in_flight() >= 1, 90, "a poll in flight")
        worker.kill()
        assert db.scalar("select count(*) from articles") == 0, "killed mid-fetch: nothing stored"
        site.gate.set()
        # Kill 2: deliveries are being sent.
        worker.start()
        wait_for(lambda: len(hook_receipts(hook)) >= 3, 120, "deliveries under way")
        worker.kill()
        kills_in_delivery += 1
        received = counts(hook_receipts(hook)) + counts(smtp_receipts(smtp))
        rows = db.deliveries()
        assert any(r["status"] != "sent" for r in rows), "the kill came after all deliveries"
        recorded = {(r["marker"], r["target"][:4]) for r in rows if r["status"] == "sent"}
        hook_got = counts(hook_receipts(hook))
        smtp_got = counts(smtp_receipts(smtp))
        explained_window |= {f"json:{m}" for m in hook_got if (m, "json") not in recorded}
        explained_window |= {f"mail:{m}" for m in smtp_got if (m, "mail") not in recorded}
        assert received  # something was delivered before the kill
        worker.start()
        wait_for(
            lambda: db.sent_markers("json") == expected and db.sent_markers("mail") == expected,
            CONVERGE,
            "every delivery recorded as sent",
        )
        settle(site, paths)
    hook_got, smtp_got = counts(hook_receipts(hook)), counts(smtp_receipts(smtp))
    lost = (expected - set(hook_got)) | (expected - set(smtp_got))
    dup = {f"json:{m}": n - 1 for m, n in hook_got.items() if n > 1}
    dup |= {f"mail:{m}": n - 1 for m, n in smtp_got.items() if n > 1}
    print(  # measured, shown with -s
        f"\nkills={len(worker.kills)} (in delivery {kills_in_delivery}), expected=2x"
        f"{len(expected)}, lost={len(lost)}, duplicated={sum(dup.values())} {sorted(dup)}"
    )
    assert not lost
    assert set(hook_got) == expected and set(smtp_got) == expected  # nothing foreign
    # A duplicate is only possible for a message the receiver had when the worker died and
    # whose outcome the database had not recorded: one per pool child per kill, at most.
    assert set(dup) <= explained_window, (dup, explained_window)
    assert all(n == 1 for n in dup.values())
    assert sum(dup.values()) <= kills_in_delivery * 2
    assert db.scalar("select count(*) from articles") == 12
    assert db.scalar("select count(*) from articles where processed_at is null") == 0
    assert db.scalar("select count(*) from alerts") == 12
    assert db.scalar("select count(*) from deliveries where status <> 'sent'") == 0


# -- 2. Redis restarted without persistence while work is queued ----------------------------


def test_redis_restart_without_persistence_loses_no_queued_alert(
    tmp_path: Path, db: Db, pg_url: str, site: GatedFeedSite, hook: WebhookSink
) -> None:
    notify = [f"json://{hook.hostport}/w"]
    config, _, expected = matching_config(tmp_path, site, {"r": 6}, "w", notify)
    hook.mode, hook.hang_seconds = "hang", 90  # the first delivery holds the only pool child
    with private_redis(tmp_path) as redis:
        # The held delivery must not be re-sent while it is held: lease above the hang.
        env = fault_env(
            pg_url, redis.url, config, delivery_timeout_seconds="60", delivery_lease_seconds="90"
        )
        worker = celery_worker(env, tmp_path, concurrency=1)
        beat = celery_beat(env, tmp_path)
        with running(worker, beat):
            wait_for(
                lambda: len(hook_receipts(hook)) == 1 and len(db.deliveries()) == len(expected),
                120,
                "one delivery held by the receiver and the others queued",
            )
            queued = redis.command("LLEN", "deliveries")  # deliver_alert's own queue
            assert queued.startswith(b":") and int(queued[1:]) >= 1, queued
            redis.kill()
            redis.start()  # same port, empty: every doorbell is gone
            with hook.lock:
                hook.mode = "ok"
            hook.release.set()  # the held delivery completes
            wait_for(lambda: db.sent_markers("json") == expected, CONVERGE, "every alert delivered")
            settle(site, ["/r.xml"])
    got = counts(hook_receipts(hook))
    assert got == Counter(dict.fromkeys(expected, 1)), got  # all, exactly once
    assert db.scalar("select count(*) from deliveries where status <> 'sent'") == 0
    assert "Connection to broker lost" in worker.log_text()  # it did notice


# -- 3. PostgreSQL restarted mid-run ----------------------------------------------------------

_NO_PG = PrivatePostgres.available()


@pytest.fixture
def cluster() -> Iterator[PrivatePostgres]:
    if _NO_PG:
        pytest.skip(f"no private PostgreSQL cluster here: {_NO_PG}")
    with private_postgres() as c:
        yield c


def _private_db(cluster: PrivatePostgres) -> str:
    url = cluster.create_database("coopwatch")
    migrations.upgrade(url)
    return url


def test_postgres_restart_mid_poll_tasks_retry_and_finish(
    tmp_path: Path,
    cluster: PrivatePostgres,
    broker: str,
    site: GatedFeedSite,
    hook: WebhookSink,
) -> None:
    url = _private_db(cluster)
    notify = [f"json://{hook.hostport}/w"]
    config, _, expected = matching_config(tmp_path, site, {"p": 5}, "w", notify)
    env = fault_env(url, broker, config)
    worker, beat = celery_worker(env, tmp_path), celery_beat(env, tmp_path)
    engine = store.make_engine(url)
    try:
        db = Db(engine)
        with running(worker, beat):
            site.gate.clear()
            wait_for(lambda: site.in_flight() >= 1, 90, "a poll in flight")
            cluster.stop("immediate")
            site.gate.set()  # the fetch completes; storing it fails
            wait_for(
                lambda: "OperationalError" in worker.log_text(), 60, "a task failing on the DB"
            )
            cluster.start()
            wait_for(lambda: db.sent_markers("json") == expected, CONVERGE, "every alert delivered")
            settle(site, ["/p.xml"])
        log = worker.log_text()
        assert db.scalar("select count(*) from articles") == len(expected)
        assert db.scalar("select count(*) from articles where processed_at is null") == 0
        assert db.scalar("select count(*) from deliveries where status <> 'sent'") == 0
    finally:
        engine.dispose()
    assert counts(hook_receipts(hook)) == Counter(dict.fromkeys(expected, 1))
    # The error is clear (what failed, and why) and the task was retried, not dropped.
    assert "psycopg.OperationalError" in log
    assert "Retry in" in log


def test_postgres_down_while_a_send_completes_does_not_double_the_alert(
    tmp_path: Path,
    cluster: PrivatePostgres,
    broker: str,
    site: GatedFeedSite,
    hook: WebhookSink,
) -> None:
    url = _private_db(cluster)
    notify = [f"json://{hook.hostport}/w"]
    config, _, markers = matching_config(tmp_path, site, {"q": 1}, "w", notify)
    hook.mode, hook.hang_seconds = "hang", 9
    env = fault_env(url, broker, config, delivery_timeout_seconds="10", delivery_lease_seconds="15")
    worker, beat = celery_worker(env, tmp_path), celery_beat(env, tmp_path)
    engine = store.make_engine(url)
    try:
        db = Db(engine)
        with running(worker, beat):
            wait_for(lambda: len(hook_receipts(hook)) == 1, 120, "a send in flight")
            cluster.stop("immediate")
            with hook.lock:
                hook.mode = "ok"
            hook.release.set()  # the receiver accepts the alert; the outcome cannot be stored
            wait_for(
                lambda: (
                    "deliver_alert" in worker.log_text() and "OperationalError" in worker.log_text()
                ),
                60,
                "recording the outcome failing",
            )
            cluster.start()
            wait_for(lambda: db.sent_markers("json") == set(markers), CONVERGE, "recorded")
            settle(site, ["/q.xml"])
    finally:
        engine.dispose()
    assert counts(hook_receipts(hook)) == Counter(dict.fromkeys(markers, 1))


# -- 4. Two beats by mistake, and a task held past the broker's visibility timeout -----------


def _task_ids(log: str, task: str) -> set[str]:
    import re  # noqa: PLC0415

    return set(re.findall(rf"Task {re.escape(task)}\[([0-9a-f-]+)\] received", log))


def test_two_beats_and_a_redelivered_task_poll_and_alert_once(
    tmp_path: Path,
    db: Db,
    pg_url: str,
    broker: str,
    site: GatedFeedSite,
    hook: WebhookSink,
) -> None:
    notify = [f"json://{hook.hostport}/w"]
    config, paths, expected = matching_config(tmp_path, site, {"c": 4, "d": 4}, "w", notify)
    # Time limit 10 s → Redis visibility timeout 30 s. Claims outlive the frozen worker.
    env = fault_env(
        pg_url,
        broker,
        config,
        task_time_limit_seconds="10",
        fetch_timeout_seconds="4",  # below the soft limit (5 s), as the settings demand
        claim_timeout_seconds="120",
        delivery_lease_seconds="120",
    )
    worker_a = celery_worker(env, tmp_path, "wa", concurrency=1)
    worker_b = celery_worker(env, tmp_path, "wb", concurrency=1)
    beats = (celery_beat(env, tmp_path, "beat1"), celery_beat(env, tmp_path, "beat2"))
    with running(*beats, worker_a), stopping(worker_b):
        site.gate.clear()
        wait_for(lambda: site.in_flight() >= 1, 90, "worker A polling")
        reserved_at = time.time()
        worker_a.signal_group(signal.SIGSTOP)  # A holds the message, unacknowledged
        site.gate.set()
        wait_for(lambda: time.time() > reserved_at + 33, 60, "the visibility timeout to pass")
        worker_b.start()
        wait_for(lambda: db.sent_markers("json") == expected, CONVERGE, "every alert delivered")
        worker_a.signal_group(signal.SIGCONT)  # A wakes up and finishes its stale poll
        settle(site, paths)
    log_a, log_b = worker_a.log_text(), worker_b.log_text()
    redelivered = _task_ids(log_a, "coopwatch.refresh_feeds") & _task_ids(
        log_b, "coopwatch.refresh_feeds"
    )
    assert redelivered, "the broker did not hand A's poll to B"
    beat_sends = [b.log_text().count("Sending due task schedule-due-feeds") for b in beats]
    assert all(n >= 3 for n in beat_sends), beat_sends  # both beats rang the doorbell
    assert db.scalar("select count(*) from articles") == len(expected)  # inserted once
    assert db.scalar("select count(*) from alerts") == len(expected)
    assert site.overlapping() == [], "two polls of one feed overlapped"
    assert counts(hook_receipts(hook)) == Counter(dict.fromkeys(expected, 1))


# -- 5 and 6. Failing receivers, per-destination backoff, failed with a reason, retry, secrets


@dataclass
class FailureRun:
    hooks: dict[str, WebhookSink]
    smtp: SmtpSink
    markers: list[str]
    rows_failed: list[dict[str, Any]]
    rows_final: list[dict[str, Any]]
    listed_json: list[dict[str, Any]]
    outputs: list[str] = field(default_factory=list)  # every CLI output, for the canary
    logs: list[str] = field(default_factory=list)
    db_text: str = ""


MAX_ATTEMPTS = 3
BACKOFF = 1.0


@pytest.fixture(scope="module")
def failure_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FailureRun]:
    """One run of the real worker against receivers that fail in every way, then `alerts
    retry` after they recover. The tests below assert on what it recorded."""
    folder = tmp_path_factory.mktemp("failures")
    name, pg_url = _create_pg_database()
    migrations.upgrade(pg_url)
    engine = store.make_engine(pg_url)
    try:
        with (
            private_redis(folder) as redis,
            gated_feed_server() as site,
            running_webhook_sink() as ok,
            running_webhook_sink() as err,
            running_webhook_sink() as limited,
            running_webhook_sink() as hang,
            running_smtp_sink(refuse_recipients=True) as smtp,
        ):
            hooks = {"ok": ok, "err": err, "limited": limited, "hang": hang}
            for sink in hooks.values():
                timed(sink)
            timed(smtp)
            err.mode, err.status = "error", 500
            limited.mode, limited.retry_after = "rate_limited", "1"
            hang.mode, hang.hang_seconds = "hang", 8.0  # past the 2 s delivery timeout
            notify = [
                f"json://{ok.hostport}/ok",
                f"json://cw:{CANARY}@{err.hostport}/err?+X-Api-Token={CANARY}",
                f"json://{limited.hostport}/limited",
                f"json://{hang.hostport}/hang",
                mailto(smtp, CANARY),
            ]
            config, _, served = matching_config(folder, site, {"f": 2}, "mixed", notify)
            markers = sorted(served)
            env = fault_env(
                pg_url,
                redis.url,
                config,
                delivery_max_attempts=str(MAX_ATTEMPTS),
                delivery_backoff_seconds=str(BACKOFF),
                delivery_timeout_seconds="2",
                delivery_lease_seconds="6",
            )
            db = Db(engine)
            worker, beat = celery_worker(env, folder), celery_beat(env, folder)
            n = len(markers) * 5
            with running(worker, beat):

                def terminal() -> bool:
                    rows = db.deliveries()
                    return len(rows) == n and all(r["status"] in ("sent", "failed") for r in rows)

                wait_for(terminal, CONVERGE, "every delivery sent or failed")
                rows_failed = db.deliveries()
                listed = cli(env, "alerts", "list", "--json", "--limit", "100")
                listed_text = cli(env, "alerts", "list", "--limit", "100")
                for sink in hooks.values():
                    with sink.lock:
                        sink.mode = "ok"
                hang.release.set()
                smtp.refuse_recipients = False
                retried = cli(env, "alerts", "retry")
                wait_for(
                    lambda: all(r["status"] == "sent" for r in db.deliveries()),
                    CONVERGE,
                    "every retried delivery sent",
                )
                settle(site, ["/f.xml"])
                listed_after = cli(env, "alerts", "list", "--limit", "100")
            run = FailureRun(
                hooks=hooks,
                smtp=smtp,
                markers=markers,
                rows_failed=rows_failed,
                rows_final=db.deliveries(),
                listed_json=[json.loads(line) for line in listed.stdout.splitlines()],
                outputs=[p.stdout + p.stderr for p in (listed, listed_text, retried, listed_after)],
                logs=[worker.log_text(), beat.log_text()],
                db_text=db.all_text(),
            )
            run.outputs.append(f"retry exit {retried.returncode}: {retried.stdout}")
            yield run
    finally:
        engine.dispose()
        _drop_pg_database(name)


def _times(sink: WebhookSink, m: str) -> list[float]:
    return [t for t, ms in hook_receipts(sink) if m in ms]


def test_failing_destinations_are_retried_with_exponential_backoff(
    failure_run: FailureRun,
) -> None:
    for key in ("err", "limited", "hang"):
        for m in failure_run.markers:
            times = _times(failure_run.hooks[key], m)
            # MAX_ATTEMPTS failing attempts, then one more after `alerts retry`
            assert len(times) == MAX_ATTEMPTS + 1, (key, m, times)
            gaps = [b - a for a, b in itertools.pairwise(times[:MAX_ATTEMPTS])]
            minimum = [BACKOFF * 2**i * 0.9 for i in range(MAX_ATTEMPTS - 1)]
            assert all(g >= lo for g, lo in zip(gaps, minimum, strict=True)), (key, gaps)


def test_a_working_destination_is_never_resent_because_another_failed(
    failure_run: FailureRun,
) -> None:
    got = counts(hook_receipts(failure_run.hooks["ok"]))
    assert got == Counter(dict.fromkeys(failure_run.markers, 1))
    ok_rows = [r for r in failure_run.rows_final if "/ok" in r["target"]]
    assert [r["attempts"] for r in ok_rows] == [1] * len(failure_run.markers)


def test_exhausted_destinations_end_failed_with_a_readable_reason_and_retry_resends(
    failure_run: FailureRun,
) -> None:
    by_target: dict[str, list[dict[str, Any]]] = {}
    for r in failure_run.listed_json:
        by_target.setdefault(r["target"].split("/")[-1].split("?")[0], []).append(r)
    expectations = {
        "err": ("500", MAX_ATTEMPTS),
        "limited": ("429", MAX_ATTEMPTS),
        "hang": ("timed out", MAX_ATTEMPTS),
    }
    for key, (reason, attempts) in expectations.items():
        rows = by_target[key]
        assert len(rows) == len(failure_run.markers), (key, rows)
        for r in rows:  # as listed before `alerts retry`
            assert r["status"] == "failed", r
            assert r["attempts"] == attempts, r
            assert reason in r["last_error"].lower(), r
    mail = [r for r in failure_run.listed_json if r["target"].startswith("mailto")]
    # An SMTP refusal (550) is retried on the backoff like the others; the reason is the
    # server's answer.
    assert all(r["status"] == "failed" and r["attempts"] == MAX_ATTEMPTS for r in mail), mail
    assert all("550" in r["last_error"] or "unavailable" in r["last_error"] for r in mail), mail
    ok = [r for r in failure_run.listed_json if r["target"].endswith("/ok")]
    assert all(r["status"] == "sent" and r["last_error"] is None for r in ok), ok
    # After `coopwatch alerts retry`, every one was sent once more and recorded.
    assert all(r["status"] == "sent" for r in failure_run.rows_final)
    assert f"{len(failure_run.markers) * 4} alert(s) queued" in failure_run.outputs[2]
    mail_got = counts(smtp_receipts(failure_run.smtp))
    assert mail_got == Counter(dict.fromkeys(failure_run.markers, 1))


def test_secrets_in_apprise_urls_never_appear_in_logs_database_or_cli_output(
    failure_run: FailureRun,
) -> None:
    # The canary did reach the receivers (it is the password they were given) ...
    assert any(CANARY in pw for _, pw in failure_run.smtp.logins)
    assert any(
        CANARY in d.headers.get("x-api-token", "") for d in failure_run.hooks["err"].deliveries
    )
    # ... and nowhere else: not in worker or beat logs, any table, or the CLI's output.
    places = {
        "worker log": failure_run.logs[0],
        "beat log": failure_run.logs[1],
        "database": failure_run.db_text,
        **{f"cli output {i}": out for i, out in enumerate(failure_run.outputs)},
    }
    for where, content in places.items():
        assert content, f"{where} is empty: the check would prove nothing"
        assert CANARY not in content, where
        assert "5ecr3t" not in content, where
    assert "***" in failure_run.db_text  # the labels are redacted, not dropped


def test_an_invalid_apprise_url_is_refused_when_the_configuration_is_loaded(
    tmp_path: Path,
) -> None:
    config = tmp_path / "coopwatch.yaml"
    config.write_text(
        "feeds:\n"
        "  - url: http://127.0.0.1:9/feed.xml\n"
        "watchlists:\n"
        "  - name: w\n"
        "    match:\n"
        "      partners: [IR, CN]\n"
        "    notify:\n"
        '      - "json://127.0.0.1:9/ok"\n'
        f'      - "nosuchservice://cw:{CANARY}@example.org/x"\n',
        "utf-8",
    )
    env = coopwatch_env(config=str(config), database_url=f"sqlite:///{tmp_path / 'cw.db'}")
    checked = cli(env, "config", "check")
    assert checked.returncode == 2
    assert f"{config}:9: watchlists.0.notify.1: not a usable notification URL" in checked.stderr
    assert CANARY not in checked.stdout + checked.stderr


def test_a_celery_worker_with_an_invalid_apprise_url_exits_at_start(
    tmp_path: Path, broker: str
) -> None:
    config = tmp_path / "coopwatch.yaml"
    config.write_text(
        "feeds: []\nwatchlists:\n  - name: w\n    match: {partners: [IR]}\n"
        '    notify: ["nosuchservice://example.org/x"]\n',
        "utf-8",
    )
    env = coopwatch_env(
        config=str(config), database_url=f"sqlite:///{tmp_path / 'cw.db'}", broker_url=broker
    )
    worker = celery_worker(env, tmp_path)
    with running(worker):
        ended = threading.Event()

        def exited() -> bool:
            if worker.proc is not None and worker.proc.poll() is not None:
                ended.set()
            return ended.is_set()

        with contextlib.suppress(AssertionError):
            wait_for(exited, 15, "the worker to exit")
    assert ended.is_set(), "the worker kept running with an invalid configuration"
    assert worker.proc is not None and worker.proc.returncode not in (0, None)
    assert "nosuchservice" in worker.log_text()


def test_a_delivery_lease_not_above_the_delivery_timeout_is_refused() -> None:
    from pydantic import ValidationError  # noqa: PLC0415

    from worker.settings import Settings  # noqa: PLC0415

    with pytest.raises(ValidationError, match="delivery_lease_seconds"):
        Settings(delivery_lease_seconds=5, delivery_timeout_seconds=15)
