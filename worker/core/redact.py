"""Secret redaction for Apprise URLs and for texts that may quote them.

Apprise URLs carry credentials in many places: the password of ``mailto://user:pass@host``,
the bot token that *is* the host of ``tgram://123456:ABC.../chat``, webhook tokens as path
segments (``slack://TA/TB/TC``, ``discord://id/token``), and query parameters (``?token=``,
``?pass=``, ``+Authorization=Bearer …``). Nothing here knows every plugin, so the rules are
generic: the password, a host with a non-numeric "port" (``id:secret``), secret-named query
parameters, and any part that looks like a token (long, mixed character classes) are masked.

Pure: no I/O, no Apprise import (the notifier uses this module on Apprise's error texts).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable
from urllib.parse import quote, quote_plus, unquote

MASK = "***"

#: Query parameter names (lower case, without Apprise's ``+``/``-``/``:`` prefixes) whose
#: values are always secret.
_SECRET_KEY_PARTS = ("pass", "pwd", "token", "secret", "key", "auth", "signature", "sig")
_SECRET_KEYS_EXACT = frozenset({"apikey", "api_key", "bearer", "session", "cookie", "webhook"})

_SCHEME_RE = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*)://(?P<rest>.*)$", re.DOTALL)
_URL_IN_TEXT_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s\"'<>]+")
_TOKEN_CHARS_RE = re.compile(r"[A-Za-z0-9_\-+=:.~%/]+")
_HOSTNAME_RE = re.compile(r"(?:[a-z0-9-]+\.)+[a-z]{2,24}(?::\d{1,5})?")
_MIN_TOKEN_LEN = 16
_MIN_SECRET_LEN = 2


def _entropy(text: str) -> float:
    counts = Counter(text)
    total = len(text)
    return -sum(n / total * math.log2(n / total) for n in counts.values())


def looks_like_token(part: str) -> bool:
    """True for a string that is probably a credential: long, mixed classes, not a word."""
    text = unquote(part)
    if len(text) < _MIN_TOKEN_LEN or "@" in text or not _TOKEN_CHARS_RE.fullmatch(text):
        return False
    if _HOSTNAME_RE.fullmatch(text):
        return False  # smtp.example.org:587, not a credential
    classes = sum(
        (
            any(c.islower() for c in text),
            any(c.isupper() for c in text),
            any(c.isdigit() for c in text),
        )
    )
    return classes >= 2 and _entropy(text) >= 3.0


def _is_secret_key(key: str) -> bool:
    name = key.lstrip("+-:").lower()
    return name in _SECRET_KEYS_EXACT or any(part in name for part in _SECRET_KEY_PARTS)


def _split(url: str) -> tuple[str, str, str, str, str] | None:
    """(scheme, netloc, path, query, fragment) without urllib's port validation."""
    match = _SCHEME_RE.match(url)
    if match is None:
        return None
    rest = match.group("rest")
    rest, _, fragment = rest.partition("#")
    rest, _, query = rest.partition("?")
    netloc, slash, path = rest.partition("/")
    return match.group("scheme"), netloc, slash + path, query, fragment


def _split_netloc(netloc: str) -> tuple[str, str | None, str]:
    """(user, password or None, hostport) of a netloc."""
    userinfo, at, hostport = netloc.rpartition("@")
    if not at:
        return "", None, netloc
    user, colon, password = userinfo.partition(":")
    return user, (password if colon else None), hostport


def _host_secret(hostport: str) -> str | None:
    """The host itself when it is a credential (``tgram://123:ABC``) rather than a host."""
    _host, colon, port = hostport.rpartition(":")
    if colon and not port.isdigit() and not hostport.startswith("["):
        return hostport
    return hostport if looks_like_token(hostport) else None


def _query_pairs(query: str) -> list[tuple[str, str | None]]:
    pairs: list[tuple[str, str | None]] = []
    for item in query.split("&") if query else []:
        key, eq, value = item.partition("=")
        pairs.append((key, value if eq else None))
    return pairs


def secrets_in_url(url: str) -> list[str]:
    """The secret parts of an Apprise URL (decoded), longest first, so callers can redact."""
    parts = _split(url.strip())
    if parts is None:
        return [url] if looks_like_token(url) else []
    _scheme, netloc, path, query, fragment = parts
    user, password, hostport = _split_netloc(netloc)
    found: list[str] = []
    if password:
        found.append(password)
    if looks_like_token(user):
        found.append(user)
    host_secret = _host_secret(hostport)
    if host_secret:
        found.append(host_secret)
        found.extend(p for p in host_secret.split(":") if len(p) >= _MIN_TOKEN_LEN // 2)
    found.extend(seg for seg in path.split("/") if looks_like_token(seg))
    for key, value in _query_pairs(query):
        if value and (_is_secret_key(key) or looks_like_token(value)):
            found.append(value)
    if looks_like_token(fragment):
        found.append(fragment)
    decoded = {unquote(s) for s in found if s} | {s for s in found if s}
    # "Bearer <token>": the token alone may appear in an error message too.
    decoded |= {w for s in list(decoded) for w in s.split() if len(w) >= _MIN_TOKEN_LEN // 2}
    return sorted(decoded, key=lambda s: (-len(s), s))


def redact_url(url: str) -> str:
    """The URL with its credentials replaced by ``***``; the shape stays readable."""
    parts = _split(url.strip())
    if parts is None:
        return MASK if looks_like_token(url) else url
    scheme, netloc, path, query, fragment = parts
    user, password, hostport = _split_netloc(netloc)
    if _host_secret(hostport):
        hostport = MASK
    userinfo = ""
    if user or password is not None:
        userinfo = MASK if looks_like_token(user) else user
        userinfo += f":{MASK}" if password is not None else ""
        userinfo += "@"
    path = "/".join(MASK if looks_like_token(seg) else seg for seg in path.split("/"))
    pairs = [
        key if value is None else f"{key}={_redact_query_value(key, value)}"
        for key, value in _query_pairs(query)
    ]
    out = f"{scheme}://{userinfo}{hostport}{path}"
    out += f"?{'&'.join(pairs)}" if query else ""
    if fragment:
        out += f"#{MASK if looks_like_token(fragment) else fragment}"
    return out


def _redact_query_value(key: str, value: str) -> str:
    if value and (_is_secret_key(key) or looks_like_token(value)):
        return MASK
    return value


def redact_text(text: str, secrets: Iterable[str]) -> str:
    """Replace each known secret, raw and URL-encoded, and any URL credentials with ``***``."""
    variants: set[str] = set()
    for secret in secrets:
        if len(secret) < _MIN_SECRET_LEN:
            continue  # a one-character "secret" would mangle every message
        variants.update({secret, quote(secret, safe=""), quote(secret), quote_plus(secret)})
        variants.add(unquote(secret))
    for variant in sorted(variants, key=len, reverse=True):
        if len(variant) >= _MIN_SECRET_LEN:
            text = text.replace(variant, MASK)
    return _URL_IN_TEXT_RE.sub(_redact_url_match, text)


def _redact_url_match(match: re.Match[str]) -> str:
    url = match.group(0)
    core = url.rstrip(".,;:)!")  # sentence punctuation after a URL is not part of it
    return redact_url(core) + url[len(core) :]
