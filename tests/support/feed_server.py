"""A local feed server for tests: serves bytes by path, with ETag and conditional GET."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape

from tests.support.serving import serving


@dataclass
class FeedSite:
    """Mutable content served by the server: path → (body, content type)."""

    pages: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    status: dict[str, int] = field(default_factory=dict)  # path → forced status
    redirects: dict[str, tuple[int, str]] = field(default_factory=dict)  # path → (3xx, path)
    hits: dict[str, int] = field(default_factory=dict)
    not_modified: int = 0
    base_url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def put(self, path: str, body: bytes, content_type: str = "application/rss+xml") -> str:
        with self.lock:
            self.pages[path] = (body, content_type)
        return self.base_url + path

    def url(self, path: str) -> str:
        return self.base_url + path


def _handler(site: FeedSite) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            with site.lock:
                site.hits[self.path] = site.hits.get(self.path, 0) + 1
                forced = site.status.get(self.path)
                page = site.pages.get(self.path)
                redirect = site.redirects.get(self.path)
            if redirect is not None:
                self.send_response(redirect[0])
                self.send_header("Location", site.base_url + redirect[1])
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if forced is not None:
                self.send_response(forced)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if page is None:
                self.send_error(404)
                return
            body, content_type = page
            etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
            if self.headers.get("If-None-Match") == etag:
                with site.lock:
                    site.not_modified += 1
                self.send_response(304)
                self.send_header("ETag", etag)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("ETag", etag)
            self.end_headers()
            self.wfile.write(body)

    return Handler


@contextmanager
def feed_server() -> Iterator[FeedSite]:
    site = FeedSite()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(site))
    with serving(server) as base_url:
        site.base_url = base_url
        yield site


def rss(items: list[dict[str, str]], *, title: str = "Test feed", lang: str = "en") -> bytes:
    """A small RSS 2.0 document; each item has guid, title, description (and optional link)."""
    parts = [
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>',
        f"<title>{escape(title)}</title><link>https://example.org/</link>",
        f"<language>{lang}</language><description>test</description>",
    ]
    for item in items:
        parts.append(
            "<item>"
            f'<guid isPermaLink="false">{escape(item["guid"])}</guid>'
            f"<title>{escape(item['title'])}</title>"
            f"<link>{escape(item.get('link', 'https://example.org/' + item['guid']))}</link>"
            f"<description>{escape(item['description'])}</description>"
            f"<pubDate>{item.get('date', 'Mon, 02 Nov 2026 10:00:00 GMT')}</pubDate>"
            "</item>"
        )
    parts.append("</channel></rss>")
    return "".join(parts).encode("utf-8")
