"""Split title and text into sentences, normalise them and find lexicon hits in one pass.

Offsets of every sentence refer to the ORIGINAL title or text string. HTML tags, entities and
control characters are blanked to spaces of the same length before splitting, so offsets stay
valid. Hits are positions in the joined normalised string; each is accepted only if its word
boundaries and affixes fit the entry (closed clitic/suffix sets, capitalisation).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass
from typing import NamedTuple

from worker.core.classifier.lexicon import (
    CASE_ANY,
    CASE_CAPITAL,
    CASE_UPPER,
    COMPANY,
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
    PatternTable,
)
from worker.core.classifier.result import Field
from worker.core.textnorm import normalize, normalize_spans, normalize_with_offsets

MAX_TEXT_CHARS = 20_000
MAX_TITLE_CHARS = 1_000

_MARKUP = re.compile(r"<[^<>]{0,2000}>|&#?[A-Za-z0-9]{1,10};")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# A sentence ends at a run of . ! ? ; (Latin/Arabic) followed by white space, at a run of CJK or
# Urdu/Hindi full stops, or at a newline. Written as "any end character, then the rule for its
# kind (chosen by a lookbehind)" rather than as "rule | rule | rule": a pattern that starts with
# one character class lets `re` skip ahead to the next candidate character in C, which makes the
# split about 4x faster. It finds exactly the same spans as r"[.!?؟;؛]+(?=\s)|[。！？；۔।]+|\n".
_SENTENCE_END = re.compile(
    r"[.!?؟;؛。！？；۔।\n]"
    r"(?:(?<=[.!?؟;؛])[.!?؟;؛]*(?=\s)|(?<=[。！？；۔।])[。！？；۔।]*|(?<=\n))"
)
OFFICE_WINDOW = 25
# title and month abbreviations written with a full stop (en, fr, ru), looked up before a '.'
_ABBREVIATIONS = frozenset(
    [
        "M",
        "Mr",
        "Mrs",
        "Ms",
        "Dr",
        "Pr",
        "Prof",
        "St",
        "Mme",
        "Mgr",
        "Jan",
        "Feb",
        "Mar",
        "Apr",
        "Jun",
        "Jul",
        "Aug",
        "Sep",
        "Sept",
        "Oct",
        "Nov",
        "Dec",
        "janv",
        "févr",
        "avr",
        "juil",
        "déc",
        "г",
        "гг",
        "им",
        "т",
    ]
)
_CHAIN_TAILS = (
    " و",
    "و",
    ",",
    ", ",
    " and ",
    " et ",
    " и ",
    " ve ",
    " y ",
    " e ",
    " und ",
    " des ",
    " de la ",
    " de l'",
    " du ",
    " the ",
    " of ",
)
CHAIN_WINDOW = 70
MIN_COUNTRIES = 2
RESCUE_MIN_CHARS = 4  # a rejected in-word match shorter than this hides no whole word
MASK_MIN_CHARS = 8  # short company names ('ZTE', 'Huawei') hold no sector word to hide
_ENTITY_KINDS = (COUNTRY, ORG, STOP)
_WORD_TAIL = re.compile(r"[^\W\d_]*")
_MAX_PREFIX = 5
_EMPTY_ONLY = frozenset({""})


@dataclass(slots=True)
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
    seen: set[str]  # presence keys already recorded (see lexicon.presence_key)
    first: dict[str, int]  # position of the first cue of each category (joined string)


@dataclass(slots=True)
class ScannedDoc:
    sentences: list[Sentence]
    hits: list[Hit]  # country, org and stop hits (cues and sectors are in `terms`)
    terms: list[SentenceTerms]
    joined: str
    truncated: bool
    terms_scanned: bool = True


def blank_markup(text: str) -> str:
    """Replace tags, entities and control characters by spaces of the same length."""
    if "<" in text or "&" in text:
        text = _MARKUP.sub(lambda m: " " * len(m.group(0)), text)
    return _CONTROL.sub(" ", text) if _CONTROL.search(text) else text


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Spans of the non-blank sentences of `text`, without surrounding white space."""
    spans: list[tuple[int, int]] = []
    pos = 0
    for brk in _SENTENCE_END.finditer(text):
        start = brk.start()
        # cheap filter first: a '.' right after a word of at most four letters
        if (
            text[start] == "."
            and text[start - 1 : start].isalpha()
            and not text[start - 5 if start > 5 else 0 : start].isalpha()
            and _is_abbreviation(text, start)
        ):
            continue  # 'Nov. 25', 'M. Hashemi', 'Dr. Ali': not the end of a sentence
        # a newline ends the sentence before it; punctuation belongs to its sentence
        _add_stripped(spans, text, pos, start if text[start] == "\n" else brk.end())
        pos = brk.end()
    _add_stripped(spans, text, pos, len(text))
    return spans


def _is_abbreviation(text: str, dot: int) -> bool:
    """Whether the word just before the full stop at `dot` is a known abbreviation."""
    begin = dot
    while begin > 0 and dot - begin < 6 and text[begin - 1].isalpha():
        begin -= 1
    if begin == dot or (begin > 0 and text[begin - 1].isalpha()):
        return False
    return text[begin:dot] in _ABBREVIATIONS


def _add_stripped(spans: list[tuple[int, int]], text: str, start: int, end: int) -> None:
    """Append text[start:end] without its surrounding white space, unless it is blank."""
    piece = text[start:end]
    rest = piece.lstrip()  # str.strip and str.isspace agree on what white space is
    if rest:
        spans.append((start + len(piece) - len(rest), start + len(piece.rstrip())))


def _sentences(title: str, text: str) -> tuple[list[Sentence], list[str]]:
    clean_title = blank_markup(title[:MAX_TITLE_CHARS])
    clean_text = blank_markup(text[:MAX_TEXT_CHARS])
    title_spans = split_sentences(clean_title)
    text_spans = split_sentences(clean_text)
    sentences: list[Sentence] = []
    norms: list[str] = []
    if title_spans:
        start, end = title_spans[0][0], title_spans[-1][1]
        norms.append(normalize(clean_title[start:end]))
        sentences.append(Sentence("title", start, end, 0, 0, clean_title[start:end]))
    norms += normalize_spans(clean_text, text_spans)
    cursor = len(norms[0]) + 1 if title_spans else 0
    for i, (start, end) in enumerate(text_spans, len(sentences)):
        sentences.append(Sentence("text", start, end, i, cursor, clean_text[start:end]))
        cursor += len(norms[i]) + 1
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
                if last.entry.kind == COUNTRY and hit.entry.kind != COUNTRY:
                    # a form listed as a body too ('شانگهای' for the SCO): the body reading wins
                    kept = [k for k in kept if k.start != hit.start or k.entry.kind != COUNTRY]
                    kept.append(hit)
                elif not (last.entry.kind != COUNTRY and hit.entry.kind == COUNTRY):
                    kept.append(hit)
            continue
        kept.append(hit)
    return [h for h in kept if h.entry.kind != STOP]


def in_office_title(lex: Lexicon, joined: str, start: int, end: int, floor: int) -> bool:
    """A sector word that names a ministry ('Minister of ICT', 'وزير الاتصالات')."""
    before, after = lex.office_before, lex.office_after
    if before is None or after is None:
        return False
    if before.search(joined, max(floor, start - OFFICE_WINDOW), start):
        return True
    if after.match(joined, end) is not None:
        return True
    chain = lex.office_chain
    if chain is None or not joined.endswith(
        _CHAIN_TAILS, start - 8 if start - 8 > floor else floor, start
    ):
        return False
    return chain.search(joined, max(floor, start - CHAIN_WINDOW), start) is not None


def _record_all(
    lex: Lexicon,
    group: tuple[LexEntry, ...],
    terms: SentenceTerms,
    joined: str,
    start: int,
    end: int,
    floor: int,
) -> None:
    for entry in group:
        if not entry.plain and (entry.prefix == PREFIX_ARTICLE or entry.suffix != SUFFIX_OPEN):
            continue
        if entry.kind == SECTOR and in_office_title(lex, joined, start, end, floor):
            continue
        _record(terms, entry, start)


def _record(terms: SentenceTerms, entry: LexEntry, start: int) -> None:
    terms.seen.add(entry.key)  # presence_key(entry)
    if entry.kind == CUE:
        terms.cues[entry.category] = terms.cues.get(entry.category, 0) + 1
        if start < terms.first.get(entry.category, start + 1):
            terms.first[entry.category] = start
    elif entry.strong:
        terms.sectors_strong.add(entry.value)
    else:
        terms.sectors_weak.add(entry.value)


def _match(  # noqa: PLR0912 (one hot loop: the checks stay inline on purpose)
    lex: Lexicon,
    table: PatternTable,
    joined: str,
    starts: list[int],
    sentences: list[Sentence],
    norms: list[str],
    terms: list[SentenceTerms],
    hits: list[Hit],
) -> None:
    """Run one automaton and keep the matches whose boundaries and case fit their entries.

    `starts` holds the position of each sentence in `joined` (ascending). This loop runs for
    every raw match, so the cheap rejections come first and the checks are written inline.
    """
    presence, scripts, closed, entries = table.presence, table.scripts, table.closed, table.entries
    loose = table.loose
    size = len(joined)
    matches = table.automaton.find_matches_as_indexes(joined, overlapping=table.overlapping)
    rescue = not table.overlapping
    for pattern_id, start, end in matches:  # `matches` may grow while we walk it (rescue)
        glued_before = start > 0 and joined[start - 1].isalpha()
        glued_after = end < size and joined[end].isalpha()
        if glued_before or glued_after:
            closed_before, closed_after = closed[pattern_id]
            if glued_before and closed_before:
                if rescue and end - start >= RESCUE_MIN_CHARS:
                    # leftmost-longest matching let this in-word match ('IT cooperation' in
                    # 'trans[it cooperation]') hide the words behind its start: search again
                    inner = table.automaton.find_matches_as_indexes(joined[start + 1 : end])
                    matches.extend((p, start + 1 + a, start + 1 + b) for p, a, b in inner)
                continue
            if glued_after and closed_after:
                continue  # in-word match ('us' in 'focus') that no entry of it accepts
        si = bisect_right(starts, start) - 1
        keys = presence[pattern_id]
        if keys is not None:
            if keys <= terms[si].seen:
                continue
            if not glued_before and not glued_after:
                # whole word, plain cue/sector entries: nothing more to check
                _record_all(lex, entries[pattern_id], terms[si], joined, start, end, starts[si])
                continue
        if loose[pattern_id]:
            fitting = list(entries[pattern_id])  # affixes_fit accepts substring entries as is
        else:
            script = scripts[pattern_id]
            if glued_before or glued_after:
                bound = boundary_at(joined, start, end, script)
            else:
                bound = _CLEAN_HYPHEN if joined[end : end + 1] == "-" else _CLEAN
            fitting = [e for e in entries[pattern_id] if affixes_fit(lex, bound, e, script)]
        if fitting:
            own_terms = terms[si] if terms else None
            _accept(lex, fitting, joined, start, end, sentences[si], norms[si], own_terms, hits)


def _accept(
    lex: Lexicon,
    fitting: list[LexEntry],
    joined: str,
    start: int,
    end: int,
    sentence: Sentence,
    norm: str,
    terms: SentenceTerms | None,
    hits: list[Hit],
) -> None:
    """Record entries whose affixes fit, after the case check (proper names, acronyms)."""
    surface = ""
    offset = sentence.norm_start
    for entry in fitting:
        if entry.case != CASE_ANY:
            surface = surface or _surface(sentence, norm, start - offset, end - offset)
            if not _case_fits(entry, surface):
                continue
        if entry.kind not in (CUE, SECTOR):
            hits.append(Hit(sentence.index, start, end, entry, surface))
        elif terms is not None and not (
            entry.kind == SECTOR and in_office_title(lex, joined, start, end, offset)
        ):
            _record(terms, entry, start)


def _mask_orgs(joined: str, hits: list[Hit]) -> str:
    """Blank the names of multilateral bodies and institutions before cues and sectors are
    looked up: the 'Cooperation' of the Economic Cooperation Organization, the 'للاتصالات' of
    the ITU or the 'Télécom' of Algérie Télécom is part of a name, not a cooperation act or
    a sector. Same length, so offsets stay."""
    spans = [
        (h.start, h.end)
        for h in hits
        if h.entry.kind == ORG or (h.entry.category == COMPANY and h.end - h.start > MASK_MIN_CHARS)
    ]
    if not spans:
        return joined
    parts: list[str] = []
    last = 0
    for start, end in sorted(spans):
        if start < last:
            continue
        parts.append(joined[last:start])
        parts.append(" " * (end - start))
        last = end
    parts.append(joined[last:])
    return "".join(parts)


def scan(lex: Lexicon, title: str, text: str, home: str | None = None) -> ScannedDoc:
    """Find countries first; cues and sector terms only when two or more countries appear
    (an item naming fewer countries cannot report cooperation between countries), counting
    `home`, the country a language's press leaves unnamed, when it is not named itself."""
    sentences, norms = _sentences(title, text)
    joined = "\n".join(norms)
    starts = [s.norm_start for s in sentences]
    hits: list[Hit] = []
    terms: list[SentenceTerms] = []  # the entity table has no cue or sector entries
    _match(lex, lex.entities, joined, starts, sentences, norms, terms, hits)
    hits = _keep_longest_entities(hits)
    codes = {code for h in hits if h.entry.kind == COUNTRY for code in h.entry.value.split("+")}
    if home and codes:
        codes.add(home)
    if len(codes) >= MIN_COUNTRIES:
        terms = [SentenceTerms({}, set(), set(), set(), {}) for _ in sentences]
        _match(lex, lex.terms, _mask_orgs(joined, hits), starts, sentences, norms, terms, hits)
    truncated = len(text) > MAX_TEXT_CHARS or len(title) > MAX_TITLE_CHARS
    return ScannedDoc(sentences, hits, terms, joined, truncated, len(codes) >= MIN_COUNTRIES)


__all__ = ["CASE_CAPITAL", "CASE_UPPER", "Hit", "ScannedDoc", "Sentence", "scan"]
