"""The notifier: the only network writer. One rendered ``Message`` to one Apprise URL.

Follows healthchecks' Apprise transport: a fresh ``Apprise()`` holding exactly one service per
send, and the result of ``notify()`` is checked. Additionally:

- **No artificial throttle.** Apprise sleeps between two requests of one plugin instance
  (``request_rate_per_sec``, 5.5 s for most plugins; there is no URL or ``AppriseAsset``
  option for it). Each send sets ``request_rate_per_sec = 0`` on *its own* plugin instance,
  which shadows the class value; the classes and the plugin registry stay untouched. The
  connect/read socket timeouts are set the same way, and ``AppriseAsset(service_timeout=)``
  bounds the whole send.
- **Why it failed.** ``notify()`` returns an ``AppriseResult`` whose ``logs()`` hold the
  WARNING lines Apprise captured for this call only (it scopes its capture with a
  ``ContextVar``, so concurrent sends do not mix). The useful detail (``Connection refused``,
  ``(550, 'mailbox unavailable')``) is logged by Apprise at DEBUG, below the logger's level;
  ``_ReasonFilter`` (installed once, at import) lets DEBUG records reach the ``apprise``
  logger, keeps the exception lines of *our* send (again via a ``ContextVar``), and drops
  every record that the application's logging configuration would not have shown anyway.
  All text is redacted before it leaves this module.
- **Address guard.** Webhook targets (``json://``, ``form://``, ``xml://`` and their ``s``
  variants) reach arbitrary hosts, so the same guard as feeds applies (``url_guard``), and
  redirects are not followed (``AppriseAsset(http_redirects=False)``), so a guarded webhook
  cannot bounce to an internal address.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Final, Protocol
from urllib.parse import urlsplit

import apprise

from worker.adapters import console_plugin  # noqa: F401  # registers console:// once
from worker.core.errors import ErrorKind
from worker.core.redact import redact_text, redact_url, secrets_in_url
from worker.core.render import Message

UrlGuard = Callable[[str], str | None]

_WEBHOOK_SCHEMES: Final = {
    "json": "http",
    "jsons": "https",
    "form": "http",
    "forms": "https",
    "xml": "http",
    "xmls": "https",
}
_MAX_ERROR_CHARS: Final = 600
_MAX_REASON_LINES: Final = 12


@dataclass(frozen=True, slots=True)
class SendOutcome:
    ok: bool
    error_kind: ErrorKind | None
    error: str | None  # readable, redacted (no passwords or tokens)
    retry_after: float | None
    permanent: bool  # True when retrying cannot help (invalid URL, 4xx other than 429)


SENT: Final = SendOutcome(ok=True, error_kind=None, error=None, retry_after=None, permanent=False)


class Notifier(Protocol):
    def send(self, target: str, message: Message) -> SendOutcome: ...


# --- capturing the reason of a failure ----------------------------------------------------

_REASONS: ContextVar[list[str] | None] = ContextVar("coopwatch_apprise_reasons", default=None)
_REASON_RE: Final = re.compile(r"exception|refused|timed out|timeout|errno", re.IGNORECASE)


class _ReasonFilter(logging.Filter):
    """Keeps Apprise's DEBUG exception lines for the send in progress; drops the rest.

    Records at or above the root logger's level pass unchanged, so the application's logging
    sees what it would have seen without this filter.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.getLogger().getEffectiveLevel():
            return True
        reasons = _REASONS.get()
        if reasons is not None and len(reasons) < _MAX_REASON_LINES:
            try:
                text = record.getMessage()
            except (TypeError, ValueError):  # a malformed format string in a plugin
                return False
            if _REASON_RE.search(text):
                reasons.append(text[:300])
        return False


def _install_reason_filter() -> None:
    log = logging.getLogger("apprise")
    if not any(isinstance(f, _ReasonFilter) for f in log.filters):
        log.addFilter(_ReasonFilter())
        log.setLevel(logging.DEBUG)


_install_reason_filter()


@contextmanager
def _collect_reasons() -> Iterator[list[str]]:
    reasons: list[str] = []
    token = _REASONS.set(reasons)
    try:
        yield reasons
    finally:
        _REASONS.reset(token)


# --- targets ------------------------------------------------------------------------------


def _instantiate(url: str, asset: apprise.AppriseAsset) -> Any | None:
    """The Apprise plugin for ``url``, or None when Apprise cannot use it."""
    if not isinstance(url, str) or "://" not in url:
        return None
    return apprise.Apprise.instantiate(url, asset=asset, suppress_exceptions=True)


def validate_target(url: str) -> str | None:
    """None if Apprise can instantiate ``url``; else an error naming the redacted URL."""
    if _instantiate(url, apprise.AppriseAsset()) is None:
        return f"not a usable notification URL: {redact_url(url)}"
    return None


def webhook_http_url(target: str) -> str | None:
    """``json://host:port/path?…`` → ``http://host:port/path`` (no credentials), else None."""
    scheme, sep, rest = target.strip().partition("://")
    http = _WEBHOOK_SCHEMES.get(scheme.lower()) if sep else None
    if http is None:
        return None
    rest = re.split(r"[?#]", rest, maxsplit=1)[0]
    netloc, slash, path = rest.partition("/")
    host = netloc.rpartition("@")[2]
    return f"{http}://{host}{slash}{path}"


# --- the real notifier ----------------------------------------------------------------------


def _failure(
    kind: ErrorKind,
    text: str,
    secrets: list[str],
    *,
    permanent: bool,
    retry_after: float | None = None,
) -> SendOutcome:
    error = redact_text(text, secrets)
    if len(error) > _MAX_ERROR_CHARS:
        error = error[: _MAX_ERROR_CHARS - 1] + "…"
    return SendOutcome(
        ok=False, error_kind=kind, error=error, retry_after=retry_after, permanent=permanent
    )


_HTTP_CODE_RE: Final = re.compile(r"error=(\d{3})\b")
_SMTP_CODE_RE: Final = re.compile(r"\((\d{3}), b?['\"]|refused: (\d{3})\b")
_DNS_RE: Final = re.compile(r"name or service not known|getaddrinfo|nodename", re.IGNORECASE)
_CONNECTION_RE: Final = re.compile(r"connection|refused|unreachable|reset", re.IGNORECASE)


def _http_kind(code: int) -> tuple[ErrorKind, bool]:
    if code == 429:
        return ErrorKind.RATE_LIMITED, False
    if code == 408:
        return ErrorKind.TIMEOUT, False
    if code >= 500:
        return ErrorKind.HTTP_5XX, False
    return ErrorKind.HTTP_4XX, True


def classify_failure(text: str, *, timed_out: bool) -> tuple[ErrorKind, bool]:
    """(kind, permanent) from what Apprise said about a failed send."""
    lower = text.lower()
    if timed_out or "timed out" in lower or "timeout" in lower:
        return ErrorKind.TIMEOUT, False
    http = _HTTP_CODE_RE.search(text)
    if http and http.group(1)[0] in "45":
        return _http_kind(int(http.group(1)))
    smtp = _SMTP_CODE_RE.search(text)
    if smtp and (smtp.group(1) or smtp.group(2) or "").startswith("5"):
        # SMTP 5xx says "refused for good", but a mail server's refusal is often a setting that
        # someone fixes within the hour; retry on the backoff, then the delivery fails visibly.
        return ErrorKind.DELIVERY_FAILED, False
    if _DNS_RE.search(text):
        return ErrorKind.DNS, False
    if _CONNECTION_RE.search(text) and not smtp:
        return ErrorKind.CONNECTION, False
    return ErrorKind.DELIVERY_FAILED, False


def _result_text(result: Any, reasons: list[str]) -> str:
    lines: list[str] = []
    for entry in result.logs():
        if entry.message not in lines:
            lines.append(entry.message)
    lines.extend(r for r in reasons if r not in lines)
    return "; ".join(lines) or f"Apprise reported {result.status.name} without details"


class AppriseNotifier:
    """Sends through Apprise: a fresh ``Apprise()`` with one service per send."""

    def __init__(
        self,
        *,
        timeout: float = 15.0,
        allow_private: tuple[str, ...] = (),
        url_guard: UrlGuard | None = None,
    ) -> None:
        """``url_guard(http_url)`` returns why a webhook address is refused, or None.

        Hosts in ``allow_private`` (exact names or literal addresses, e.g. a webhook
        relay on the LAN) skip the guard.
        """
        self._timeout = timeout
        self._allow = frozenset(h.strip("[]").lower() for h in allow_private)
        self._guard = url_guard
        self._asset = apprise.AppriseAsset(service_timeout=timeout, http_redirects=False)

    def send(self, target: str, message: Message) -> SendOutcome:
        secrets = secrets_in_url(target)
        blocked = self._guard_error(target)
        if blocked is not None:
            text = f"{redact_url(target)}: address refused: {blocked}"
            return _failure(ErrorKind.BLOCKED_ADDRESS, text, secrets, permanent=True)
        plugin = _instantiate(target, self._asset)
        if plugin is None:
            text = f"not a usable notification URL: {redact_url(target)}"
            return _failure(ErrorKind.INVALID_TARGET, text, secrets, permanent=True)
        # Instance attributes: they shadow the plugin class's values for this send only.
        plugin.request_rate_per_sec = 0
        plugin.socket_connect_timeout = self._timeout
        plugin.socket_read_timeout = self._timeout
        return self._deliver(plugin, target, message, secrets)

    def _guard_error(self, target: str) -> str | None:
        http_url = webhook_http_url(target)
        if self._guard is None or http_url is None:
            return None
        try:
            host = urlsplit(http_url).hostname  # lower case, IPv6 without brackets
        except ValueError:  # a malformed port: the guard will say what is wrong
            host = None
        if host is not None and host in self._allow:
            return None
        return self._guard(http_url)

    def _deliver(
        self, plugin: Any, target: str, message: Message, secrets: list[str]
    ) -> SendOutcome:
        sender = apprise.Apprise(asset=self._asset)
        sender.add(plugin)
        with _collect_reasons() as reasons:
            try:
                result = sender.notify(
                    body=message.body, title=message.title, body_format=message.body_format
                )
            # Apprise runs plugin code for ~150 services; what it may raise is unbounded.
            # Whatever it is, the alert must end with a recorded, redacted outcome.
            except Exception as error:  # noqa: BLE001
                text = f"{redact_url(target)}: {type(error).__name__}: {error}"
                return _failure(ErrorKind.INTERNAL, text, secrets, permanent=False)
        with result:
            if result:
                return SENT
            timed_out = result.status == apprise.AppriseResultStatus.TIMEOUT
            detail = _result_text(result, reasons)
        kind, permanent = classify_failure(detail, timed_out=timed_out)
        return _failure(kind, f"{redact_url(target)}: {detail}", secrets, permanent=permanent)


# --- the fake -----------------------------------------------------------------------------


@dataclass
class RecordingNotifier:
    """Records every send; fails for the targets it is told to. For tests of pure code."""

    attempts: list[tuple[str, Message]] = field(default_factory=list)
    sent: list[tuple[str, Message]] = field(default_factory=list)
    failures: dict[str, SendOutcome] = field(default_factory=dict)

    def fail(
        self,
        target: str,
        *,
        kind: ErrorKind = ErrorKind.DELIVERY_FAILED,
        error: str = "simulated failure",
        permanent: bool = False,
        retry_after: float | None = None,
    ) -> None:
        """Make every later send to ``target`` fail this way."""
        self.failures[target] = SendOutcome(
            ok=False, error_kind=kind, error=error, retry_after=retry_after, permanent=permanent
        )

    def recover(self, target: str) -> None:
        """Let sends to ``target`` succeed again."""
        self.failures.pop(target, None)

    def send(self, target: str, message: Message) -> SendOutcome:
        self.attempts.append((target, message))
        outcome = self.failures.get(target, SENT)
        if outcome.ok:
            self.sent.append((target, message))
        return outcome
