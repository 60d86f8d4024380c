"""Watchlist matching on dataclasses: every criterion, keywords in several scripts."""

from __future__ import annotations

import pytest

from worker.core.classifier import ClassifierResult
from worker.core.match import CompiledRule, MatchItem, WatchRule, match
from worker.core.textnorm import normalize


def result(
    *,
    coop: bool = True,
    partners: tuple[str, ...] = ("CN", "IR"),
    sectors: tuple[str, ...] = ("ai",),
    event: str | None = "agreement",
    lang: str = "en",
    score: float = 0.8,
) -> ClassifierResult:
    return ClassifierResult(coop, score, partners, sectors, event, lang, (), "test")


def item(text: str = "", res: ClassifierResult | None = None, feed: str = "TT") -> MatchItem:
    return MatchItem("title", text, feed, "https://example.org/rss", res or result())


def run(rule: WatchRule, it: MatchItem) -> str | None:
    return match(CompiledRule(rule), it, normalize(f"{it.title}\n{it.text}"))


@pytest.mark.parametrize(
    ("rule", "res", "matches"),
    [
        (WatchRule("all"), result(), True),
        (WatchRule("all"), result(coop=False), False),
        (WatchRule("any", cooperation_only=False), result(coop=False), True),
        (WatchRule("p", partners_all=frozenset({"IR", "CN"})), result(), True),
        (WatchRule("p", partners_all=frozenset({"IR", "RU"})), result(), False),
        (
            WatchRule("pair", partners_any=(frozenset({"IR", "RU"}), frozenset({"IR", "CN"}))),
            result(),
            True,
        ),
        (WatchRule("pair", partners_any=(frozenset({"IR", "RU"}),)), result(), False),
        (WatchRule("s", sectors=frozenset({"ai", "space"})), result(), True),
        (WatchRule("s", sectors=frozenset({"space"})), result(), False),
        (WatchRule("e", event_types=frozenset({"agreement"})), result(), True),
        (WatchRule("e", event_types=frozenset({"visit"})), result(event="meeting"), False),
        (WatchRule("l", languages=frozenset({"fa", "ar"})), result(lang="fa"), True),
        (WatchRule("l", languages=frozenset({"fa"})), result(lang="en"), False),
        (WatchRule("m", min_score=0.9), result(score=0.8), False),
        (WatchRule("m", min_score=0.5), result(score=0.8), True),
        (WatchRule("f", feeds=frozenset({"TT"})), result(), True),
        (WatchRule("f", feeds=frozenset({"https://example.org/rss"})), result(), True),
        (WatchRule("f", feeds=frozenset({"IRNA"})), result(), False),
    ],
)
def test_each_criterion(rule: WatchRule, res: ClassifierResult, matches: bool) -> None:
    assert (run(rule, item(res=res)) is not None) is matches


@pytest.mark.parametrize(
    ("keyword", "text", "matches"),
    [
        ("memorandum", "They signed a Memorandum of Understanding.", True),
        ("memorandum", "They signed memorandums.", True),
        ("AI", "They said nothing.", False),  # 'ai' inside 'said' is not the word AI
        ("AI", "Cooperation on AI and 5G.", True),
        ("coopération", "La cooperation bilaterale", True),  # diacritics folded both ways
        ("مذكرة تفاهم", "وقع البلدان مذكرة  تفاهم للتعاون", True),  # extra space
        ("مذكرة تفاهم", "وقّع البلدان مذكّرة تفاهم", True),  # harakat
        ("همکاری", "همكاري دو كشور", True),  # Persian typed with Arabic ي/ك
        ("الصين", "وبالصين", True),  # Arabic clitics attach to the keyword
        ("تفاهم‌نامه", "امضای تفاهم نامه", True),  # ZWNJ vs space
        ("joint working group", "a JOINT working\ngroup met", True),
    ],
)
def test_keywords_are_normalised(keyword: str, text: str, matches: bool) -> None:
    rule = WatchRule("k", keywords=(keyword,))
    assert (run(rule, item(text)) is not None) is matches


def test_the_reason_names_every_criterion_that_held() -> None:
    rule = WatchRule(
        "r",
        keywords=("memorandum",),
        partners_all=frozenset({"IR", "CN"}),
        sectors=frozenset({"ai"}),
        min_score=0.5,
    )
    why = run(rule, item("a memorandum on AI"))
    assert why == (
        "cooperation; score 0.80 >= 0.50; partners all of CN,IR; sectors ai; keyword 'memorandum'"
    )
