"""The `coopwatch` command. Wiring and presentation only; the work is in pipeline and store."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from worker import migrations, store
from worker.config import ConfigError
from worker.settings import Settings, load_settings

app = typer.Typer(no_args_is_help=True, help="Watch news feeds for technology-cooperation news.")
feeds_app = typer.Typer(no_args_is_help=True, help="Manage the feeds.")
articles_app = typer.Typer(no_args_is_help=True, help="See what was found.")
alerts_app = typer.Typer(no_args_is_help=True, help="See and retry alerts.")
db_app = typer.Typer(no_args_is_help=True, help="Database maintenance.")
config_app = typer.Typer(no_args_is_help=True, help="Configuration file.")
app.add_typer(feeds_app, name="feeds")
app.add_typer(articles_app, name="articles")
app.add_typer(alerts_app, name="alerts")
app.add_typer(db_app, name="db")
app.add_typer(config_app, name="config")


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.secho(message, fg=typer.colors.RED, err=True)
    return typer.Exit(code)


def _settings() -> Settings:
    return load_settings()


def _sessions(settings: Settings) -> Any:
    return store.make_sessions(store.make_engine(settings.database_url))


def _runtime(settings: Settings) -> Any:
    from worker.runtime import build_runtime  # noqa: PLC0415  (loads Apprise only when needed)

    try:
        return build_runtime(settings)
    except ConfigError as exc:
        raise _fail(str(exc)) from exc


# -- running ------------------------------------------------------------------------------


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Create or migrate the database schema."""
    settings = _settings()
    migrations.upgrade(settings.database_url, revision)
    typer.echo(f"database at revision {revision}")


@config_app.command("check")
def config_check() -> None:
    """Validate the configuration file (feeds, watchlists, targets, templates)."""
    from worker.runtime import read_config  # noqa: PLC0415

    settings = _settings()
    try:
        config = read_config(settings)
    except ConfigError as exc:
        raise _fail(str(exc)) from exc
    typer.echo(
        f"{config.source}: {len(config.feeds)} feeds, {len(config.watchlists)} watchlists: OK"
    )


@app.command()
def poll(
    once: Annotated[bool, typer.Option("--once", help="Run one cycle and exit.")] = True,
) -> None:
    """Poll every due feed once, classify, match and deliver; exit 1 if anything failed."""
    from worker.pipeline import run_cycle  # noqa: PLC0415

    if not once:
        raise _fail("only --once is supported here; use `coopwatch run` to keep polling")
    settings = _settings()
    migrations.upgrade(settings.database_url)
    summary = run_cycle(_runtime(settings))
    typer.echo(
        f"feeds polled: {summary.feeds_polled}, failed: {len(summary.feeds_failed)}, "
        f"new articles: {summary.new_articles}, deliveries: "
        + (", ".join(f"{k} {v}" for k, v in sorted(summary.deliveries.items())) or "none")
    )
    for url, error in summary.feeds_failed.items():
        typer.echo(f"  feed failed: {url}: {error}", err=True)
    if not summary.ok:
        raise typer.Exit(1)


@app.command()
def run(
    concurrency: Annotated[int, typer.Option(help="Worker processes.")] = 2,
    loglevel: Annotated[str, typer.Option(help="Celery log level.")] = "INFO",
) -> None:
    """Run worker and scheduler in one process (embedded mode; the production tasks)."""
    settings = _settings()
    if not settings.config.exists():
        raise _fail(
            f"{settings.config}: configuration file not found. Copy coopwatch.example.yaml to "
            "coopwatch.yaml (or set COOPWATCH_CONFIG), or try `coopwatch demo`."
        )
    _runtime(settings)  # fail fast on a wrong configuration, before any process starts
    migrations.upgrade(settings.database_url)
    from worker.celery_app import app as celery_app  # noqa: PLC0415

    schedule = Path(settings.broker_dir).parent / "celerybeat-schedule"
    celery_app.worker_main(
        [
            "worker",
            "--beat",
            f"--schedule={schedule}",
            f"--concurrency={concurrency}",
            f"--loglevel={loglevel}",
        ]
    )


@app.command()
def demo(
    keep: Annotated[Path | None, typer.Option(help="Keep the demo's files in this folder.")] = None,
) -> None:
    """Serve bundled sample feeds on 127.0.0.1, run one real cycle, print the alerts."""
    from worker.demo.run import run_demo  # noqa: PLC0415

    raise typer.Exit(run_demo(keep))


# -- feeds --------------------------------------------------------------------------------


@feeds_app.command("add")
def feeds_add(
    url: str,
    name: Annotated[str | None, typer.Option(help="Display name.")] = None,
    language: Annotated[str | None, typer.Option(help="Declared language (ISO 639-1).")] = None,
) -> None:
    """Add a feed to the database (feeds in the configuration file are added by themselves)."""
    if not re.match(r"^https?://\S+$", url):
        raise _fail(f"{url!r}: not an http(s) URL")
    settings = _settings()
    migrations.upgrade(settings.database_url)
    with _sessions(settings).begin() as session:
        added = store.add_feeds(
            session, [store.FeedSpec(url, name, language, "cli")], datetime.now(UTC)
        )
    typer.echo(f"added {url}" if added else f"already known: {url}")


@feeds_app.command("import")
def feeds_import(path: Path) -> None:
    """Add every feed of an OPML file."""
    from worker.core.opml import OpmlError, parse_opml  # noqa: PLC0415

    try:
        found = parse_opml(path.read_bytes(), source=str(path))
    except (OSError, OpmlError) as exc:
        raise _fail(f"{path}: {exc}") from exc
    settings = _settings()
    migrations.upgrade(settings.database_url)
    specs = [store.FeedSpec(f.url, f.name, f.language, "opml") for f in found]
    with _sessions(settings).begin() as session:
        added = store.add_feeds(session, specs, datetime.now(UTC))
    typer.echo(f"{path}: {len(found)} feeds, {len(added)} new")


@feeds_app.command("list")
def feeds_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Every feed with its health: status, last poll, next check, errors, items."""
    settings = _settings()
    with _sessions(settings).begin() as session:
        rows = store.list_feeds(session)
        records: list[dict[str, Any]] = [
            {
                "id": r.feed.id,
                "url": r.feed.url,
                "fetch_url": r.feed.fetch_url,
                "name": r.feed.name,
                "status": r.feed.status,
                "last_polled": _iso(r.feed.last_polled_at),
                "last_success": _iso(r.feed.last_success_at),
                "next_check": _iso(r.feed.next_check_at),
                "errors": r.feed.error_count,
                "last_error": r.feed.last_error,
                "items": r.articles,
                "cooperation": r.cooperation,
            }
            for r in rows
        ]
    if as_json:
        _print_json_lines(records)
        return
    typer.echo(
        f"{'id':>4} {'status':8} {'items':>6} {'coop':>5} {'errors':>6}  "
        f"{'last polled':20} {'next check':20} url / last error"
    )
    for r in records:
        typer.echo(
            f"{r['id']:>4} {r['status']:8} {r['items']:>6} {r['cooperation']:>5} {r['errors']:>6}  "
            f"{_short(r['last_polled']):20} {_short(r['next_check']):20} {r['url']}"
        )
        if r["fetch_url"]:
            typer.echo(f"{'':>56}→ moved to {r['fetch_url']}")
        if r["last_error"]:
            typer.echo(f"{'':>56}└ {r['last_error']}")


# -- articles and alerts ------------------------------------------------------------------


def parse_since(value: str, now: datetime) -> datetime:
    """'7d', '12h', '30m' or an ISO date."""
    m = re.fullmatch(r"(\d+)([dhm])", value.strip())
    if m:
        unit = {"d": "days", "h": "hours", "m": "minutes"}[m.group(2)]
        return now - timedelta(**{unit: int(m.group(1))})
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise _fail(f"--since {value!r}: use 7d, 12h, 30m or an ISO date") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@articles_app.command("list")
def articles_list(
    cooperation: Annotated[bool, typer.Option("--cooperation", help="Only cooperation.")] = False,
    partner: Annotated[str | None, typer.Option(help="ISO country code, e.g. IR.")] = None,
    sector: Annotated[str | None, typer.Option(help="Sector key, e.g. ai.")] = None,
    since: Annotated[str | None, typer.Option(help="7d, 12h or an ISO date.")] = None,
    limit: int = 50,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Stored articles with their classification."""
    settings = _settings()
    flt = store.ArticleFilter(
        cooperation_only=cooperation,
        partner=partner.upper() if partner else None,
        sector=sector,
        since=parse_since(since, datetime.now(UTC)) if since else None,
        limit=limit,
    )
    with _sessions(settings).begin() as session:
        records = [_article_record(a, f, c) for a, f, c in store.list_articles(session, flt)]
    if as_json:
        _print_json_lines(records)
        return
    for r in records:
        c = r["classification"] or {}
        mark = "●" if c.get("is_cooperation") else "·"
        tags = " ".join(c.get("partners", [])) + " | " + ",".join(c.get("sectors", []))
        typer.echo(
            f"{mark} {r['id']:>5} {_short(r['published']):16} [{c.get('lang', '?')}] "
            f"{r['title'][:90]}  ({tags}; {c.get('event_type') or '-'})"
        )


def _article_record(article: Any, feed: Any, c: Any) -> dict[str, Any]:
    return {
        "id": article.id,
        "feed": feed.name or feed.url,
        "title": article.title,
        "url": article.url,
        "published": _iso(article.published_at),
        "classification": None
        if c is None
        else {
            "is_cooperation": c.is_cooperation,
            "score": c.score,
            "partners": c.partners,
            "sectors": c.sectors,
            "event_type": c.event_type,
            "lang": c.lang,
            "evidence": c.evidence,
            "version": c.version,
        },
    }


@alerts_app.command("list")
def alerts_list(
    status: Annotated[str | None, typer.Option(help="pending, sending, sent or failed.")] = None,
    limit: int = 50,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Alerts per destination: status, attempts, last error, delivery time."""
    settings = _settings()
    with _sessions(settings).begin() as session:
        records: list[dict[str, Any]] = [
            {
                "id": r.delivery.id,
                "alert_id": r.delivery.alert_id,
                "watchlist": r.watchlist,
                "target": r.delivery.target_label,
                "status": r.delivery.status,
                "attempts": r.delivery.attempts,
                "sent_at": _iso(r.delivery.sent_at),
                "next_attempt_at": _iso(r.delivery.next_attempt_at),
                "last_error": r.delivery.last_error,
                "title": r.article_title,
                "url": r.article_url,
            }
            for r in store.list_deliveries(session, status, limit)
        ]
    if as_json:
        _print_json_lines(records)
        return
    for r in records:
        when = r["sent_at"] or f"next {r['next_attempt_at']}"
        typer.echo(
            f"{r['id']:>5} {r['status']:8} x{r['attempts']} {r['watchlist']:20} "
            f"{r['target'][:40]:40} {_short(when)}  {r['title'][:60]}"
        )
        if r["last_error"]:
            typer.echo(f"{'':>6}└ {r['last_error']}")


@alerts_app.command("retry")
def alerts_retry(ids: Annotated[list[int] | None, typer.Argument()] = None) -> None:
    """Send failed alerts again (all failed ones, or the given delivery ids)."""
    settings = _settings()
    with _sessions(settings).begin() as session:
        n = store.retry_failed(session, datetime.now(UTC), ids or [])
    typer.echo(f"{n} alert(s) queued for another attempt")


# -- classifier ---------------------------------------------------------------------------


def _read_jsonl(source: str) -> Iterator[tuple[int, dict[str, Any]]]:
    handle = sys.stdin if source == "-" else Path(source).open(encoding="utf-8")  # noqa: SIM115
    with handle:
        for n, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise _fail(f"{source}:{n}: not JSON: {exc}") from exc
            if not isinstance(obj, dict):
                raise _fail(f"{source}:{n}: expected a JSON object")
            yield n, obj


@app.command("classify")
def classify_cmd(source: Annotated[str, typer.Argument(help="JSONL file or -")] = "-") -> None:
    """Classify JSON lines (id, title, text, optional lang); print one result per line."""
    from worker.core.evaluation import classify_record  # noqa: PLC0415

    for _, obj in _read_jsonl(source):
        typer.echo(json.dumps(classify_record(obj), ensure_ascii=False))


@app.command("eval")
def eval_cmd(
    source: str,
    max_errors: Annotated[int, typer.Option(help="How many errors to list (0: none).")] = 200,
) -> None:
    """Score the classifier on a labelled JSONL file (metrics of shared/eval/LABELS.md)."""
    from worker.core.classifier import classify  # noqa: PLC0415
    from worker.core.evaluation import evaluate, format_report  # noqa: PLC0415

    gold = [obj for _, obj in _read_jsonl(source)]
    predictions = {
        str(g["id"]): classify(g.get("title") or "", g.get("text") or "", g.get("lang"))
        for g in gold
    }
    typer.echo(format_report(evaluate(gold, predictions), max_errors=max_errors))


# -- presentation -------------------------------------------------------------------------


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value else None


def _short(value: str | None) -> str:
    return (value or "-").replace("T", " ")[:19]


def _print_json_lines(records: list[dict[str, Any]]) -> None:
    for record in records:
        typer.echo(json.dumps(record, ensure_ascii=False))


if __name__ == "__main__":
    app()
