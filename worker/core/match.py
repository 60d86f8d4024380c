"""Watchlist matching: pure, on dataclasses. Every given criterion must hold."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

from worker.core.classifier import ClassifierResult
from worker.core.textnorm import normalize


@dataclass(frozen=True, slots=True)
class WatchRule:
    name: str
    keywords: tuple[str, ...] = ()
    partners_all: frozenset[str] = frozenset()
    partners_any: tuple[frozenset[str], ...] = ()  # each item: a set that must all be partners
    sectors: frozenset[str] = frozenset()
    event_types: frozenset[str] = frozenset()
    languages: frozenset[str] = frozenset()
    feeds: frozenset[str] = frozenset()  # feed names or URLs
    min_score: float = 0.0
    cooperation_only: bool = True


@dataclass(frozen=True, slots=True)
class MatchItem:
    title: str
    text: str
    feed_name: str | None
    feed_url: str
    result: ClassifierResult


@dataclass(frozen=True)
class CompiledRule:
    rule: WatchRule

    @cached_property
    def keyword_patterns(self) -> tuple[tuple[str, re.Pattern[str]], ...]:
        return tuple((k, keyword_pattern(k)) for k in self.rule.keywords)


def keyword_pattern(keyword: str) -> re.Pattern[str]:
    """A keyword, normalised; Latin and Cyrillic words must start at a word boundary.

    Arabic-script keywords match inside words, because clitics attach to them (وبالصين).
    """
    norm = normalize(keyword).strip()
    body = r"\s+".join(re.escape(part) for part in norm.split())
    if norm[:1].isalpha() and ord(norm[0]) < 0x0590:
        body = r"(?<!\w)" + body
    return re.compile(body)


def match(compiled: CompiledRule, item: MatchItem, normalized_text: str) -> str | None:
    """Return why the rule matched (one clause per criterion), or None.

    `normalized_text` is `normalize(title + "\n" + text)`, computed once per article.
    """
    reasons: list[str] = []
    for clause in (_cooperation_clause, _partner_clause, _set_clauses):
        found = clause(compiled.rule, item)
        if found is None:
            return None
        reasons.extend(found)
    if compiled.rule.keywords:
        hits = [k for k, pattern in compiled.keyword_patterns if pattern.search(normalized_text)]
        if not hits:
            return None
        reasons.append("keyword " + ", ".join(repr(k) for k in hits))
    return "; ".join(reasons)


def _cooperation_clause(rule: WatchRule, item: MatchItem) -> list[str] | None:
    res = item.result
    reasons = []
    if rule.cooperation_only:
        if not res.is_cooperation:
            return None
        reasons.append("cooperation")
    if res.score < rule.min_score:
        return None
    if rule.min_score:
        reasons.append(f"score {res.score:.2f} >= {rule.min_score:.2f}")
    return reasons


def _partner_clause(rule: WatchRule, item: MatchItem) -> list[str] | None:
    partners = set(item.result.partners)
    reasons = []
    if rule.partners_all:
        if not rule.partners_all <= partners:
            return None
        reasons.append("partners all of " + ",".join(sorted(rule.partners_all)))
    if rule.partners_any:
        hit = next((group for group in rule.partners_any if group <= partners), None)
        if hit is None:
            return None
        reasons.append("partners " + "+".join(sorted(hit)))
    return reasons


def _set_clauses(rule: WatchRule, item: MatchItem) -> list[str] | None:
    res = item.result
    clauses = (
        ("sectors", rule.sectors, set(res.sectors)),
        ("event type", rule.event_types, {res.event_type} if res.event_type else set()),
        ("language", rule.languages, {res.lang}),
        ("feed", rule.feeds, {item.feed_url} | ({item.feed_name} if item.feed_name else set())),
    )
    reasons = []
    for label, wanted, have in clauses:
        if wanted:
            common = wanted & have
            if not common:
                return None
            reasons.append(f"{label} " + ",".join(sorted(common)))
    return reasons
