"""Split title and text into sentences, normalise them and find lexicon hits in one pass.

Offsets of every sentence refer to the ORIGINAL title or text string. HTML tags, entities and
control characters are blanked to spaces of the same length before splitting, so offsets stay
valid. Hits are positions in the joined normalised string; each is accepted only if its word
boundaries and affixes fit the entry (closed clitic/suffix sets, capitalisation).
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from typing import NamedTuple

from worker.core.classifier.lexicon import (
    CASE_ANY,
    CASE_CAPITAL,
    CASE_UPPER,
    COUNTRY,
    CUE,
    ORG,
    PREFIX_ARTICLE,
    PREFIX_OPEN,
    PREFIX_OPTIONAL_ARTICLE,
    SECTOR,
    STOP,
    SUFFIX_HYPHEN,
    SUFFIX_OPEN,
    LexEntry,
    Lexicon,
)
from worker.core.classifier.result import Field
from worker.core.textnorm import normalize, normalize_with_offsets

MAX_TEXT_CHARS = 20_000
MAX_TITLE_CHARS = 1_000

_MARKUP = re.compile(r"<[^<>]{0,2000}>|&#?[A-Za-z0-9]{1,10};")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SENTENCE_BREAK = re.compile(r"(?<=[.!?؟;؛])\s+|(?<=[。！？；])|\n\s*")
_ENTITY_KINDS = (COUNTRY, ORG, STOP)
_WORD_TAIL = re.compile(r"[^\W\d_]*")
_MAX_PREFIX = 5
_EMPTY_ONLY = frozenset({""})


@dataclass(frozen=True, slots=True)
class Sentence:
    field: Field
    start: int  # offsets into the original field string
    end: int
    index: int  # 0 = title, 1 = first sentence of the text, ...
    norm_start: int  # offset of its normalised form in the joined string
    raw: str


@dataclass(slots=True)
class Hit:
    sentence: int
    start: int  # in the joined normalised string
    end: int
    entry: LexEntry
    surface: str


@dataclass(slots=True)
class SentenceTerms:
    """Cue categories (with counts) and sector terms found in one sentence."""

    cues: dict[str, int]
    sectors_strong: set[str]
    sectors_weak: set[str]


@dataclass(slots=True)
class ScannedDoc:
    sentences: list[Sentence]
    hits: list[Hit]  # country, org and stop hits (cues and sectors are in `terms`)
    terms: list[SentenceTerms]
    joined: str
    truncated: bool


def blank_markup(text: str) -> str:
    """Replace tags, entities and control characters by spaces of the same length."""
    text = _MARKUP.sub(lambda m: " " * len(m.group(0)), text)
    return _CONTROL.sub(" ", text)


def split_sentences(text: str, field: Field, first_index: int) -> list[tuple[Field, int, int]]:
    spans: list[tuple[Field, int, int]] = []
    pos = 0
    for brk in _SENTENCE_BREAK.finditer(text):
        if brk.start() > pos:
            spans.append((field, pos, brk.start()))
        pos = max(pos, brk.end())
    if pos < len(text):
        spans.append((field, pos, len(text)))
    return [(f, s, e) for f, s, e in spans if text[s:e].strip()]


def _sentences(title: str, text: str) -> tuple[list[Sentence], list[str]]:
    clean_title = blank_markup(title[:MAX_TITLE_CHARS])
    clean_text = blank_markup(text[:MAX_TEXT_CHARS])
    spans = split_sentences(clean_title, "title", 0)
    spans = [("title", spans[0][1], spans[-1][2])] if spans else []
    spans += split_sentences(clean_text, "text", 1)
    sentences: list[Sentence] = []
    norms: list[str] = []
    cursor = 0
    for i, (field, start, end) in enumerate(spans):
        source = clean_title if field == "title" else clean_text
        raw = source[start:end]
        norm = normalize(raw)
        sentences.append(Sentence(field, start, end, i, cursor, raw))
        norms.append(norm)
        cursor += len(norm) + 1
    return sentences, norms


_GLUED = "\x00"  # marker: letters glued on a side where none are allowed


class Boundary(NamedTuple):
    """The letters attached before and after a match inside its word."""

    prefix: str  # _GLUED when longer than any proclitic chain (or glued in a non-Arabic script)
    suffix: str
    hyphen_after: bool


_CLEAN = Boundary("", "", hyphen_after=False)
_CLEAN_HYPHEN = Boundary("", "", hyphen_after=True)


def boundary_at(s: str, start: int, end: int, script: str) -> Boundary:
    glued_before = start > 0 and s[start - 1].isalpha()
    if not glued_before and (end >= len(s) or not s[end].isalpha()):
        return _CLEAN_HYPHEN if s[end : end + 1] == "-" else _CLEAN
    prefix = ""
    if glued_before:
        prefix = _GLUED
        if script == "arabic":
            left = start - 1
            while left > 0 and s[left - 1].isalpha() and start - left <= _MAX_PREFIX:
                left -= 1
            if start - left <= _MAX_PREFIX and not (left > 0 and s[left - 1].isalpha()):
                prefix = s[left:start]
    suffix = ""
    if end < len(s) and s[end].isalpha():
        match = _WORD_TAIL.match(s, end)
        suffix = match.group() if match else ""
    return Boundary(prefix, suffix, s[end : end + 1] == "-")


def affixes_fit(lex: Lexicon, bound: Boundary, entry: LexEntry, script: str) -> bool:
    """Check one entry against the boundary: closed proclitic and suffix sets, hyphen forms."""
    if entry.substring or (entry.plain and not bound.prefix and not bound.suffix):
        return True
    morph = lex.morphology
    prefix = bound.prefix
    if entry.prefix != PREFIX_OPEN and prefix:
        if prefix == _GLUED:
            return False
        if entry.prefix == PREFIX_ARTICLE:
            if prefix not in morph.article_prefixes:
                return False
        elif prefix not in morph.proclitics and not (
            entry.prefix == PREFIX_OPTIONAL_ARTICLE and prefix in morph.article_prefixes
        ):
            return False
    elif entry.prefix == PREFIX_ARTICLE and script == "arabic" and not prefix:
        return False
    if entry.suffix == SUFFIX_OPEN:
        return True
    if entry.suffix == SUFFIX_HYPHEN:
        return not bound.suffix and bound.hyphen_after
    return bound.suffix in morph.suffixes.get((script, entry.suffix), _EMPTY_ONLY)


def _case_fits(entry: LexEntry, surface: str) -> bool:
    if entry.case == CASE_ANY or not surface:
        return True
    letters = [c for c in surface if c.isalpha()]
    if not letters:
        return True
    if entry.case == CASE_CAPITAL:
        return letters[0].isupper()
    if entry.case == CASE_UPPER:
        return all(c.isupper() for c in letters)
    return True


def _surface(sentence: Sentence, norm: str, start: int, end: int) -> str:
    """The original characters behind a span of the sentence's normalised form."""
    if len(norm) == len(sentence.raw):
        return sentence.raw[start:end]
    _, offsets = normalize_with_offsets(sentence.raw)
    if end > len(offsets) or start >= end:
        return ""
    return sentence.raw[offsets[start] : offsets[end - 1] + 1]


def _keep_longest_entities(hits: list[Hit]) -> list[Hit]:
    """Among overlapping country/org/stop hits keep the longest; stops then hide their span."""
    entities = sorted(
        (h for h in hits if h.entry.kind in _ENTITY_KINDS),
        key=lambda h: (h.start, -(h.end - h.start)),
    )
    kept: list[Hit] = []
    for hit in entities:
        if kept and hit.start < kept[-1].end:
            last = kept[-1]
            if (hit.end - hit.start) > (last.end - last.start):
                kept[-1] = hit
            elif (hit.end - hit.start) == (last.end - last.start) and hit.start == last.start:
                kept.append(hit)
            continue
        kept.append(hit)
    return [h for h in kept if h.entry.kind != STOP]


def _record(terms: SentenceTerms, entry: LexEntry) -> None:
    if entry.kind == CUE:
        terms.cues[entry.category] = terms.cues.get(entry.category, 0) + 1
    elif entry.strong:
        terms.sectors_strong.add(entry.value)
    else:
        terms.sectors_weak.add(entry.value)


def scan(lex: Lexicon, title: str, text: str) -> ScannedDoc:
    sentences, norms = _sentences(title, text)
    joined = "\n".join(norms)
    size = len(joined)
    starts = [s.norm_start for s in sentences]
    hits: list[Hit] = []
    terms = [SentenceTerms({}, set(), set()) for _ in sentences]
    for pattern_id, start, end in lex.automaton.find_matches_as_indexes(joined, overlapping=True):
        script = lex.scripts[pattern_id]
        if (start and joined[start - 1].isalpha()) or (end < size and joined[end].isalpha()):
            bound = boundary_at(joined, start, end, script)
        else:
            bound = _CLEAN_HYPHEN if joined[end : end + 1] == "-" else _CLEAN
        si = bisect.bisect_right(starts, start) - 1
        surface = ""
        for entry in lex.entries[pattern_id]:
            if not affixes_fit(lex, bound, entry, script):
                continue
            if entry.case != CASE_ANY:
                sentence = sentences[si]
                offset = sentence.norm_start
                surface = surface or _surface(sentence, norms[si], start - offset, end - offset)
                if not _case_fits(entry, surface):
                    continue
            if entry.kind in (CUE, SECTOR):
                _record(terms[si], entry)
            else:
                hits.append(Hit(si, start, end, entry, surface))
    truncated = len(text) > MAX_TEXT_CHARS or len(title) > MAX_TITLE_CHARS
    return ScannedDoc(sentences, _keep_longest_entities(hits), terms, joined, truncated)


__all__ = ["CASE_CAPITAL", "CASE_UPPER", "Hit", "ScannedDoc", "Sentence", "scan"]
