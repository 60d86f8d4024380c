"""Load the classifier's data files and compile them into one Aho-Corasick pattern table.

Every lexicon (country gazetteer, curated country forms, cues, sector terms) becomes a list of
`LexEntry` records keyed by the normalised pattern string. One automaton finds all of them in
one pass; `matcher.py` then checks word boundaries and affixes per entry. Adding a language means
adding lines to the data files: nothing here is language-specific.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

import ahocorasick_rs

from worker.core.textnorm import normalize

DATA_PACKAGE = "worker.core.classifier.data"

# kinds of entries
COUNTRY = "country"
ORG = "org"
STOP = "stop"
CUE = "cue"
SECTOR = "sector"

# prefix modes (Arabic script: which proclitics may precede; other scripts: word start or not)
PREFIX_WORD = "word"
PREFIX_ARTICLE = "article"
PREFIX_OPTIONAL_ARTICLE = "optart"
PREFIX_OPEN = "open"

# suffix modes
SUFFIX_NONE = "none"
SUFFIX_NISBA = "nisba"
SUFFIX_ADJ = "adj"
SUFFIX_CUE = "cue"
SUFFIX_OPEN = "open"
SUFFIX_HYPHEN = "hyphen"

# case modes (checked on the original text; no-op for caseless scripts)
CASE_ANY = "any"
CASE_CAPITAL = "capital"
CASE_UPPER = "upper"

# country mention categories
NAME = "name"
ADJECTIVE = "adjective"
CITY = "city"
COMPANY = "company"
PAIR = "pair"


@dataclass(frozen=True, slots=True)
class LexEntry:
    """One meaning of a pattern: what it is, what it says, and how it may be attached."""

    kind: str
    category: str
    value: str
    prefix: str = PREFIX_WORD
    suffix: str = SUFFIX_NONE
    case: str = CASE_ANY
    strong: bool = True
    substring: bool = False
    plain: bool = field(init=False, default=False, compare=False)
    key: str = field(init=False, default="", compare=False)  # presence_key, computed once

    def __post_init__(self) -> None:
        # A bare whole word always fits this entry: the fast path of the boundary check.
        plain = self.prefix != PREFIX_ARTICLE and self.suffix not in (SUFFIX_HYPHEN, SUFFIX_ADJ)
        object.__setattr__(self, "plain", plain)
        key = f"{'+' if self.strong else '-'}{self.value}" if self.kind == SECTOR else self.category
        object.__setattr__(self, "key", key)


@dataclass(frozen=True, slots=True)
class Morphology:
    proclitics: frozenset[str]
    article_prefixes: frozenset[str]
    suffixes: dict[tuple[str, str], frozenset[str]]


@dataclass(slots=True)
class PatternTable:
    """Patterns of one automaton with, per pattern id, its entries and precomputed flags."""

    patterns: list[str]
    entries: list[tuple[LexEntry, ...]]
    scripts: list[str]
    # per pattern: (no entry accepts letters glued before, no entry accepts letters after)
    closed: list[tuple[bool, bool]]
    # per pattern: every entry is a substring entry (Han script, pairs), so word boundaries
    # never matter and the boundary check can be skipped
    loose: list[bool]
    # per pattern: the cue categories / sector keys it can add, when a sentence only needs to
    # know they are present (then a repeated match in the same sentence is skipped); else None
    presence: list[frozenset[str] | None]
    automaton: Any = field(repr=False)
    overlapping: bool = True  # report every match, or only leftmost-longest ones


@dataclass(slots=True)
class Lexicon:
    entities: PatternTable  # countries, multilateral bodies, geographic stop-phrases
    terms: PatternTable  # cues and sector terms
    morphology: Morphology
    langid: dict[str, Any] = field(default_factory=dict, repr=False)
    venue_words: frozenset[str] = frozenset()
    office_before: re.Pattern[str] | None = None
    office_after: re.Pattern[str] | None = None
    office_chain: re.Pattern[str] | None = None
    capital_words: frozenset[str] = frozenset()  # 'العاصمة', 'capitale': a place follows
    compare_words: tuple[str, ...] = ()  # 'such as', 'مانند': a comparison follows


def read_data(name: str) -> str:
    return resources.files(DATA_PACKAGE).joinpath(name).read_text(encoding="utf-8")


def script_of(text: str) -> str:
    """Script family of the first letter of `text`: arabic, han, cyrillic, greek or latin."""
    for ch in text:
        code = ord(ch)
        if not ch.isalpha():
            continue
        if 0x0600 <= code <= 0x08FF or 0xFB50 <= code <= 0xFEFF:
            return "arabic"
        if 0x2E80 <= code <= 0x9FFF or 0xF900 <= code <= 0xFAFF or 0x3040 <= code <= 0x30FF:
            return "han"
        if 0x0400 <= code <= 0x052F:
            return "cyrillic"
        if 0x0370 <= code <= 0x03FF or 0x1F00 <= code <= 0x1FFF:
            return "greek"
        return "latin"
    return "latin"


def _load_morphology() -> Morphology:
    data = json.loads(read_data("morphology.json"))
    proclitics = frozenset(normalize(p) for p in data["arabic_proclitics"])
    articles = [normalize(a) for a in data["arabic_article"]]
    article_prefixes = {p + a for p in proclitics for a in articles}
    article_prefixes |= {normalize(c) for c in data["arabic_article_contractions"]}
    suffixes = {
        (script, mode): frozenset(normalize(s) for s in values)
        for script, modes in data["suffixes"].items()
        for mode, values in modes.items()
    }
    return Morphology(proclitics, frozenset(article_prefixes), suffixes)


def parse_marked(form: str) -> tuple[str, str, str]:
    """Split the * and = markers of cue/sector syntax into (form, prefix mode, suffix mode)."""
    prefix, suffix = PREFIX_OPTIONAL_ARTICLE, SUFFIX_CUE
    if form.startswith("="):
        form, suffix = form[1:], SUFFIX_NONE
    if form.startswith("*"):
        form, prefix = form[1:], PREFIX_OPEN
    if form.endswith("*"):
        form, suffix = form[:-1], SUFFIX_OPEN
    return form, prefix, suffix


def _case_mode(form: str) -> str:
    letters = [c for c in form if c.isalpha()]
    if script_of(form) not in ("latin", "cyrillic", "greek"):
        return CASE_ANY
    if len(letters) >= 2 and all(c.isupper() for c in letters):
        return CASE_UPPER
    return CASE_CAPITAL if letters and letters[0].isupper() else CASE_ANY


class _TableBuilder:
    def __init__(self) -> None:
        self.table: dict[str, list[LexEntry]] = {}
        self.dropped: set[str] = set()

    def add(self, form: str, entry: LexEntry) -> None:
        key = normalize(form).strip()
        if not key or (key in self.dropped and entry.kind == COUNTRY):
            return
        bucket = self.table.setdefault(key, [])
        if entry not in bucket:
            bucket.append(entry)

    def check_stops(self) -> None:
        """A stop phrase that normalises to a country form would hide that country everywhere
        (once 'مصرّ' lost its shadda it erased every 'مصر', Egypt): refuse such data."""
        for key, bucket in self.table.items():
            kinds = {e.kind for e in bucket}
            if STOP in kinds and COUNTRY in kinds:
                raise ValueError(
                    f"countries_curated.tsv: stop phrase {key!r} normalises to a country form; "
                    "it would hide that country in every text"
                )


def _country_entry(code: str, category: str, affix: str, form: str) -> LexEntry:
    script = script_of(form)
    case = _case_mode(form) if category in (NAME, CITY, COMPANY) else CASE_ANY
    if affix == "upper" or (case == CASE_UPPER and category != ADJECTIVE):
        case = CASE_UPPER
    if category == PAIR or script == "han":
        return LexEntry(COUNTRY, category, code, case=CASE_ANY, substring=True)
    if affix == "article":
        return LexEntry(COUNTRY, category, code, PREFIX_ARTICLE, SUFFIX_NONE, case)
    if affix == "hyphen":
        return LexEntry(COUNTRY, category, code, PREFIX_WORD, SUFFIX_HYPHEN, CASE_ANY)
    if affix == "adj":
        return LexEntry(COUNTRY, category, code, PREFIX_OPTIONAL_ARTICLE, SUFFIX_ADJ, CASE_ANY)
    if affix == "nisba" or (category == ADJECTIVE and script == "arabic"):
        suffix = SUFFIX_NISBA if normalize(form).endswith("ي") else SUFFIX_NONE
        return LexEntry(COUNTRY, category, code, PREFIX_OPTIONAL_ARTICLE, suffix, CASE_ANY)
    return LexEntry(COUNTRY, category, code, PREFIX_WORD, SUFFIX_NONE, case)


def _add_curated(builder: _TableBuilder) -> None:
    rows: list[tuple[str, str, str, list[str]]] = []
    for line in read_data("countries_curated.tsv").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        code, kind, affix, joined = line.split("\t")
        rows.append((code, kind, affix, [f.strip() for f in joined.split("|") if f.strip()]))
    for _code, kind, _affix, forms in rows:
        if kind == "drop":
            builder.dropped |= {normalize(f) for f in forms}
    for code, kind, affix, forms in rows:
        for form in forms:
            if kind == "org":
                # Arabic-script names take proclitics: 'لمنظمة التعاون الإسلامي'
                prefix = PREFIX_OPTIONAL_ARTICLE if script_of(form) == "arabic" else PREFIX_WORD
                builder.add(form, LexEntry(ORG, ORG, form, prefix, case=_case_mode(form)))
            elif kind == "stop":
                builder.add(form, LexEntry(STOP, STOP, "", PREFIX_OPTIONAL_ARTICLE, SUFFIX_CUE))
            elif kind == PAIR:
                pair_codes, _, text = form.partition(":")
                builder.add(text, _country_entry(pair_codes, PAIR, "sub", text))
            elif kind != "drop":
                category = NAME if kind == "alias" else kind
                builder.add(form, _country_entry(code, category, affix, form))


def _add_gazetteer(builder: _TableBuilder) -> None:
    data = json.loads(read_data("gazetteer.json"))
    fields = data["fields"]
    for row in data["entries"]:
        rec = dict(zip(fields, row, strict=True))
        if normalize(rec["form"]) in builder.dropped:
            continue
        entry = _country_entry(rec["code"], rec["kind"], rec["affix"], rec["form"])
        builder.add(rec["form"], entry)


def _marked_entry(
    kind: str, category: str, value: str, form: str, strong: bool
) -> tuple[str, LexEntry]:
    text, prefix, suffix = parse_marked(form)
    substring = script_of(text) == "han"
    case = CASE_UPPER if _case_mode(text) == CASE_UPPER else CASE_ANY
    return text, LexEntry(kind, category, value, prefix, suffix, case, strong, substring)


VENUE = "venue"
OFFICE = "office"
CAPITAL = "capital"
COMPARE = "compare"
_CONTEXT_ONLY = (VENUE, OFFICE, CAPITAL, COMPARE)


@lru_cache(maxsize=1)
def _cue_data() -> dict[str, Any]:
    """cues.json, parsed once for the automaton and the context-only word lists."""
    data: dict[str, Any] = json.loads(read_data("cues.json"))
    return data


def _context_words(category: str) -> list[str]:
    forms = [f for by_lang in _cue_data()["cues"][category].values() for f in by_lang]
    return sorted({normalize(parse_marked(f)[0]) for f in forms}, key=len, reverse=True)


def _venue_words() -> frozenset[str]:
    """Locative prepositions ('in', 'à', 'في', 'در', 'в'): checked next to a place name only."""
    return frozenset(_context_words(VENUE))


def _office_patterns() -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    """Minister/ministry words, looked up just before or after a sector term; and the chain
    form: an office word, at most three words (its first portfolio), then 'and'/','/'و'
    right before the term ('Minister of Communications and [Information Technology]')."""
    alternation = "|".join(re.escape(w) for w in _context_words(OFFICE))
    chain = (
        rf"(?:{alternation})\w*(?:[ '’]+[^\s.;:!?،؛]+){{1,3}}"
        r"(?:(?:,| (?:and|et|и|ve|y|e|und)) (?:(?:des|de la|de l'|du|the|of) ?)?| و ?)$"
    )
    return (
        re.compile(f"(?:{alternation})"),
        re.compile(rf"[ ,]{{0,2}}(?:{alternation})"),
        re.compile(chain),
    )


def expand_inner(form: str, endings: dict[str, tuple[str, ...]]) -> list[str]:
    """Expand an inner 'word*' of a multi-word form ('дорожн* карт*') into the closed set of
    inflected endings of its script (`inner` suffixes in morphology.json); the final word keeps
    its own marker. The automaton matches literal strings only."""
    words = form.split(" ")
    if len(words) < 2 or not any(w.endswith("*") for w in words[:-1]):
        return [form]
    variants = [""]
    for i, word in enumerate(words):
        sep = " " if i else ""
        if i < len(words) - 1 and word.endswith("*"):
            stem = word[:-1]
            tails = endings.get(script_of(stem), ("",))
            variants = [v + sep + stem + t for v in variants for t in tails]
        else:
            variants = [v + sep + word for v in variants]
    return variants


def _inner_endings() -> dict[str, tuple[str, ...]]:
    data = json.loads(read_data("morphology.json"))
    return {script: tuple(modes.get("inner", [""])) for script, modes in data["suffixes"].items()}


def with_contraction(form: str) -> list[str]:
    """An Arabic form with the article also occurs after the preposition li-, which swallows
    the article's alef: 'التعاون' -> 'للتعاون'; before a word that starts with lam, one lam
    more goes: 'اللجنة المشتركة' -> 'للجنة المشتركة' ('of the joint committee')."""
    bare = form.lstrip("=*")
    if not (bare.startswith("ال") and len(bare) > 4 and script_of(bare) == "arabic"):
        return [form]
    contracted = bare[1:] if bare.startswith("الل") else "ل" + bare[1:]
    return [form, form[: len(form) - len(bare)] + contracted]


def _add_cues(builder: _TableBuilder) -> None:
    endings = _inner_endings()
    for category, by_lang in _cue_data()["cues"].items():
        if category in _CONTEXT_ONLY:
            continue
        for forms in by_lang.values():
            for marked in forms:
                for form in expand_inner(marked, endings):
                    for variant in with_contraction(form):
                        builder.add(*_marked_entry(CUE, category, category, variant, True))


def _add_sectors(builder: _TableBuilder) -> None:
    data = json.loads(read_data("sectors.json"))
    endings = _inner_endings()
    for sector, grades in data["sectors"].items():
        for grade in ("strong", "weak"):
            for forms in grades.get(grade, {}).values():
                for marked in forms:
                    for form in expand_inner(marked, endings):
                        strong = grade == "strong"
                        for variant in with_contraction(form):
                            builder.add(*_marked_entry(SECTOR, sector, sector, variant, strong))
        for form in grades.get("upper", []):
            entry = LexEntry(SECTOR, sector, sector, PREFIX_WORD, SUFFIX_NONE, CASE_UPPER)
            builder.add(form, entry)


def _drop_article_duplicates(table: dict[str, list[LexEntry]]) -> None:
    """Remove cue/sector entries of 'الX' when 'X' has the same entry: the optional-article
    prefix of 'X' already covers them, and fewer overlapping patterns mean fewer matches."""
    for key in [k for k in table if k.startswith("ال") and len(k) > 4]:
        base = table.get(key[2:])
        if not base:
            continue
        kept = [
            e
            for e in table[key]
            if e.kind not in (CUE, SECTOR)
            or e.prefix != PREFIX_OPTIONAL_ARTICLE
            or LexEntry(
                e.kind, e.category, e.value, e.prefix, e.suffix, e.case, e.strong, e.substring
            )
            not in base
        ]
        if kept:
            table[key] = kept
        else:
            del table[key]


COUNTED_CUES = frozenset({"neg_conflict", "neg_offtopic", "tech"})


def presence_key(entry: LexEntry) -> str:
    """What a sentence records for this entry: the cue category, or +/- and the sector key."""
    return entry.key


def _presence_keys(group: tuple[LexEntry, ...]) -> frozenset[str] | None:
    for e in group:
        if e.kind not in (CUE, SECTOR) or e.case != CASE_ANY or e.category in COUNTED_CUES:
            return None
    return frozenset(presence_key(e) for e in group)


def _closed_sides(script: str, group: tuple[LexEntry, ...]) -> tuple[bool, bool]:
    """Whether every entry of a pattern rejects a glued letter before / after it: lets the
    matcher drop in-word matches ('us' in 'focus') without a full boundary check."""
    if any(e.substring for e in group):
        return False, False
    before = script != "arabic" and all(e.prefix != PREFIX_OPEN for e in group)
    after = all(e.suffix in (SUFFIX_NONE, SUFFIX_HYPHEN) for e in group)
    return before, after


@lru_cache(maxsize=1)
def get_lexicon() -> Lexicon:
    """Build the pattern table and automaton once per process."""
    builder = _TableBuilder()
    _add_curated(builder)
    _add_gazetteer(builder)
    builder.check_stops()
    _add_cues(builder)
    _add_sectors(builder)
    _drop_article_duplicates(builder.table)
    entity_kinds = (COUNTRY, ORG, STOP)
    office_before, office_after, office_chain = _office_patterns()
    return Lexicon(
        _pattern_table(builder.table, lambda e: e.kind in entity_kinds, overlapping=True),
        _pattern_table(builder.table, lambda e: e.kind not in entity_kinds, overlapping=False),
        _load_morphology(),
        json.loads(read_data("langid.json")),
        _venue_words(),
        office_before,
        office_after,
        office_chain,
        frozenset(_context_words(CAPITAL)),
        tuple(_context_words(COMPARE)),
    )


def _pattern_table(
    table: dict[str, list[LexEntry]], wanted: Callable[[LexEntry], bool], *, overlapping: bool
) -> PatternTable:
    selected = {key: tuple(e for e in group if wanted(e)) for key, group in table.items()}
    patterns = sorted(key for key, group in selected.items() if group)
    entries = [selected[p] for p in patterns]
    scripts = [script_of(p) for p in patterns]
    return PatternTable(
        patterns,
        entries,
        scripts,
        [_closed_sides(script, group) for script, group in zip(scripts, entries, strict=True)],
        [all(e.substring for e in group) for group in entries],
        [_presence_keys(group) for group in entries],
        ahocorasick_rs.AhoCorasick(
            patterns,
            matchkind=(
                ahocorasick_rs.MatchKind.Standard
                if overlapping
                else ahocorasick_rs.MatchKind.LeftmostLongest
            ),
        ),
        overlapping,
    )
