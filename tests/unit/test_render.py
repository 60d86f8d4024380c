"""Alert rendering: channels, escaping of untrusted text, truncation, template validation."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from importlib import resources

import pytest

from worker.core.render import (
    DEFAULTS,
    TEMPLATE_TOKENS,
    AlertContext,
    Channel,
    TemplateSet,
    channel_for_target,
    channel_limit,
    escape_markdown,
    headline,
    render_alert,
    render_for_target,
    validate_templates,
)

ZWSP = "\u200b"

CTX = AlertContext(
    watchlist="iran-china-ai",
    rule="partners all of IR,CN; sectors ai; keyword 'memorandum'",
    title="Iran and China sign AI memorandum",
    url="https://www.tehrantimes.com/news/512345/iran-china-ai",
    outlet="Tehran Times",
    lang="en",
    published=datetime(2025, 12, 5, 8, 0, tzinfo=UTC),
    partners=("IR", "CN"),
    sectors=("ai", "digital_economy"),
    event_type="meeting",
    score=0.82,
    evidence="Officials of the two countries met to discuss AI cooperation.",
    summary="TEHRAN - Iranian and Chinese officials met in Beijing on Tuesday.",
)
CHANNELS: tuple[Channel, ...] = ("email", "chat", "text")


# --- headline ---------------------------------------------------------------------------


def test_headline_for_an_arabic_article() -> None:
    ctx = replace(CTX, outlet="Al-Wifaq", lang="ar")
    assert headline(ctx) == "Iran ↔ China · AI, digital economy · meeting · Al-Wifaq (ar)"


def test_headline_for_a_persian_article_isolates_the_rtl_outlet_name() -> None:
    ctx = replace(
        CTX,
        title="ایران و روسیه تفاهم‌نامه همکاری در حوزه مخابرات امضا کردند",
        outlet="ایرنا",
        lang="fa",
        partners=("IR", "RU"),
        sectors=("telecom", "cybersecurity"),
        event_type="agreement",
    )
    assert headline(ctx) == (
        "Iran ↔ Russia · telecom, cybersecurity · agreement · \u2068ایرنا\u2069 (fa)"
    )


def test_headline_without_partners_sectors_or_event() -> None:
    ctx = replace(CTX, partners=(), sectors=(), event_type=None, outlet="  ")
    assert headline(ctx) == "unknown outlet (en)"


def test_headline_keeps_unknown_codes_and_humanises_unknown_keys() -> None:
    ctx = replace(CTX, partners=("IR", "QQ"), sectors=("quantum_tech",), event_type="joint_body")
    assert headline(ctx).startswith("Iran ↔ QQ · quantum tech · joint body · ")


def test_country_table_covers_iso_3166_alpha2() -> None:
    text = resources.files("worker.core.data").joinpath("countries_en.json").read_text("utf-8")
    table = json.loads(text)
    assert len(table) == 250  # the 249 ISO 3166-1 alpha-2 codes and XK (Kosovo)
    assert all(len(code) == 2 and code.isupper() for code in table)
    assert table["IR"] == "Iran"
    assert table["CN"] == "China"
    assert table["RS"] == "Serbia"
    assert table["AM"] == "Armenia"
    assert table["PS"] == "Palestine"
    assert table["XK"] == "Kosovo"


# --- channels ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("channel", "body_format"), [("email", "html"), ("chat", "markdown"), ("text", "text")]
)
def test_each_channel_renders_headline_title_evidence_and_link(
    channel: Channel, body_format: str
) -> None:
    message = render_alert(CTX, channel)
    assert message.body_format == body_format
    assert message.title == f"iran-china-ai: {headline(CTX)}"
    assert "Iran ↔ China" in message.body
    assert "Iran and China sign AI memorandum" in message.body
    assert "met to discuss AI cooperation" in message.body
    assert "https://www.tehrantimes.com/news/512345/iran-china-ai" in message.body
    assert "2025-12-05" in message.body
    assert "82%" in message.body


def test_email_body_links_the_article() -> None:
    body = render_alert(CTX, "email").body
    assert '<a href="https://www.tehrantimes.com/news/512345/iran-china-ai">' in body


def test_chat_body_is_a_markdown_link() -> None:
    body = render_alert(CTX, "chat").body
    assert "[tehrantimes.com](https://www.tehrantimes.com/news/512345/iran-china-ai)" in body


def test_script_in_title_is_escaped_in_html() -> None:
    ctx = replace(CTX, title='<script>alert("x")</script>', evidence="<img src=x onerror=1>")
    body = render_alert(ctx, "email").body
    assert "<script>" not in body
    assert "<img" not in body
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in body


@pytest.mark.parametrize(
    ("raw", "neutral"),
    [
        ("@everyone", f"@{ZWSP}everyone"),
        ("@here", f"@{ZWSP}here"),
        ("@channel", f"@{ZWSP}channel"),
        ("<!channel>", f"<{ZWSP}!channel>"),
        ("<!here>", f"<{ZWSP}!here>"),
        ("<@U123>", f"<{ZWSP}@{ZWSP}U123>"),
    ],
)
def test_mentions_are_neutralised_in_text(raw: str, neutral: str) -> None:
    body = render_alert(replace(CTX, title=f"Breaking {raw} now"), "text").body
    assert f"Breaking {neutral} now" in body


@pytest.mark.parametrize("raw", ["@everyone", "@here", "@channel", "<!channel>", "<@U123>"])
def test_mentions_are_neutralised_in_chat(raw: str) -> None:
    body = render_alert(replace(CTX, evidence=f"ping {raw}"), "chat").body
    assert raw not in body
    assert raw not in body.replace("\\", "")  # not merely hidden behind an escape


def test_markdown_significant_characters_are_escaped_in_chat() -> None:
    ctx = replace(CTX, title="*bold* _it_ `code` [link](https://evil.example) ~x~ | a")
    body = render_alert(ctx, "chat").body
    assert "\\*bold\\* \\_it\\_ \\`code\\` \\[link\\](https://evil.example) \\~x\\~ \\| a" in body


@pytest.mark.parametrize("text", ["# heading", "> quote", "- item", "+ item", "1. item"])
def test_markdown_block_syntax_at_line_start_is_escaped(text: str) -> None:
    escaped = escape_markdown(text)
    assert escaped != text
    assert escaped.replace("\\", "") == text


@pytest.mark.parametrize("channel", CHANNELS)
def test_control_characters_are_stripped(channel: Channel) -> None:
    ctx = replace(CTX, title="Iran\x00 and\x07 China\x1b[31m\x85 \u009b sign", evidence="a\r\nb\tc")
    message = render_alert(ctx, channel)
    for ch in ("\x00", "\x07", "\x1b", "\x85", "\x9b", "\r"):
        assert ch not in message.body
        assert ch not in message.title
    assert "Iran and China[31m sign" in message.body.replace("\\", "")


def test_email_subject_is_one_line_even_from_a_hostile_outlet_name() -> None:
    ctx = replace(CTX, outlet="Evil\r\nBcc: victim@example.org")
    message = render_alert(ctx, "email")
    assert "\n" not in message.title
    assert "\r" not in message.title


@pytest.mark.parametrize("url", ["javascript:alert(1)", "data:text/html,x", "ftp://x.org/a", ""])
def test_non_http_links_are_dropped(url: str) -> None:
    for channel in CHANNELS:
        body = render_alert(replace(CTX, url=url), channel).body
        assert "javascript:" not in body
        assert "data:text" not in body
        assert "ftp://" not in body


def test_link_with_brackets_cannot_break_markdown() -> None:
    ctx = replace(CTX, url="https://x.org/a_(b) c")
    body = render_alert(ctx, "chat").body
    assert "[x.org](https://x.org/a_%28b%29%20c)" in body


# --- truncation -------------------------------------------------------------------------


@pytest.mark.parametrize("limit", [2000, 1000, 600, 400])
@pytest.mark.parametrize("channel", CHANNELS)
def test_truncation_fits_the_limit_and_keeps_headline_and_link(
    channel: Channel, limit: int
) -> None:
    long = replace(CTX, summary="word " * 2000, evidence="evidence " * 300, title="T" * 500)
    message = render_alert(long, channel, max_length=limit)
    assert len(message.title) + len(message.body) + 2 <= limit
    assert "https://www.tehrantimes.com/news/512345/iran-china-ai" in message.body
    assert "Iran ↔ China" in message.body
    assert "word " * 50 not in message.body


def test_truncation_marks_the_cut() -> None:
    message = render_alert(replace(CTX, summary="word " * 2000), "text", max_length=1000)
    assert "word word…" in message.body
    assert "met to discuss AI cooperation" in message.body  # evidence kept: summary went first


def test_truncation_to_telegram_and_discord_limits() -> None:
    long = replace(CTX, summary="س" * 10000)
    for target, limit in (("tgram://1:AAA/2", 4096), ("discord://1/tok", 2000)):
        message = render_for_target(long, target)
        assert len(message.title) + len(message.body) + 2 <= limit
        assert "tehrantimes.com" in message.body


def test_truncation_of_a_template_whose_fixed_text_is_too_long() -> None:
    templates = TemplateSet(text="{{ 'padding ' * 500 }}{{ url }}")
    message = render_alert(CTX, "text", templates, max_length=300)
    assert len(message.title) + len(message.body) + 2 <= 300
    assert "https://www.tehrantimes.com/news/512345/iran-china-ai" in message.body


def test_tiny_limit_never_fails() -> None:
    message = render_alert(CTX, "chat", max_length=5)
    assert len(message.title) + len(message.body) + 2 <= 5


def test_short_message_is_not_truncated() -> None:
    assert render_alert(CTX, "text", max_length=10_000) == render_alert(CTX, "text")


# --- templates --------------------------------------------------------------------------


def test_custom_templates_are_used_per_channel() -> None:
    templates = TemplateSet(
        title="{{ partner_names|join(' & ') }}",
        text="T {{ title }}",
        html="<b>{{ title }}</b>",
        markdown="*{{ title }}*",
    )
    assert render_alert(CTX, "text", templates).body == "T Iran and China sign AI memorandum"
    assert render_alert(CTX, "email", templates).body == "<b>Iran and China sign AI memorandum</b>"
    assert render_alert(CTX, "chat", templates).body == "*Iran and China sign AI memorandum*"
    assert render_alert(CTX, "chat", templates).title == "Iran & China"


def test_default_templates_are_valid() -> None:
    assert validate_templates(DEFAULTS) == []
    assert validate_templates(TemplateSet()) == []


def test_unknown_token_is_reported_with_the_available_tokens() -> None:
    errors = validate_templates(TemplateSet(text="{{ headline }} {{ sender }}"))
    assert len(errors) == 1
    assert errors[0].startswith("text template: 'sender' is undefined")
    assert all(token in errors[0] for token in TEMPLATE_TOKENS)


def test_syntax_error_is_reported_with_its_line() -> None:
    errors = validate_templates(TemplateSet(html="<p>{{ title }}</p>\n{% if url %}<a>"))
    assert len(errors) == 1
    assert errors[0].startswith("html template: syntax error on line")


@pytest.mark.parametrize(
    "source",
    [
        "{{ ctx.__class__ }}",
        "{{ title.__class__ }}",
        "{{ title.__class__.__mro__[1].__subclasses__() }}",
        "{{ score.__class__.__init__.__globals__ }}",
    ],
)
def test_sandbox_blocks_attribute_access(source: str) -> None:
    errors = validate_templates(TemplateSet(markdown=source))
    assert len(errors) == 1
    assert errors[0].startswith("markdown template:")


def test_template_that_breaks_without_a_url_is_reported() -> None:
    errors = validate_templates(TemplateSet(text="{{ url.upper() }}"))
    assert len(errors) == 1
    assert "no url" in errors[0]


def test_title_template_is_checked_in_every_format() -> None:
    errors = validate_templates(TemplateSet(title="{% for %}"))
    assert len(errors) == 1
    assert errors[0].startswith("title template: syntax error")


def test_failing_custom_template_falls_back_to_the_default() -> None:
    message = render_alert(CTX, "text", TemplateSet(text="{{ score / 0 }}"))
    assert "Iran and China sign AI memorandum" in message.body
    assert "custom template failed with ZeroDivisionError" in message.body


def test_template_failing_only_on_truncated_text_still_renders() -> None:
    templates = TemplateSet(text="{{ summary }} {{ summary[4000] }}")
    long = replace(CTX, summary="s" * 5000)
    message = render_alert(long, "text", templates, max_length=1000)
    assert len(message.title) + len(message.body) + 2 <= 1000
    assert "tehrantimes.com" in message.body


def test_runaway_template_output_is_capped() -> None:
    source = (
        "{% for i in range(100000) %}{% for j in range(100) %}xxxxxxxxxx{% endfor %}{% endfor %}"
    )
    message = render_alert(CTX, "text", TemplateSet(text=source))
    assert len(message.body) <= 100_000


# --- targets ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "channel"),
    [
        ("mailto://u:p@example.org", "email"),
        ("mailtos://u:p@gmail.com", "email"),
        ("MAILTO://u:p@example.org", "email"),
        ("slack://T1/B2/C3", "chat"),
        ("tgram://123:abc/456", "chat"),
        ("discord://1/tok", "chat"),
        ("msteams://a/b/c", "chat"),
        ("matrixs://u:p@matrix.org/#room", "chat"),
        ("mmost://chat.example.org/token", "chat"),
        ("rocket://u:p@chat.example.org/#c", "chat"),
        ("json://127.0.0.1/hook", "text"),
        ("form://example.org", "text"),
        ("xmls://example.org", "text"),
        ("console://", "text"),
        ("signal://host/+1555", "text"),
        ("garbage", "text"),
    ],
)
def test_channel_for_target(url: str, channel: str) -> None:
    assert channel_for_target(url) == channel


@pytest.mark.parametrize(
    ("url", "limit"),
    [
        ("tgram://1:A/2", 4096),
        ("discord://1/t", 2000),
        ("slack://a/b/c", 35000),
        ("json://h/x", None),
        ("mailto://u:p@h", None),
    ],
)
def test_channel_limit(url: str, limit: int | None) -> None:
    assert channel_limit(url) == limit
