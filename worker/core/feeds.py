"""Parse the bytes of an RSS 0.9x/2.0, RSS 1.0 (RDF) or Atom feed into plain dataclasses.

Pure: no network, no clock, no database. `parse_feed` takes the body the fetcher downloaded and
returns a `ParsedFeed`, or raises `FeedParseError` with a closed `ErrorKind`.

The steps, in order:

1. **Decode** the bytes ourselves (`_decode_body`), because feedparser's fallbacks turn legacy
   Arabic/Persian bytes into Latin-1 mojibake. Order: byte-order mark; valid UTF-8 (this wins over
   a *declared* single-byte charset: real legacy text is practically never valid UTF-8, so a
   UTF-8 body declared ISO-8859-1 is read as UTF-8); the HTTP charset, then the XML declaration;
   finally a guess among Windows code pages (1252 Latin, 1256 Arabic/Persian, 1251 Cyrillic, led
   by the feed's declared `<language>`/`xml:lang`) that keeps words in one script.
   Not recovered: undeclared legacy multi-byte encodings (GBK, Shift-JIS, ...) and single-byte
   code pages other than those above (they decode, but may be wrong); text that the publisher
   already mangled is only repaired where feedparser's own "UTF-8 read as Latin-1" fix applies.
2. **Refuse** bodies that are not XML (empty, JSON, binary, plain text) or are HTML pages.
3. **Repair** the XML text, noting every repair in `ParsedFeed.warning`: drop the DOCTYPE
   (with it every entity declaration: no billion laughs, no external entities), drop characters
   XML forbids (NUL, C0/C1 controls), escape stray `&`, turn HTML named entities into numeric
   references.
4. Hand feedparser a byte stream (never a string: a string is taken for a URL or a file name),
   with the feed URL as Content-Location so relative links resolve (xml:base included).
   feedparser's own HTML sanitiser and URI resolution stay on; `nh3` sanitises again for display.
5. **Map** entries to `ParsedEntry`: plain text everywhere except `content_html`; no control
   characters in any string (except "\\n" between paragraphs in `summary` and `content`, which
   sentence splitting needs); one entry per `entry_key`, the first one winning; newest first.
"""

from __future__ import annotations

import calendar
import codecs
import hashlib
import html
import html.entities
import io
import re
import time
import unicodedata
import xml.sax
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import feedparser
import nh3

from worker.core.errors import ErrorKind

__all__ = ["FeedParseError", "ParsedEntry", "ParsedFeed", "body_hash", "parse_feed"]


@dataclass(frozen=True, slots=True)
class ParsedEntry:
    entry_key: str
    guid: str | None
    url: str | None
    title: str
    summary: str
    content: str
    content_html: str | None
    published: datetime | None
    author: str | None
    language: str | None


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    title: str | None
    link: str | None
    language: str | None
    ttl_minutes: int | None
    entries: tuple[ParsedEntry, ...]
    warning: str | None
    content_hash: str


class FeedParseError(Exception):
    """The body is not a feed (`NOT_A_FEED`) or is XML broken beyond recovery (`MALFORMED`)."""

    def __init__(self, kind: ErrorKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def body_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def parse_feed(
    body: bytes, *, url: str, content_type: str | None = None, max_entries: int = 500
) -> ParsedFeed:
    """Parse one feed body downloaded from `url`. Raises `FeedParseError`."""
    if not body.strip():
        raise FeedParseError(ErrorKind.NOT_A_FEED, f"{url}: not a feed: the body is empty")
    text, notes = _decode_body(body, content_type)
    _refuse_non_feed(text, url)
    text, repairs = _repair_xml(text)
    notes.extend(repairs)
    result = feedparser.parse(
        io.BytesIO(text.encode("utf-8")),
        response_headers={
            "content-type": "application/xml; charset=utf-8",  # we decoded it: see step 1
            "content-location": url,
        },
        sanitize_html=True,
        resolve_relative_uris=True,
    )
    _raise_if_unusable(result, url)
    if result.get("bozo"):
        notes.append(_describe_bozo(result.get("bozo_exception")))
    feed: Mapping[str, Any] = result["feed"]
    feed_language = _language_code(_get(feed, "language"))
    is_atom = str(result.get("version") or "").startswith("atom")
    entries = _entries(
        result["entries"], base_url=url, feed_language=feed_language, is_atom=is_atom
    )
    return ParsedFeed(
        title=_text_field(feed, "title", markup_in_text=not is_atom) or None,
        link=_absolute_url(_get(feed, "link"), url),
        language=feed_language,
        ttl_minutes=_ttl(_get(feed, "ttl")),
        entries=_newest_first(entries)[: max(max_entries, 0)],
        warning="; ".join(notes) or None,
        content_hash=body_hash(body),
    )


# --- step 1: decoding ----------------------------------------------------------------------

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._:-]+)["']""")
_LANGUAGE_HINT = re.compile(
    rb"""<(?:\w+:)?language>\s*([A-Za-z]{2})\b|xml:lang\s*=\s*["']([A-Za-z]{2})\b"""
)
_CODEPAGE_BY_LANGUAGE = {
    **dict.fromkeys(("ar", "fa", "ur", "ps", "ku"), "cp1256"),
    **dict.fromkeys(("ru", "uk", "bg", "sr", "be", "mk", "kk", "ky", "tg"), "cp1251"),
    **dict.fromkeys(("tr", "az"), "cp1254"),
    "el": "cp1253",
    "he": "cp1255",
}
_GUESSES = ("cp1252", "cp1256", "cp1251")
_WORD = re.compile(r"[^\W\d_]+")


def _decode_body(body: bytes, content_type: str | None) -> tuple[str, list[str]]:
    """Return the text and notes on how it was decoded (empty when as declared)."""
    for bom, encoding in _BOMS:
        if body.startswith(bom):
            return body[len(bom) :].decode(encoding, errors="replace"), []
    if body[:4] in (b"<\x00?\x00", b"\x00<\x00?"):
        encoding = "utf-16-le" if body[0] == 0x3C else "utf-16-be"
        return body.decode(encoding, errors="replace"), []
    declared = [c for c in (_charset_of(content_type), _xml_declared(body)) if c]
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        if declared and _codec_name(declared[0]) not in ("utf-8", "ascii") and not body.isascii():
            return text, [f"declared {declared[0]} but the bytes are UTF-8; read as UTF-8"]
        return text, []
    for encoding in declared:
        try:
            return body.decode(_codec_name(encoding) or encoding), []
        except (UnicodeDecodeError, LookupError):
            continue
    encoding = _guess_codepage(body)
    said = f"declared {declared[0]}" if declared else "no encoding declared"
    note = f"{said} but the bytes are not valid in it; read as {encoding} (guessed)"
    return body.decode(encoding, errors="replace"), [note]


def _charset_of(content_type: str | None) -> str | None:
    if not content_type:
        return None
    match = re.search(r"""charset\s*=\s*["']?([A-Za-z0-9._:-]+)""", content_type, re.I)
    return match.group(1) if match else None


def _xml_declared(body: bytes) -> str | None:
    match = _XML_ENCODING.match(body[:1024])
    return match.group(1).decode("ascii") if match else None


def _codec_name(encoding: str) -> str | None:
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        return None


def _guess_codepage(body: bytes) -> str:
    """Pick the Windows code page whose decoding keeps each word in one plausible script."""
    hint = _LANGUAGE_HINT.search(body[:8192])
    language = (hint.group(1) or hint.group(2)).decode("ascii").lower() if hint else ""
    preferred = _CODEPAGE_BY_LANGUAGE.get(language, "cp1252")
    candidates = [preferred, *(c for c in _GUESSES if c != preferred)]
    scores = [_implausibility(body.decode(c, errors="replace")) for c in candidates]
    return candidates[scores.index(min(scores))]


def _implausibility(text: str) -> float:
    """Share of non-ASCII words that look like mojibake (mixed scripts, all-accent Latin)."""
    bad = text.count("\ufffd")
    total = bad
    for word in _WORD.findall(text):
        if word.isascii():
            continue
        total += 1
        scripts = {unicodedata.name(c, "?").split(" ")[0] for c in word if not c.isascii()}
        all_accents = scripts == {"LATIN"} and len(word) > 2 and not any(c.isascii() for c in word)
        if len(scripts) > 1 or all_accents:
            bad += 1
    return bad / total if total else 0.0


# --- step 2: refusing what is not a feed ----------------------------------------------------

_PROLOG = re.compile(
    r"""\A\s*(?:<\?.*?\?>\s*|<!--.*?-->\s*|<!DOCTYPE(?:[^\[>"']|"[^"]*"|'[^']*')*"""
    r"""(?:\[.*?\]\s*)?>\s*)*""",
    re.S | re.I,
)
_ROOT = re.compile(r"<([A-Za-z_][\w.:-]*)")


def _refuse_non_feed(text: str, url: str) -> None:
    stripped = text.lstrip()
    if not stripped.startswith("<"):
        what = "JSON" if stripped[:1] in ("{", "[") else "not XML (text or binary data)"
        raise FeedParseError(ErrorKind.NOT_A_FEED, f"{url}: not a feed: the body is {what}")
    prolog = _PROLOG.match(text)
    rest = text[prolog.end() if prolog else 0 :]
    root = _ROOT.match(rest)
    doctype_html = re.search(r"<!DOCTYPE\s+html", text[: prolog.end() if prolog else 0], re.I)
    if doctype_html or (root and root.group(1).lower() == "html"):
        raise FeedParseError(ErrorKind.NOT_A_FEED, f"{url}: not a feed: the body is an HTML page")


# --- step 3: repairing the XML text ---------------------------------------------------------

_DOCTYPE = re.compile(r"""<!DOCTYPE(?:[^\[>"']|"[^"]*"|'[^']*')*(?:\[.*?\]\s*)?>""", re.S | re.I)
_CDATA = re.compile(r"(<!\[CDATA\[.*?\]\]>)", re.S)
_AMPERSAND = re.compile(
    r"&(?:#([0-9]{1,7});|#[xX]([0-9a-fA-F]{1,6});|([A-Za-z][A-Za-z0-9]{0,31});)?"
)
_XML_PREDEFINED = frozenset({"amp", "lt", "gt", "quot", "apos"})
# Characters XML 1.0 forbids or that are C1 controls; tab, LF and CR stay.
_ILLEGAL_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe\uffff\ud800-\udfff]")


def _repair_xml(text: str) -> tuple[str, list[str]]:
    notes: list[str] = []
    prolog = _PROLOG.match(text)
    end = prolog.end() if prolog else 0
    head, doctypes = _DOCTYPE.subn("", text[:end])
    if doctypes:
        notes.append("removed the DOCTYPE declaration (entities are never expanded)")
    text, controls = _ILLEGAL_XML.subn("", head + text[end:])
    if controls:
        notes.append(f"removed {controls} control character(s) that XML forbids")
    fixes = [0]
    parts = _CDATA.split(text)
    for i in range(0, len(parts), 2):  # odd parts are CDATA sections: left as they are
        parts[i] = _AMPERSAND.sub(lambda m: _fix_reference(m, fixes), parts[i])
    if fixes[0]:
        notes.append(f"repaired {fixes[0]} stray '&' or undefined entity reference(s)")
    return "".join(parts), notes


def _fix_reference(match: re.Match[str], fixes: list[int]) -> str:
    decimal, hexadecimal, name = match.groups()
    if decimal or hexadecimal:
        code = int(decimal) if decimal else int(hexadecimal, 16)
        if code > 0x10FFFF or _ILLEGAL_XML.match(chr(code)):
            fixes[0] += 1
            return ""
        return match.group(0)
    if name in _XML_PREDEFINED:
        return match.group(0)
    fixes[0] += 1
    if name and name in html.entities.name2codepoint:
        return f"&#{html.entities.name2codepoint[name]};"
    return "&amp;" + match.group(0)[1:]


# --- step 4: what feedparser could not use --------------------------------------------------


def _raise_if_unusable(result: Mapping[str, Any], url: str) -> None:
    if result["entries"] or result.get("version"):
        return
    error = result.get("bozo_exception")
    if isinstance(error, xml.sax.SAXParseException):
        where = f"line {error.getLineNumber()}, column {error.getColumnNumber()}"
        message = f"{url}: malformed XML at {where}: {error.getMessage()}"
        raise FeedParseError(ErrorKind.MALFORMED, message)
    raise FeedParseError(
        ErrorKind.NOT_A_FEED, f"{url}: not a feed: XML without an RSS, RDF or Atom element"
    )


def _describe_bozo(error: object) -> str:
    if isinstance(error, xml.sax.SAXParseException):
        where = f"line {error.getLineNumber()}, column {error.getColumnNumber()}"
        return f"XML error at {where} ({error.getMessage()}); read leniently"
    return f"feed read leniently ({error})"


# --- step 5: mapping entries ----------------------------------------------------------------


def _entries(
    raw_entries: Iterable[Mapping[str, Any]],
    *,
    base_url: str,
    feed_language: str | None,
    is_atom: bool,
) -> list[ParsedEntry]:
    seen: set[str] = set()
    out: list[ParsedEntry] = []
    for raw in raw_entries:
        entry = _entry(raw, base_url=base_url, feed_language=feed_language, is_atom=is_atom)
        if entry.entry_key not in seen:
            seen.add(entry.entry_key)
            out.append(entry)
    return out


def _entry(
    raw: Mapping[str, Any], *, base_url: str, feed_language: str | None, is_atom: bool
) -> ParsedEntry:
    guid = _single_line(str(_get(raw, "id") or "")) or None
    url = _absolute_url(_get(raw, "link"), base_url)
    title = _text_field(raw, "title", markup_in_text=not is_atom)
    summary = _text_field(raw, "summary", multiline=True, markup_in_text=not is_atom)
    content_text, content_html = _content(raw)
    if guid:
        key = f"guid:{guid}"
    elif url:
        key = f"link:{url}"
    else:
        digest = hashlib.sha256(_fold(f"{title}\n{content_text}").encode("utf-8"))
        key = f"hash:{digest.hexdigest()[:32]}"
    return ParsedEntry(
        entry_key=key,
        guid=guid,
        url=url,
        title=title,
        summary=summary,
        content=content_text,
        content_html=content_html,
        published=_published(raw),
        author=_single_line(str(_get(raw, "author") or "")) or None,
        language=_entry_language(raw) or feed_language,
    )


def _content(raw: Mapping[str, Any]) -> tuple[str, str | None]:
    """Plain text and sanitised HTML of the longest of content:encoded/content/summary."""
    details: list[Mapping[str, Any]] = list(_get(raw, "content") or [])
    summary = _get(raw, "summary_detail")
    if summary:
        details.append(summary)
    best_text, best_html = "", None
    for detail in details:
        value = str(_get(detail, "value") or "")
        is_html = "html" in str(_get(detail, "type") or "text/html")
        text = _html_to_text(value) if is_html else _clean(value, multiline=True)
        if len(text) > len(best_text):
            best_text = text
            best_html = nh3.clean(value) if is_html else html.escape(text)
    if not best_text or not best_html:
        return best_text, None
    return best_text, _CONTROL.sub("", re.sub(r"[\t\n\r]+", " ", best_html))


def _text_field(
    raw: Mapping[str, Any], name: str, *, multiline: bool = False, markup_in_text: bool = True
) -> str:
    """Plain text of a field. RSS has no way to say "this title is HTML", so with
    `markup_in_text` a text/plain value that contains tags is read as HTML too (Atom's explicit
    type="text" is taken at its word)."""
    value = str(_get(raw, name) or "")
    detail = _get(raw, f"{name}_detail") or {}
    is_html = "html" in str(_get(detail, "type") or "")
    if is_html or (markup_in_text and _LOOKS_LIKE_MARKUP.search(value)):
        text = _html_to_text(value)
        return text if multiline else _single_line(text)
    return _clean(value, multiline=multiline)


def _entry_language(raw: Mapping[str, Any]) -> str | None:
    details = [*(_get(raw, "content") or []), _get(raw, "summary_detail")]
    details.append(_get(raw, "title_detail"))
    for detail in details:
        if detail:
            language = _language_code(_get(detail, "language"))
            if language:
                return language
    return None


def _published(raw: Mapping[str, Any]) -> datetime | None:
    for name in ("published_parsed", "updated_parsed", "created_parsed"):
        value = _get(raw, name)
        if isinstance(value, time.struct_time):
            try:
                return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
            except (OverflowError, ValueError, OSError):
                continue
    return None


def _newest_first(entries: list[ParsedEntry]) -> tuple[ParsedEntry, ...]:
    """Dated entries newest first, then undated ones in document order (the sort is stable)."""
    if not any(e.published for e in entries):
        return tuple(entries)
    floor = datetime.min.replace(tzinfo=UTC)
    return tuple(sorted(entries, key=lambda e: e.published or floor, reverse=True))


# --- text and URL helpers -------------------------------------------------------------------


def _get(raw: object, key: str) -> Any:
    """Read one feedparser field by its own name, skipping FeedParserDict's alias lookups
    (which guess, e.g. 'updated' falls back to 'published', and emit DeprecationWarnings)."""
    return dict.get(raw, key) if isinstance(raw, dict) else None


_BLOCK_TAGS = frozenset(
    {
        "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt",
        "figcaption", "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr",
        "li", "main", "nav", "ol", "p", "pre", "section", "table", "tbody", "td", "th", "thead",
        "tr", "ul",
    }
)  # fmt: skip
_SKIPPED_TAGS = frozenset({"script", "style", "template", "noscript", "iframe", "object", "svg"})
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ufffe\uffff\ud800-\udfff]")
_SPACES = re.compile(r"[^\S\n]+")
_LOOKS_LIKE_MARKUP = re.compile(r"</?[A-Za-z][A-Za-z0-9]*(?:\s[^<>]*)?/?>")


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED_TAGS:
            self._skipping += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED_TAGS:
            self._skipping = max(self._skipping - 1, 0)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def _html_to_text(value: str) -> str:
    extractor = _TextExtractor()
    extractor.feed(value)
    extractor.close()
    return _clean("".join(extractor.parts), multiline=True)


def _clean(value: str, *, multiline: bool) -> str:
    """NFC, no control characters, spaces collapsed; "\\n" between paragraphs if multiline."""
    value = unicodedata.normalize("NFC", value.replace("\r\n", "\n").replace("\r", "\n"))
    value = _CONTROL.sub(" ", value.replace("\t", " "))
    if not multiline:
        return _SPACES.sub(" ", value.replace("\n", " ")).strip()
    lines = (_SPACES.sub(" ", line).strip() for line in value.split("\n"))
    return "\n".join(line for line in lines if line)


def _single_line(value: str) -> str:
    return _clean(value, multiline=False)


def _fold(value: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", value).casefold().split())


def _absolute_url(value: object, base_url: str) -> str | None:
    """Absolute http(s) URL with scheme and host in lower case and no fragment, or None."""
    link = _single_line(str(value or ""))
    if not link:
        return None
    try:
        parts = urlsplit(urljoin(base_url, link))
        host = (parts.hostname or "").lower()
        port = parts.port
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not host:
        return None
    default_port = {"http": 80, "https": 443}[parts.scheme.lower()]
    netloc = host if port in (None, default_port) else f"{host}:{port}"
    if parts.username or parts.password:
        return None
    return urlunsplit((parts.scheme.lower(), netloc, parts.path or "/", parts.query, ""))


_ISO_639_2 = {
    "ara": "ar", "fas": "fa", "per": "fa", "fra": "fr", "fre": "fr", "eng": "en", "rus": "ru",
    "zho": "zh", "chi": "zh", "deu": "de", "ger": "de", "spa": "es", "tur": "tr", "srp": "sr",
    "hye": "hy", "arm": "hy", "urd": "ur",
}  # fmt: skip


def _language_code(value: object) -> str | None:
    """ISO 639-1 code of a language tag ('fr-FR' -> 'fr', 'fas' -> 'fa'), or None."""
    primary = re.split(r"[-_\s]", str(value or "").strip().lower(), maxsplit=1)[0]
    if len(primary) == 2 and primary.isascii() and primary.isalpha():
        return primary
    return _ISO_639_2.get(primary)


def _ttl(value: object) -> int | None:
    try:
        minutes = int(str(value).strip())
    except ValueError:
        return None
    return minutes if 0 < minutes <= 60 * 24 * 31 else None
