"""The fetch adapter against a real HTTP server on 127.0.0.1 started by these tests.

The server lives in this file because it misbehaves on purpose (trickles, loops, bombs, counts
concurrent requests); ``tests/support/feed_server.py`` serves well-behaved feeds for the pipeline.
"""

from __future__ import annotations

import gzip
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
from aiohttp.client_reqrep import ConnectionKey

from tests.support.serving import serving
from worker.adapters.address_guard import BlockedAddressError
from worker.adapters.fetch import (
    FetchPolicy,
    FetchRequest,
    FetchResult,
    _classify_exception,
    fetch_all,
    parse_http_date,
    parse_max_age,
    parse_retry_after,
)
from worker.core.errors import ErrorKind

FEED = b"<?xml version='1.0'?><rss version='2.0'><channel><title>t</title></channel></rss>"
ETAG = '"v1"'
LAST_MODIFIED = "Sat, 01 Mar 2025 10:00:00 GMT"
UA = "coopwatch-test/0.1 (+https://example.org/contact)"


# --------------------------------------------------------------------------- the local server

Route = Callable[["_Handler"], None]


@dataclass
class LocalServer:
    """A threaded HTTP/1.1 server on an ephemeral 127.0.0.1 port with a route table."""

    routes: dict[str, Route]
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    starts: list[float] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    stopping: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    port: int = 0

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def paths(self) -> list[str]:
        with self.lock:
            return [path for path, _ in self.requests]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_GET(self) -> None:
        state = self.server.state
        with state.lock:
            state.requests.append((self.path, dict(self.headers.items())))
            state.starts.append(time.monotonic())
            state.in_flight += 1
            state.max_in_flight = max(state.max_in_flight, state.in_flight)
        try:
            route = state.routes.get(urlsplit(self.path).path)
            if route is None:
                self.reply(404, b"not found")
            else:
                route(self)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        finally:
            with state.lock:
                state.in_flight -= 1

    def reply(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def redirect(self, status: int, location: str) -> None:
        self.reply(status, headers={"Location": location})

    def query(self, name: str) -> str | None:
        values = parse_qs(urlsplit(self.path).query).get(name)
        return values[0] if values else None

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the tests assert on what the server recorded instead."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # many clients connect at once; the default backlog of 5 stalls

    def __init__(self, state: LocalServer) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = state


@pytest.fixture
def server() -> Iterator[LocalServer]:
    state = LocalServer(routes={})
    httpd = _Server(state)
    state.port = httpd.server_address[1]
    with serving(httpd, before_stop=state.stopping.set):
        yield state


def policy(**overrides: object) -> FetchPolicy:
    values: dict[str, object] = {
        "user_agent": UA,
        "allow_private": ("127.0.0.1",),
        "connect_timeout": 2.0,
        "total_timeout": 5.0,
    }
    values.update(overrides)
    return FetchPolicy(**values)  # type: ignore[arg-type]


def fetch_one(url: str, pol: FetchPolicy | None = None, **request: str) -> FetchResult:
    [result] = fetch_all([FetchRequest(key=7, url=url, **request)], pol or policy())
    return result


# --------------------------------------------------------------------------- routes


def feed_with_validators(handler: _Handler) -> None:
    if handler.headers.get("If-None-Match") == ETAG:
        handler.reply(304, headers={"ETag": ETAG})
        return
    handler.reply(
        200,
        FEED,
        {
            "Content-Type": "application/rss+xml; charset=utf-8",
            "ETag": ETAG,
            "Last-Modified": LAST_MODIFIED,
            "Cache-Control": "public, max-age=900",
            "Expires": "Sat, 01 Mar 2025 11:00:00 GMT",
        },
    )


def plain_feed(handler: _Handler) -> None:
    handler.reply(200, FEED, {"Content-Type": "application/rss+xml"})


def status_route(status: int, headers: dict[str, str] | None = None) -> Route:
    return lambda handler: handler.reply(status, b"nope", headers)


def redirect_route(status: int, path: str) -> Route:
    return lambda handler: handler.redirect(status, path)


# --------------------------------------------------------------------------- tests


def test_200_then_304_on_conditional_get(server: LocalServer) -> None:
    server.routes["/feed"] = feed_with_validators
    first = fetch_one(server.url("/feed"))
    assert first.ok
    assert (first.status, first.body, first.not_modified) == (200, FEED, False)
    assert first.content_type == "application/rss+xml; charset=utf-8"
    assert (first.etag, first.last_modified) == (ETAG, LAST_MODIFIED)
    assert first.max_age == 900.0
    assert first.expires == datetime(2025, 3, 1, 11, 0, tzinfo=UTC)
    assert first.final_url == server.url("/feed")
    assert first.permanent_redirect is None
    assert first.key == 7

    second = fetch_one(server.url("/feed"), etag=ETAG, last_modified=LAST_MODIFIED)
    assert second.ok
    assert (second.status, second.body, second.not_modified) == (304, None, True)
    assert (second.etag, second.last_modified) == (ETAG, LAST_MODIFIED)  # kept from the request

    sent = [headers for _, headers in server.requests]
    assert sent[0]["User-Agent"] == UA
    assert "application/rss+xml" in sent[0]["Accept"]
    assert sent[0]["Accept-Encoding"] == "gzip, deflate"
    assert "If-None-Match" not in sent[0]
    assert sent[1]["If-None-Match"] == ETAG
    assert sent[1]["If-Modified-Since"] == LAST_MODIFIED


def test_permanent_redirect_chain(server: LocalServer) -> None:
    server.routes.update(
        {"/old": redirect_route(301, "/older"), "/older": redirect_route(308, "/feed")}
    )
    server.routes["/feed"] = plain_feed
    result = fetch_one(server.url("/old"))
    assert result.ok
    assert result.body == FEED
    assert result.final_url == server.url("/feed")
    assert result.permanent_redirect == server.url("/feed")
    assert result.url == server.url("/old")


def test_permanent_redirect_then_not_modified(server: LocalServer) -> None:
    server.routes["/old"] = redirect_route(301, "/feed")
    server.routes["/feed"] = feed_with_validators
    result = fetch_one(server.url("/old"), etag=ETAG)
    assert result.ok
    assert result.not_modified
    assert result.permanent_redirect == server.url("/feed")
    assert [headers.get("If-None-Match") for _, headers in server.requests] == [ETAG, ETAG]


@pytest.mark.parametrize("statuses", [(302,), (307,), (303,), (301, 302), (302, 301)])
def test_temporary_redirect_is_not_permanent(server: LocalServer, statuses: tuple[int]) -> None:
    server.routes["/feed"] = plain_feed
    hops = [f"/hop{i}" for i in range(len(statuses))] + ["/feed"]
    for status, path, target in zip(statuses, hops, hops[1:], strict=False):
        server.routes[path] = redirect_route(status, server.url(target))  # absolute Location
    result = fetch_one(server.url("/hop0"))
    assert result.ok
    assert result.final_url == server.url("/feed")
    assert result.permanent_redirect is None


def test_permanent_redirect_to_an_error_is_not_reported(server: LocalServer) -> None:
    server.routes["/moved"] = redirect_route(301, "/missing")
    result = fetch_one(server.url("/moved"))
    assert result.error_kind is ErrorKind.HTTP_4XX
    assert result.permanent_redirect is None


def test_redirect_loop_is_too_many_redirects(server: LocalServer) -> None:
    server.routes["/loop"] = redirect_route(302, "/loop")
    result = fetch_one(server.url("/loop"), policy(max_redirects=3))
    assert result.error_kind is ErrorKind.TOO_MANY_REDIRECTS
    assert not result.ok
    assert "more than 3 redirects" in (result.error or "")
    assert server.paths() == ["/loop"] * 4


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (410, ErrorKind.GONE),
        (404, ErrorKind.HTTP_4XX),
        (403, ErrorKind.HTTP_4XX),
        (500, ErrorKind.HTTP_5XX),
        (502, ErrorKind.HTTP_5XX),
        (300, ErrorKind.HTTP_4XX),  # a "redirect" without Location is no answer
    ],
)
def test_error_statuses(server: LocalServer, status: int, kind: ErrorKind) -> None:
    server.routes["/x"] = status_route(status)
    result = fetch_one(server.url("/x"))
    assert (result.status, result.error_kind, result.body) == (status, kind, None)
    assert not result.ok
    assert server.url("/x") in (result.error or "")
    assert str(status) in (result.error or "")
    assert result.retry_after is None


def test_429_with_retry_after_seconds(server: LocalServer) -> None:
    server.routes["/limited"] = status_route(429, {"Retry-After": "120"})
    result = fetch_one(server.url("/limited"))
    assert (result.error_kind, result.retry_after) == (ErrorKind.RATE_LIMITED, 120.0)


def test_429_with_retry_after_date(server: LocalServer) -> None:
    later = format_datetime(datetime.now(UTC) + timedelta(hours=1), usegmt=True)
    server.routes["/limited"] = status_route(429, {"Retry-After": later})
    result = fetch_one(server.url("/limited"))
    assert result.error_kind is ErrorKind.RATE_LIMITED
    assert result.retry_after is not None
    assert 3590 <= result.retry_after <= 3600


def test_503_with_retry_after(server: LocalServer) -> None:
    server.routes["/busy"] = status_route(503, {"Retry-After": "30"})
    result = fetch_one(server.url("/busy"))
    assert (result.error_kind, result.retry_after) == (ErrorKind.HTTP_5XX, 30.0)


def test_trickling_server_is_cut_off_by_total_timeout(server: LocalServer) -> None:
    def trickle(handler: _Handler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", "20")
        handler.end_headers()
        for _ in range(20):  # bounded: at most 20 bytes, stops when the test ends
            handler.wfile.write(b"x")
            handler.wfile.flush()
            if handler.server.state.stopping.wait(2.0):
                return

    server.routes["/trickle"] = trickle
    began = time.monotonic()
    result = fetch_one(server.url("/trickle"), policy(total_timeout=1.5))
    assert result.error_kind is ErrorKind.TIMEOUT
    assert "1.5 s" in (result.error or "")
    # cut at the deadline, long before the trickle ends (20 bytes x 2 s = 40 s): the upper
    # bound guards against hanging and leaves a slow machine plenty of room
    assert 1.4 <= result.elapsed < 20.0
    assert time.monotonic() - began < 20.0


def test_body_over_max_bytes_with_content_length(server: LocalServer) -> None:
    server.routes["/big"] = lambda handler: handler.reply(200, b"a" * 5000)
    result = fetch_one(server.url("/big"), policy(max_bytes=4096))
    assert result.error_kind is ErrorKind.TOO_LARGE
    assert "4096" in (result.error or "")
    assert result.body is None


def test_body_over_max_bytes_without_content_length(server: LocalServer) -> None:
    def endless(handler: _Handler) -> None:
        handler.send_response(200)
        handler.send_header("Connection", "close")
        handler.end_headers()
        handler.close_connection = True
        for _ in range(64):  # 4 MiB at most
            handler.wfile.write(b"b" * 65536)

    server.routes["/endless"] = endless
    result = fetch_one(server.url("/endless"), policy(max_bytes=100_000))
    assert result.error_kind is ErrorKind.TOO_LARGE


def test_body_at_max_bytes_is_fine(server: LocalServer) -> None:
    server.routes["/exact"] = lambda handler: handler.reply(200, b"a" * 4096)
    result = fetch_one(server.url("/exact"), policy(max_bytes=4096))
    assert result.ok
    assert result.body == b"a" * 4096


def test_gzip_body_is_decompressed(server: LocalServer) -> None:
    packed = gzip.compress(FEED * 100)
    server.routes["/gz"] = lambda handler: handler.reply(200, packed, {"Content-Encoding": "gzip"})
    result = fetch_one(server.url("/gz"))
    assert result.ok
    assert result.body == FEED * 100


def test_gzip_bomb_is_too_large(server: LocalServer) -> None:
    bomb = gzip.compress(b"\0" * (64 * 1024 * 1024), compresslevel=9)
    assert len(bomb) < 100_000
    server.routes["/bomb"] = lambda handler: handler.reply(
        200, bomb, {"Content-Encoding": "gzip", "Content-Type": "application/rss+xml"}
    )
    result = fetch_one(server.url("/bomb"), policy(max_bytes=1024 * 1024))
    assert result.error_kind is ErrorKind.TOO_LARGE
    assert "after decompression" in (result.error or "")


@pytest.mark.parametrize(
    "url",
    ["ftp://127.0.0.1/feed", "file:///etc/passwd", "gopher://127.0.0.1/", "not a url", "http:///x"],
)
def test_bad_urls(url: str) -> None:
    result = fetch_one(url)
    assert result.error_kind is ErrorKind.BAD_URL
    assert result.status is None
    assert result.error


def test_tls_failure(server: LocalServer) -> None:
    server.routes["/feed"] = plain_feed
    result = fetch_one(server.url("/feed").replace("http://", "https://"))
    assert result.error_kind is ErrorKind.TLS
    assert result.status is None


def test_connection_refused() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = fetch_one(f"http://127.0.0.1:{port}/feed")
    assert result.error_kind is ErrorKind.CONNECTION
    assert result.status is None
    assert str(port) in (result.error or "")


def test_many_feeds_concurrently_in_input_order(server: LocalServer) -> None:
    def numbered(handler: _Handler) -> None:
        number = int(handler.query("n") or "0")
        time.sleep((number % 5) * 0.02)  # answers arrive out of order
        handler.reply(200, f"feed {number}".encode())

    server.routes["/n"] = numbered
    server.routes["/gone"] = status_route(410)
    requests = [FetchRequest(key=1000 + i, url=server.url(f"/n?n={i}")) for i in range(60)]
    requests.insert(10, FetchRequest(key=1, url="ftp://127.0.0.1/x"))
    requests.insert(20, FetchRequest(key=2, url=server.url("/gone")))
    began = time.monotonic()
    results = fetch_all(requests, policy(per_host_concurrency=20, max_concurrency=20))
    assert [r.key for r in results] == [r.key for r in requests]
    assert [r.url for r in results] == [r.url for r in requests]
    for request, result in zip(requests, results, strict=True):
        if request.key >= 1000:
            assert result.body == f"feed {request.key - 1000}".encode()
    assert results[10].error_kind is ErrorKind.BAD_URL
    assert results[20].error_kind is ErrorKind.GONE
    assert server.max_in_flight > 1  # concurrency, shown by the server, not by a stopwatch
    assert time.monotonic() - began < 60.0  # a guard against hanging only


def test_per_host_concurrency_is_respected(server: LocalServer) -> None:
    def slow(handler: _Handler) -> None:
        time.sleep(0.2)
        handler.reply(200, FEED)

    server.routes["/slow"] = slow
    requests = [FetchRequest(key=i, url=server.url(f"/slow?i={i}")) for i in range(8)]
    results = fetch_all(requests, policy(per_host_concurrency=2, max_concurrency=50))
    assert all(r.ok for r in results)
    assert server.max_in_flight == 2


def test_max_concurrency_is_respected(server: LocalServer) -> None:
    def slow(handler: _Handler) -> None:
        time.sleep(0.2)
        handler.reply(200, FEED)

    server.routes["/slow"] = slow
    requests = [FetchRequest(key=i, url=server.url(f"/slow?i={i}")) for i in range(9)]
    results = fetch_all(requests, policy(per_host_concurrency=10, max_concurrency=3))
    assert all(r.ok for r in results)
    assert server.max_in_flight == 3


def test_min_host_interval_spaces_request_starts(server: LocalServer) -> None:
    server.routes["/feed"] = plain_feed
    requests = [FetchRequest(key=i, url=server.url(f"/feed?i={i}")) for i in range(4)]
    results = fetch_all(requests, policy(per_host_concurrency=4, min_host_interval=0.2))
    assert all(r.ok for r in results)
    gaps = [b - a for a, b in zip(server.starts, server.starts[1:], strict=False)]
    assert len(gaps) == 3
    assert all(gap >= 0.15 for gap in gaps)


# --------------------------------------------------------------------------- the address guard


def test_local_server_is_refused_by_default(server: LocalServer) -> None:
    server.routes["/feed"] = plain_feed
    result = fetch_one(server.url("/feed"), policy(allow_private=()))
    assert result.error_kind is ErrorKind.BLOCKED_ADDRESS
    assert "127.0.0.1" in (result.error or "")
    assert server.requests == []


def test_local_server_by_name_is_refused_after_resolution(server: LocalServer) -> None:
    server.routes["/feed"] = plain_feed
    result = fetch_one(server.url("/feed", host="localhost"), policy(allow_private=()))
    assert result.error_kind is ErrorKind.BLOCKED_ADDRESS
    assert "localhost" in (result.error or "")
    assert "127.0.0.1" in (result.error or "")
    assert server.requests == []


@pytest.mark.parametrize("host", ["2130706433", "0177.0.0.1", "0x7f.1", "127.1", "[::ffff:7f00:1]"])
def test_odd_spellings_of_loopback_are_refused(server: LocalServer, host: str) -> None:
    server.routes["/feed"] = plain_feed
    result = fetch_one(server.url("/feed", host=host), policy(allow_private=()))
    assert result.error_kind is ErrorKind.BLOCKED_ADDRESS
    assert server.requests == []


@pytest.mark.parametrize("allow", [("127.0.0.1",), ("127.0.0.0/8",), ("localhost",)])
def test_local_server_is_fetched_when_allowed(server: LocalServer, allow: tuple[str]) -> None:
    server.routes["/feed"] = plain_feed
    host = "localhost" if allow == ("localhost",) else "127.0.0.1"
    result = fetch_one(server.url("/feed", host=host), policy(allow_private=allow))
    assert result.ok
    assert result.body == FEED


@pytest.mark.parametrize(
    "target_host", ["127.0.0.1", "2130706433", "[::1]", "[::ffff:127.0.0.1]", "169.254.169.254"]
)
def test_redirect_from_allowed_host_to_blocked_address_is_refused(
    server: LocalServer, target_host: str
) -> None:
    # "localhost" is allowed by name only; the addresses it redirects to are not.
    server.routes["/feed"] = plain_feed
    server.routes["/jump"] = redirect_route(302, server.url("/feed", host=target_host))
    result = fetch_one(server.url("/jump", host="localhost"), policy(allow_private=("localhost",)))
    assert result.error_kind is ErrorKind.BLOCKED_ADDRESS
    assert "redirected to" in (result.error or "")
    assert server.paths() == ["/jump"]


def test_redirect_to_other_scheme_is_refused(server: LocalServer) -> None:
    server.routes["/jump"] = redirect_route(301, "file:///etc/passwd")
    result = fetch_one(server.url("/jump"))
    assert result.error_kind is ErrorKind.BAD_URL
    assert "file" in (result.error or "")


# --------------------------------------------------------------------------- exceptions as data

_KEY = ConnectionKey("feeds.example", 443, True, True, None, None, None)


@pytest.mark.parametrize(
    ("exc", "kind", "says"),
    [
        (TimeoutError(), ErrorKind.TIMEOUT, "within 30 s"),
        (aiohttp.ConnectionTimeoutError(), ErrorKind.TIMEOUT, "connect within 10 s"),
        (
            aiohttp.ClientConnectorDNSError(_KEY, socket.gaierror(-2, "Name or service not known")),
            ErrorKind.DNS,
            "feeds.example",
        ),
        (
            aiohttp.ClientConnectorDNSError(
                _KEY, BlockedAddressError("feeds.example", ["10.1.1.1"])
            ),
            ErrorKind.BLOCKED_ADDRESS,
            "10.1.1.1",
        ),
        (
            aiohttp.ClientConnectorCertificateError(_KEY, ssl.SSLCertVerificationError("bad cert")),
            ErrorKind.TLS,
            "bad cert",
        ),
        (ssl.SSLError("handshake"), ErrorKind.TLS, "handshake"),
        (
            aiohttp.ClientConnectorError(_KEY, ConnectionRefusedError(111, "Connection refused")),
            ErrorKind.CONNECTION,
            "refused",
        ),
        (aiohttp.ServerDisconnectedError(), ErrorKind.CONNECTION, "ServerDisconnectedError"),
        (ConnectionResetError(104, "reset"), ErrorKind.CONNECTION, "reset"),
        (aiohttp.ClientPayloadError("truncated"), ErrorKind.CONNECTION, "truncated"),
        (aiohttp.InvalidURL("http://[x"), ErrorKind.BAD_URL, "http://[x"),
    ],
)
def test_exceptions_become_error_kinds(exc: BaseException, kind: ErrorKind, says: str) -> None:
    got_kind, message = _classify_exception(exc, FetchPolicy(user_agent=UA))
    assert got_kind is kind
    assert says in message


# --------------------------------------------------------------------------- header parsing

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("120", 120.0),
        (" 0 ", 0.0),
        ("Sat, 01 Mar 2025 12:10:00 GMT", 600.0),
        ("Sat, 01 Mar 2025 11:00:00 GMT", 0.0),  # in the past: no wait
        ("-5", None),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_retry_after(value: str | None, seconds: float | None) -> None:
    assert parse_retry_after(value, NOW) == seconds


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("max-age=300", 300.0),
        ("public, max-age=60, must-revalidate", 60.0),
        ('Max-Age="90"', 90.0),
        ("s-maxage=10, max-age=20", 20.0),
        ("s-maxage=10", None),
        ("no-cache", None),
        (None, None),
    ],
)
def test_parse_max_age(value: str | None, seconds: float | None) -> None:
    assert parse_max_age(value) == seconds


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Sat, 01 Mar 2025 11:00:00 GMT", datetime(2025, 3, 1, 11, 0, tzinfo=UTC)),
        ("Sat, 01 Mar 2025 14:30:00 +0330", datetime(2025, 3, 1, 11, 0, tzinfo=UTC)),
        ("0", None),
        ("-1", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_http_date(value: str | None, expected: datetime | None) -> None:
    assert parse_http_date(value) == expected
