"""Errors are data: a closed list of kinds, stored per feed and per alert and shown to the user."""

from __future__ import annotations

from enum import StrEnum


class ErrorKind(StrEnum):
    # fetching a feed
    TIMEOUT = "timeout"
    CONNECTION = "connection"
    DNS = "dns"
    TLS = "tls"
    HTTP_4XX = "http_4xx"
    HTTP_5XX = "http_5xx"
    RATE_LIMITED = "rate_limited"
    GONE = "gone"
    TOO_LARGE = "too_large"
    TOO_MANY_REDIRECTS = "too_many_redirects"
    BLOCKED_ADDRESS = "blocked_address"
    BAD_URL = "bad_url"
    # parsing a feed
    NOT_A_FEED = "not_a_feed"
    MALFORMED = "malformed"
    # delivering an alert
    DELIVERY_FAILED = "delivery_failed"
    INVALID_TARGET = "invalid_target"
    # anything else that we did not foresee
    INTERNAL = "internal"


#: Kinds after which trying again later can succeed.
TRANSIENT_KINDS = frozenset(
    {
        ErrorKind.TIMEOUT,
        ErrorKind.CONNECTION,
        ErrorKind.DNS,
        ErrorKind.HTTP_5XX,
        ErrorKind.RATE_LIMITED,
        ErrorKind.DELIVERY_FAILED,
        ErrorKind.INTERNAL,
    }
)
