"""The Apprise notifier against real local servers: an SMTP sink and a webhook sink."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace

import pytest

from tests.support.smtp_sink import SmtpSink, running_smtp_sink
from tests.support.webhook_sink import WebhookSink
from worker.adapters.notify import AppriseNotifier
from worker.core.errors import ErrorKind
from worker.core.render import SAMPLE_CONTEXT, Message, render_alert, render_for_target

CANARY = "CANARY-5ecr3t-token"

pytestmark = pytest.mark.timeout(60)

HANG_GUARD_SECONDS = 30.0  # a hanging receiver must not hold a send this long


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    with running_smtp_sink() as sink:
        yield sink


def mail_url(port: int, extra: str = "") -> str:
    # mailto:// (not mailtos://) means plain SMTP: Apprise picks mode=insecure by itself.
    return f"mailto://user:{CANARY}@127.0.0.1:{port}?to=desk@example.org&from=cw@example.org{extra}"


def assert_clean(text: str | None) -> None:
    assert text
    assert CANARY not in text
    assert CANARY.replace("-", "%2D") not in text


def test_email_arrives_with_rendered_subject_and_body(smtp: SmtpSink) -> None:
    target = mail_url(smtp.port)
    message = render_for_target(SAMPLE_CONTEXT, target)
    assert message.body_format == "html"

    outcome = AppriseNotifier(timeout=5).send(target, message)

    assert outcome.ok, outcome.error
    assert len(smtp.received) == 1
    mail = smtp.received[0]
    assert mail.rcpt_tos == ["desk@example.org"]
    assert mail.subject == message.title
    assert "Iran ↔ China" in mail.subject
    html = mail.part("text/html")
    assert "<blockquote" in html
    assert "memorandum on artificial intelligence" in html
    assert 'href="https://www.example.org/news/1234"' in html
    assert smtp.logins == [("user", CANARY)]


def test_email_refused_recipient_fails_and_is_retried_later_redacted() -> None:
    with running_smtp_sink(refuse_recipients=True) as smtp:
        target = mail_url(smtp.port)
        outcome = AppriseNotifier(timeout=5).send(target, render_for_target(SAMPLE_CONTEXT, target))
    assert not outcome.ok
    assert outcome.error_kind is ErrorKind.DELIVERY_FAILED
    assert not outcome.permanent  # retried on the backoff, then failed visibly
    assert "550" in (outcome.error or "")
    assert_clean(outcome.error)


def test_email_server_down_is_a_transient_connection_error() -> None:
    with running_smtp_sink() as other:
        port = other.port  # a port that is closed once the block ends
    outcome = AppriseNotifier(timeout=5).send(mail_url(port), render_alert(SAMPLE_CONTEXT, "email"))
    assert not outcome.ok
    assert outcome.error_kind is ErrorKind.CONNECTION
    assert not outcome.permanent
    assert_clean(outcome.error)


@pytest.fixture
def throttle_sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The sleeps Apprise's throttle asks for (still slept): recorded, not timed."""
    import apprise.url  # noqa: PLC0415

    requested: list[float] = []
    real_sleep = apprise.url.time.sleep

    def recording_sleep(seconds: float) -> None:
        requested.append(seconds)
        real_sleep(seconds)

    monkeypatch.setattr(apprise.url.time, "sleep", recording_sleep)
    return requested


def test_email_split_message_is_not_throttled(smtp: SmtpSink, throttle_sleeps: list[float]) -> None:
    # overflow=split makes Apprise call the e-mail plugin once per chunk; its class-level
    # throttle (5.5 s) would sleep between the chunks unless the notifier disabled it.
    target = mail_url(smtp.port, "&overflow=split")
    message = Message(title="split", body="x" * 40000, body_format="text")
    outcome = AppriseNotifier(timeout=5).send(target, message)
    assert outcome.ok, outcome.error
    assert len(smtp.received) == 2
    assert throttle_sleeps == [], f"Apprise throttled between the chunks: {throttle_sleeps}"


def test_json_webhook_arrives(webhook: WebhookSink) -> None:
    target = f"json://{webhook.hostport}/hook"
    message = render_for_target(SAMPLE_CONTEXT, target)
    outcome = AppriseNotifier(timeout=5).send(target, message)
    assert outcome.ok, outcome.error
    assert len(webhook.deliveries) == 1
    delivery = webhook.deliveries[0]
    assert delivery.path == "/hook"
    payload = delivery.json()
    assert payload["title"] == message.title
    assert payload["message"] == message.body
    assert "https://www.example.org/news/1234" in payload["message"]


def test_consecutive_sends_are_not_throttled(
    webhook: WebhookSink, throttle_sleeps: list[float]
) -> None:
    notifier = AppriseNotifier(timeout=5)
    target = f"form://{webhook.hostport}/hook"
    outcomes = [notifier.send(target, render_alert(SAMPLE_CONTEXT, "text")) for _ in range(3)]
    assert all(o.ok for o in outcomes)
    assert len(webhook.deliveries) == 3
    assert throttle_sleeps == [], f"Apprise throttled between sends: {throttle_sleeps}"


def test_webhook_500_is_transient_with_readable_redacted_error(webhook: WebhookSink) -> None:
    webhook.mode = "error"
    target = f"json://user:{CANARY}@{webhook.hostport}/hook?token={CANARY}"
    outcome = AppriseNotifier(timeout=5).send(target, render_alert(SAMPLE_CONTEXT, "text"))
    assert not outcome.ok
    assert outcome.error_kind is ErrorKind.HTTP_5XX
    assert not outcome.permanent
    assert "500" in (outcome.error or "")
    assert webhook.hostport in (outcome.error or "")  # readable: says where
    assert_clean(outcome.error)


def test_webhook_404_is_permanent(webhook: WebhookSink) -> None:
    webhook.mode, webhook.status = "error", 404
    target = f"json://{webhook.hostport}/missing"
    outcome = AppriseNotifier(timeout=5).send(target, render_alert(SAMPLE_CONTEXT, "text"))
    assert outcome.error_kind is ErrorKind.HTTP_4XX
    assert outcome.permanent


def test_webhook_429_is_rate_limited_retry_after_not_observable(webhook: WebhookSink) -> None:
    webhook.mode = "rate_limited"
    target = f"json://{webhook.hostport}/hook"
    outcome = AppriseNotifier(timeout=5).send(target, render_alert(SAMPLE_CONTEXT, "text"))
    assert not outcome.ok
    assert outcome.error_kind is ErrorKind.RATE_LIMITED
    assert not outcome.permanent
    # Apprise's json:// plugin logs the status code but not the response headers, so the
    # Retry-After value cannot be recovered; the caller's backoff decides.
    assert outcome.retry_after is None


def test_hanging_webhook_fails_within_timeout(webhook: WebhookSink) -> None:
    webhook.mode = "hang"
    target = f"json://{webhook.hostport}/hook"
    started = time.monotonic()
    outcome = AppriseNotifier(timeout=1.0).send(target, render_alert(SAMPLE_CONTEXT, "text"))
    elapsed = time.monotonic() - started
    assert not outcome.ok
    assert outcome.error_kind is ErrorKind.TIMEOUT  # the deadline fired, not the server
    assert not outcome.permanent
    assert elapsed < HANG_GUARD_SECONDS  # a guard against hanging, not a speed check


def test_guard_blocks_webhook_unless_host_allowed(webhook: WebhookSink) -> None:
    seen: list[str] = []

    def guard(url: str) -> str | None:
        seen.append(url)
        return "127.0.0.1 is a loopback address"

    target = f"jsons://user:{CANARY}@{webhook.hostport}/hook"
    blocked = AppriseNotifier(timeout=5, url_guard=guard).send(
        target, render_alert(SAMPLE_CONTEXT, "text")
    )
    assert blocked.error_kind is ErrorKind.BLOCKED_ADDRESS
    assert blocked.permanent
    assert seen == [f"https://{webhook.hostport}/hook"]  # no credentials handed to the guard
    assert_clean(blocked.error)
    assert webhook.deliveries == []

    allowed = AppriseNotifier(timeout=5, url_guard=guard, allow_private=("127.0.0.1",))
    outcome = allowed.send(f"json://{webhook.hostport}/hook", render_alert(SAMPLE_CONTEXT, "text"))
    assert outcome.ok, outcome.error
    assert len(webhook.deliveries) == 1


def test_guard_is_not_applied_to_email(smtp: SmtpSink) -> None:
    def guard(url: str) -> str | None:
        raise AssertionError(f"guard called for {url}")

    target = mail_url(smtp.port)
    outcome = AppriseNotifier(timeout=5, url_guard=guard).send(
        target, render_for_target(SAMPLE_CONTEXT, target)
    )
    assert outcome.ok, outcome.error


def test_console_plugin_prints_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    ctx = replace(SAMPLE_CONTEXT, title="Console @everyone check")
    message = render_for_target(ctx, "console://")
    outcome = AppriseNotifier(timeout=5).send("console://", message)
    assert outcome.ok, outcome.error
    out = capsys.readouterr().out
    assert message.title in out
    assert "Console @\u200beveryone check" in out
    assert "https://www.example.org/news/1234" in out
