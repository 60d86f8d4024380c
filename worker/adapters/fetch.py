"""The HTTP fetch adapter: the only code that reads from the network.

``fetch_many`` fetches feeds concurrently with one aiohttp session per call, politely (honest
User-Agent, conditional GET, per-host concurrency and pacing) and safely (every redirect hop and
every connected address checked by :mod:`worker.adapters.address_guard`, the decompressed body
capped, one deadline for the whole request). Every failure becomes a :class:`FetchResult` with an
:class:`~worker.core.errors.ErrorKind`; nothing a server does makes it raise.
"""

from __future__ import annotations

import asyncio
import re
import ssl
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import aiohttp
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from worker.adapters.address_guard import (
    BlockedAddressError,
    GuardedResolver,
    build_allow_list,
    classify_url,
    redact_url,
)
from worker.core.errors import ErrorKind

ACCEPT_FEEDS = (
    "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, "
    "application/feed+json;q=0.9, application/xml;q=0.8, text/xml;q=0.8, */*;q=0.5"
)
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
PERMANENT_REDIRECT_STATUSES = frozenset({301, 308})
_CHUNK_SIZE = 64 * 1024
_MAX_AGE = re.compile(r"(?:^|[,\s])max-age\s*=\s*\"?(\d+)\"?", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class FetchPolicy:
    user_agent: str  # e.g. "coopwatch/0.1 (+https://example.org/contact)"
    connect_timeout: float = 10.0
    total_timeout: float = 30.0  # whole request incl. redirects and body
    max_bytes: int = 10 * 1024 * 1024  # enforced on the DECOMPRESSED body
    max_redirects: int = 5
    allow_private: tuple[str, ...] = ()  # hostnames or CIDRs allowed despite the guard
    max_concurrency: int = 50  # requests in flight per fetch_many call
    per_host_concurrency: int = 2
    min_host_interval: float = 0.0  # seconds between request starts to the same host

    def __post_init__(self) -> None:
        if self.max_concurrency < 1 or self.per_host_concurrency < 1:
            raise ValueError("max_concurrency and per_host_concurrency must be at least 1")
        if self.total_timeout <= 0 or self.connect_timeout <= 0 or self.max_bytes < 0:
            raise ValueError("timeouts must be positive and max_bytes not negative")
        build_allow_list(tuple(self.allow_private))  # a malformed CIDR fails here, early


@dataclass(frozen=True, slots=True)
class FetchRequest:
    key: int  # caller's id (feed id), echoed back
    url: str
    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True, slots=True)
class FetchResult:
    key: int
    url: str  # requested URL
    final_url: str  # after redirects
    status: int | None  # final HTTP status, None when no response
    body: bytes | None  # None on 304 or error
    content_type: str | None
    etag: str | None
    last_modified: str | None
    not_modified: bool  # 304
    permanent_redirect: str | None  # target if every hop was 301/308
    error_kind: ErrorKind | None
    error: str | None  # readable message naming the URL and what was wrong
    retry_after: float | None  # seconds, from Retry-After on 429/503
    max_age: float | None  # Cache-Control max-age (s)
    expires: datetime | None  # Expires header (aware UTC)
    elapsed: float  # seconds, including the wait for a connection slot

    @property
    def ok(self) -> bool:
        return self.error_kind is None and (self.body is not None or self.not_modified)


class _FetchError(Exception):
    """A failure found by our own checks (guard, redirects, size), carried as data."""

    def __init__(self, kind: ErrorKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


@dataclass(frozen=True, slots=True)
class _Response:
    """The last response of a redirect chain."""

    url: URL
    status: int
    headers: CIMultiDictProxy[str]
    body: bytes | None
    permanent_redirect: str | None


@dataclass(slots=True)
class _HostGate:
    """Per-host concurrency and pacing of request starts, shared by one fetch_many call."""

    per_host: int
    interval: float
    _slots: dict[str, asyncio.Semaphore] = field(default_factory=dict, init=False, repr=False)
    _next_start: dict[str, float] = field(default_factory=dict, init=False, repr=False)

    @asynccontextmanager
    async def slot(self, host: str) -> AsyncIterator[None]:
        semaphore = self._slots.setdefault(host, asyncio.Semaphore(self.per_host))
        async with semaphore:
            await self._pace(host)
            yield

    async def _pace(self, host: str) -> None:
        if self.interval <= 0:
            return
        now = asyncio.get_running_loop().time()
        start = max(now, self._next_start.get(host, now))
        self._next_start[host] = start + self.interval
        if start > now:
            await asyncio.sleep(start - now)


@dataclass(frozen=True, slots=True)
class _Context:
    session: aiohttp.ClientSession
    policy: FetchPolicy
    gate: _HostGate
    limit: asyncio.Semaphore


async def fetch_many(requests: Sequence[FetchRequest], policy: FetchPolicy) -> list[FetchResult]:
    """Fetch every request concurrently; results in input order, one per request.

    Never raises for a per-request failure: each becomes a result with ``error_kind`` set.
    """
    if not requests:
        return []
    resolver = GuardedResolver(policy.allow_private)
    connector = aiohttp.TCPConnector(
        limit=policy.max_concurrency,
        limit_per_host=policy.per_host_concurrency,
        resolver=resolver,
    )
    session = aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=None, connect=policy.connect_timeout),
        headers={
            "User-Agent": policy.user_agent,
            "Accept": ACCEPT_FEEDS,
            "Accept-Encoding": "gzip, deflate",
        },
        cookie_jar=aiohttp.DummyCookieJar(),  # no cookies carried from one feed to another
        trust_env=False,  # no proxy from the environment: the guard must see real addresses
        auto_decompress=True,
    )
    try:
        async with session:
            context = _Context(
                session=session,
                policy=policy,
                gate=_HostGate(policy.per_host_concurrency, policy.min_host_interval),
                limit=asyncio.Semaphore(policy.max_concurrency),
            )
            outcomes = await asyncio.gather(
                *(_fetch_one(context, request) for request in requests), return_exceptions=True
            )
    finally:
        await resolver.close()
    return [_settle(request, outcome) for request, outcome in zip(requests, outcomes, strict=True)]


def fetch_all(requests: Sequence[FetchRequest], policy: FetchPolicy) -> list[FetchResult]:
    """``fetch_many`` for synchronous callers (Celery tasks); must not run inside a loop."""
    return asyncio.run(fetch_many(requests, policy))


def _settle(request: FetchRequest, outcome: FetchResult | BaseException) -> FetchResult:
    """An unforeseen exception of one request becomes an INTERNAL result; others go on."""
    if isinstance(outcome, FetchResult):
        return outcome
    if not isinstance(outcome, Exception):
        raise outcome  # cancellation, KeyboardInterrupt: not ours to swallow
    message = f"GET {redact_url(request.url)}: unexpected {type(outcome).__name__}: {outcome}"
    return _error_result(request, ErrorKind.INTERNAL, message, 0.0)


async def _fetch_one(context: _Context, request: FetchRequest) -> FetchResult:
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        async with context.limit, asyncio.timeout(None) as deadline:
            response = await _follow_redirects(context, request, deadline)
    except _FetchError as failure:
        return _error_result(request, failure.kind, failure.message, loop.time() - started)
    except (TimeoutError, aiohttp.ClientError, ssl.SSLError, OSError, ValueError) as exc:
        kind, what = _classify_exception(exc, context.policy)
        message = f"GET {redact_url(request.url)}: {what}"
        return _error_result(request, kind, message, loop.time() - started)
    return _result_from_response(request, response, loop.time() - started)


async def _follow_redirects(
    context: _Context, request: FetchRequest, deadline: asyncio.Timeout
) -> _Response:
    """Request ``request.url`` and follow redirects by hand, checking every hop."""
    policy = context.policy
    loop = asyncio.get_running_loop()
    url = URL(request.url)
    permanent = True
    for hops in range(policy.max_redirects + 1):
        problem = classify_url(url, policy.allow_private)
        if problem is not None:
            via = f"{redact_url(request.url)}: redirected to " if hops else ""
            raise _FetchError(problem.kind, f"GET {via}{problem.message}")
        async with context.gate.slot(url.host or ""):  # classify_url refused a missing host
            if deadline.when() is None:  # the clock starts once the first request may go
                deadline.reschedule(loop.time() + policy.total_timeout)
            status, headers, body = await _request(context, url, request)
        location = headers.get("Location") if status in REDIRECT_STATUSES else None
        if location is None:
            redirected = hops > 0 and permanent and _classify_status(status)[0] is None
            return _Response(url, status, headers, body, str(url) if redirected else None)
        permanent = permanent and status in PERMANENT_REDIRECT_STATUSES
        try:
            url = url.join(URL(location))
        except ValueError as exc:
            raise _FetchError(
                ErrorKind.BAD_URL, f"GET {redact_url(url)}: bad redirect target {location!r}"
            ) from exc
    raise _FetchError(
        ErrorKind.TOO_MANY_REDIRECTS,
        f"GET {redact_url(request.url)}: more than {policy.max_redirects} redirects "
        f"(last to {redact_url(url)})",
    )


async def _request(
    context: _Context, url: URL, request: FetchRequest
) -> tuple[int, CIMultiDictProxy[str], bytes | None]:
    """One hop: status, headers and, for a 2xx answer, the size-capped decompressed body."""
    headers: CIMultiDict[str] = CIMultiDict()
    if request.etag:
        headers["If-None-Match"] = request.etag
    if request.last_modified:
        headers["If-Modified-Since"] = request.last_modified
    async with context.session.get(url, headers=headers, allow_redirects=False) as response:
        body = None
        if 200 <= response.status < 300:
            body = await _read_capped(response, url, context.policy.max_bytes)
        return response.status, response.headers, body


async def _read_capped(response: aiohttp.ClientResponse, url: URL, max_bytes: int) -> bytes:
    """The decompressed body, refused as TOO_LARGE as soon as it passes ``max_bytes``."""
    too_large = f"GET {redact_url(url)}: body larger than {max_bytes} bytes"
    declared = response.content_length
    if (
        declared is not None
        and declared > max_bytes
        and not response.headers.get("Content-Encoding")
    ):
        raise _FetchError(ErrorKind.TOO_LARGE, f"{too_large} (Content-Length {declared})")
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(_CHUNK_SIZE):
        size += len(chunk)
        if size > max_bytes:
            raise _FetchError(ErrorKind.TOO_LARGE, f"{too_large} after decompression")
        chunks.append(chunk)
    return b"".join(chunks)


def _result_from_response(
    request: FetchRequest, response: _Response, elapsed: float
) -> FetchResult:
    status, headers = response.status, response.headers
    kind, what = _classify_status(status)
    retry_after = None
    if status in (429, 503):
        retry_after = parse_retry_after(headers.get("Retry-After"), datetime.now(UTC))
    not_modified = status == 304
    etag = headers.get("ETag")
    last_modified = headers.get("Last-Modified")
    if not_modified:  # a 304 need not repeat the validators; keep the ones we sent
        etag = etag or request.etag
        last_modified = last_modified or request.last_modified
    return FetchResult(
        key=request.key,
        url=request.url,
        final_url=str(response.url),
        status=status,
        body=response.body if kind is None else None,
        content_type=headers.get("Content-Type"),
        etag=etag,
        last_modified=last_modified,
        not_modified=not_modified,
        permanent_redirect=response.permanent_redirect,
        error_kind=kind,
        error=None if what is None else f"GET {redact_url(response.url)}: {what}",
        retry_after=retry_after,
        max_age=parse_max_age(headers.get("Cache-Control")),
        expires=parse_http_date(headers.get("Expires")),
        elapsed=elapsed,
    )


def _classify_status(status: int) -> tuple[ErrorKind | None, str | None]:
    # Ordered checks on HTTP status codes read best with the numbers inline.
    if 200 <= status < 300 or status == 304:
        return None, None
    if status == 410:
        return ErrorKind.GONE, "HTTP 410 Gone: the feed was removed"
    if status == 429:
        return ErrorKind.RATE_LIMITED, "HTTP 429 Too Many Requests"
    if status >= 500:
        return ErrorKind.HTTP_5XX, f"HTTP {status} server error"
    if status >= 400:
        return ErrorKind.HTTP_4XX, f"HTTP {status} client error"
    return ErrorKind.HTTP_4XX, f"HTTP {status} is not a usable answer (redirect without Location?)"


# First match wins; anything else raised by aiohttp or the socket layer is a CONNECTION error.
_EXCEPTION_KINDS: tuple[tuple[tuple[type[BaseException], ...], ErrorKind], ...] = (
    ((BlockedAddressError,), ErrorKind.BLOCKED_ADDRESS),
    ((TimeoutError,), ErrorKind.TIMEOUT),
    ((aiohttp.ClientConnectorDNSError,), ErrorKind.DNS),
    ((aiohttp.ClientSSLError, ssl.SSLError, ssl.CertificateError), ErrorKind.TLS),
    ((aiohttp.InvalidURL, ValueError), ErrorKind.BAD_URL),
)


def _classify_exception(exc: BaseException, policy: FetchPolicy) -> tuple[ErrorKind, str]:
    """The error kind and a readable reason for an exception raised while fetching."""
    if isinstance(exc, aiohttp.ClientConnectorError) and isinstance(
        exc.os_error, BlockedAddressError
    ):
        exc = exc.os_error  # the resolver refused every address of the host
    kind = next(
        (kind for types, kind in _EXCEPTION_KINDS if isinstance(exc, types)),
        ErrorKind.CONNECTION,
    )
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return kind, f"could not connect within {policy.connect_timeout:g} s"
    if isinstance(exc, TimeoutError):
        return kind, f"no complete answer within {policy.total_timeout:g} s"
    if isinstance(exc, BlockedAddressError):
        return kind, str(exc)
    return kind, f"{type(exc).__name__}: {exc}"


def _error_result(
    request: FetchRequest, kind: ErrorKind, message: str, elapsed: float
) -> FetchResult:
    return FetchResult(
        key=request.key,
        url=request.url,
        final_url=request.url,
        status=None,
        body=None,
        content_type=None,
        etag=None,
        last_modified=None,
        not_modified=False,
        permanent_redirect=None,
        error_kind=kind,
        error=message,
        retry_after=None,
        max_age=None,
        expires=None,
        elapsed=elapsed,
    )


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After value (delta seconds or HTTP date), never negative."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    when = parse_http_date(text)
    if when is None:
        return None
    return max(0.0, (when - now).total_seconds())


def parse_max_age(value: str | None) -> float | None:
    """``max-age`` of a Cache-Control header in seconds, or ``None``."""
    if value is None:
        return None
    match = _MAX_AGE.search(value)
    return float(match.group(1)) if match else None


def parse_http_date(value: str | None) -> datetime | None:
    """An HTTP date as an aware UTC datetime; ``None`` when absent or unreadable (``0``, ``-1``)."""
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)
