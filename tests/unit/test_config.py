"""The configuration file: valid shapes load; wrong ones name the file, the line and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from worker.config import ConfigError, load_config, parse_config, watch_rule
from worker.runtime import check_targets, check_templates

VALID = """\
feeds:
  - url: https://www.tehrantimes.com/rss
    name: Tehran Times
    language: en
targets:
  desk: "json://hooks.example.org/cw"
watchlists:
  - name: iran-china-ai
    match:
      keywords: ["memorandum", "مذكرة تفاهم", "تفاهم‌نامه"]
      partners: [IR, cn]
      partners_any: ["IR+RU", "ir+rs"]
      sectors: [ai, telecom]
      event_types: [agreement, joint_body]
      languages: [ar, fa, fr, en]
      min_score: 0.5
    notify: [desk, "tgram://123456789:ABCdefGHI/987654"]
    mode: instant
"""


def test_the_documented_shape_loads() -> None:
    config = parse_config(VALID, source="c.yaml", checks=(check_targets, check_templates))
    [w] = config.watchlists
    rule = watch_rule(w)
    assert rule.partners_all == {"IR", "CN"}
    assert rule.partners_any == (frozenset({"IR", "RU"}), frozenset({"IR", "RS"}))
    assert config.targets_of(w) == [
        "json://hooks.example.org/cw",
        "tgram://123456789:ABCdefGHI/987654",
    ]


def test_the_example_file_is_valid() -> None:
    example = Path(__file__).resolve().parents[2] / "coopwatch.example.yaml"
    config = load_config(example, checks=(check_targets, check_templates))
    assert config.feeds and config.watchlists


@pytest.mark.parametrize(
    ("replace", "by", "expected"),
    [
        ("partners: [IR, cn]", "partners: [IR, CHN]", "c.yaml:11: watchlists.0.match.partners"),
        (
            "sectors: [ai, telecom]",
            "sectors: [ai, robots]",
            "c.yaml:13: watchlists.0.match.sectors",
        ),
        ("min_score: 0.5", "min_score: 5", "c.yaml:16: watchlists.0.match.min_score"),
        ("  - url: https://www.tehrantimes.com/rss", "  - url: ftp://x", "c.yaml:2: feeds.0.url"),
        ("    mode: instant", "    mode: sometimes", "c.yaml:18: watchlists.0.mode"),
        ("      languages:", "      langs:", "c.yaml:15: watchlists.0.match.langs"),
        ('[desk, "tgram', '[desk, "nosuchscheme://x", "tgram', "c.yaml:17: watchlists.0.notify.1"),
        ("mode: instant", "mode: {digest: daily, timezone: Mars/Base}", "watchlists.0.mode"),
        ('desk: "json://hooks.example.org/cw"', 'desk: "nosuchscheme://x"', "targets.desk"),
        (
            "    mode: instant\n",
            '    mode: instant\nfeed_health:\n  notify: [desk, "nosuchscheme://y"]\n',
            "feed_health.notify.1",
        ),
    ],
)
def test_errors_name_file_line_and_field(replace: str, by: str, expected: str) -> None:
    assert replace in VALID
    with pytest.raises(ConfigError) as info:
        parse_config(VALID.replace(replace, by), source="c.yaml", checks=(check_targets,))
    assert expected in str(info.value)


def test_bad_yaml_names_the_line() -> None:
    with pytest.raises(ConfigError, match=r"c.yaml:3: not valid YAML"):
        parse_config("feeds:\n  - url: x\n\t- url: y\n", source="c.yaml")


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nothere\.yaml: configuration file not found"):
        load_config(tmp_path / "nothere.yaml")


def test_duplicate_watchlist_names_are_refused() -> None:
    text = VALID + VALID[VALID.index("  - name:") :]
    with pytest.raises(ConfigError, match="duplicate watchlist name"):
        parse_config(text, source="c.yaml")


def test_an_invalid_template_is_refused_at_load() -> None:
    broken = "    mode: instant\n    templates:\n      text: '{{ nope }'"
    text = VALID.replace("    mode: instant", broken)
    with pytest.raises(ConfigError, match=r"watchlists\.0\.templates"):
        parse_config(text, source="c.yaml", checks=(check_templates,))


def test_secrets_in_urls_do_not_appear_in_errors() -> None:
    text = VALID.replace('"tgram://123456789:ABCdefGHI/987654"', '"mailto://u:CANARY-secret@"')
    with pytest.raises(ConfigError) as info:
        parse_config(text, source="c.yaml", checks=(check_targets,))
    assert "watchlists.0.notify.1" in str(info.value)
    assert "CANARY-secret" not in str(info.value)


def test_the_readme_example_is_valid() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text("utf-8")
    start = readme.index("```yaml\nfeeds:") + len("```yaml\n")
    block = readme[start : readme.index("```", start)]
    config = parse_config(block, source="README.md", checks=(check_targets, check_templates))
    assert [w.name for w in config.watchlists] == ["iran-china-ai"]
    assert config.model.max_messages_per_hour == 20
    assert config.model.feed_health is not None
    assert config.model.feed_health.after_errors == 3
