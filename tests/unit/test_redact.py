"""Secret redaction: a canary token must never survive, and URLs must stay readable."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from worker.core.redact import looks_like_token, redact_text, redact_url, secrets_in_url

CANARY = "CANARY-5ecr3t-token"
ENCODED = quote(CANARY, safe="")

# (url, expected redaction) — each URL hides the canary somewhere different.
TABLE = [
    (
        f"mailto://user:{CANARY}@mail.example.org?to=desk@example.org",
        "mailto://user:***@mail.example.org?to=desk@example.org",
    ),
    (
        f"mailtos://analyst:{CANARY}@smtp.example.org:587/desk@example.org?from=cw@example.org",
        "mailtos://analyst:***@smtp.example.org:587/desk@example.org?from=cw@example.org",
    ),
    (f"tgram://123456789:{CANARY}/-1001234", "tgram://***/-1001234"),
    (f"tgram://123456:{CANARY}/chat", "tgram://***/chat"),
    (f"slack://T1JJ3T3L2/A1BRTD4JD/{CANARY}/#general", "slack://T1JJ3T3L2/A1BRTD4JD/***/#general"),
    (f"discord://1234567890/{CANARY}", "discord://1234567890/***"),
    (f"json://hooks.example.org/in?token={CANARY}", "json://hooks.example.org/in?token=***"),
    (f"json://h.example.org/x?pass={CANARY}&x=1", "json://h.example.org/x?pass=***&x=1"),
    (f"jsons://h.example.org/x?key={CANARY}", "jsons://h.example.org/x?key=***"),
    (f"form://h.example.org/?apikey={CANARY}", "form://h.example.org/?apikey=***"),
    (f"xml://h.example.org/?secret={CANARY}", "xml://h.example.org/?secret=***"),
    (
        f"json://h.example.org/?+Authorization=Bearer%20{CANARY}",
        "json://h.example.org/?+Authorization=***",
    ),
    (f"json://h.example.org/hook/{ENCODED}", "json://h.example.org/hook/***"),
    (f"pover://{CANARY}@apptokenABCDEF1234567890", "pover://***@***"),
    (f"ntfy://user:{CANARY}@ntfy.example.org/alerts", "ntfy://user:***@ntfy.example.org/alerts"),
    (f"https://example.org/a?access_token={CANARY}#x", "https://example.org/a?access_token=***#x"),
]


@pytest.mark.parametrize(("url", "expected"), TABLE)
def test_redact_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected


@pytest.mark.parametrize(("url", "_expected"), TABLE)
def test_canary_is_a_secret_of_every_url(url: str, _expected: str) -> None:
    secrets = secrets_in_url(url)
    assert CANARY in secrets


@pytest.mark.parametrize(("url", "_expected"), TABLE)
def test_redact_text_removes_the_canary_in_every_form(url: str, _expected: str) -> None:
    message = (
        f"Failed to send to {url}: server said token {CANARY} is invalid "
        f"(encoded {ENCODED}, in a quote '{CANARY}')."
    )
    out = redact_text(message, secrets_in_url(url))
    assert CANARY not in out
    assert ENCODED not in out
    assert "5ecr3t" not in out
    assert out.startswith("Failed to send to ")
    assert out.endswith("')."), "punctuation after a URL stays in place"


@pytest.mark.parametrize(
    "url",
    [
        "json://127.0.0.1:8080/hook",
        "mailto://mail.example.org?to=desk@example.org",
        "https://www.tehrantimes.com/news/512345/iran-china-ai",
        "slack://T1JJ3T3L2/A1BRTD4JD/#general",
    ],
)
def test_urls_without_secrets_are_unchanged(url: str) -> None:
    assert redact_url(url) == url
    assert secrets_in_url(url) == []


def test_password_with_special_characters_is_redacted_raw_and_encoded() -> None:
    url = "mailto://user:p%40ss%2Fw0rd%21@mail.example.org"
    secrets = secrets_in_url(url)
    assert "p@ss/w0rd!" in secrets
    out = redact_text("login p@ss/w0rd! failed for p%40ss%2Fw0rd%21", secrets)
    assert "p@ss" not in out
    assert "w0rd" not in out


def test_redact_text_redacts_urls_it_finds_without_known_secrets() -> None:
    out = redact_text(f"see mailto://u:{CANARY}@h.example.org and tgram://1:{CANARY}/2", [])
    assert CANARY not in out
    assert "mailto://u:***@h.example.org" in out


def test_redact_text_ignores_one_character_secrets() -> None:
    assert redact_text("a plain message", ["a", ""]) == "a plain message"


@pytest.mark.parametrize(
    ("text", "token"),
    [
        (CANARY, True),
        ("AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw", True),
        ("0123456789abcdef0123", True),
        ("desk@example.org", False),
        ("general", False),
        ("iran-china-cooperation", False),
        ("-1001234", False),
    ],
)
def test_looks_like_token(text: str, token: bool) -> None:
    assert looks_like_token(text) is token


def test_garbage_does_not_crash() -> None:
    for value in ["", "://", "garbage", "a://@", "x://[::1]:99/", f"{CANARY}"]:
        redact_url(value)
        secrets_in_url(value)
    assert redact_url(CANARY) == "***"
