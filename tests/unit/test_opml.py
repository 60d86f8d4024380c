"""`worker.core.opml.parse_opml`: nested outlines, feed types, dedupe, and refusing DOCTYPEs."""

from __future__ import annotations

import pytest

from worker.core.opml import OpmlError, OpmlFeed, parse_opml

SUBSCRIPTIONS = b"""<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0">
  <head><title>Analyst subscriptions</title></head>
  <body>
    <outline text="Iran">
      <outline type="rss" text="Tehran Times" title="Tehran Times" xmlUrl="https://www.tehrantimes.com/rss"
               htmlUrl="https://www.tehrantimes.com/" language="en-US"/>
      <outline text="Persian">
        <outline type="atom" text="  IRNA   Science " xmlUrl="https://example.ir/atom.xml"
                 language="fa"/>
      </outline>
    </outline>
    <outline text="No type" xmlUrl="https://example.fr/feed"/>
    <outline type="rss" text="Duplicate" xmlUrl="https://www.tehrantimes.com/rss"/>
    <outline type="link" text="A web page" url="https://example.org/page"/>
    <outline type="rss" text="Not http" xmlUrl="ftp://example.org/feed"/>
    <outline type="rss" text="Bad language" xmlUrl="https://example.org/x" language="not a tag"/>
  </body>
</opml>
"""


def test_nested_outlines_types_and_dedupe() -> None:
    assert parse_opml(SUBSCRIPTIONS, source="subs.opml") == [
        OpmlFeed(url="https://www.tehrantimes.com/rss", name="Tehran Times", language="en"),
        OpmlFeed(url="https://example.ir/atom.xml", name="IRNA Science", language="fa"),
        OpmlFeed(url="https://example.fr/feed", name="No type", language=None),
        OpmlFeed(url="https://example.org/x", name="Bad language", language=None),
    ]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            b'<?xml version="1.0"?>\n<!DOCTYPE opml [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>\n'
            b"<opml><body><outline xmlUrl='https://x.org/&b;'/></body></opml>",
            "subs.opml, line 2: DOCTYPE declarations are not accepted",
        ),
        (
            b'<?xml version="1.0"?>\n<!DOCTYPE opml [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
            b"<opml><body><outline text='&x;' xmlUrl='https://x.org/'/></body></opml>",
            "subs.opml, line 2: DOCTYPE",
        ),
        (b"<opml>\n<body>\n<outline xmlUrl='a'>\n</body></opml>", "subs.opml, line 4, column 2"),
        (b"<rss version='2.0'/>", "subs.opml: not OPML (the root element is <rss>)"),
        (b"<opml version='2.0'><head/></opml>", "subs.opml: OPML without a <body>"),
        (b"", "subs.opml, line 1"),
    ],
)
def test_errors_name_the_source_and_line(body: bytes, message: str) -> None:
    with pytest.raises(OpmlError) as caught:
        parse_opml(body, source="subs.opml")
    assert message in str(caught.value)


def test_empty_body_gives_no_feeds() -> None:
    assert parse_opml(b"<opml><body/></opml>", source="x") == []
