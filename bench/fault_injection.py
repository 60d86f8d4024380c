"""Repeated SIGKILL of the worker's process group during a run with hundreds of alerts.

    .venv/bin/python bench/fault_injection.py [--kills 30] [--items 300] [--feeds 6]
        [--min-delay 0.5] [--max-delay 4] [--receiver-delay 0.05] [--seed 1]

A real `celery worker` (prefork, 2 children) and `celery beat` run on a private Redis and a
fresh PostgreSQL database (the server on 127.0.0.1:5432, as the tests use). Feeds on a local
server grow by a slice of matching items before every kill, so polling, classification and
delivery are all under way when the kills land. Each kill SIGKILLs the worker's whole process
group at a random moment (``--min-delay``..``--max-delay`` s after it was ready) and starts it
again. A local webhook receiver counts receipts per alert (the article's marker is in the
body), so every duplicate is attributable.

For each kill the receipts and the database are snapshotted: a marker the receiver already had
while the database had not recorded it as sent is in the *send→record window* of that kill.
A duplicate outside every window would be a bug.

Not a test: it prints a table. Defaults finish in about five minutes on two cores.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import yaml
from sqlalchemy import Engine, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.processes import (  # noqa: E402
    GatedFeedSite,
    celery_beat,
    celery_worker,
    coopwatch_env,
    gated_feed_server,
    markers_in,
    matching_feed,
    private_redis,
    stopping,
    wait_for,
)
from tests.support.webhook_sink import WebhookSink, running_webhook_sink  # noqa: E402
from worker import migrations, store  # noqa: E402

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"


def receipts(sink: WebhookSink) -> Counter[str]:
    with sink.lock:
        bodies = [d.body for d in sink.deliveries]
    return Counter(m for b in bodies for m in markers_in(b.decode("utf-8", "replace")))


def sent_markers(engine: Engine) -> set[str]:
    sql = text(
        "select a.guid from deliveries d join alerts l on l.id = d.alert_id "
        "join articles a on a.id = l.article_id where d.status = 'sent'"
    )
    with engine.connect() as conn:
        return {row[0] for row in conn.execute(sql)}


def db_state(engine: Engine) -> dict[str, int]:
    sql = text(
        "select (select count(*) from articles), "
        "(select count(*) from articles where processed_at is null), "
        "(select count(*) from deliveries), "
        "(select count(*) from deliveries where status <> 'sent')"
    )
    with engine.connect() as conn:
        a, unprocessed, d, unsent = conn.execute(sql).one()
    return {"articles": a, "unprocessed": unprocessed, "deliveries": d, "unsent": unsent}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=30)
    parser.add_argument("--items", type=int, default=300, help="matching items (= alerts)")
    parser.add_argument("--feeds", type=int, default=6)
    parser.add_argument("--min-delay", type=float, default=0.5)
    parser.add_argument("--max-delay", type=float, default=4.0)
    parser.add_argument("--receiver-delay", type=float, default=0.05, help="s before 200 OK")
    parser.add_argument("--converge", type=float, default=300, help="max s to converge")
    parser.add_argument("--seed", type=int, default=1)
    return parser.parse_args()


class Feeds:
    """Feeds that grow by random slices of matching items; `expected` is every marker."""

    def __init__(self, site: GatedFeedSite, count: int, rng: random.Random) -> None:
        self.site, self.rng = site, rng
        self.sizes = {f"f{i}": 0 for i in range(count)}
        self.expected: set[str] = set()

    def grow(self, count: int) -> None:
        for _ in range(max(0, count)):
            self.sizes[self.rng.choice(list(self.sizes))] += 1
        for feed, size in self.sizes.items():
            body, markers = matching_feed(feed, size)
            self.site.put(f"/{feed}.xml", body)
            self.expected.update(markers)


def write_config(folder: Path, site: GatedFeedSite, feeds: Feeds, hook: WebhookSink) -> Path:
    config = folder / "coopwatch.yaml"
    body = {
        "feeds": [{"url": site.url(f"/{f}.xml")} for f in feeds.sizes],
        "watchlists": [
            {
                "name": "bench",
                "match": {"partners": ["IR", "RS"]},
                "notify": [f"json://{hook.hostport}/bench"],
            }
        ],
    }
    config.write_text(yaml.safe_dump(body), "utf-8")
    return config


def run(args: argparse.Namespace, db_url: str, engine: Engine, folder: Path) -> Result:
    rng = random.Random(args.seed)
    with (
        private_redis(folder) as redis,
        gated_feed_server() as site,
        running_webhook_sink() as hook,
    ):
        hook.mode, hook.hang_seconds = "hang", args.receiver_delay
        feeds = Feeds(site, args.feeds, rng)
        env = coopwatch_env(
            database_url=db_url,
            broker_url=redis.url,
            config=str(write_config(folder, site, feeds, hook)),
            allow_private_addresses="127.0.0.1",
            alert_on_first_poll="true",
            schedule_tick_seconds="1",
            sweep_tick_seconds="1",
            min_interval_seconds="1",
            max_interval_seconds="2",
            default_interval_seconds="1",
            claim_timeout_seconds="3",
            delivery_timeout_seconds="3",
            delivery_lease_seconds="5",
            sweep_grace_seconds="2",  # not a setting yet; ignored until it is
        )
        worker, beat = celery_worker(env, folder), celery_beat(env, folder)
        result = Result()
        per_round = max(1, args.items // max(1, args.kills))
        with stopping(worker, beat):
            beat.start()
            for k in range(args.kills):
                feeds.grow(min(per_round, args.items - len(feeds.expected)))
                worker.start()
                worker.wait_ready()
                time.sleep(rng.uniform(args.min_delay, args.max_delay))
                worker.kill()
                got, sent, state = receipts(hook), sent_markers(engine), db_state(engine)
                result.windows |= set(got) - sent
                polled = state["articles"] == len(feeds.expected) and not state["unprocessed"]
                phase = "delivery" if state["unsent"] else ("idle" if polled else "polling")
                result.kills[phase] += 1
                print(
                    f"kill {k + 1:3}/{args.kills}: {phase:8} articles {state['articles']:4}"
                    f"/{len(feeds.expected):4} sent {len(sent):4} received {len(got):4}",
                    flush=True,
                )
            feeds.grow(args.items - len(feeds.expected))
            worker.start()
            try:
                wait_for(
                    lambda: (
                        sent_markers(engine) >= feeds.expected
                        and set(receipts(hook)) >= feeds.expected
                    ),
                    args.converge,
                    "convergence",
                    interval=1,
                )
            except AssertionError as exc:
                print(f"NOT CONVERGED: {exc}")
            before = receipts(hook).total()
            time.sleep(5)  # a few sweeper ticks more: a late duplicate would show up
            result.late = receipts(hook).total() - before
        result.expected = set(feeds.expected)
        result.got = receipts(hook)
        result.state = db_state(engine)
    return result


@dataclass
class Result:
    expected: set[str] = field(default_factory=set)
    got: Counter[str] = field(default_factory=Counter)
    windows: set[str] = field(default_factory=set)  # markers caught between send and record
    kills: dict[str, int] = field(default_factory=lambda: {"delivery": 0, "polling": 0, "idle": 0})
    late: int = 0
    state: dict[str, int] = field(default_factory=dict)


def report(result: Result, seconds: float, folder: Path) -> int:
    got, expected = result.got, result.expected
    lost = expected - set(got)
    dups = {m: n - 1 for m, n in got.items() if n > 1}
    explained = {m for m in dups if m in result.windows}
    unexplained = set(dups) - explained
    rows = [
        ("alerts expected", len(expected)),
        ("alerts delivered (distinct)", len(set(got) & expected)),
        ("receipts at the receiver", got.total()),
        ("lost", len(lost)),
        ("duplicated alerts", len(dups)),
        ("extra receipts", sum(dups.values())),
        ("kills", sum(result.kills.values())),
        ("  during delivery", result.kills["delivery"]),
        ("  during polling/processing", result.kills["polling"]),
        ("  idle", result.kills["idle"]),
        ("duplicates in a send→record window", len(explained)),
        ("duplicates outside every window", len(unexplained)),
        ("receipts in the last 5 s (late)", result.late),
        ("deliveries not sent at the end", result.state["unsent"]),
        ("articles unprocessed at the end", result.state["unprocessed"]),
        ("wall time (s)", round(seconds)),
    ]
    width = max(len(r[0]) for r in rows)
    print()
    for label, value in rows:
        print(f"{label:<{width}}  {value:>6}")
    for m in sorted(dups):
        why = "send→record window" if m in explained else "UNEXPLAINED"
        print(f"  duplicate {m} x{got[m]}: {why}")
    if lost:
        print(f"  lost: {sorted(lost)[:20]}")
    print(f"logs: {folder}")
    return 1 if lost or unexplained else 0


def main() -> int:
    args = parse_args()
    name = f"coopwatch_fault_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    db_url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    migrations.upgrade(db_url)
    engine = store.make_engine(db_url)
    folder = Path(tempfile.mkdtemp(prefix="coopwatch-fault-"))
    started = time.monotonic()
    try:
        result = run(args, db_url, engine, folder)
    finally:
        engine.dispose()
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return report(result, time.monotonic() - started, folder)


if __name__ == "__main__":
    sys.exit(main())
