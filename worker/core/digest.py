"""A digest: several alerts for one destination in one message, most important first."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from markupsafe import escape

from worker.core.render import (
    AlertContext,
    Channel,
    Message,
    clean_text,
    escape_markdown,
    headline,
    neutralise_mentions,
    partner_names,
    safe_url,
    sector_labels,
)


def importance(ctx: AlertContext) -> tuple[float, int, int]:
    """Order: classifier score, then breadth (partners, sectors)."""
    return (ctx.score, len(ctx.partners), len(ctx.sectors))


def _counted(counter: Counter[str]) -> str:
    return ", ".join(f"{k} {n}" for k, n in counter.most_common()) or "-"


def _counts(items: Sequence[AlertContext]) -> tuple[str, str]:
    partners = Counter(p for ctx in items for p in partner_names(ctx.partners))
    sectors = Counter(s for ctx in items for s in sector_labels(ctx.sectors))
    return _counted(partners), _counted(sectors)


def _line(ctx: AlertContext, channel: Channel) -> str:
    url = safe_url(ctx.url)
    title = clean_text(ctx.title)
    head = headline(ctx)
    if channel == "email":
        link = f' <a href="{escape(url)}">link</a>' if url else ""
        return f"<li><b>{escape(head)}</b><br>{escape(title)}{link}</li>"
    if channel == "chat":
        title = escape_markdown(neutralise_mentions(title))
        link = f" [link]({url})" if url else ""
        return f"- **{escape_markdown(head)}** — {title}{link}"
    return f"- {head}\n  {title}" + (f"\n  {url}" if url else "")


def render_digest(
    items: Sequence[AlertContext], channel: Channel, max_length: int | None = None
) -> Message:
    """One message for many alerts; fits `max_length` by listing fewer and saying how many."""
    ordered = sorted(items, key=importance, reverse=True)
    watchlists = ", ".join(sorted({ctx.watchlist for ctx in ordered}))
    title = f"coopwatch: {len(ordered)} alert{'s' * (len(ordered) != 1)} ({watchlists})"
    partners, sectors = _counts(ordered)
    if channel == "email":
        head = f"<p>Partners: {escape(partners)}<br>Sectors: {escape(sectors)}</p><ul>"
        tail, fmt = "</ul>", "html"
    elif channel == "chat":
        head = f"Partners: {escape_markdown(partners)}\nSectors: {escape_markdown(sectors)}\n"
        tail, fmt = "", "markdown"
    else:
        head, tail, fmt = f"Partners: {partners}\nSectors: {sectors}\n", "", "text"
    lines = [_line(ctx, channel) for ctx in ordered]
    limit = max_length or 1_000_000
    while True:
        hidden = len(ordered) - len(lines)
        more = [f"… and {hidden} more"] if hidden else []
        if channel == "email" and more:
            more = [f"<li>{more[0]}</li>"]
        body = "\n".join([head, *lines, *more, tail]).strip()
        if len(title) + len(body) <= limit or not lines:
            return Message(title, body[: max(0, limit - len(title))], fmt)  # type: ignore[arg-type]
        lines.pop()
