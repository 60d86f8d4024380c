"""Fetch-and-ingest benchmark: coopwatch's full pipeline and two peers on a local feed farm.

    .venv/bin/python bench/bench_feeds.py                       # N = 200 and 1,000
    .venv/bin/python bench/bench_feeds.py --sizes 200,1000,5000 --profile

What runs (each phase in a fresh process, except coopwatch-celery's worker; setup and imports
are not timed):

- the farm (``bench/feed_farm.py``, its own process): N feeds, RSS 2.0 and Atom, 20–50 items
  each, en/fr/fa/ar, about a third of them cooperation announcements; a webhook and an SMTP sink.
- ``coopwatch`` — the production path of the Celery tasks, run by a ``multiprocessing`` pool of
  2 worker processes (``--workers``) instead of Celery: the parent runs
  ``pipeline.schedule_due_feeds`` and hands each claimed batch to a worker
  (``pipeline.refresh_feeds``: conditional GET with aiohttp, parse, multi-row insert), then
  ``pipeline.process_articles`` per batch (classify, store, match, outbox) and
  ``pipeline.deliver`` (Apprise ``json://`` to the farm's webhook sink). Same functions, same
  order (FIFO queue) and the same per-task transactions as ``worker/tasks.py``; no broker, so
  the numbers measure coopwatch rather than Redis round trips. Each worker freezes the objects
  of its imports for the garbage collector, as the Celery worker does (``gc.freeze``).
  PostgreSQL database created for the run and dropped at the end.
- ``coopwatch-celery`` — the production topology: one real ``celery worker`` (prefork,
  ``--concurrency`` = ``--workers``, ``--loglevel=INFO``, both queues, as in
  ``docker-compose.yml``; more options with ``--celery-args``) on a private ``redis-server``
  (free port, no persistence) and its own PostgreSQL database, started once per N and kept for
  the three phases, as a running worker is. A phase rings the scheduler's doorbell once
  (``coopwatch.schedule_due_feeds``, as beat does; the task rings again while more is due)
  and ends when the broker holds no queued or unacknowledged message and the database no
  unprocessed article and no due delivery (checked every 10 ms). Feeds are made due by moving
  ``next_check_at`` into the past (untimed) instead of moving the clock. CPU is the worker's
  main process and pool children (children replaced meanwhile included); the broker's CPU
  is redis-server's.
- ``coopwatch-1p`` — ``pipeline.run_cycle`` (``coopwatch poll --once``) in one process,
  repeated until a cycle polls nothing.
- ``reader`` (PyPI, in a separate virtualenv): ``update_feeds(scheduled=False, workers=20)``,
  SQLite; it stores entries and sends no alerts.
- ``rss2email`` (PyPI, same virtualenv): ``r2e run --no-send`` for the cold poll (the
  documented way to skip a new feed's backlog; coopwatch does not alert on it either), then
  ``r2e run`` delivering one e-mail per new item to the farm's SMTP sink.

Phases: cold (first poll of every feed), warm (nothing changed: all 304), tick (10% of the
feeds gained 3 items; time until the alerts reached the sink). coopwatch's clock is moved on
7 hours per phase (beyond the 6-hour maximum interval) so every feed is due again.

Columns: wall s; CPU s of the tool (process + children; for the pool, the parent plus the CPU
of every task); CPU s of PostgreSQL's processes (coopwatch only; the peers use SQLite
in-process); CPU s of the broker (coopwatch-celery only); CPU ms per feed counts all three;
peak RSS (pool: parent + each worker); items stored; requests; alerts delivered
and the time from the poll's start to the last one; the farm's CPU share (is the farm the
bottleneck?); ratio of wall time to the fastest peer for the same N and phase.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import json
import os
import pstats
import resource
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PHASES = ("cold", "warm", "tick")
OFFSET_HOURS = {"cold": 0, "warm": 7, "tick": 14}
PEERS = ("reader", "rss2email")
TOOLS = ("coopwatch", "coopwatch-celery", "coopwatch-1p", *PEERS)
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PHASE_TIMEOUT = 3600


def _mb(kb: int) -> float:
    return kb / 1024  # ru_maxrss is in KiB on Linux


# =====================================================================================
# Phase runners: run in a fresh process (``--run-phase SPEC``), print one JSON line.
# Top-level imports are stdlib only: the peers' runners use the peers' virtualenv.
# =====================================================================================

_RT: Any = None  # the worker process's Runtime (pool mode)


def _cw_runtime(spec: dict[str, Any]) -> Any:
    import logging  # noqa: PLC0415
    from datetime import UTC, datetime, timedelta  # noqa: PLC0415

    from worker.pipeline import Runtime  # noqa: PLC0415
    from worker.runtime import build_runtime  # noqa: PLC0415
    from worker.settings import Settings  # noqa: PLC0415

    logging.basicConfig(level=logging.ERROR)
    settings = Settings(
        database_url=spec["db_url"],
        config=Path(spec["config"]),
        allow_private_addresses="127.0.0.1",
        alert_on_first_poll=False,
        feed_batch_size=spec["batch"],
        log_level="ERROR",
    )
    rt = build_runtime(settings)
    offset = timedelta(hours=spec["offset_h"])

    def clock() -> datetime:
        return datetime.now(UTC) + offset

    return Runtime(rt.settings, rt.config, rt.sessions, rt.notifier, clock)


def backend_cpu(dbname: str) -> dict[int, float]:
    """CPU seconds of each live PostgreSQL backend connected to ``dbname``, by pid."""
    ticks = os.sysconf("SC_CLK_TCK")
    found: dict[int, float] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            title = Path(entry.path, "cmdline").read_bytes()
            if f" {dbname} ".encode() not in title.replace(b"\0", b" "):
                continue
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        found[int(entry.name)] = (int(fields[11]) + int(fields[12])) / ticks  # utime + stime
    return found


def _db_cpu_since(spec: dict[str, Any], start: dict[int, float]) -> float:
    now = backend_cpu(spec["db_url"].rsplit("/", 1)[1])
    return sum(cpu - start.get(pid, 0.0) for pid, cpu in now.items())


def _w_init(spec: dict[str, Any]) -> None:
    global _RT  # noqa: PLW0603  (one runtime per worker process, as in worker/tasks.py)
    import gc  # noqa: PLC0415

    from sqlalchemy import text  # noqa: PLC0415

    from worker import pipeline, runtime  # noqa: F401, PLC0415  (imported before the freeze)
    from worker.core.classifier import classify  # noqa: PLC0415

    gc.freeze()  # as worker/celery_app.py does at worker_init, after the imports
    _RT = _cw_runtime(spec)
    classify("warm up", "Iran and China signed a memorandum on AI.")  # lexicon loaded once
    with _RT.sessions.begin() as session:  # a pooled connection, as a running worker has
        session.execute(text("select 1"))


def _w_stats(started: float) -> tuple[float, int, int]:
    return (
        time.process_time() - started,
        os.getpid(),
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    )


def _w_ping(_: int) -> int:
    time.sleep(0.2)
    return os.getpid()


def _w_refresh(feed_ids: list[int], token: str) -> tuple[Any, tuple[float, int, int]]:
    from worker import pipeline  # noqa: PLC0415

    started = time.process_time()
    outcome = pipeline.refresh_feeds(_RT, feed_ids, token)
    return (outcome.new_article_ids, outcome.polled, len(outcome.failed)), _w_stats(started)


def _w_process(article_ids: list[int]) -> tuple[Any, tuple[float, int, int]]:
    from worker import pipeline  # noqa: PLC0415

    started = time.process_time()
    return pipeline.process_articles(_RT, article_ids), _w_stats(started)


def _w_deliver(delivery_ids: list[int]) -> tuple[Any, tuple[float, int, int]]:
    from worker import pipeline  # noqa: PLC0415

    started = time.process_time()
    statuses = [pipeline.deliver(_RT, d).status for d in delivery_ids]
    return statuses, _w_stats(started)


@dataclass
class _PoolTally:
    cpu: float = 0.0
    new_articles: int = 0
    polled: int = 0
    failed: int = 0

    def __post_init__(self) -> None:
        self.rss: dict[int, int] = {}
        self.deliveries: dict[str, int] = {}

    def add(self, stats: tuple[float, int, int]) -> None:
        cpu, pid, rss = stats
        self.cpu += cpu
        self.rss[pid] = max(self.rss.get(pid, 0), rss)


def run_coopwatch_pool(spec: dict[str, Any]) -> dict[str, Any]:
    import multiprocessing  # noqa: PLC0415

    from worker import pipeline  # noqa: PLC0415

    workers = spec["workers"]
    ctx = multiprocessing.get_context("spawn")  # no database connection crosses a fork
    tally = _PoolTally()
    with ctx.Pool(workers, initializer=_w_init, initargs=(spec,)) as pool:
        pool.map(_w_ping, range(workers * 2))  # every worker initialised
        rt = _cw_runtime(spec)
        with rt.sessions.begin() as session:
            from sqlalchemy import text  # noqa: PLC0415

            session.execute(text("select 1"))
        db0 = backend_cpu(spec["db_url"].rsplit("/", 1)[1])
        started_at, t0, c0 = time.time(), time.perf_counter(), time.process_time()
        refreshes = []
        for _ in range(1000):  # bounded: at most 20 batches per call
            batches = pipeline.schedule_due_feeds(rt)
            if not batches:
                break
            refreshes += [pool.apply_async(_w_refresh, (b.feed_ids, b.token)) for b in batches]
        processes = []
        for job in refreshes:
            (ids, polled, failed), stats = job.get(timeout=PHASE_TIMEOUT)
            tally.add(stats)
            tally.new_articles += len(ids)
            tally.polled += polled
            tally.failed += failed
            if ids:
                processes.append(pool.apply_async(_w_process, (ids,)))
        deliveries = []
        for job in processes:
            delivery_ids, stats = job.get(timeout=PHASE_TIMEOUT)
            tally.add(stats)
            for i in range(0, len(delivery_ids), 10):  # 10 per task: less IPC than 1 per task
                deliveries.append(pool.apply_async(_w_deliver, (delivery_ids[i : i + 10],)))
        for job in deliveries:
            statuses, stats = job.get(timeout=PHASE_TIMEOUT)
            tally.add(stats)
            for status in statuses:
                tally.deliveries[status] = tally.deliveries.get(status, 0) + 1
        wall = time.perf_counter() - t0
        parent_cpu = time.process_time() - c0
        db_cpu = _db_cpu_since(spec, db0)
        rt.close()
    parent_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "started_at": started_at,
        "wall": wall,
        "cpu": parent_cpu + tally.cpu,
        "rss_mb": _mb(parent_rss + sum(tally.rss.values())),
        "items": tally.new_articles,
        "polled": tally.polled,
        "failed": tally.failed,
        "deliveries": tally.deliveries,
        "db_cpu": db_cpu,
        **_cw_check(spec),
    }


def run_coopwatch_single(spec: dict[str, Any]) -> dict[str, Any]:
    from worker import pipeline  # noqa: PLC0415
    from worker.core.classifier import classify  # noqa: PLC0415

    rt = _cw_runtime(spec)
    classify("warm up", "Iran and China signed a memorandum on AI.")
    profiler = cProfile.Profile() if spec.get("profile") else None
    polled = new = failed = 0
    deliveries: dict[str, int] = {}
    with rt.sessions.begin() as session:
        from sqlalchemy import text  # noqa: PLC0415

        session.execute(text("select 1"))
    db0 = backend_cpu(spec["db_url"].rsplit("/", 1)[1])
    started_at, t0, c0 = time.time(), time.perf_counter(), time.process_time()
    if profiler:
        profiler.enable()
    for _ in range(1000):  # run_cycle claims at most 20 batches: repeat until nothing is due
        summary = pipeline.run_cycle(rt)
        polled += summary.feeds_polled
        new += summary.new_articles
        failed += len(summary.feeds_failed)
        for status, n in summary.deliveries.items():
            deliveries[status] = deliveries.get(status, 0) + n
        if summary.feeds_polled == 0:
            break
    if profiler:
        profiler.disable()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    db_cpu = _db_cpu_since(spec, db0)
    rt.close()
    result = {
        "db_cpu": db_cpu,
        "started_at": started_at,
        "wall": wall,
        "cpu": cpu,
        "rss_mb": _mb(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss),
        "items": new,
        "polled": polled,
        "failed": failed,
        "deliveries": deliveries,
        **_cw_check(spec),
    }
    if profiler:
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out).strip_dirs()
        stats.sort_stats("tottime").print_stats(25)
        stats.sort_stats("cumulative").print_stats(45)
        Path(spec["profile"]).write_text(out.getvalue(), "utf-8")
    return result


# -- coopwatch-celery: real `celery worker` processes on a private Redis ----------------------


def proc_cpu(pid: int) -> float:
    """CPU seconds of a process, with its children that ended and were waited for."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")  # u+s, cu+cs


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                stat = Path(entry.path, "stat").read_text()
                if int(stat[stat.rindex(")") + 2 :].split()[1]) == pid:
                    found.append(int(entry.name))
    return found


def tree_cpu(pid: int) -> float:
    """CPU seconds of a Celery worker: its main process, live pool children and ended ones
    (a child replaced after max_tasks_per_child is counted in the parent's children time)."""
    total = proc_cpu(pid)
    for child in _children(pid):
        with contextlib.suppress(OSError):
            total += proc_cpu(child)
    return total


def tree_peak_rss_kb(pid: int) -> int:
    total = 0
    for p in (pid, *_children(pid)):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1])
    return total


def _broker_idle(broker: Any) -> bool:
    """No message queued, reserved or running (acks are late: a running task's message stays
    unacknowledged, and it sends its follow-up tasks before it returns)."""
    queued = sum(broker.llen(k) for k in broker.keys("*") if broker.type(k) == b"list")
    return queued == 0 and broker.hlen("unacked") == 0


def run_coopwatch_celery(spec: dict[str, Any]) -> dict[str, Any]:
    """One phase through the worker that ``run_tool`` started: ring the scheduler's doorbell
    once (as beat does) and wait until the broker is idle and the database has nothing left
    to do. The worker's COOPWATCH_* environment is this process's too."""
    from datetime import UTC, datetime  # noqa: PLC0415

    import redis  # noqa: PLC0415
    from sqlalchemy import create_engine, text  # noqa: PLC0415

    from worker.celery_app import app  # noqa: PLC0415

    broker = redis.Redis.from_url(spec["broker_url"])
    engine = create_engine(spec["db_url"])
    with engine.begin() as conn:  # untimed: every feed due again (the pool moves its clock)
        conn.execute(text("update feeds set next_check_at = now() - interval '1 second'"))
        articles_before = conn.execute(text("select count(*) from articles")).scalar_one()
    assert _broker_idle(broker), "the broker holds messages before the phase"
    db0 = backend_cpu(spec["db_url"].rsplit("/", 1)[1])
    cpu0, broker0 = tree_cpu(spec["worker_pid"]), proc_cpu(spec["broker_pid"])
    main0 = proc_cpu(spec["worker_pid"])
    started_at, t0 = time.time(), time.perf_counter()
    app.send_task("coopwatch.schedule_due_feeds")
    done_at = None
    while time.perf_counter() - t0 < PHASE_TIMEOUT:  # bounded; polls every 10 ms
        time.sleep(0.01)
        if not _broker_idle(broker):
            done_at = None
            continue
        done_at = done_at or time.perf_counter()
        if time.perf_counter() - done_at < 0.05:
            continue  # idle for 50 ms in a row: no message between a BRPOP and its ack entry
        with engine.connect() as conn:
            busy = conn.execute(
                text(
                    "select (select count(*) from articles where processed_at is null)"
                    " + (select count(*) from deliveries where status in ('pending', 'sending')"
                    " and next_attempt_at <= now())"
                )
            ).scalar_one()
        if busy == 0:
            break
        done_at = None
    else:
        raise RuntimeError(f"coopwatch-celery {spec['phase']}: not idle after {PHASE_TIMEOUT} s")
    wall = done_at - t0
    cpu = tree_cpu(spec["worker_pid"]) - cpu0
    main_cpu = proc_cpu(spec["worker_pid"]) - main0
    broker_cpu = proc_cpu(spec["broker_pid"]) - broker0
    db_cpu = _db_cpu_since(spec, db0)
    since = datetime.fromtimestamp(started_at, UTC)
    with engine.connect() as conn:
        polled, failed = conn.execute(
            text(
                "select count(*), count(*) filter (where status <> 'active') from feeds"
                " where last_polled_at >= :since"
            ),
            {"since": since},
        ).one()
        items = conn.execute(text("select count(*) from articles")).scalar_one() - articles_before
        deliveries = dict(
            conn.execute(
                text(
                    "select status, count(*) from deliveries where created_at >= :since"
                    " group by status"
                ),
                {"since": since},
            ).all()
        )
    engine.dispose()
    return {
        "started_at": started_at,
        "wall": wall,
        "cpu": cpu,
        "broker_cpu": broker_cpu,
        "worker_main_cpu": main_cpu,  # the Celery main process (and pool children replaced)
        "rss_mb": _mb(tree_peak_rss_kb(spec["worker_pid"])),
        "items": items,
        "polled": polled,
        "failed": failed,
        "deliveries": deliveries,
        "db_cpu": db_cpu,
        **_cw_check(spec),
    }


def _cw_check(spec: dict[str, Any]) -> dict[str, Any]:
    """Untimed: what the database holds after the phase (every article processed?)."""
    from sqlalchemy import create_engine, text  # noqa: PLC0415

    engine = create_engine(spec["db_url"])
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "select count(*), count(*) filter (where processed_at is null), "
                "(select count(*) from classifications), (select count(*) from alerts) "
                "from articles"
            )
        ).one()
    engine.dispose()
    return {
        "db_articles": row[0],
        "db_unprocessed": row[1],
        "db_classified": row[2],
        "db_alerts": row[3],
    }


def run_reader(spec: dict[str, Any]) -> dict[str, Any]:
    from reader import make_reader  # noqa: PLC0415

    urls = Path(spec["urls"]).read_text("utf-8").split()
    reader = make_reader(spec["db_path"])
    if spec["phase"] == "cold":
        for url in urls:
            reader.add_feed(url, exist_ok=True)
    before = reader.get_entry_counts().total
    started_at, t0, c0 = time.time(), time.perf_counter(), time.process_time()
    reader.update_feeds(scheduled=False, workers=spec["workers"])
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    after = reader.get_entry_counts().total
    broken = sum(1 for f in reader.get_feeds() if f.last_exception)
    reader.close()
    return {
        "started_at": started_at,
        "wall": wall,
        "cpu": cpu,
        "rss_mb": _mb(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss),
        "items": after - before,
        "polled": len(urls),
        "failed": broken,
        "deliveries": {},
    }


def _r2e_seen(data: Path) -> int:
    feeds = json.loads(data.read_text("utf-8")).get("feeds", [])
    return sum(len(f.get("seen") or {}) for f in feeds)


def run_rss2email(spec: dict[str, Any]) -> dict[str, Any]:
    workdir = Path(spec["dir"])
    data = workdir / "data.json"
    before = _r2e_seen(data)
    command = [spec["r2e"], "-c", str(workdir / "config"), "-d", str(data), "run"]
    if spec["phase"] == "cold":
        command.append("--no-send")
    usage0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    started_at, t0 = time.time(), time.perf_counter()
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=PHASE_TIMEOUT, check=False
    )
    wall = time.perf_counter() - t0
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    errors = [line for line in done.stderr.splitlines() if "[ERROR]" in line]
    return {
        "started_at": started_at,
        "wall": wall,
        "cpu": (usage.ru_utime - usage0.ru_utime) + (usage.ru_stime - usage0.ru_stime),
        "rss_mb": _mb(usage.ru_maxrss),
        "items": _r2e_seen(data) - before,
        "polled": spec["n"],
        "failed": len(errors),
        "exit": done.returncode,
        "deliveries": {},
    }


def run_phase(spec: dict[str, Any]) -> dict[str, Any]:
    if spec.get("repo"):
        sys.path.insert(0, spec["repo"])
    runner = {
        "coopwatch": run_coopwatch_pool,
        "coopwatch-celery": run_coopwatch_celery,
        "coopwatch-1p": run_coopwatch_single,
        "reader": run_reader,
        "rss2email": run_rss2email,
    }[spec["tool"]]
    return runner(spec)


# =====================================================================================
# The orchestrator.
# =====================================================================================


class FarmProcess:
    def __init__(self, python: str, args: list[str]) -> None:
        self.proc = subprocess.Popen(
            [python, str(HERE / "feed_farm.py"), "--feeds", "0", *args],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()  # the farm prints one line when it listens
        if not line:
            raise RuntimeError("the feed farm did not start")
        ports = json.loads(line)
        self.http, self.smtp = ports["http"], ports["smtp"]
        self.base = f"http://127.0.0.1:{self.http}"

    def call(self, method: str, path: str) -> dict[str, Any]:
        request = urllib.request.Request(
            self.base + path, method=method, data=b"" if method == "POST" else None
        )
        with urllib.request.urlopen(request, timeout=300) as answer:
            data: dict[str, Any] = json.load(answer)
            return data

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)


def free_port() -> int:
    import socket  # noqa: PLC0415

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _stop_group(proc: subprocess.Popen[bytes], seconds: float) -> None:
    """SIGTERM (a Celery worker's warm shutdown), then SIGKILL of the whole process group."""
    import signal  # noqa: PLC0415

    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # pool children left behind, if any


@contextlib.contextmanager
def private_redis(folder: Path) -> Iterator[tuple[str, int]]:
    """A redis-server of our own (no persistence) on a free port: nothing shared with tests
    or with the Redis on 6379. Yields (URL, pid)."""
    exe = shutil.which("redis-server")
    if exe is None:
        raise RuntimeError("coopwatch-celery needs redis-server on PATH")
    port = free_port()
    args = [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    with (folder / "redis.log").open("ab") as log:
        proc = subprocess.Popen(
            [*args, "--dir", str(folder)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        import redis  # noqa: PLC0415

        client = redis.Redis(port=port)
        for _ in range(300):  # bounded: 30 s
            with contextlib.suppress(redis.ConnectionError):
                if client.ping():
                    break
            time.sleep(0.1)
        else:
            raise RuntimeError("the private redis-server did not answer")
        client.close()
        yield f"redis://127.0.0.1:{port}/0", proc.pid
    finally:
        _stop_group(proc, 10)


@contextlib.contextmanager
def celery_worker(
    env: dict[str, str], folder: Path, concurrency: int, extra_args: list[str]
) -> Iterator[int]:
    """`celery worker` as deployed (docker-compose.yml: --loglevel=INFO --concurrency=2),
    consuming both queues; yields the main process's pid once it is ready."""
    log_path = folder / "celery-worker.log"
    command = [sys.executable, "-m", "celery", "-A", "worker.celery_app", "worker"]
    command += ["--loglevel=INFO", f"--concurrency={concurrency}", "--hostname=bench@%h"]
    command += extra_args
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            command,
            env=env,
            cwd=folder,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        for _ in range(1200):  # bounded: 120 s
            if " ready." in log_path.read_text("utf-8", "replace"):
                break
            if proc.poll() is not None:
                raise RuntimeError(f"celery worker exited: {log_path.read_text()[-3000:]}")
            time.sleep(0.1)
        else:
            raise RuntimeError("celery worker not ready after 120 s")
        yield proc.pid
    finally:
        _stop_group(proc, 60)


@contextlib.contextmanager
def fresh_database(keep: bool) -> Iterator[str]:
    from sqlalchemy import create_engine, text  # noqa: PLC0415

    name = f"coopwatch_bench_{secrets.token_hex(4)}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'create database "{name}"'))
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    try:
        from worker.migrations import upgrade  # noqa: PLC0415

        upgrade(url)
        yield url
    finally:
        if not keep:
            with admin.connect() as conn:
                conn.execute(text(f'drop database if exists "{name}" with (force)'))
        admin.dispose()


def ensure_peers(venv: Path) -> Path:
    python = venv / "bin" / "python"
    if not python.exists():
        print(f"creating {venv} and installing reader and rss2email from PyPI ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
        subprocess.run(
            # reader's vendored feedparser imports sgmllib, which only sgmllib3k provides
            [str(venv / "bin" / "pip"), "install", "-q", "reader", "rss2email", "sgmllib3k"],
            check=True,
            timeout=900,
        )
    return python


def farm_capacity(farm: FarmProcess, n: int, seconds: float = 3.0) -> dict[str, float]:
    """Requests/s the farm serves to an aiohttp client with 100 connections (half 304s)."""
    import asyncio  # noqa: PLC0415

    import aiohttp  # noqa: PLC0415

    async def load() -> int:
        done = 0
        deadline = time.perf_counter() + seconds
        etags: dict[int, str] = {}
        connector = aiohttp.TCPConnector(limit=100)
        async with aiohttp.ClientSession(connector=connector) as session:

            async def one(k: int) -> None:
                nonlocal done
                for i in range(k, 10**7, 100):  # bounded by the deadline
                    if time.perf_counter() > deadline:
                        return
                    index = i % n
                    headers = {"If-None-Match": etags[index]} if i % 2 and index in etags else {}
                    async with session.get(f"{farm.base}/feeds/{index}.xml", headers=headers) as r:
                        await r.read()
                        etags[index] = r.headers.get("ETag", "")
                    done += 1

            await asyncio.gather(*(one(k) for k in range(100)))
        return done

    before = farm.call("GET", "/_stats")
    t0 = time.perf_counter()
    done = asyncio.run(load())
    wall = time.perf_counter() - t0
    after = farm.call("GET", "/_stats")
    return {"rps": done / wall, "farm_cpu_share": (after["cpu"] - before["cpu"]) / wall}


def write_coopwatch_config(path: Path, urls: list[str], sink: str) -> None:
    lines = ["feeds:"]
    lines += [f"  - url: {u}\n    name: farm-{i}" for i, u in enumerate(urls)]
    lines += [
        "watchlists:",
        "  - name: iran-china",
        "    match: {partners: [IR, CN]}",
        f'    notify: ["json://{sink}/_sink/iran-china"]',
        "  - name: iran-russia",
        "    match: {partners_any: [IR+RU]}",
        f'    notify: ["json://{sink}/_sink/iran-russia"]',
        "  - name: ai-memorandum",
        '    match: {keywords: ["memorandum", "protocole d\'accord", "تفاهم‌نامه", "مذكرة تفاهم"],'
        " sectors: [ai]}",
        f'    notify: ["json://{sink}/_sink/ai-memorandum"]',
    ]
    path.write_text("\n".join(lines) + "\n", "utf-8")


def write_r2e(workdir: Path, r2e: str, urls: list[str], smtp_port: int) -> None:
    config, data = workdir / "config", workdir / "data.json"
    subprocess.run(
        [r2e, "-c", str(config), "-d", str(data), "new", "alerts@example.org"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    text = config.read_text("utf-8")
    for key, value in {
        "email-protocol": "smtp",
        "smtp-server": "127.0.0.1",
        "smtp-port": str(smtp_port),
        "smtp-auth": "False",
        "smtp-ssl": "False",
        "verbose": "warning",
        "feed-timeout": "60",
    }.items():
        head, sep, tail = text.partition(f"\n{key} = ")
        assert sep, key
        text = head + sep + value + "\n" + tail.split("\n", 1)[1]
    text += "".join(f"\n[feed.f{i}]\nurl = {u}\n" for i, u in enumerate(urls))
    config.write_text(text, "utf-8")
    feeds = [
        {"name": f"f{i}", "etag": None, "modified": None, "seen": {}} for i in range(len(urls))
    ]
    data.write_text(json.dumps({"version": 2, "feeds": feeds}), "utf-8")


def _start_celery_topology(
    stack: contextlib.ExitStack,
    args: argparse.Namespace,
    base: dict[str, Any],
    env: dict[str, str],
    workdir: Path,
) -> dict[str, str]:
    """A private redis-server and one `celery worker`, kept for the three phases as in
    production; returns the COOPWATCH_* environment the phases use too."""
    base["broker_url"], base["broker_pid"] = stack.enter_context(private_redis(workdir))
    env = {k: v for k, v in env.items() if not k.startswith("COOPWATCH_")}
    env |= {
        "COOPWATCH_DATABASE_URL": base["db_url"],
        "COOPWATCH_BROKER_URL": base["broker_url"],
        "COOPWATCH_CONFIG": base["config"],
        "COOPWATCH_ALLOW_PRIVATE_ADDRESSES": "127.0.0.1",
        "COOPWATCH_ALERT_ON_FIRST_POLL": "false",
        "COOPWATCH_FEED_BATCH_SIZE": str(args.batch),
    }
    extra = args.celery_args.split()
    base["worker_pid"] = stack.enter_context(celery_worker(env, workdir, args.workers, extra))
    return env


def run_tool(
    args: argparse.Namespace, farm: FarmProcess, tool: str, n: int, work: Path, peers_python: Path
) -> list[dict[str, Any]]:
    farm.call("POST", f"/_control/reset?feeds={n}")  # same content and ticks for every tool
    urls = [f"{farm.base}/feeds/{i}.xml" for i in range(n)]
    workdir = work / f"{tool}-{n}"
    workdir.mkdir(parents=True)
    (workdir / "urls.txt").write_text("\n".join(urls), "utf-8")
    base: dict[str, Any] = {"tool": tool, "n": n, "repo": args.repo}
    python = str(peers_python) if tool in PEERS else sys.executable
    if tool in PEERS:
        base |= {"urls": str(workdir / "urls.txt"), "workers": args.reader_workers}
        base |= {"db_path": str(workdir / "reader.sqlite"), "dir": str(workdir)}
        base["r2e"] = str(peers_python.parent / "r2e")
        if tool == "rss2email":
            write_r2e(workdir, base["r2e"], urls, farm.smtp)
    rows: list[dict[str, Any]] = []
    env = dict(os.environ)
    if args.repo:
        env["PYTHONPATH"] = args.repo
    with contextlib.ExitStack() as stack:
        if tool.startswith("coopwatch"):
            base["db_url"] = stack.enter_context(fresh_database(args.keep_db))
            base["config"] = str(workdir / "coopwatch.yaml")
            base |= {"batch": args.batch, "workers": args.workers}
            write_coopwatch_config(Path(base["config"]), urls, f"127.0.0.1:{farm.http}")
        if tool == "coopwatch-celery":
            env = _start_celery_topology(stack, args, base, env, workdir)
        for phase in PHASES:
            if phase == "tick":
                farm.call("POST", "/_control/tick")
            spec = base | {"phase": phase, "offset_h": OFFSET_HOURS[phase]}
            profiled = args.profile and tool == "coopwatch-1p" and phase != "tick"
            if profiled and n == max(args.sizes):
                spec["profile"] = str(work / f"profile-{phase}-{n}.txt")
            before = farm.call("GET", "/_stats")
            done = subprocess.run(
                [python, __file__, "--run-phase", json.dumps(spec)],
                capture_output=True,
                text=True,
                timeout=PHASE_TIMEOUT,
                check=False,
                env=env,
            )
            if done.returncode != 0 or not done.stdout.strip():
                print(done.stdout[-3000:], done.stderr[-5000:], file=sys.stderr)
                raise RuntimeError(f"{tool} {n} {phase} failed (exit {done.returncode})")
            result = json.loads(done.stdout.strip().splitlines()[-1])
            time.sleep(0.3)  # let the sinks count the last messages
            after = farm.call("GET", "/_stats")
            result |= {"tool": tool, "n": n, "phase": phase, "profiled": "profile" in spec}
            result.setdefault("db_cpu", 0.0)  # the peers use SQLite, inside their process
            result.setdefault("broker_cpu", 0.0)
            result["requests"] = after["requests"] - before["requests"]
            result["farm_cpu"] = after["cpu"] - before["cpu"]
            sent = (after["webhook"] - before["webhook"]) + (after["smtp"] - before["smtp"])
            last = max(t for t in (after["webhook_last"], after["smtp_last"], 0) if t is not None)
            result["alerts"] = sent
            result["alert_latency"] = last - result["started_at"] if sent else None
            rows.append(result)
            print(_progress(result), flush=True)
    return rows


def _progress(r: dict[str, Any]) -> str:
    extra = f" deliveries={r['deliveries']}" if r.get("deliveries") else ""
    if "worker_main_cpu" in r:
        extra += f" celery_main_cpu={r['worker_main_cpu']:.2f}s"
    if "db_unprocessed" in r:
        extra += f" unprocessed={r['db_unprocessed']} alerts_in_db={r['db_alerts']}"
    return (
        f"  {r['tool']:>16} N={r['n']:<5} {r['phase']:<4} wall={r['wall']:.2f}s cpu={r['cpu']:.2f}s"
        f" db_cpu={r['db_cpu']:.2f}s broker_cpu={r['broker_cpu']:.2f}s items={r['items']}"
        f" polled={r['polled']} failed={r['failed']}"
        f" requests={r['requests']} alerts={r['alerts']}{extra}"
    )


def print_table(rows: list[dict[str, Any]], sizes: list[int]) -> None:
    fastest: dict[tuple[int, str], float] = {}
    for r in rows:
        if r["tool"] in PEERS:
            key = (r["n"], r["phase"])
            fastest[key] = min(fastest.get(key, float("inf")), r["wall"])
    print(
        "\n| tool | N | phase | wall s | CPU s | DB CPU s | broker CPU s | CPU ms/feed "
        "| peak RSS MB | items "
        "| items/s | requests | req/s | alerts | last alert after s | farm CPU % "
        "| × fastest peer |"
    )
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    order = {t: i for i, t in enumerate(TOOLS)}
    for r in sorted(rows, key=lambda r: (r["n"], PHASES.index(r["phase"]), order[r["tool"]])):
        peer = fastest.get((r["n"], r["phase"]))
        ratio = f"{r['wall'] / peer:.2f}" if peer else "–"
        latency = f"{r['alert_latency']:.2f}" if r["alert_latency"] is not None else "–"
        cpu_total = r["cpu"] + r["db_cpu"] + r["broker_cpu"]
        name = r["tool"] + (" (under cProfile)" if r.get("profiled") else "")
        print(
            f"| {name} | {r['n']} | {r['phase']} | {r['wall']:.2f} | {r['cpu']:.2f} "
            f"| {r['db_cpu']:.2f} | {r['broker_cpu']:.2f} "
            f"| {1000 * cpu_total / max(r['polled'], 1):.2f} "
            f"| {r['rss_mb']:.0f} | {r['items']} | {r['items'] / r['wall']:.0f} "
            f"| {r['requests']} | {r['requests'] / r['wall']:.0f} | {r['alerts']} | {latency} "
            f"| {100 * r['farm_cpu'] / r['wall']:.0f} | {ratio} |"
        )
    if len(sizes) > 1:
        lo, hi = min(sizes), max(sizes)
        print(
            f"\nGrowth from N={lo} to N={hi} (×{hi / lo:g} feeds): wall-time factor, "
            "ms of wall per feed at each N"
        )
        print("\n| tool | phase | wall factor | ms/feed at lo | ms/feed at hi |")
        print("|---|---|---:|---:|---:|")
        by = {(r["tool"], r["n"], r["phase"]): r for r in rows}
        for tool in TOOLS:
            for phase in PHASES:
                a, b = by.get((tool, lo, phase)), by.get((tool, hi, phase))
                if a and b:
                    print(
                        f"| {tool} | {phase} | {b['wall'] / a['wall']:.2f} "
                        f"| {1000 * a['wall'] / lo:.2f} | {1000 * b['wall'] / hi:.2f} |"
                    )
    print("\nTargets (coopwatch in a pool of workers, and as real Celery workers on Redis):")
    for r in rows:
        if r["tool"] in ("coopwatch", "coopwatch-celery"):
            print(_verdict(r, fastest.get((r["n"], r["phase"]))))


def _verdict(r: dict[str, Any], peer: float | None) -> str:
    who = f"- {r['tool']} N={r['n']}"
    if r["phase"] == "cold":
        if peer is None:
            return f"{who} cold {r['wall']:.2f} s (no peer measured)"
        verdict = "met" if r["wall"] <= peer else "NOT met"
        return f"{who} cold {r['wall']:.2f} s vs fastest peer {peer:.2f} s: {verdict}"
    if r["phase"] == "warm":
        polled = max(r["polled"], 1)
        per = 1000 * (r["cpu"] + r["db_cpu"] + r["broker_cpu"]) / polled
        own = 1000 * r["cpu"] / polled
        verdict = "met" if per < 1 else "NOT met"
        return (
            f"{who} warm CPU {per:.2f} ms/feed incl. PostgreSQL and the broker ({own:.2f} ms "
            f"coopwatch alone), target < 1 ms: {verdict}"
        )
    lat = r["alert_latency"]
    verdict = "met" if lat is not None and lat <= 5 else "NOT met"
    shown = f"{lat:.2f} s" if lat is not None else "no alert"
    return (
        f"{who} tick: {r['alerts']} alerts, last delivered {shown} after the poll started, "
        f"target <= 5 s: {verdict}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sizes", default="200,1000", help="comma-separated feed counts")
    parser.add_argument("--tools", default=",".join(TOOLS))
    parser.add_argument("--workers", type=int, default=2, help="coopwatch worker processes")
    parser.add_argument("--batch", type=int, default=50, help="coopwatch feed_batch_size")
    parser.add_argument("--reader-workers", type=int, default=20)
    parser.add_argument("--peers-venv", default="/tmp/peers-venv")
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--error-rate", type=float, default=0.0)
    parser.add_argument(
        "--profile",
        action="store_true",
        help="cProfile coopwatch-1p's cold and warm polls at the largest N",
    )
    parser.add_argument(
        "--repo", default="", help="coopwatch checkout to import (default: installed)"
    )
    parser.add_argument(
        "--celery-args",
        default="",
        help="more `celery worker` options for coopwatch-celery, e.g. '--prefetch-multiplier=4'",
    )
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument(
        "--keep-work", action="store_true", help="keep the work folder (Celery worker log, configs)"
    )
    parser.add_argument("--json", default="", help="also write the rows to this file")
    parser.add_argument("--run-phase", default="", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.run_phase:
        print(json.dumps(run_phase(json.loads(args.run_phase))), flush=True)
        return 0
    args.sizes = [int(s) for s in args.sizes.split(",") if s]
    tools = [t for t in args.tools.split(",") if t]
    unknown = set(tools) - set(TOOLS)
    if unknown:
        parser.error(f"unknown tools {sorted(unknown)}; known: {TOOLS}")
    if args.repo:
        sys.path.insert(0, args.repo)
    peers_python = ensure_peers(Path(args.peers_venv)) if set(tools) & set(PEERS) else Path()
    farm = FarmProcess(
        sys.executable, ["--latency-ms", str(args.latency_ms), "--error-rate", str(args.error_rate)]
    )
    work = Path(tempfile.mkdtemp(prefix="coopwatch-bench-"))
    rows: list[dict[str, Any]] = []
    try:
        farm.call("POST", f"/_control/reset?feeds={max(args.sizes)}")
        capacity = farm_capacity(farm, max(args.sizes))
        print(
            f"farm capacity: {capacity['rps']:.0f} requests/s to an aiohttp client with 100 "
            f"connections (half 304s), farm process at {100 * capacity['farm_cpu_share']:.0f}% "
            "of one core (client on the same 2 cores)",
            flush=True,
        )
        for n in args.sizes:
            for tool in tools:
                rows += run_tool(args, farm, tool, n, work, peers_python)
    finally:
        farm.stop()
        if args.json:
            Path(args.json).write_text(json.dumps(rows, indent=1), "utf-8")
        if rows:
            print_table(rows, args.sizes)
        for profile in sorted(work.glob("profile-*.txt")):
            print(f"\ncProfile of coopwatch-1p ({profile.name}):\n")
            print(profile.read_text("utf-8"))
        if args.keep_work:
            print(f"\nwork folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
