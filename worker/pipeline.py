"""One orchestrator per job. Each reads like the data flow in DESIGN.md.

    schedule_due_feeds → refresh_feeds → process_articles → deliver   (+ sweep)

Orchestrators take a `Runtime` (built once per process) and ids; they open their own
transactions, because a job that talks to the network must not hold one open meanwhile, and
they return the ids of follow-up work, which the caller enqueues after the commit.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from models import Article, DeliveryStatus, Feed, FeedStatus
from worker import store
from worker.adapters.fetch import FetchPolicy, FetchRequest, FetchResult, fetch_all
from worker.adapters.notify import Notifier, SendOutcome
from worker.config import LoadedConfig, Target, WatchlistConfig, target_key, watch_rule
from worker.core.classifier import ClassifierResult, classify
from worker.core.digest import render_digest
from worker.core.errors import ErrorKind
from worker.core.feeds import FeedParseError, ParsedFeed, body_hash, parse_feed
from worker.core.health import FeedHealth, render_feed_health
from worker.core.match import CompiledRule, MatchItem, match
from worker.core.pacing import after_quiet_hours, next_digest_at, rate_limit_release
from worker.core.redact import redact_text, redact_url, secrets_in_url
from worker.core.render import (
    AlertContext,
    TemplateSet,
    channel_for_target,
    channel_limit,
    render_alert,
)
from worker.core.schedule import ScheduleBounds, next_check
from worker.core.textnorm import normalize
from worker.settings import Settings

log = logging.getLogger(__name__)

PERMANENT_REDIRECTS_BEFORE_MOVE = 3


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Runtime:
    """Everything a job needs, built once at the process edge and passed in."""

    settings: Settings
    config: LoadedConfig
    sessions: sessionmaker[Session]
    notifier: Notifier
    clock: Callable[[], datetime] = utcnow
    rules: dict[str, CompiledRule] = field(default_factory=dict)
    #: What this process has already written from its configuration (e.g. "feeds"): the
    #: configuration is read once per process, so it is written once per process. A set,
    #: since the Runtime itself is frozen.
    synced: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        for w in self.config.watchlists:
            self.rules[w.name] = CompiledRule(watch_rule(w))

    def close(self) -> None:
        """Close the database connections (a process that forks or exits calls this)."""
        self.sessions.kw["bind"].dispose()

    @property
    def fetch_policy(self) -> FetchPolicy:
        s = self.settings
        return FetchPolicy(
            user_agent=s.user_agent,
            total_timeout=s.fetch_timeout_seconds,
            connect_timeout=min(10.0, s.fetch_timeout_seconds),
            max_bytes=s.fetch_max_bytes,
            allow_private=s.allow_private,
        )

    @property
    def bounds(self) -> ScheduleBounds:
        s = self.settings
        return ScheduleBounds(
            min_interval=timedelta(seconds=s.min_interval_seconds),
            max_interval=timedelta(seconds=s.max_interval_seconds),
            default_interval=timedelta(seconds=s.default_interval_seconds),
        )


# -- schedule -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FeedBatch:
    token: str
    feed_ids: list[int]


#: Feed batches one scheduler call claims at most.
MAX_BATCHES_PER_SCHEDULE = 20


def schedule_due_feeds(
    rt: Runtime, *, max_batches: int = MAX_BATCHES_PER_SCHEDULE
) -> list[FeedBatch]:
    """Sync the configured feeds, then claim due feeds in batches for `refresh_feeds`."""
    now = rt.clock()
    lease = timedelta(seconds=rt.settings.claim_timeout_seconds)
    batches: list[FeedBatch] = []
    sync_configured_feeds(rt, now)
    for _ in range(max_batches):
        with rt.sessions.begin() as session:
            token, ids = store.claim_due_feeds(
                session, now, limit=rt.settings.feed_batch_size, lease=lease
            )
        if not ids:
            break
        batches.append(FeedBatch(token, ids))
    return batches


def sync_configured_feeds(rt: Runtime, now: datetime) -> None:
    """Add the configured feeds the database does not know yet, once per process.

    The configuration cannot change under a running process (it is read at start), yet every
    call used to look up every configured URL: a query over N URLs per beat tick, and per 20
    batches claimed when more are due (growing as N² for a poll of N feeds). Feeds added by
    the CLI or from OPML are rows already and need no sync.
    """
    if "feeds" in rt.synced:
        return
    specs = [store.FeedSpec(f.url, f.name, f.language) for f in rt.config.feeds]
    with rt.sessions.begin() as session:
        store.add_feeds(session, specs, now)
    rt.synced.add("feeds")  # only once committed: a failed sync is tried again next tick


# -- refresh ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RefreshOutcome:
    new_article_ids: list[int]
    polled: int
    failed: dict[str, str]  # feed URL → error message


def refresh_feeds(rt: Runtime, feed_ids: Sequence[int], token: str) -> RefreshOutcome:
    """Fetch the claimed feeds concurrently, parse what changed, store what is new."""
    with rt.sessions.begin() as session:
        feeds = store.load_claimed_feeds(session, feed_ids, token)
        requests = [
            FetchRequest(f.id, f.fetch_url or f.url, f.etag, f.last_modified) for f in feeds
        ]
    results = fetch_all(requests, rt.fetch_policy)
    new_ids: list[int] = []
    failed: dict[str, str] = {}
    releases: list[tuple[int, dict[str, object]]] = []
    with rt.sessions.begin() as session:
        for feed, result in zip(feeds, results, strict=True):
            ids, error, values = _store_poll(rt, session, feed, result)
            new_ids.extend(ids)
            releases.append((feed.id, values))
            if error:
                failed[feed.url] = error
        store.release_feeds(session, token, releases)
    return RefreshOutcome(sorted(new_ids), len(feeds), failed)


def _store_poll(
    rt: Runtime, session: Session, feed: Feed, result: FetchResult
) -> tuple[list[int], str | None, dict[str, object]]:
    """Store what is new; return (new article ids, error, the feed's new state)."""
    now = rt.clock()
    if result.error_kind is not None:
        message = result.error or ""
        return [], result.error, _failure_values(rt, feed, result.error_kind, message, result)
    if result.not_modified or (result.body is not None and _unchanged(feed, result.body)):
        return [], None, _success_values(rt, feed, result, parsed=None)
    assert result.body is not None  # ok results without not_modified carry a body
    try:
        parsed = parse_feed(
            result.body,
            url=feed.url,  # the configured URL: entry keys of relative guids stay stable
            content_type=result.content_type,
            max_entries=rt.settings.max_entries_per_poll,
        )
    except FeedParseError as exc:
        return [], str(exc), _failure_values(rt, feed, exc.kind, str(exc), result)
    first_poll = feed.last_success_at is None
    new_ids = store.insert_new_articles(
        session,
        feed.id,
        parsed.entries,
        now,
        suppress_alerts=first_poll and not rt.settings.alert_on_first_poll,
        may_have_articles=not first_poll,
    )
    return new_ids, None, _success_values(rt, feed, result, parsed=parsed)


def _unchanged(feed: Feed, body: bytes) -> bool:
    return feed.content_hash is not None and feed.content_hash == body_hash(body)


def _success_values(
    rt: Runtime, feed: Feed, result: FetchResult, parsed: ParsedFeed | None
) -> dict[str, object]:
    now = rt.clock()
    values: dict[str, object] = {
        "status": FeedStatus.ACTIVE,
        "last_polled_at": now,
        "last_success_at": now,
        "error_count": 0,
        "health_reported_at": None,  # a new failure episode will be reported again
        "last_error_kind": None,
        "last_error": None,
        "etag": result.etag or feed.etag,
        "last_modified": result.last_modified or feed.last_modified,
    }
    entry_times: list[datetime] = []
    if parsed is not None:
        values["content_hash"] = parsed.content_hash
        values["ttl_minutes"] = parsed.ttl_minutes
        if parsed.title and not feed.name:
            values["name"] = parsed.title[:300]
        entry_times = [e.published for e in parsed.entries if e.published is not None]
    values.update(_redirect_values(feed, result))
    values["next_check_at"] = next_check(
        now=now,
        bounds=rt.bounds,
        feed_key=str(feed.id),
        entry_times=entry_times,
        ttl_minutes=parsed.ttl_minutes if parsed else feed.ttl_minutes,
        max_age=result.max_age,
        expires=result.expires,
    )
    return values


def _redirect_values(feed: Feed, result: FetchResult) -> dict[str, object]:
    """A permanent redirect seen several polls in a row moves where the feed is fetched from.

    The configured URL stays the feed's identity, so the configuration still names it.
    """
    if not result.permanent_redirect:
        return {"redirect_count": 0} if feed.redirect_count else {}
    seen = feed.redirect_count + 1
    if seen < PERMANENT_REDIRECTS_BEFORE_MOVE:
        return {"redirect_count": seen}
    log.info("feed %s moved permanently to %s", feed.url, result.permanent_redirect)
    return {"fetch_url": result.permanent_redirect, "redirect_count": 0}


def _failure_values(
    rt: Runtime, feed: Feed, kind: ErrorKind, message: str, result: FetchResult
) -> dict[str, object]:
    now = rt.clock()
    errors = feed.error_count + 1
    log.warning("feed %s failed (%s): %s", feed.url, kind, message)
    return {
        "status": FeedStatus.GONE if kind == ErrorKind.GONE else FeedStatus.ERROR,
        "last_polled_at": now,
        "error_count": errors,
        "last_error_kind": str(kind),
        "last_error": message[:2000],
        "next_check_at": next_check(
            now=now,
            bounds=rt.bounds,
            feed_key=str(feed.id),
            retry_after=result.retry_after,
            error_count=errors,
        ),
    }


# -- process ------------------------------------------------------------------------------


def process_articles(rt: Runtime, article_ids: Sequence[int]) -> list[int]:
    """Classify, store, match watchlists and write the outbox rows, in one transaction.

    Returns the new delivery ids, to be enqueued after the commit.
    """
    now = rt.clock()
    delivery_ids: list[int] = []
    with rt.sessions.begin() as session:
        watchlist_ids = store.sync_watchlists(session, _definitions(rt.config), now)
        classified = [
            (article, feed, result)
            for article, feed in store.load_unprocessed(session, article_ids)
            if (result := _classify(article, feed)) is not None
        ]
        store.save_classifications(session, [(a.id, result) for a, _, result in classified], now)
        for article, feed, result in classified:
            if not article.alerts_suppressed:
                item = MatchItem(article.title, article.content, feed.name, feed.url, result)
                delivery_ids += _enqueue_alerts(rt, session, article, item, watchlist_ids, now)
        store.mark_processed(session, [a.id for a, _, _ in classified], now)
    return delivery_ids


def _classify(article: Article, feed: Feed) -> ClassifierResult | None:
    """The classifier's result, or None when it failed on this article.

    One bad article must not hold back its batch: it stays unprocessed (the sweeper tries it
    again and the log says why) while the others go on to their alerts.
    """
    try:
        return classify(
            article.title, article.content or article.summary, _lang_hint(article, feed)
        )
    # The classifier is pure code on untrusted text; whatever it raises is a bug to log, and
    # the article must stay unprocessed rather than be lost.
    except Exception:
        log.exception("classifier failed on article %s (%s)", article.id, article.url)
        return None


def _lang_hint(article: Article, feed: Feed) -> str | None:
    return article.language or feed.language


def _enqueue_alerts(
    rt: Runtime,
    session: Session,
    article: Article,
    item: MatchItem,
    watchlist_ids: dict[str, int],
    now: datetime,
) -> list[int]:
    normalized = normalize(f"{item.title}\n{item.text}")
    delivery_ids: list[int] = []
    for watchlist in rt.config.watchlists:
        why = match(rt.rules[watchlist.name], item, normalized)
        if why is None:
            continue
        alert_id = store.insert_alert(session, watchlist_ids[watchlist.name], article.id, why, now)
        if alert_id is None:
            continue  # this watchlist already alerted on this article
        schedule = watchlist.digest
        due = next_digest_at(now, schedule) if schedule else now
        due = after_quiet_hours(due, watchlist.quiet)
        mode = "digest" if schedule else "instant"
        targets = [
            store.NewDelivery(t.key, t.label, mode, due) for t in targets_of(rt.config, watchlist)
        ]
        ids = store.insert_deliveries(session, alert_id, targets, now)
        if due <= now:
            delivery_ids += ids  # deferred rows are rung by the sweeper once they are due
    return delivery_ids


def targets_of(config: LoadedConfig, watchlist: WatchlistConfig) -> list[Target]:
    return [Target(url, redact_url(url)) for url in config.targets_of(watchlist)]


def _definitions(config: LoadedConfig) -> dict[str, dict[str, object]]:
    return {
        w.name: {
            "match": w.match.model_dump(),
            "mode": w.mode if isinstance(w.mode, str) else w.mode.model_dump(),
            "targets": [t.label for t in targets_of(config, w)],
        }
        for w in config.watchlists
    }


# -- deliver ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeliveryOutcome:
    delivery_id: int
    status: str  # sent, pending (retry later), failed, deferred (folded into a digest), skipped
    error: str | None = None


@dataclass(frozen=True, slots=True)
class _Claimed:
    """What one send covers: one instant row, or every due digest row of a destination."""

    ids: list[int]
    attempts: int
    label: str
    url: str | None
    watchlist: WatchlistConfig | None
    contexts: list[AlertContext]
    digest: bool


def deliver(rt: Runtime, delivery_id: int) -> DeliveryOutcome:
    """Claim an outbox row, render, send through the notifier, record the outcome.

    Two transactions on purpose: the claim is committed before the send, so a worker that dies
    mid-send leaves a row the sweeper reclaims when the lease expires. A digest row takes every
    other due digest row of its destination with it, and they go out as one message.
    """
    with rt.sessions.begin() as session:
        claimed = _claim(rt, session, delivery_id)
    if isinstance(claimed, DeliveryOutcome):
        return claimed
    if claimed.url is None or claimed.watchlist is None:
        outcome = SendOutcome(
            ok=False,
            error_kind=ErrorKind.INVALID_TARGET,
            error=f"{claimed.label}: this target is no longer in the configuration",
            retry_after=None,
            permanent=True,
        )
    else:
        outcome = _send(rt, claimed)
    result = _record_with_retry(rt, claimed, outcome)
    return replace(result, delivery_id=delivery_id)


#: Pauses between attempts to record a send's outcome while the database is unreachable.
RECORD_RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0, 8.0)


def _record_with_retry(rt: Runtime, claimed: _Claimed, outcome: SendOutcome) -> DeliveryOutcome:
    """The send happened; its outcome must reach the database, or the row is sent again when
    its lease ends. A restarting database is retried here, bounded by half the lease: retrying
    the task instead would repeat the send (its claim is still held, so it is skipped, and the
    sweeper re-sends the row once the lease expires)."""
    deadline = time.monotonic() + rt.settings.delivery_lease_seconds / 2
    for delay in (*RECORD_RETRY_DELAYS, None):
        try:
            with rt.sessions.begin() as session:
                results = [
                    _record_outcome(rt, session, row_id, claimed, outcome) for row_id in claimed.ids
                ]
        except OperationalError:
            if delay is None or time.monotonic() + delay > deadline:
                raise
            log.warning(
                "recording the outcome of %s failed; retrying in %.1f s", claimed.ids, delay
            )
            time.sleep(delay)
            continue
        return results[-1]
    raise AssertionError("unreachable")  # the last iteration returns or raises


def _claim(rt: Runtime, session: Session, delivery_id: int) -> _Claimed | DeliveryOutcome:
    now = rt.clock()
    lease = timedelta(seconds=rt.settings.delivery_lease_seconds)
    if not store.claim_delivery(session, delivery_id, now, lease):
        return DeliveryOutcome(delivery_id, "skipped")
    ctx = store.load_delivery_context(session, delivery_id)
    if ctx is None:
        return DeliveryOutcome(delivery_id, "skipped")
    row = ctx.delivery
    watchlist = rt.config.watchlist(ctx.watchlist.name)
    contexts = [ctx]
    if row.mode == "digest":
        others = store.claim_digest_group(session, row.target_hash, now, lease)
        contexts += [
            c
            for other in others
            if other != delivery_id and (c := store.load_delivery_context(session, other))
        ]
    elif release := _over_rate_limit(rt, session, row.target_hash, now):
        store.fold_into_digest(session, delivery_id, release)
        return DeliveryOutcome(delivery_id, "deferred")
    return _Claimed(
        ids=[c.delivery.id for c in contexts],
        attempts=max(c.delivery.attempts for c in contexts),
        label=row.target_label,
        url=_target_url(rt.config, watchlist, row.target_hash),
        watchlist=watchlist,
        contexts=[_alert_context(c) for c in contexts],
        digest=row.mode == "digest",
    )


def _over_rate_limit(
    rt: Runtime, session: Session, target_key: str, now: datetime
) -> datetime | None:
    limit = rt.config.model.max_messages_per_hour
    if not limit:
        return None
    window = timedelta(hours=1)
    sent = store.sent_times(session, target_key, now - window)
    return rate_limit_release(sent, limit=limit, window=window, now=now)


def _target_url(config: LoadedConfig, watchlist: WatchlistConfig | None, key: str) -> str | None:
    if watchlist is None:
        return None
    return next((u for u in config.targets_of(watchlist) if target_key(u) == key), None)


def _alert_context(ctx: store.DeliveryContext) -> AlertContext:
    c = ctx.classification
    evidence = " … ".join(str(e.get("text", "")) for e in (c.evidence if c else [])[:2])
    return AlertContext(
        watchlist=ctx.watchlist.name,
        rule=ctx.alert.rule,
        title=ctx.article.title,
        url=ctx.article.url,
        outlet=ctx.feed.name or ctx.feed.url,
        lang=c.lang if c else (ctx.article.language or "und"),
        published=ctx.article.published_at,
        partners=tuple(c.partners) if c else (),
        sectors=tuple(c.sectors) if c else (),
        event_type=c.event_type if c else None,
        score=c.score if c else 0.0,
        evidence=evidence,
        summary=(ctx.article.summary or ctx.article.content)[:300],
    )


def _send(rt: Runtime, claimed: _Claimed) -> SendOutcome:
    url, watchlist = claimed.url, claimed.watchlist
    assert url is not None  # checked by the caller
    assert watchlist is not None
    channel, limit = channel_for_target(url), channel_limit(url)
    if claimed.digest:
        message = render_digest(claimed.contexts, channel, limit)
    else:
        t = watchlist.templates
        templates = TemplateSet(t.title, t.text, t.html, t.markdown) if t else None
        message = render_alert(claimed.contexts[0], channel, templates, limit)
    outcome = rt.notifier.send(url, message)
    if outcome.error:
        # belt and braces: the notifier redacts, and so do we before anything is stored
        outcome = replace(outcome, error=redact_text(outcome.error, secrets_in_url(url)))
    return outcome


def _record_outcome(
    rt: Runtime, session: Session, delivery_id: int, claimed: _Claimed, outcome: SendOutcome
) -> DeliveryOutcome:
    now = rt.clock()
    if outcome.ok:
        store.record_delivery(
            session,
            delivery_id,
            status=DeliveryStatus.SENT,
            sent_at=now,
            last_error=None,
            last_error_kind=None,
        )
        return DeliveryOutcome(delivery_id, "sent")
    attempts = claimed.attempts
    give_up = outcome.permanent or attempts >= rt.settings.delivery_max_attempts
    delay = rt.settings.delivery_backoff_seconds * 2 ** max(0, attempts - 1)
    if outcome.retry_after is not None:
        delay = max(delay, outcome.retry_after)
    retry_at = now + timedelta(seconds=min(delay, 24 * 3600))
    if claimed.watchlist is not None:
        retry_at = after_quiet_hours(retry_at, claimed.watchlist.quiet)
    status = DeliveryStatus.FAILED if give_up else DeliveryStatus.PENDING
    store.record_delivery(
        session,
        delivery_id,
        status=status,
        next_attempt_at=retry_at,
        enqueued_at=None,
        last_error_kind=str(outcome.error_kind or ErrorKind.DELIVERY_FAILED),
        last_error=(outcome.error or "delivery failed")[:2000],
    )
    return DeliveryOutcome(delivery_id, str(status), outcome.error)


# -- feed health --------------------------------------------------------------------------


def report_feed_health(rt: Runtime) -> int:
    """Warn the feed-health targets about feeds that keep failing, once per failure episode.

    The episode is marked reported only when every target accepted the message; otherwise the
    next tick tries again (so a working target may hear it twice, never zero times).
    """
    health = rt.config.model.feed_health
    if health is None:
        return 0
    with rt.sessions.begin() as session:
        feeds = store.unreported_unhealthy_feeds(session, health.after_errors)
        report = [
            FeedHealth(
                f.url,
                f.name,
                f.status,
                f.error_count,
                f.last_error_kind,
                f.last_error,
                f.last_success_at,
            )
            for f in feeds
        ]
        ids = [f.id for f in feeds]
    if not report:
        return 0
    sent = [
        rt.notifier.send(url, render_feed_health(report, channel_for_target(url))).ok
        for url in rt.config.targets_of(health)
    ]
    if all(sent):
        with rt.sessions.begin() as session:
            store.mark_health_reported(session, ids, rt.clock())
        return len(ids)
    log.warning("feed-health warning not accepted by every target; will try again")
    return 0


# -- sweep --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SweepOutcome:
    delivery_ids: list[int]
    article_ids: list[int]


def sweep(rt: Runtime, *, grace: timedelta | None = None, limit: int = 500) -> SweepOutcome:
    """Find work whose doorbell was lost: due outbox rows and articles never processed."""
    now = rt.clock()
    if grace is None:
        grace = timedelta(seconds=rt.settings.sweep_grace_seconds)
    with rt.sessions.begin() as session:
        deliveries = store.due_delivery_ids(session, now, enqueued_before=now - grace, limit=limit)
        articles = store.unprocessed_article_ids(session, now - grace, limit)
    return SweepOutcome(deliveries, articles)


# -- one synchronous cycle (coopwatch poll --once) ----------------------------------------


@dataclass(slots=True)
class CycleSummary:
    feeds_polled: int = 0
    feeds_failed: dict[str, str] = field(default_factory=dict)
    new_articles: int = 0
    deliveries: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.feeds_failed and not any(
            self.deliveries.get(s, 0) for s in ("failed", "pending")
        )


def run_cycle(rt: Runtime, *, max_rounds: int = 1000) -> CycleSummary:
    """All due feeds → articles → alerts delivered, synchronously, with the same jobs."""
    summary = CycleSummary()
    article_ids: list[int] = []
    for _ in range(max_rounds):  # each round claims up to 20 batches of due feeds
        batches = schedule_due_feeds(rt)
        if not batches:
            break
        for batch in batches:
            outcome = refresh_feeds(rt, batch.feed_ids, batch.token)
            summary.feeds_polled += outcome.polled
            summary.feeds_failed.update(outcome.failed)
            article_ids += outcome.new_article_ids
    summary.new_articles = len(article_ids)
    report_feed_health(rt)
    swept = sweep(rt, grace=timedelta(0))
    delivery_ids = process_articles(rt, sorted(set(article_ids) | set(swept.article_ids)))
    for delivery_id in sorted(set(delivery_ids) | set(swept.delivery_ids)):
        result = deliver(rt, delivery_id)
        summary.deliveries[result.status] = summary.deliveries.get(result.status, 0) + 1
    return summary
