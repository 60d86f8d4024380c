"""Notification targets without any network: validation, guards, failure classes, the fake."""

from __future__ import annotations

import pytest
from apprise.manager_plugins import NotificationManager

from worker.adapters.notify import (
    AppriseNotifier,
    RecordingNotifier,
    classify_failure,
    validate_target,
    webhook_http_url,
)
from worker.core.errors import ErrorKind
from worker.core.render import _LIMITS, SAMPLE_CONTEXT, channel_for_target, render_alert

CANARY = "CANARY-5ecr3t-token"


@pytest.mark.parametrize(
    "url",
    [
        "mailto://user:pass@mail.example.org?to=desk@example.org",
        "mailtos://user:pass@smtp.example.org:587?to=desk@example.org&from=cw@example.org",
        "json://127.0.0.1:8080/hook",
        "jsons://hooks.example.org/in",
        "form://hooks.example.org/in",
        "xml://hooks.example.org/in",
        "tgram://123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/12345",
        "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/#general",
        "console://",
    ],
)
def test_valid_targets(url: str) -> None:
    assert validate_target(url) is None


@pytest.mark.parametrize(
    "url",
    ["foo://bar", "garbage", "", "://", "mailto://", "tgram://", "http//missing-colon"],
)
def test_invalid_targets(url: str) -> None:
    error = validate_target(url)
    assert error is not None
    assert error.startswith("not a usable notification URL")


def test_invalid_target_error_is_redacted() -> None:
    error = validate_target(f"nosuch://user:{CANARY}@host/{CANARY}")
    assert error is not None
    assert CANARY not in error
    assert "nosuch://user:***@host/***" in error


def test_send_to_invalid_target_is_permanent_and_redacted() -> None:
    outcome = AppriseNotifier().send(f"foo://u:{CANARY}@bar", render_alert(SAMPLE_CONTEXT, "text"))
    assert not outcome.ok
    assert outcome.error_kind is ErrorKind.INVALID_TARGET
    assert outcome.permanent
    assert outcome.error
    assert CANARY not in outcome.error


@pytest.mark.parametrize(
    ("target", "http_url"),
    [
        ("json://127.0.0.1:8080/hook", "http://127.0.0.1:8080/hook"),
        (
            f"jsons://u:{CANARY}@hooks.example.org/in?+X-Token={CANARY}",
            "https://hooks.example.org/in",
        ),
        ("FORM://example.org", "http://example.org"),
        ("xmls://[::1]:9000/x#frag", "https://[::1]:9000/x"),
        ("mailto://u:p@example.org", None),
        ("tgram://1:abc/2", None),
        ("console://", None),
    ],
)
def test_webhook_http_url(target: str, http_url: str | None) -> None:
    assert webhook_http_url(target) == http_url


def test_guard_refusal_is_blocked_address_before_any_io() -> None:
    calls: list[str] = []

    def guard(url: str) -> str | None:
        calls.append(url)
        return "10.0.0.5 is a private address"

    notifier = AppriseNotifier(url_guard=guard)
    outcome = notifier.send("json://10.0.0.5/hook", render_alert(SAMPLE_CONTEXT, "text"))
    assert outcome.error_kind is ErrorKind.BLOCKED_ADDRESS
    assert outcome.permanent
    assert outcome.error
    assert "10.0.0.5 is a private address" in outcome.error
    assert calls == ["http://10.0.0.5/hook"]


def test_allow_private_skips_the_guard_for_named_hosts_only() -> None:
    def guard(url: str) -> str | None:
        return "refused"

    notifier = AppriseNotifier(url_guard=guard, allow_private=("relay.lan", "[::1]"))
    assert notifier._guard_error("json://relay.lan:8080/x") is None
    assert notifier._guard_error("json://[::1]:8080/x") is None
    assert notifier._guard_error("json://other.lan/x") == "refused"
    assert notifier._guard_error("mailto://u:p@10.0.0.1") is None  # mail is not guarded


@pytest.mark.parametrize(
    ("text", "timed_out", "kind", "permanent"),
    [
        ("Failed to send JSON POST notification: Internal server error., error=500.", False,
         ErrorKind.HTTP_5XX, False),
        ("Failed to send JSON POST notification: error=503.", False, ErrorKind.HTTP_5XX, False),
        ("Failed to send JSON POST notification: error=429.", False,
         ErrorKind.RATE_LIMITED, False),
        ("Failed to send Slack notification: Not Found, error=404.", False,
         ErrorKind.HTTP_4XX, True),
        ("Failed to send Telegram notification: Unauthorized, error=401.", False,
         ErrorKind.HTTP_4XX, True),
        ("error=408.", False, ErrorKind.TIMEOUT, False),
        ("Notification did not finish", True, ErrorKind.TIMEOUT, False),
        ("Socket Exception: Read timed out. (read timeout=1)", False, ErrorKind.TIMEOUT, False),
        ("Socket Exception: [Errno 111] Connection refused", False, ErrorKind.CONNECTION, False),
        ("Socket Exception: [Errno -2] Name or service not known", False, ErrorKind.DNS, False),
        ("Socket Exception: {'a@b.org': (550, b'5.1.1 mailbox unavailable')}", False,
         ErrorKind.DELIVERY_FAILED, False),
        ("Socket Exception: (535, b'5.7.8 Authentication credentials invalid')", False,
         ErrorKind.DELIVERY_FAILED, False),
        ("SMTP recipient a@b.org was refused: 450 b'try later'", False,
         ErrorKind.DELIVERY_FAILED, False),
        ("Apprise reported FAILURE without details", False, ErrorKind.DELIVERY_FAILED, False),
    ],
)  # fmt: skip
def test_classify_failure(text: str, timed_out: bool, kind: ErrorKind, permanent: bool) -> None:
    assert classify_failure(text, timed_out=timed_out) == (kind, permanent)


def test_channel_limits_do_not_exceed_apprise_limits() -> None:
    manager = NotificationManager()
    checked = 0
    for scheme, limit in _LIMITS.items():
        if scheme not in manager:
            continue  # not in this Apprise build (msteams became workflows)
        maxlen = manager[scheme].body_maxlen
        if isinstance(maxlen, int) and maxlen > 0:
            assert limit <= maxlen, scheme
            checked += 1
    assert checked > 20


def test_chat_schemes_exist_in_apprise() -> None:
    manager = NotificationManager()
    for scheme in ("slack", "tgram", "discord", "mmost", "rocket", "gchat", "zulip", "matrix"):
        assert channel_for_target(f"{scheme}://x") == "chat"
        assert scheme in manager


def test_recording_notifier_records_and_fails_on_request() -> None:
    notifier = RecordingNotifier()
    message = render_alert(SAMPLE_CONTEXT, "text")
    notifier.fail("tgram://bad/1", kind=ErrorKind.HTTP_4XX, error="Unauthorized", permanent=True)

    ok = notifier.send("mailto://u:p@h", message)
    bad = notifier.send("tgram://bad/1", message)

    assert ok.ok
    assert not bad.ok
    assert bad.error_kind is ErrorKind.HTTP_4XX
    assert bad.permanent
    assert notifier.attempts == [("mailto://u:p@h", message), ("tgram://bad/1", message)]
    assert notifier.sent == [("mailto://u:p@h", message)]

    notifier.recover("tgram://bad/1")
    assert notifier.send("tgram://bad/1", message).ok
