"""Parse an OPML subscription list (what feed readers export) into feed specs.

Pure: bytes in, `OpmlFeed` list out. Outlines may nest (folders); an outline is a feed when it
has an `xmlUrl` and its `type` is rss, atom or missing. URLs are deduplicated, the first wins.

Safety: stdlib ElementTree (expat) never fetches external entities, but it does expand internal
ones, so any DOCTYPE is refused before parsing: that rules out billion laughs and XXE alike.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

__all__ = ["OpmlError", "OpmlFeed", "parse_opml"]

_FEED_TYPES = frozenset({"", "rss", "atom"})
_DOCTYPE = re.compile(rb"<!DOCTYPE", re.I)
_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*$")


class OpmlError(ValueError):
    """The OPML cannot be read; the message names the source and, where known, the line."""


@dataclass(frozen=True)
class OpmlFeed:
    url: str
    name: str | None
    language: str | None


def parse_opml(body: bytes, *, source: str) -> list[OpmlFeed]:
    doctype = _DOCTYPE.search(body)
    if doctype:
        line = body.count(b"\n", 0, doctype.start()) + 1
        raise OpmlError(f"{source}, line {line}: DOCTYPE declarations are not accepted in OPML")
    try:
        root = ET.fromstring(body)  # noqa: S314 -- DOCTYPE refused above, so no entities at all
    except ET.ParseError as error:
        line, column = error.position
        raise OpmlError(f"{source}, line {line}, column {column}: not valid XML") from error
    if _local(root.tag) != "opml":
        raise OpmlError(f"{source}: not OPML (the root element is <{_local(root.tag)}>)")
    body_element = next((e for e in root if _local(e.tag) == "body"), None)
    if body_element is None:
        raise OpmlError(f"{source}: OPML without a <body> element")
    feeds: list[OpmlFeed] = []
    seen: set[str] = set()
    for outline in body_element.iter():
        feed = _feed_of(outline)
        if feed is not None and feed.url not in seen:
            seen.add(feed.url)
            feeds.append(feed)
    return feeds


def _feed_of(outline: ET.Element) -> OpmlFeed | None:
    if _local(outline.tag) != "outline":
        return None
    url = (outline.get("xmlUrl") or outline.get("xmlurl") or "").strip()
    kind = (outline.get("type") or "").strip().lower()
    if not url or kind not in _FEED_TYPES or not url.lower().startswith(("http://", "https://")):
        return None
    name = " ".join((outline.get("title") or outline.get("text") or "").split()) or None
    language = (outline.get("language") or "").strip()
    return OpmlFeed(
        url=url,
        name=name,
        language=re.split(r"[-_]", language)[0].lower() if _LANGUAGE.match(language) else None,
    )


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1].lower() if isinstance(tag, str) else ""
