"""`worker.core.feeds.parse_feed` on the real-world-like feed files in tests/fixtures/feeds/."""

from __future__ import annotations

import resource
import time
import unicodedata
from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path

import pytest

from worker.core.errors import ErrorKind
from worker.core.feeds import FeedParseError, ParsedFeed, body_hash, parse_feed

FIXTURES = Path(__file__).parent.parent / "fixtures" / "feeds"
FEED_URL = "https://feeds.example.org/path/feed.xml"


def parse(name: str, **kwargs: object) -> ParsedFeed:
    return parse_feed((FIXTURES / name).read_bytes(), url=FEED_URL, **kwargs)  # type: ignore[arg-type]


def all_strings(feed: ParsedFeed) -> list[str]:
    out = [s for s in (feed.title, feed.link, feed.language, feed.warning) if s]
    for entry in feed.entries:
        out += [v for f in fields(entry) if isinstance(v := getattr(entry, f.name), str)]
    return out


# (fixture, feed title, feed language, entry index, {field: expected value})
ENTRY_CASES = [
    (
        "rss20_content_encoded.xml",
        "Tehran Tech Wire",
        "en",
        1,
        {
            "entry_key": "guid:https://wire.example.org/news/2026/02/iran-china-ai",
            "guid": "https://wire.example.org/news/2026/02/iran-china-ai",
            "url": "https://wire.example.org/news/2026/02/iran-china-ai",
            "title": "Iran, China agree to set up joint AI working group",
            "summary": "Officials met in Beijing on Monday.",
            "content": "Iran's ICT minister and his Chinese counterpart met in Beijing on Monday"
            " and agreed to set up a joint working group on artificial intelligence.\n"
            "The group will meet twice a year. Background",
            "published": datetime(2026, 2, 10, 6, 0, tzinfo=UTC),
            "author": "Staff writer",
            "language": "en",
        },
    ),
    (
        "rss20_content_encoded.xml",
        "Tehran Tech Wire",
        "en",
        0,
        {
            "entry_key": "guid:wire-20260211-0002",
            "published": datetime(2026, 2, 11, 6, 0, tzinfo=UTC),  # dc:date
            "summary": "Short text & more.",
            "content_html": "Short text &amp; more.",
        },
    ),
    (
        "atom10_xml_base.xml",
        "Eurasia Digital Monitor",
        "en",
        1,
        {
            "entry_key": "guid:tag:atom.example.org,2026:post-17",
            "url": "https://atom.example.org/blog/posts/armenia-iran-data-centres",
            "title": "Armenia & Iran discuss data centres",
            "summary": "The ministers discussed data centres and cybersecurity.",
            "content": "Yerevan and Tehran discussed data centres, IT parks and cybersecurity.\n"
            "A memorandum may follow.",
            "published": datetime(2026, 3, 3, 4, 45, tzinfo=UTC),
            "author": "Narine Petrosyan",
            "language": "hy",  # the content's own xml:lang
        },
    ),
    (
        "atom10_xml_base.xml",
        "Eurasia Digital Monitor",
        "en",
        0,
        {
            "url": "http://atom.example.org/blog/posts/note",  # host lower-cased, :80 and #top gone
            "title": "Note en français",
            "content": "Texte brut <pas du HTML>.",  # Atom type="text" is literal text
            "content_html": "Texte brut &lt;pas du HTML&gt;.",
            "published": datetime(2026, 3, 4, 11, 0, tzinfo=UTC),  # <updated> only
            "language": "fr",
        },
    ),
    (
        "rss10_rdf.xml",
        "Balkan Science Digest",
        "sr",
        0,
        {
            "entry_key": "guid:https://rdf.example.org/2026/serbia-iran-ai",
            "title": "Serbia and Iran explore an AI memorandum",
            "published": datetime(2026, 2, 26, 13, 0, tzinfo=UTC),
            "author": "Milica Jovanović",
        },
    ),
    (
        "arabic_windows1256_undeclared.xml",
        "الوفاق - تكنولوجيا",
        "ar",
        0,
        {
            "entry_key": "guid:alwifaq-4512",
            "title": "تطوير التعاون بين إيران وأرمينيا في مجال الاتصالات وتكنولوجيا المعلومات",
            "published": datetime(2026, 1, 18, 6, 30, tzinfo=UTC),
            "language": "ar",
        },
    ),
    (
        "persian_utf8.xml",
        "خبرگزاری فناوری",
        "fa",
        0,
        {
            "title": "امضای تفاهم\u200cنامه همکاری فناوری اطلاعات ایران و چین در ۱۴۰۴",  # ZWNJ kept
            "summary": "وزیر ارتباطات و فناوری اطلاعات گفت: ۲۰ شرکت دانش\u200cبنیان ایرانی"
            " در کارگروه مشترک حضور دارند.",
            "url": "https://fanavari.example.org/news/۱۲۳",
            "language": "fa",
        },
    ),
    (
        "french_atom.xml",
        "Actualités numériques",
        "fr",
        0,
        {
            "title": "L’Iran et la Chine veulent élargir leur coopération dans l’intelligence"
            " artificielle",
            "summary": "Selon le ministère iranien des Communications, les deux parties ont"
            " souligné la nécessité d’élargir la coopération bilatérale.",
            "content_html": "<p>Selon le ministère iranien des Communications, les deux parties"
            " ont souligné la nécessité d’élargir la coopération bilatérale.</p>",
            "language": "fr",
        },
    ),
    (
        "utf8_declared_latin1.xml",
        "Coopération numérique",
        None,
        0,
        {"title": "Téhéran et Pékin : coopération en IA — « diplomatie technologique »"},
    ),
    (
        "latin1_declared_utf8.xml",
        "Coopération numérique",
        "fr",
        0,
        {"title": 'Téhéran et Pékin : coopération en IA - " diplomatie technologique "'},
    ),
    (
        "no_guid.xml",
        "Small Agency",
        None,
        0,
        {
            "entry_key": "link:https://feeds.example.org/press/2026/link-only?id=7",
            "guid": None,
            "url": "https://feeds.example.org/press/2026/link-only?id=7",
        },
    ),
    (
        "no_guid.xml",
        "Small Agency",
        None,
        1,
        {
            "entry_key": "hash:ecde144f858e62c4a4999d0e5f229776",
            "url": None,
            "content": "This item has\nneither a guid nor a link.",
        },
    ),
    ("no_guid.xml", "Small Agency", None, 2, {"url": None, "title": "Script link"}),
    (
        "html_in_titles.xml",
        "Loud Feed",
        None,
        0,
        {
            "title": "Breaking: Iran & Russia sign ICT deal",
            "summary": "Signed in Moscow.\nSecond paragraph.",
        },
    ),
    (
        "unescaped_ampersand.xml",
        "R&D Weekly",
        None,
        0,
        {
            "title": "Iran & China: R&D in 5G networks © 2026 &bogus;",
            "url": "https://rnd.example.org/story?id=5&lang=en",
            "content": "Inside CDATA R&D stays & is fine.",
        },
    ),
    (
        "control_chars.xml",
        "Noisy Feed",
        None,
        0,
        {
            "title": "Nullbyte and bell in title",
            "summary": "Escape[31m sequence, form feed, C1 next line, char ref and end.",
        },
    ),
]


@pytest.mark.parametrize(("name", "title", "language", "index", "expected"), ENTRY_CASES)
def test_entry_fields(
    name: str, title: str, language: str | None, index: int, expected: dict[str, object]
) -> None:
    feed = parse(name)
    assert feed.title == title
    assert feed.language == language
    entry = feed.entries[index]
    assert {key: getattr(entry, key) for key in expected} == expected


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*.xml") if p.stat().st_size))
def test_no_control_characters_anywhere(name: str) -> None:
    try:
        feed = parse(name)
    except FeedParseError:
        return
    for value in all_strings(feed):
        bad = [c for c in value if unicodedata.category(c) == "Cc" and c != "\n"]
        assert bad == [], value
    for entry in feed.entries:
        assert "\n" not in entry.title
        assert entry.content_html is None or "\n" not in entry.content_html


def test_feed_level_fields() -> None:
    feed = parse("rss20_content_encoded.xml")
    assert feed.link == "https://wire.example.org/"
    assert feed.ttl_minutes == 30
    assert feed.warning is None
    assert feed.content_hash == body_hash((FIXTURES / "rss20_content_encoded.xml").read_bytes())


def test_content_html_is_sanitised_and_links_absolute() -> None:
    entry = parse("rss20_content_encoded.xml").entries[1]
    assert entry.content_html is not None
    assert '<a href="https://feeds.example.org/news/2026/01/background"' in entry.content_html
    dangerous = parse("html_in_titles.xml").entries[0].content_html or ""
    for needle in ("<script", "onclick", "onerror", "javascript:", "document.cookie", "<style"):
        assert needle not in dangerous


def test_duplicate_guids_keep_first_and_dated_entries_come_newest_first() -> None:
    feed = parse("duplicate_guids.xml")
    assert [(e.guid, e.title) for e in feed.entries] == [
        ("echo-2", "Second story"),
        ("echo-1", "First copy"),
        ("echo-3", "Undated story"),
    ]


def test_max_entries_keeps_the_newest() -> None:
    feed = parse("duplicate_guids.xml", max_entries=1)
    assert [e.guid for e in feed.entries] == ["echo-2"]


def test_undated_entries_keep_document_order() -> None:
    assert [e.title for e in parse("no_guid.xml", max_entries=2).entries] == [
        "Link only item",
        "Neither guid nor link",
    ]


def test_hash_key_is_stable_and_content_based() -> None:
    first = parse("no_guid.xml").entries[1].entry_key
    assert parse("no_guid.xml").entries[1].entry_key == first
    assert parse("no_guid.xml").entries[2].entry_key != first


@pytest.mark.parametrize(
    ("name", "needle"),
    [
        ("arabic_windows1256_undeclared.xml", "read as cp1256 (guessed)"),
        ("utf8_declared_latin1.xml", "declared ISO-8859-1 but the bytes are UTF-8"),
        ("latin1_declared_utf8.xml", "read as cp1252 (guessed)"),
        ("unescaped_ampersand.xml", "stray '&'"),
        ("control_chars.xml", "control character"),
        ("xxe.xml", "removed the DOCTYPE"),
    ],
)
def test_recoveries_are_reported_in_the_warning(name: str, needle: str) -> None:
    assert needle in (parse(name).warning or "")


@pytest.mark.parametrize(
    ("name", "kind", "message"),
    [
        ("not_a_feed.html", ErrorKind.NOT_A_FEED, "an HTML page"),
        ("empty.xml", ErrorKind.NOT_A_FEED, "empty"),
        ("feed.json", ErrorKind.NOT_A_FEED, "JSON"),
        ("sitemap.xml", ErrorKind.NOT_A_FEED, "without an RSS, RDF or Atom element"),
        ("broken_beyond_recovery.xml", ErrorKind.MALFORMED, "line 2, column 33"),
    ],
)
def test_unusable_bodies(name: str, kind: ErrorKind, message: str) -> None:
    with pytest.raises(FeedParseError) as caught:
        parse(name)
    assert caught.value.kind == kind
    assert FEED_URL in str(caught.value)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    "body",
    [b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", b"   \n\t ", b"/etc/passwd", b"file:///etc/passwd"],
)
def test_binary_blank_and_path_like_bodies_are_not_feeds(body: bytes) -> None:
    # feedparser.parse(str_or_bytes) would open a path or fetch a URL: we never let it.
    with pytest.raises(FeedParseError) as caught:
        parse_feed(body, url=FEED_URL)
    assert caught.value.kind == ErrorKind.NOT_A_FEED


def test_truncated_feed_keeps_what_it_can() -> None:
    body = (FIXTURES / "rss20_content_encoded.xml").read_bytes()[:1200]
    feed = parse_feed(body, url=FEED_URL)
    assert feed.title == "Tehran Tech Wire"
    assert feed.warning is not None
    assert "XML error at line" in feed.warning


def test_billion_laughs_is_not_expanded() -> None:
    started = time.perf_counter()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    feed = parse("billion_laughs.xml")
    assert time.perf_counter() - started < 60  # a guard against hanging only
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before < 50_000  # KiB
    assert feed.entries[0].title == "&lol9;"
    assert all("lollol" not in value for value in all_strings(feed))


@pytest.mark.parametrize("name", ["xxe.xml", "external_dtd.xml"])
def test_external_entities_are_never_read(name: str) -> None:
    feed = parse(name)
    assert feed.entries
    passwd = Path("/etc/passwd").read_text(errors="replace").splitlines()
    first_line = passwd[0] if passwd else "root:x:0:0"
    for value in all_strings(feed):
        assert "root:" not in value
        assert first_line not in value


def test_quadratic_blowup_entity_is_not_expanded() -> None:
    payload = b"A" * 50_000
    body = (
        b'<?xml version="1.0"?>\n<!DOCTYPE rss [<!ENTITY a "' + payload + b'">]>\n'
        b'<rss version="2.0"><channel><title>q</title><item><guid>q1</guid><title>'
        + b"&a;" * 20_000
        + b"</title></item></channel></rss>"
    )
    started = time.perf_counter()
    feed = parse_feed(body, url=FEED_URL)
    assert time.perf_counter() - started < 60  # a guard against hanging only
    assert "AAAA" not in feed.entries[0].title


def test_declared_http_charset_is_respected() -> None:
    body = '<rss version="2.0"><channel><title>Ελληνικά νέα</title></channel></rss>'
    feed = parse_feed(
        body.encode("cp1253"), url=FEED_URL, content_type="application/rss+xml; charset=cp1253"
    )
    assert feed.title == "Ελληνικά νέα"
    assert feed.warning is None


DEMO_FEEDS = Path(__file__).parent.parent.parent / "worker" / "demo" / "feeds"


@pytest.mark.parametrize(
    ("name", "languages"),
    [("ar-news.xml", {"ar"}), ("fr-news.xml", {"fr"}), ("en-fa-news.xml", {"en", "fa"})],
)
def test_demo_feeds_parse_cleanly(name: str, languages: set[str]) -> None:
    feed = parse_feed(
        (DEMO_FEEDS / name).read_bytes(), url=f"https://demo.coopwatch.invalid/{name}"
    )
    assert feed.warning is None
    assert {e.language for e in feed.entries} == languages
    for entry in feed.entries:
        assert entry.guid
        assert entry.url
        assert entry.url.startswith("https://demo.coopwatch.invalid/")
        assert entry.published
        assert entry.published.year == 2026
        assert 300 < len(entry.content) < 1800
