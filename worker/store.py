"""Every SQL statement of coopwatch. Idempotent by constraint; no commits here.

Callers own the transaction (`with sessions.begin() as session:`).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    Connection,
    Engine,
    Table,
    and_,
    any_,
    bindparam,
    create_engine,
    event,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry

from models import (
    CLAIMABLE,
    Alert,
    Article,
    Classification,
    Delivery,
    DeliveryStatus,
    Feed,
    FeedStatus,
    Watchlist,
)
from worker.core.classifier import ClassifierResult
from worker.core.feeds import ParsedEntry

# -- engine -------------------------------------------------------------------------------


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin_immediate)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)


def _sqlite_pragmas(dbapi_conn: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers do not block the writer
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
    # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite's own is deferred).
    dbapi_conn.isolation_level = None


def _sqlite_begin_immediate(conn: Connection) -> None:
    """Take SQLite's write lock at BEGIN: transactions queue up instead of failing with
    "database is locked" when two writers upgrade their read locks at once. Claims, which
    read then update, are then serialised as on PostgreSQL with FOR UPDATE."""
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_sessions(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def _insert(session: Session, table: Any) -> Any:
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def _is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


FEEDS = cast(Table, Feed.__table__)

# -- feeds --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FeedSpec:
    url: str
    name: str | None = None
    language: str | None = None
    source: str = "config"


def add_feeds(session: Session, specs: Sequence[FeedSpec], now: datetime) -> list[int]:
    """Insert feeds not yet known (by URL); return the ids of those inserted."""
    known = set(session.scalars(select(Feed.url).where(Feed.url.in_([s.url for s in specs]))))
    specs = [s for s in specs if s.url not in known]  # the insert below still settles races
    if not specs:
        return []
    rows = [
        {
            "url": s.url,
            "name": s.name,
            "language": s.language,
            "source": s.source,
            "status": FeedStatus.ACTIVE,
            "created_at": now,
            "next_check_at": now,
            "error_count": 0,
            "redirect_count": 0,
        }
        for s in {s.url: s for s in specs}.values()
    ]
    stmt = _insert(session, Feed).values(rows).on_conflict_do_nothing(index_elements=["url"])
    return list(session.scalars(stmt.returning(Feed.id)))


def _among(session: Session, column: Any, values: Sequence[Any]) -> Any:
    """``column IN values``. On PostgreSQL one array parameter (``= ANY``): the statement's
    text then does not grow with the number of values, so SQLAlchemy, psycopg and the server
    reuse it instead of expanding and parsing one placeholder per value on every call."""
    if _is_postgres(session):
        array = postgresql.ARRAY(column.type)
        return column == any_(bindparam(None, list(values), type_=array))
    return column.in_(values)


def claim_due_feeds(
    session: Session, now: datetime, *, limit: int, lease: timedelta
) -> tuple[str, list[int]]:
    """Claim up to `limit` due feeds for `lease`; two schedulers never get the same feed.

    One statement: the due rows are picked (and, on PostgreSQL, locked, skipping rows another
    scheduler holds) by the subquery, and the update re-checks that they are unclaimed.
    """
    due = (
        select(FEEDS.c.id)
        .where(
            text(CLAIMABLE),  # the partial index's own predicate, so the planner uses it
            FEEDS.c.next_check_at <= now,
            or_(FEEDS.c.claimed_until.is_(None), FEEDS.c.claimed_until < now),
        )
        .order_by(FEEDS.c.next_check_at)
        .limit(limit)
    )
    if _is_postgres(session):
        due = due.with_for_update(skip_locked=True)
    token = str(uuid.uuid4())
    claimed = session.connection().execute(
        update(FEEDS)
        .where(
            FEEDS.c.id.in_(due.scalar_subquery()),
            or_(FEEDS.c.claimed_until.is_(None), FEEDS.c.claimed_until < now),
        )
        .values(claimed_until=now + lease, claim_token=token)
        .returning(FEEDS.c.id)
    )
    return token, sorted(claimed.scalars())


def load_claimed_feeds(session: Session, feed_ids: Sequence[int], token: str) -> list[Feed]:
    """The feeds still held by this claim (a stale task whose claim was taken over gets none)."""
    stmt = select(Feed).where(_among(session, Feed.id, feed_ids), Feed.claim_token == token)
    return list(session.scalars(stmt.order_by(Feed.id)))


def load_feeds(session: Session, feed_ids: Sequence[int]) -> list[Feed]:
    return list(session.scalars(select(Feed).where(Feed.id.in_(feed_ids)).order_by(Feed.id)))


def release_feeds(
    session: Session, token: str, outcomes: Sequence[tuple[int, dict[str, Any]]]
) -> None:
    """Record each polled feed's new state and release the claim, where this claim still holds.

    One executemany per set of changed columns (a warm poll has one: every feed answered
    304), on the Core table: per-feed ORM UPDATEs cost more than the database's work.
    """
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for feed_id, values in outcomes:
        row = {"b_id": feed_id, "b_token": token} | {f"v_{k}": v for k, v in values.items()}
        groups.setdefault(tuple(sorted(values)), []).append(row)
    for columns, rows in groups.items():
        stmt = (
            update(FEEDS)
            .where(FEEDS.c.id == bindparam("b_id"), FEEDS.c.claim_token == bindparam("b_token"))
            .values(
                claimed_until=None,
                claim_token=None,
                **{c: bindparam(f"v_{c}", type_=FEEDS.c[c].type) for c in columns},
            )
        )
        session.connection().execute(stmt, rows)


def unreported_unhealthy_feeds(session: Session, min_errors: int, limit: int = 100) -> list[Feed]:
    """Feeds failing `min_errors` times in a row (or gone) whose episode is not reported yet."""
    stmt = (
        select(Feed)
        .where(
            Feed.health_reported_at.is_(None),
            or_(
                Feed.status == FeedStatus.GONE,
                and_(Feed.status == FeedStatus.ERROR, Feed.error_count >= min_errors),
            ),
        )
        .order_by(Feed.id)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def mark_health_reported(session: Session, feed_ids: Sequence[int], now: datetime) -> None:
    if feed_ids:
        session.execute(update(Feed).where(Feed.id.in_(feed_ids)).values(health_reported_at=now))


@dataclass(frozen=True, slots=True)
class FeedRow:
    feed: Feed
    articles: int
    cooperation: int


def list_feeds(session: Session) -> list[FeedRow]:
    coop = (
        select(Article.feed_id, func.count(Classification.id).label("n"))
        .join(Classification, Classification.article_id == Article.id)
        .where(Classification.is_cooperation.is_(True))
        .group_by(Article.feed_id)
        .subquery()
    )
    total = (
        select(Article.feed_id, func.count(Article.id).label("n"))
        .group_by(Article.feed_id)
        .subquery()
    )
    stmt = (
        select(Feed, func.coalesce(total.c.n, 0), func.coalesce(coop.c.n, 0))
        .outerjoin(total, total.c.feed_id == Feed.id)
        .outerjoin(coop, coop.c.feed_id == Feed.id)
        .order_by(Feed.id)
    )
    return [FeedRow(f, int(n), int(c)) for f, n, c in session.execute(stmt)]


# -- articles -----------------------------------------------------------------------------


def _clean(value: str | None, limit: int) -> str | None:
    if value is None:
        return None
    return value.replace("\x00", "")[:limit]


ARTICLES = cast(Table, Article.__table__)


def insert_new_articles(
    session: Session,
    feed_id: int,
    entries: Sequence[ParsedEntry],
    now: datetime,
    *,
    suppress_alerts: bool,
    may_have_articles: bool = True,
) -> list[int]:
    """One multi-row insert per feed; what it inserted is what is new.

    A changed feed mostly repeats entries stored before, so the keys already stored are
    looked up first (one small query) and only the others are sent: inserting every entry
    again cost more than the parse, and conflicts still settle any race. A feed that never
    had a successful poll has no articles yet (``may_have_articles=False``): no lookup.
    """
    unique = {e.entry_key[:600]: e for e in entries}
    if may_have_articles and unique:
        known = session.connection().execute(
            select(ARTICLES.c.entry_key).where(
                ARTICLES.c.feed_id == feed_id, _among(session, ARTICLES.c.entry_key, list(unique))
            )
        )
        for key in known.scalars():
            unique.pop(key, None)
    if not unique:
        return []
    rows = [
        {
            "feed_id": feed_id,
            "entry_key": e.entry_key[:600],
            "guid": _clean(e.guid, 2048),
            "url": _clean(e.url, 2048),
            "title": _clean(e.title, 10_000) or "",
            "summary": _clean(e.summary, 100_000) or "",
            "content": _clean(e.content, 1_000_000) or "",
            "author": _clean(e.author, 300),
            "language": _clean(e.language, 16),
            "published_at": e.published,
            "fetched_at": now,
            "alerts_suppressed": suppress_alerts,
        }
        for e in unique.values()
    ]
    # executemany of one cached statement (SQLAlchemy batches it as "insertmanyvalues");
    # `.values(rows)` built and compiled a new statement of len(rows) x 12 binds per feed.
    stmt = (
        _insert(session, ARTICLES)
        .on_conflict_do_nothing(index_elements=["feed_id", "entry_key"])
        .returning(ARTICLES.c.id)
    )
    return sorted(session.connection().execute(stmt, rows).scalars())


def load_unprocessed(session: Session, article_ids: Sequence[int]) -> list[tuple[Article, Feed]]:
    stmt = (
        select(Article, Feed)
        .join(Feed, Feed.id == Article.feed_id)
        .where(_among(session, Article.id, article_ids), Article.processed_at.is_(None))
        .order_by(Article.id)
    )
    return [(a, f) for a, f in session.execute(stmt)]


def save_classifications(
    session: Session, results: Sequence[tuple[int, ClassifierResult]], now: datetime
) -> None:
    """All classifications of a batch in one executemany of one cached statement."""
    if not results:
        return
    rows = []
    for article_id, result in results:
        payload = result.to_json()
        rows.append(
            {
                "article_id": article_id,
                "version": result.version,
                "is_cooperation": result.is_cooperation,
                "score": result.score,
                "partners": payload["partners"],
                "sectors": payload["sectors"],
                "event_type": result.event_type,
                "lang": result.lang,
                "evidence": payload["evidence"],
                "created_at": now,
            }
        )
    stmt = _insert(session, Classification.__table__).on_conflict_do_nothing(
        index_elements=["article_id", "version"]
    )
    session.connection().execute(stmt, rows)


def mark_processed(session: Session, article_ids: Iterable[int], now: datetime) -> None:
    ids = list(article_ids)
    if ids:
        # Core, not an ORM update: the ORM matched its criteria against every article the
        # session had loaded ("synchronize_session"), a scan of the id list per article
        # (quadratic in the batch: 8% of a cold poll's CPU).
        session.connection().execute(
            update(ARTICLES).where(_among(session, ARTICLES.c.id, ids)).values(processed_at=now)
        )


def unprocessed_article_ids(session: Session, older_than: datetime, limit: int) -> list[int]:
    stmt = (
        select(Article.id)
        .where(Article.processed_at.is_(None), Article.fetched_at < older_than)
        .order_by(Article.id)
        .limit(limit)
    )
    return list(session.scalars(stmt))


@dataclass(frozen=True, slots=True)
class ArticleFilter:
    cooperation_only: bool = False
    partner: str | None = None
    sector: str | None = None
    since: datetime | None = None
    limit: int = 100


def list_articles(
    session: Session, flt: ArticleFilter
) -> list[tuple[Article, Feed, Classification | None]]:
    latest = (
        select(Classification.article_id, func.max(Classification.id).label("cid"))
        .group_by(Classification.article_id)
        .subquery()
    )
    stmt = (
        select(Article, Feed, Classification)
        .join(Feed, Feed.id == Article.feed_id)
        .outerjoin(latest, latest.c.article_id == Article.id)
        .outerjoin(Classification, Classification.id == latest.c.cid)
        .order_by(func.coalesce(Article.published_at, Article.fetched_at).desc(), Article.id.desc())
    )
    if flt.cooperation_only:
        stmt = stmt.where(Classification.is_cooperation.is_(True))
    if flt.since is not None:
        stmt = stmt.where(func.coalesce(Article.published_at, Article.fetched_at) >= flt.since)
    rows: list[tuple[Article, Feed, Classification | None]] = [
        (a, f, c) for a, f, c in session.execute(stmt)
    ]
    # JSON-array containment differs per database; the lists are short, filter here.
    if flt.partner:
        rows = [r for r in rows if r[2] is not None and flt.partner in r[2].partners]
    if flt.sector:
        rows = [r for r in rows if r[2] is not None and flt.sector in r[2].sectors]
    return rows[: flt.limit]


# -- watchlists and alerts ----------------------------------------------------------------


def sync_watchlists(
    session: Session, definitions: dict[str, dict[str, Any]], now: datetime
) -> dict[str, int]:
    """Upsert the configured watchlists whose definition changed; return name → id.

    Unchanged rows are not written: an upsert locks its row until the transaction ends, and
    every process_articles transaction calls this, so concurrent workers would queue up.
    """
    known = {
        name: (wid, definition)
        for name, wid, definition in session.execute(
            select(Watchlist.name, Watchlist.id, Watchlist.definition).where(
                Watchlist.name.in_(definitions)
            )
        )
    }
    changed = {n: d for n, d in definitions.items() if n not in known or known[n][1] != d}
    if not changed:
        return {name: wid for name, (wid, _) in known.items()}
    stmt = _insert(session, Watchlist).values(
        [{"name": n, "definition": d, "updated_at": now} for n, d in changed.items()]
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["name"],
        set_={"definition": stmt.excluded.definition, "updated_at": stmt.excluded.updated_at},
    )
    session.execute(stmt)
    rows = session.execute(
        select(Watchlist.name, Watchlist.id).where(Watchlist.name.in_(definitions))
    )
    return {name: wid for name, wid in rows}


ALERTS = cast(Table, Alert.__table__)
DELIVERIES = cast(Table, Delivery.__table__)
# The outbox statements below run on the Core tables (`session.connection()`), as the feed
# updates do: they touch rows by id, and the ORM's bulk-statement path (session
# synchronisation, entity loading) cost more than the database's own work.


def insert_alert(
    session: Session, watchlist_id: int, article_id: int, rule: str, now: datetime
) -> int | None:
    """Insert the alert; None when this watchlist already alerted on this article."""
    stmt = (
        _insert(session, ALERTS)
        .values(watchlist_id=watchlist_id, article_id=article_id, rule=rule, created_at=now)
        .on_conflict_do_nothing(index_elements=["watchlist_id", "article_id"])
        .returning(ALERTS.c.id)
    )
    alert_id: int | None = session.connection().execute(stmt).scalar()
    return alert_id


@dataclass(frozen=True, slots=True)
class NewDelivery:
    target_key: str
    target_label: str  # redacted
    mode: str  # instant or digest
    due_at: datetime


def insert_deliveries(
    session: Session, alert_id: int, targets: Sequence[NewDelivery], now: datetime
) -> list[int]:
    """One outbox row per (alert, target); returns the ids inserted."""
    if not targets:
        return []
    rows = [
        {
            "alert_id": alert_id,
            "target_hash": t.target_key,
            "target_label": t.target_label[:2048],
            "mode": t.mode,
            "status": DeliveryStatus.PENDING,
            "attempts": 0,
            "next_attempt_at": t.due_at,
            "created_at": now,
            "enqueued_at": now,
        }
        for t in {t.target_key: t for t in targets}.values()
    ]
    stmt = (
        _insert(session, DELIVERIES)
        .on_conflict_do_nothing(index_elements=["alert_id", "target_hash"])
        .returning(DELIVERIES.c.id)
    )
    return sorted(session.connection().execute(stmt, rows).scalars())


def _claimable(now: datetime) -> Any:
    return or_(
        and_(Delivery.status == DeliveryStatus.PENDING, Delivery.next_attempt_at <= now),
        and_(Delivery.status == DeliveryStatus.SENDING, Delivery.claimed_until < now),
    )


def claim_digest_group(
    session: Session, target_key: str, now: datetime, lease: timedelta, limit: int = 200
) -> list[int]:
    """Claim every due digest row of one destination, to be sent as one message."""
    due = (
        select(Delivery.id)
        .where(Delivery.target_hash == target_key, Delivery.mode == "digest", _claimable(now))
        .order_by(Delivery.id)
        .limit(limit)
    )
    if _is_postgres(session):
        due = due.with_for_update(skip_locked=True)
    ids = list(session.scalars(due))
    if not ids:
        return []
    claimed = session.connection().execute(
        update(DELIVERIES)
        .where(_among(session, DELIVERIES.c.id, ids), _claimable(now))
        .values(
            status=DeliveryStatus.SENDING,
            claimed_until=now + lease,
            attempts=DELIVERIES.c.attempts + 1,
        )
        .returning(DELIVERIES.c.id)
    )
    return sorted(claimed.scalars())


def sent_times(session: Session, target_key: str, since: datetime) -> list[datetime]:
    """When messages went to this destination since `since` (one per digest, not per row)."""
    stmt = (
        select(Delivery.sent_at)
        .where(Delivery.target_hash == target_key, Delivery.sent_at >= since)
        .distinct()
    )
    return [t for t in session.scalars(stmt) if t is not None]


def fold_into_digest(session: Session, delivery_id: int, due_at: datetime) -> None:
    """Over the rate limit: the row waits for the next digest of its destination.

    The claim's attempt is given back: nothing was tried.
    """
    session.connection().execute(
        update(DELIVERIES)
        .where(DELIVERIES.c.id == delivery_id)
        .values(
            mode="digest",
            status=DeliveryStatus.PENDING,
            next_attempt_at=due_at,
            claimed_until=None,
            enqueued_at=None,
            attempts=DELIVERIES.c.attempts - 1,
        )
    )


def claim_delivery(session: Session, delivery_id: int, now: datetime, lease: timedelta) -> bool:
    """Compare-and-set: take the row if it is due and nobody holds it."""
    result = session.connection().execute(
        update(DELIVERIES)
        .where(DELIVERIES.c.id == delivery_id, _claimable(now))
        .values(
            status=DeliveryStatus.SENDING,
            claimed_until=now + lease,
            attempts=DELIVERIES.c.attempts + 1,
        )
        .returning(DELIVERIES.c.id)
    )
    return result.first() is not None


@dataclass(frozen=True, slots=True)
class DeliveryContext:
    delivery: Delivery
    alert: Alert
    watchlist: Watchlist
    article: Article
    feed: Feed
    classification: Classification | None


def load_delivery_context(session: Session, delivery_id: int) -> DeliveryContext | None:
    stmt = (
        select(Delivery, Alert, Watchlist, Article, Feed)
        .join(Alert, Alert.id == Delivery.alert_id)
        .join(Watchlist, Watchlist.id == Alert.watchlist_id)
        .join(Article, Article.id == Alert.article_id)
        .join(Feed, Feed.id == Article.feed_id)
        .where(Delivery.id == delivery_id)
    )
    row = session.execute(stmt).first()
    if row is None:
        return None
    classification = session.scalars(
        select(Classification)
        .where(Classification.article_id == row[3].id)
        .order_by(Classification.id.desc())
        .limit(1)
    ).first()
    return DeliveryContext(*row, classification)


def record_delivery(session: Session, delivery_id: int, **values: Any) -> None:
    session.connection().execute(
        update(DELIVERIES)
        .where(DELIVERIES.c.id == delivery_id)
        .values(claimed_until=None, **values)
    )


def due_delivery_ids(
    session: Session, now: datetime, *, enqueued_before: datetime, limit: int
) -> list[int]:
    """Pending rows due now whose doorbell is older than `enqueued_before` (or never rung),
    and claims that expired (a worker died mid-send). Marks them enqueued."""
    stmt = (
        select(Delivery.id)
        .where(
            or_(
                and_(
                    Delivery.status == DeliveryStatus.PENDING,
                    Delivery.next_attempt_at <= now,
                    or_(Delivery.enqueued_at.is_(None), Delivery.enqueued_at < enqueued_before),
                ),
                and_(Delivery.status == DeliveryStatus.SENDING, Delivery.claimed_until < now),
            )
        )
        .order_by(Delivery.next_attempt_at)
        .limit(limit)
    )
    if _is_postgres(session):
        stmt = stmt.with_for_update(skip_locked=True)
    ids = list(session.scalars(stmt))
    if ids:
        session.execute(update(Delivery).where(Delivery.id.in_(ids)).values(enqueued_at=now))
    return ids


def retry_failed(session: Session, now: datetime, delivery_ids: Sequence[int] = ()) -> int:
    stmt = update(Delivery).where(Delivery.status == DeliveryStatus.FAILED)
    if delivery_ids:
        stmt = stmt.where(Delivery.id.in_(delivery_ids))
    result = session.execute(
        stmt.values(
            status=DeliveryStatus.PENDING, next_attempt_at=now, attempts=0, enqueued_at=None
        ).returning(Delivery.id)
    )
    return len(result.all())


@dataclass(frozen=True, slots=True)
class DeliveryRow:
    delivery: Delivery
    watchlist: str
    article_title: str
    article_url: str | None


def list_deliveries(session: Session, status: str | None, limit: int) -> list[DeliveryRow]:
    stmt = (
        select(Delivery, Watchlist.name, Article.title, Article.url)
        .join(Alert, Alert.id == Delivery.alert_id)
        .join(Watchlist, Watchlist.id == Alert.watchlist_id)
        .join(Article, Article.id == Alert.article_id)
        .order_by(Delivery.id.desc())
        .limit(limit)
    )
    if status:
        stmt = stmt.where(Delivery.status == status)
    return [DeliveryRow(d, w, t, u) for d, w, t, u in session.execute(stmt)]


def delivery_counts(session: Session) -> dict[str, int]:
    stmt = select(Delivery.status, func.count(Delivery.id)).group_by(Delivery.status)
    return {status: int(n) for status, n in session.execute(stmt)}
