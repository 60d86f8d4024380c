"""The production topology without Docker: real PostgreSQL, real Redis, a real `celery worker`
(prefork) and a real `celery beat` process; feeds over HTTP from a local server; alerts by
e-mail to a local SMTP server and by webhook to a local receiver, through Apprise."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select

from models import Article, Feed
from tests.conftest import SEEDS
from tests.support.feed_server import FeedSite, feed_server
from tests.support.smtp_sink import SmtpSink, running_smtp_sink
from tests.support.webhook_sink import WebhookSink, running_webhook_sink
from worker import store

pytestmark = pytest.mark.timeout(240)
ROOT = Path(__file__).resolve().parents[2]
CELERY = [sys.executable, "-m", "celery", "-A", "worker.celery_app"]


def seed(name: str) -> tuple[str, str]:
    """(title, first ~1,500 characters of body) of a seed article; the first line is its title."""
    text = next(SEEDS.glob(f"{name}_*.txt")).read_text("utf-8").strip()
    title, _, body = text.partition("\n")
    return title.strip(), body.strip()[:1500]


def rss2(items: list[tuple[str, str, str]], lang: str) -> bytes:
    from xml.sax.saxutils import escape  # noqa: PLC0415

    body = "".join(
        f"<item><guid>{escape(g)}</guid><title>{escape(t)}</title>"
        f"<link>https://news.example/{escape(g)}</link><description>{escape(d)}</description>"
        "<pubDate>Mon, 02 Nov 2026 10:00:00 GMT</pubDate></item>"
        for g, t, d in items
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>RSS</title>'
        f"<link>https://news.example/</link><language>{lang}</language>{body}</channel></rss>"
    ).encode()


def atom(items: list[tuple[str, str, str]], lang: str) -> bytes:
    from xml.sax.saxutils import escape  # noqa: PLC0415

    body = "".join(
        f"<entry><id>urn:x:{escape(g)}</id><title>{escape(t)}</title>"
        f'<link href="https://news.example/{escape(g)}"/><updated>2026-11-02T10:00:00Z</updated>'
        f"<summary>{escape(d)}</summary></entry>"
        for g, t, d in items
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom" '
        f'xml:lang="{lang}"><title>Atom</title><id>urn:x:feed</id>'
        f"<updated>2026-11-02T10:00:00Z</updated>{body}</feed>"
    ).encode()


def rss1(items: list[tuple[str, str, str]]) -> bytes:
    from xml.sax.saxutils import escape  # noqa: PLC0415

    refs = "".join(f'<rdf:li rdf:resource="https://news.example/{g}"/>' for g, _, _ in items)
    body = "".join(
        f'<item rdf:about="https://news.example/{escape(g)}"><title>{escape(t)}</title>'
        f"<link>https://news.example/{escape(g)}</link><description>{escape(d)}</description>"
        "</item>"
        for g, t, d in items
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
        'xmlns="http://purl.org/rss/1.0/"><channel rdf:about="https://news.example/">'
        "<title>RDF</title><link>https://news.example/</link><description>d</description>"
        f"<items><rdf:Seq>{refs}</rdf:Seq></items></channel>{body}</rdf:RDF>"
    ).encode()


FR_IR_CN = (
    "fr-ir-cn",
    "L'Iran et la Chine renforcent leur coopération dans l'intelligence artificielle",
    "Le ministre iranien des Communications a rencontré mardi à Téhéran l'ambassadeur de Chine. "
    "Les deux parties ont souligné la nécessité d'élargir la coopération bilatérale dans les "
    "domaines de l'intelligence artificielle et des infrastructures de communication.",
)
EN_IR_RS = (
    "en-ir-rs",
    "Iran and Serbia sign memorandum on cooperation in information technology",
    "Iran's Minister of Communications and Serbia's Minister of Information signed a memorandum "
    "of understanding in Belgrade on cooperation in information technology and cybersecurity.",
)
EN_WEATHER = (
    "en-weather",
    "Heavy rain expected in Tehran on Friday",
    "The national weather service forecasts heavy rain and cooler temperatures for the capital.",
)
FR_FOOTBALL = (
    "fr-foot",
    "Football : Esteghlal bat Persépolis dans le derby de Téhéran",
    "Le club d'Esteghlal a battu Persépolis deux buts à un dimanche soir, devant le public.",
)


def wait_for(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out after {seconds} s waiting for {what}")


@pytest.fixture
def services() -> Iterator[tuple[FeedSite, SmtpSink, WebhookSink]]:
    with feed_server() as site, running_smtp_sink() as smtp, running_webhook_sink() as hook:
        yield site, smtp, hook


def coopwatch_env(pg_url: str, redis_url: str, folder: Path, **extra: str) -> dict[str, str]:
    """The environment of a worker or beat of these tests (config in `folder`)."""
    return dict(
        os.environ,
        COOPWATCH_DATABASE_URL=pg_url,
        COOPWATCH_BROKER_URL=redis_url,
        COOPWATCH_CONFIG=str(folder / "coopwatch.yaml"),
        COOPWATCH_ALLOW_PRIVATE_ADDRESSES="127.0.0.1",
        **extra,
    )


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as handle:  # the child keeps its own descriptor
        return subprocess.Popen(
            [*CELERY, *args],
            env=env,
            cwd=ROOT,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def test_worker_and_beat_on_redis_and_postgres_deliver_each_alert_once(
    tmp_path: Path, pg_url: str, redis_url: str, services: tuple[FeedSite, SmtpSink, WebhookSink]
) -> None:
    site, smtp, hook = services
    ar_ir_cn = seed("000")
    ar_weather = ("ar-weather", "طقس الجمعة", "أمطار غزيرة متوقعة في طهران يوم الجمعة")
    site.put("/ar.xml", rss2([("ar-ir-cn", *ar_ir_cn), ar_weather], "ar"))
    site.put("/fr.atom", atom([FR_IR_CN, FR_FOOTBALL], "fr"), "application/atom+xml")
    site.put("/en.rdf", rss1([EN_IR_RS, EN_WEATHER]), "application/rdf+xml")
    mail = f"mailto://cw:CANARY-pass@127.0.0.1:{smtp.port}?to=desk@example.org&from=cw@example.org"
    config = {
        "feeds": [{"url": site.url(p)} for p in ("/ar.xml", "/fr.atom", "/en.rdf")],
        "watchlists": [
            {"name": "iran-china", "match": {"partners": ["IR", "CN"]}, "notify": [mail]},
            {
                "name": "iran-serbia",
                "match": {"partners": ["IR", "RS"]},
                "notify": [f"json://{hook.hostport}/iran-serbia"],
            },
            {
                "name": "iran-armenia",
                "match": {"partners": ["IR", "AM"]},
                "notify": [f"json://{hook.hostport}/iran-armenia"],
            },
        ],
    }
    (tmp_path / "coopwatch.yaml").write_text(yaml.safe_dump(config, allow_unicode=True), "utf-8")
    env = coopwatch_env(
        pg_url,
        redis_url,
        tmp_path,
        COOPWATCH_ALERT_ON_FIRST_POLL="true",
        COOPWATCH_SCHEDULE_TICK_SECONDS="1",
        COOPWATCH_SWEEP_TICK_SECONDS="2",
        COOPWATCH_MIN_INTERVAL_SECONDS="1",
        COOPWATCH_MAX_INTERVAL_SECONDS="2",
        COOPWATCH_DEFAULT_INTERVAL_SECONDS="1",
    )
    worker = start(["worker", "--concurrency=2", "--loglevel=INFO"], env, tmp_path / "worker.log")
    beat = start(
        ["beat", "--loglevel=INFO", f"--schedule={tmp_path / 'beat-schedule'}"],
        env,
        tmp_path / "beat.log",
    )
    engine = store.make_engine(pg_url)
    sessions = store.make_sessions(engine)
    try:
        wait_for(lambda: len(smtp.received) >= 2 and len(hook.deliveries) >= 1, 90, "alerts")
        # Let every feed be polled at least twice more (304s) and the sweeper run a few times.
        first_hits = dict(site.hits)
        wait_for(
            lambda: all(site.hits.get(p, 0) >= first_hits.get(p, 0) + 2 for p in first_hits),
            60,
            "repeated polls",
        )
        time.sleep(3)
    finally:
        stop(beat)
        stop(worker)
    try:
        with sessions.begin() as s:
            assert s.scalar(select(func.count(Article.id))) == 6
            assert (
                s.scalar(select(func.count(Article.id)).where(Article.processed_at.is_(None))) == 0
            )
            assert all(f.error_count == 0 for f in s.scalars(select(Feed)))
    finally:
        engine.dispose()
    subjects = sorted(m.subject for m in smtp.received)
    assert len(subjects) == 2, subjects  # the Arabic and the French Iran–China items, once each
    assert any("Iran" in s and "China" in s for s in subjects)
    assert [d.path for d in hook.deliveries] == ["/iran-serbia"]  # English RSS 1.0 item, once
    assert site.not_modified >= 3  # the repeated polls were conditional
    logs = (tmp_path / "worker.log").read_text("utf-8", "replace")
    assert "CANARY-pass" not in logs


def test_one_doorbell_polls_more_feeds_than_one_schedule_task_claims(
    tmp_path: Path, pg_url: str, redis_url: str, services: tuple[FeedSite, SmtpSink, WebhookSink]
) -> None:
    """21 feeds in batches of 1 are more than the 20 batches one schedule task claims: the task
    rings again for the rest instead of leaving them to the next beat tick (no beat here)."""
    site, _, _ = services
    urls = []
    for i in range(21):
        site.put(f"/f{i}.xml", rss2([(f"g{i}", f"Weather {i}", "Rain in Tehran.")], "en"))
        urls.append(site.url(f"/f{i}.xml"))
    config = {"feeds": [{"url": u} for u in urls], "watchlists": []}
    (tmp_path / "coopwatch.yaml").write_text(yaml.safe_dump(config), "utf-8")
    env = coopwatch_env(pg_url, redis_url, tmp_path, COOPWATCH_FEED_BATCH_SIZE="1")
    worker = start(["worker", "--concurrency=2", "--loglevel=INFO"], env, tmp_path / "worker.log")
    engine = store.make_engine(pg_url)
    sessions = store.make_sessions(engine)

    def polled() -> int:
        with sessions.begin() as s:
            return (
                s.scalar(select(func.count(Feed.id)).where(Feed.last_polled_at.is_not(None))) or 0
            )

    try:
        subprocess.run(
            [*CELERY, "call", "coopwatch.schedule_due_feeds"],
            env=env,
            cwd=ROOT,
            check=True,
            capture_output=True,
            timeout=60,
        )
        wait_for(lambda: polled() == 21, 90, "every feed polled after one doorbell")
    finally:
        stop(worker)
        engine.dispose()
    assert all(site.hits.get(f"/f{i}.xml") == 1 for i in range(21)), site.hits
