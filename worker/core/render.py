"""Alert rendering: an ``AlertContext`` in, a ``Message`` (title, body, format) out.

Pure: no I/O besides reading the committed country-name table, no Apprise, no clock.
Delivery is ``worker/adapters/notify.py``'s job; this module only decides what is said.

Templates have a contract:

- the tokens are the fields of ``AlertContext`` plus a few derived ones (``TEMPLATE_TOKENS``);
- they run in Jinja's immutable sandbox with ``StrictUndefined``, so an unknown token or an
  attribute such as ``__class__`` is an error, and ``validate_templates`` reports it when the
  watchlist is loaded;
- untrusted text (article title, evidence, summary, outlet) is cleaned before any template
  sees it (control characters stripped, whitespace collapsed, chat mentions broken with a
  zero-width space) and escaped on output for the channel's format: HTML autoescape for e-mail,
  Markdown escaping for chat (every ``{{ … }}`` value passes through ``finalize``), none for
  plain text. Values the renderer builds itself (``link``) are ``Markup`` and pass unescaped;
  so does anything a template author explicitly marks ``|safe``.

Country names come from ``worker/core/data/countries_en.json`` (ISO 3166-1 alpha-2 → English,
generated once from Babel's CLDR data, with XK for Kosovo and a few shorter forms).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from functools import cache, lru_cache
from importlib import resources
from typing import Any, Final, Literal
from urllib.parse import quote, urlsplit

from jinja2 import StrictUndefined, Template, TemplateSyntaxError
from jinja2.exceptions import SecurityError, TemplateError, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup, escape

Channel = Literal["email", "chat", "text"]
BodyFormat = Literal["text", "html", "markdown"]


@dataclass(frozen=True, slots=True)
class AlertContext:
    """The fixed list of template tokens (plus the derived ones in ``DERIVED_TOKENS``)."""

    watchlist: str
    rule: str  # which rule matched and why
    title: str  # original article title (untrusted)
    url: str | None
    outlet: str  # feed name
    lang: str
    published: datetime | None
    partners: tuple[str, ...]  # ISO codes
    sectors: tuple[str, ...]  # sector keys
    event_type: str | None
    score: float
    evidence: str  # the deciding sentence (untrusted)
    summary: str  # first ~300 chars of article text (untrusted)


@dataclass(frozen=True, slots=True)
class Message:
    title: str
    body: str
    body_format: BodyFormat


@dataclass(frozen=True, slots=True)
class TemplateSet:
    """Per-watchlist overrides; ``None`` fields use the defaults."""

    title: str | None = None
    text: str | None = None
    html: str | None = None
    markdown: str | None = None


DERIVED_TOKENS: Final = (
    "headline",  # English structured line, see headline()
    "link",  # the article link formatted for the channel ("" without a URL)
    "partner_names",  # English country names, same order as partners
    "sector_labels",  # English sector labels
    "event_label",  # English event label, "" when none
    "published_date",  # YYYY-MM-DD or "date unknown"
    "score_pct",  # "85%"
)
TEMPLATE_TOKENS: Final = tuple(f.name for f in fields(AlertContext)) + DERIVED_TOKENS

SECTOR_LABELS: Final = {
    "ai": "AI",
    "telecom": "telecom",
    "cybersecurity": "cybersecurity",
    "e_government": "e-government",
    "digital_economy": "digital economy",
    "data_centers": "data centres",
    "space": "space",
    "energy": "energy",
    "transport": "transport",
    "health_biotech": "health & biotech",
    "nanotech": "nanotech",
    "agritech": "agritech",
    "research_education": "research & education",
    "innovation": "innovation",
    "post": "post",
}
EVENT_LABELS: Final = {
    "agreement": "agreement",
    "joint_body": "joint body",
    "visit": "visit",
    "meeting": "meeting",
    "event": "event",
    "intent": "intent",
}

#: Apprise merges or prints titles; 250 is its common title limit.
TITLE_MAX: Final = 250
#: Upper bound on what one template may produce, whatever it loops over.
OUTPUT_CAP: Final = 100_000
ELLIPSIS: Final = "…"
ZWSP: Final = "\u200b"

# --- the default templates -------------------------------------------------------------

DEFAULT_TITLE: Final = "{{ watchlist }}: {{ headline }}"
DEFAULT_TEXT: Final = """\
{{ headline }}
{{ title }}
{% if url %}{{ url }}
{% endif %}

"{{ evidence }}"
{% if summary %}

{{ summary }}
{% endif %}

Published {{ published_date }} · score {{ score_pct }}
Watchlist {{ watchlist }}: {{ rule }}
"""
DEFAULT_MARKDOWN: Final = """\
**{{ headline }}**
{{ title }}
{{ link }}

> {{ evidence }}
{% if summary %}

{{ summary }}
{% endif %}

_Published {{ published_date }} · score {{ score_pct }} · watchlist {{ watchlist }}: {{ rule }}_
"""
DEFAULT_HTML: Final = """\
<p><strong>{{ headline }}</strong></p>
<p dir="auto">{{ title }}{% if url %}<br>{{ link }}{% endif %}</p>
<blockquote dir="auto">{{ evidence }}</blockquote>
{% if summary %}<p dir="auto">{{ summary }}</p>
{% endif %}
<p><small>Published {{ published_date }} · score {{ score_pct }} · \
watchlist {{ watchlist }}: {{ rule }}</small></p>
"""
DEFAULTS: Final = TemplateSet(
    title=DEFAULT_TITLE, text=DEFAULT_TEXT, html=DEFAULT_HTML, markdown=DEFAULT_MARKDOWN
)

_BODY_FORMAT: Final[dict[Channel, BodyFormat]] = {
    "email": "html",
    "chat": "markdown",
    "text": "text",
}
# An e-mail subject is plain text; chat services fold the title into the Markdown body.
_TITLE_FORMAT: Final[dict[Channel, BodyFormat]] = {
    "email": "text",
    "chat": "markdown",
    "text": "text",
}

# --- cleaning and escaping of untrusted text --------------------------------------------------

_SPACE_RE = re.compile(r"\s+")
# C0 (but the whitespace \t \n \v \f \r, collapsed to spaces below), DEL and C1.
_CONTROL_RE = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f]")
_MENTION_RE = re.compile(r"[@＠](?=\w)|<(?=[@!#])")
_MD_SPECIAL_RE = re.compile(r"([\\`*_\[\]<>|~])")
_MD_LINE_START_RE = re.compile(r"^(\s*)(?:([#>+\-=])|(\d+)([.)]))", re.MULTILINE)
_RTL_RE = re.compile(r"[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufeff]")
_URL_SAFE: Final = ":/?#[]@!$&'*+,;=%~"


def clean_text(text: str) -> str:
    """Collapse whitespace to single spaces and drop C0/C1 control characters."""
    return _SPACE_RE.sub(" ", _CONTROL_RE.sub("", text)).strip()


def neutralise_mentions(text: str) -> str:
    """Break ``@everyone``, ``@here``, ``<!channel>``, ``<@U123>`` … with a zero-width space."""
    return _MENTION_RE.sub(lambda m: m.group(0) + ZWSP, text)


def escape_markdown(text: str) -> str:
    """Backslash-escape what would change meaning in CommonMark chat (Apprise converts)."""
    text = _MD_SPECIAL_RE.sub(r"\\\1", text)

    def _line_start(m: re.Match[str]) -> str:
        if m.group(2):
            return f"{m.group(1)}\\{m.group(2)}"
        return f"{m.group(1)}{m.group(3)}\\{m.group(4)}"

    return _MD_LINE_START_RE.sub(_line_start, text)


def safe_url(url: str | None) -> str | None:
    """An http(s) URL with a host, percent-encoded so it cannot break markup; else None."""
    if not url:
        return None
    cleaned = clean_text(url)
    parts = urlsplit(cleaned)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return quote(cleaned, safe=_URL_SAFE)


def _finalize_plain(value: object) -> object:
    return "" if value is None else value


def _finalize_markdown(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, Markup):
        return value
    return escape_markdown(str(value))


def _environment(fmt: BodyFormat) -> ImmutableSandboxedEnvironment:
    return ImmutableSandboxedEnvironment(
        undefined=StrictUndefined,
        autoescape=fmt == "html",
        finalize=_finalize_markdown if fmt == "markdown" else _finalize_plain,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )


_ENVIRONMENTS: Final[dict[BodyFormat, ImmutableSandboxedEnvironment]] = {
    fmt: _environment(fmt) for fmt in ("text", "html", "markdown")
}


@lru_cache(maxsize=256)
def _compile(fmt: BodyFormat, source: str) -> Template:
    return _ENVIRONMENTS[fmt].from_string(source)


# --- English labels ------------------------------------------------------------------------


@cache
def country_names() -> dict[str, str]:
    """ISO 3166-1 alpha-2 code → English short name (committed table)."""
    data = resources.files("worker.core.data").joinpath("countries_en.json").read_text("utf-8")
    table: dict[str, str] = json.loads(data)
    return table


def partner_names(codes: tuple[str, ...]) -> tuple[str, ...]:
    names = country_names()
    return tuple(names.get(code.upper(), code) for code in codes)


def sector_labels(keys: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(SECTOR_LABELS.get(key, key.replace("_", " ")) for key in keys)


def event_label(key: str | None) -> str:
    if not key:
        return ""
    return EVENT_LABELS.get(key, key.replace("_", " "))


def headline(ctx: AlertContext) -> str:
    """English structured line: "Iran ↔ China · AI, digital economy · meeting · Al-Wifaq (ar)".

    Partners keep the order they are given in. An outlet name in a right-to-left script is
    wrapped in Unicode isolates so that it cannot reorder the rest of the line.
    """
    parts: list[str] = []
    if ctx.partners:
        parts.append(" ↔ ".join(partner_names(ctx.partners)))
    if ctx.sectors:
        parts.append(", ".join(sector_labels(ctx.sectors)))
    if ctx.event_type:
        parts.append(event_label(ctx.event_type))
    source = clean_text(ctx.outlet) or "unknown outlet"
    if _RTL_RE.search(source):
        source = f"\u2068{source}\u2069"
    lang = clean_text(ctx.lang)
    parts.append(f"{source} ({lang})" if lang else source)
    return " · ".join(parts)


# --- rendering -----------------------------------------------------------------------------


def _clean_context(ctx: AlertContext, *, neutralise: bool) -> AlertContext:
    def c(text: str) -> str:
        cleaned = clean_text(text)
        return neutralise_mentions(cleaned) if neutralise else cleaned

    return replace(
        ctx,
        watchlist=c(ctx.watchlist),
        rule=c(ctx.rule),
        title=c(ctx.title),
        url=safe_url(ctx.url),
        outlet=c(ctx.outlet),
        lang=c(ctx.lang),
        partners=tuple(c(p) for p in ctx.partners),
        sectors=tuple(c(s) for s in ctx.sectors),
        event_type=c(ctx.event_type) if ctx.event_type else None,
        evidence=c(ctx.evidence),
        summary=c(ctx.summary),
    )


def _link(url: str | None, fmt: BodyFormat) -> str:
    if not url:
        return ""
    host = (urlsplit(url).hostname or url).removeprefix("www.")
    if fmt == "html":
        return Markup('<a href="{}">{}</a>').format(url, host)
    if fmt == "markdown":
        # Markup marks "already escaped for its format": the host is Markdown-escaped and
        # safe_url() percent-encoded the brackets, spaces and backslashes of the URL.
        return Markup(f"[{escape_markdown(host)}]({url})")  # noqa: S704
    return url


def _namespace(ctx: AlertContext, fmt: BodyFormat) -> dict[str, Any]:
    namespace: dict[str, Any] = {f.name: getattr(ctx, f.name) for f in fields(ctx)}
    namespace.update(
        headline=headline(ctx),
        link=_link(ctx.url, fmt),
        partner_names=partner_names(ctx.partners),
        sector_labels=sector_labels(ctx.sectors),
        event_label=event_label(ctx.event_type),
        published_date=ctx.published.date().isoformat() if ctx.published else "date unknown",
        score_pct=f"{round(ctx.score * 100)}%",
    )
    return namespace


def _render_source(fmt: BodyFormat, source: str, ctx: AlertContext) -> str:
    """Render one template, stopping once it has produced ``OUTPUT_CAP`` characters."""
    chunks: list[str] = []
    size = 0
    generated: Iterator[str] = _compile(fmt, source).generate(_namespace(ctx, fmt))
    with closing(generated):  # type: ignore[type-var]  # a generator has close()
        for chunk in generated:
            chunks.append(chunk)
            size += len(chunk)
            if size > OUTPUT_CAP:
                break
    return "".join(chunks)[:OUTPUT_CAP].strip()


def _body_source(templates: TemplateSet, fmt: BodyFormat) -> str:
    custom = {"text": templates.text, "html": templates.html, "markdown": templates.markdown}
    default = {"text": DEFAULT_TEXT, "html": DEFAULT_HTML, "markdown": DEFAULT_MARKDOWN}
    return custom[fmt] or default[fmt]


def _render_message(ctx: AlertContext, channel: Channel, templates: TemplateSet) -> Message:
    title_fmt, body_fmt = _TITLE_FORMAT[channel], _BODY_FORMAT[channel]
    title = _render_source(title_fmt, templates.title or DEFAULT_TITLE, ctx)
    title = clean_text(title)  # a title is one line, whatever the template did
    if len(title) > TITLE_MAX:
        title = _cut(title, TITLE_MAX - 1)
    body = _render_source(body_fmt, _body_source(templates, body_fmt), ctx)
    return Message(title=title, body=body, body_format=body_fmt)


def _fallback_note(fmt: BodyFormat, error: Exception) -> str:
    note = (
        f"(This watchlist's custom template failed with {type(error).__name__}; "
        "the default template was used.)"
    )
    if fmt == "html":
        return f"<p><small>{escape(note)}</small></p>"
    return escape_markdown(note) if fmt == "markdown" else note


def render_alert(
    ctx: AlertContext,
    channel: Channel,
    templates: TemplateSet | None = None,
    max_length: int | None = None,
) -> Message:
    """Render an alert for a channel; never fails, and fits ``max_length`` when given.

    ``max_length`` bounds title + body together (services without a title field fold the
    title into the body). Truncation shortens summary, evidence, article title and rule in
    that order, marking each cut with "…", so the headline and the link survive.
    """
    clean = _clean_context(ctx, neutralise=channel != "email")
    message = _render_or_default(clean, channel, templates or DEFAULTS)
    if max_length is None or _size(message) <= max_length:
        return message
    return _fit(clean, channel, templates or DEFAULTS, max_length)


def _render_or_default(ctx: AlertContext, channel: Channel, templates: TemplateSet) -> Message:
    """Render with the watchlist's templates; if they fail, with the defaults and a note."""
    try:
        return _render_message(ctx, channel, templates)
    # A watchlist's own template runs arbitrary filters on data it was not validated
    # against, so its failure modes are unbounded; an alert must not be lost to it.
    except Exception as error:  # noqa: BLE001
        message = _render_message(ctx, channel, DEFAULTS)
        note = _fallback_note(message.body_format, error)
        return replace(message, body=f"{message.body}\n\n{note}")


def render_for_target(
    ctx: AlertContext, target: str, templates: TemplateSet | None = None
) -> Message:
    """``render_alert`` with the channel and the length limit that suit an Apprise URL."""
    return render_alert(ctx, channel_for_target(target), templates, channel_limit(target))


# --- truncation -----------------------------------------------------------------------------

_SHRINK_ORDER: Final = ("summary", "evidence", "title", "rule")


def _size(message: Message) -> int:
    return len(message.title) + len(message.body) + 2  # Apprise joins them with "\r\n"


def _cut(text: str, keep: int) -> str:
    if len(text) <= max(keep, 0):
        return text
    return text[: max(keep, 0)].rstrip() + ELLIPSIS


def _fit(ctx: AlertContext, channel: Channel, templates: TemplateSet, limit: int) -> Message:
    current = ctx
    message = _render_or_default(current, channel, templates)
    for name in _SHRINK_ORDER:
        for _ in range(4):  # escaping can expand text; a few rounds converge
            over = _size(message) - limit
            value: str = getattr(current, name)
            if over <= 0 or not value:
                break
            shorter: dict[str, Any] = {name: _cut(value, len(value) - over - 1)}
            current = replace(current, **shorter)
            message = _render_or_default(current, channel, templates)
    if _size(message) <= limit:
        return message
    return _minimal(current, channel, limit)


def _escape_for(fmt: BodyFormat, text: str) -> str:
    if fmt == "html":
        return str(escape(text))
    return escape_markdown(text) if fmt == "markdown" else text


def _fit_escaped(fmt: BodyFormat, text: str, limit: int) -> str:
    """``text`` cut so that, escaped for ``fmt``, it is at most ``limit`` characters."""
    keep = limit - 1
    for _ in range(6):
        escaped = _escape_for(fmt, _cut(text, keep))
        if len(escaped) <= limit:
            return escaped
        keep = min(keep - 1, keep * limit // len(escaped))
    return ""


def _minimal(ctx: AlertContext, channel: Channel, limit: int) -> Message:
    """Headline and link only: for templates whose fixed text alone exceeds the limit."""
    body_fmt = _BODY_FORMAT[channel]
    budget = max(limit - 2, 0)
    line = headline(ctx)
    title = _fit_escaped(_TITLE_FORMAT[channel], line, min(TITLE_MAX, budget // 3))
    budget -= len(title)
    link = _link(ctx.url, body_fmt)
    if len(link) > budget:
        link = ""  # an unusable cut link is worse than none; the headline still says what
    sep = "<br>" if body_fmt == "html" else "\n"
    room = budget - len(link) - (len(sep) if link else 0)
    head = _fit_escaped(body_fmt, line, room) if room > 1 else ""
    body = sep.join(part for part in (head, link) if part)
    return Message(title=title, body=body, body_format=body_fmt)


# --- validation ----------------------------------------------------------------------------

SAMPLE_CONTEXT: Final = AlertContext(
    watchlist="sample-watchlist",
    rule="partners all of IR,CN; sectors ai; keyword 'memorandum'",
    title="ایران و چین تفاهم‌نامه همکاری در حوزه هوش مصنوعی امضا کردند",
    url="https://www.example.org/news/1234",
    outlet="Sample Outlet",
    lang="fa",
    published=datetime(2025, 12, 5, 9, 30, tzinfo=UTC),
    partners=("IR", "CN"),
    sectors=("ai", "digital_economy"),
    event_type="agreement",
    score=0.87,
    evidence="The two sides signed a memorandum on artificial intelligence.",
    summary="Tehran and Beijing signed a memorandum of understanding on AI research.",
)
#: Fields a real alert may lack: templates must survive them too.
SPARSE_SAMPLE_CONTEXT: Final = replace(
    SAMPLE_CONTEXT,
    url=None,
    published=None,
    partners=(),
    sectors=(),
    event_type=None,
    evidence="",
    summary="",
)


_SPARSE_NOTE: Final = (
    " (with an alert that has no url, published date, partners, sectors, event type,"
    " evidence or summary)"
)


def _template_slots(templates: TemplateSet) -> Iterator[tuple[str, str, tuple[BodyFormat, ...]]]:
    if templates.title is not None:
        yield "title", templates.title, ("text", "markdown")
    if templates.text is not None:
        yield "text", templates.text, ("text",)
    if templates.html is not None:
        yield "html", templates.html, ("html",)
    if templates.markdown is not None:
        yield "markdown", templates.markdown, ("markdown",)


def _template_error(source: str, fmt: BodyFormat) -> str | None:
    try:
        _compile(fmt, source)
    except TemplateSyntaxError as error:
        return f"syntax error on line {error.lineno}: {error.message}"
    for sample, when in ((SAMPLE_CONTEXT, ""), (SPARSE_SAMPLE_CONTEXT, _SPARSE_NOTE)):
        try:
            _render_source(fmt, source, sample)
        except UndefinedError as error:
            tokens = ", ".join(TEMPLATE_TOKENS)
            return f"{error.message}{when}; available tokens: {tokens}"
        except SecurityError as error:
            return f"not allowed in a template: {error}"
        except TemplateError as error:
            return f"{type(error).__name__}{when}: {error}"
        # Filters in a user template can raise anything; report it instead of crashing
        # the configuration loader.
        except Exception as error:  # noqa: BLE001
            return f"{type(error).__name__} while rendering a sample alert{when}: {error}"
    return None


def validate_templates(templates: TemplateSet) -> list[str]:
    """Error messages for a watchlist's templates; an empty list means they are usable."""
    errors: list[str] = []
    for name, source, formats in _template_slots(templates):
        for fmt in formats:
            error = _template_error(source, fmt)
            if error is not None:
                errors.append(f"{name} template: {error}")
                break
    return errors


# --- channels and limits -------------------------------------------------------------------

_EMAIL_SCHEMES: Final = frozenset({"mailto", "mailtos"})
#: Services that render Markdown in a chat window (Apprise converts CommonMark for them).
_CHAT_SCHEMES: Final = frozenset(
    {
        "slack", "tgram", "discord", "msteams", "workflow", "workflows",
        "matrix", "matrixs", "mmost", "mmosts", "rocket", "rockets", "zulip",
        "gchat", "guilded", "twist", "webex", "wxteams", "revolt", "kook",
        "cliq", "zcliq", "zohocliq", "zalo", "whapi", "dingtalk", "nctalk", "nctalks",
    }
)  # fmt: skip
#: Body limits (characters) at or below Apprise's own ``body_maxlen`` for each service.
_LIMITS: Final = {
    "tgram": 4096,
    "discord": 2000,
    "guilded": 2000,
    "revolt": 2000,
    "slack": 35000,
    "msteams": 28000,
    "workflow": 1000,
    "workflows": 1000,
    "mmost": 4000,
    "mmosts": 4000,
    "rocket": 1000,
    "rockets": 1000,
    "gchat": 4000,
    "zulip": 10000,
    "twist": 1000,
    "kook": 5000,
    "cliq": 5000,
    "zcliq": 5000,
    "zohocliq": 5000,
    "zalo": 2000,
    "whapi": 4096,
    "dingtalk": 19985,
    "nctalk": 32000,
    "nctalks": 32000,
    "matrix": 32768,
    "matrixs": 32768,
    "signal": 32768,
    "whatsapp": 1024,
    "threema": 3500,
    "line": 5000,
    "pover": 1024,
    "ntfy": 7800,
    "ntfys": 7800,
}


def _scheme(url: str) -> str:
    scheme, sep, _rest = url.strip().partition("://")
    return scheme.lower() if sep else ""


def channel_for_target(url: str) -> Channel:
    """E-mail (HTML), chat (Markdown) or plain text, from an Apprise URL's scheme."""
    scheme = _scheme(url)
    if scheme in _EMAIL_SCHEMES:
        return "email"
    return "chat" if scheme in _CHAT_SCHEMES else "text"


def channel_limit(url: str) -> int | None:
    """The message length a service accepts, or None when it has no practical limit."""
    return _LIMITS.get(_scheme(url))
