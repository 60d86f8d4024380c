"""Text normalisation shared by the classifier and the watchlist matcher.

Folds case, Latin diacritics (Latin letters only: folding Cyrillic would turn й into и),
Arabic harakat and tatweel, Arabic/Persian letter variants (أإآٱ→ا, ى/ی/ئ→ي, ة/ۀ→ه, ك/ک→ک),
ZWNJ to space, typographic apostrophes to ', and Arabic-Indic/Persian digits to ASCII. Control
characters other than tab and newline become spaces. Every output character maps back to one
input character, so evidence offsets can be recovered.

Each input character is folded on its own, so the fold of a character is computed once and
cached; `normalize` then runs as one `str.translate` call. `normalize_spans` folds a whole
document once and slices it, which is the same as folding each span when every character of the
document folds to exactly one character (the usual case).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_DROP = {0x0640, 0x0670} | set(range(0x0610, 0x061B)) | set(range(0x064B, 0x0660))
_DROP |= set(range(0x06D6, 0x06EE)) | {0x200B, 0x200D, 0x200E, 0x200F, 0xFEFF, 0x00AD}
_MAP = {
    "أ": "ا",
    "إ": "ا",
    "آ": "ا",
    "ٱ": "ا",
    "ى": "ي",
    "ی": "ي",
    "ئ": "ي",
    "ې": "ي",
    "ة": "ه",
    "ۀ": "ه",
    "ە": "ه",
    "ك": "ک",
    "ؤ": "و",
    "\u200c": " ",
    "\u2019": "'",
    "\u2018": "'",
    "\u02bc": "'",
    "\u00b4": "'",
}
for _i, _d in enumerate("٠١٢٣٤٥٦٧٨٩"):
    _MAP[_d] = str(_i)
for _i, _d in enumerate("۰۱۲۳۴۵۶۷۸۹"):
    _MAP[_d] = str(_i)


def _fold_char(ch: str) -> str:
    code = ord(ch)
    if code in _DROP:
        return ""
    mapped = _MAP.get(ch)
    if mapped is not None:
        return mapped
    if code < 0x20 and ch not in "\t\n":
        return " "
    if code < 0x250 and not ch.isascii():
        # Latin-1 supplement and Latin Extended-A/B: strip combining accents.
        base = unicodedata.normalize("NFD", ch)
        ch = "".join(c for c in base if not unicodedata.combining(c)) or ch
    folded = ch.casefold()
    return folded if len(folded) == 1 else ch.lower()


def _fold_raw(raw: str) -> str:
    """The normalised form of one input character (NFKC first for non-ASCII)."""
    chars = unicodedata.normalize("NFKC", raw) if ord(raw) > 0x7F else raw
    return "".join(_fold_char(ch) for ch in chars)


class _FoldTable(dict[int, str]):
    """A `str.translate` table that folds each code point on first use and remembers it."""

    def __missing__(self, code: int) -> str:
        folded = _fold_raw(chr(code))
        self[code] = folded
        return folded


_TABLE = _FoldTable()

# Blocks where the fast path below is checked character by character: Latin, Greek, Cyrillic,
# Arabic, general punctuation, CJK punctuation and ideographs, full-width forms.
_FAST_BLOCKS = (
    (0x0000, 0x024F),
    (0x0370, 0x052F),
    (0x0600, 0x06FF),
    (0x2000, 0x206F),
    (0x3000, 0x303F),
    (0x4E00, 0x9FFF),
    (0xFF00, 0xFFEF),
)


def _char_class(codes: list[int], negate: bool = False) -> re.Pattern[str]:
    """A regex matching one character of `codes` (sorted), or, negated, any other character."""
    runs: list[list[int]] = []
    for code in codes:
        if runs and code == runs[-1][1] + 1:
            runs[-1][1] = code
        else:
            runs.append([code, code])
    body = "".join(f"\\U{a:08x}-\\U{b:08x}" for a, b in runs)
    return re.compile(f"[{'^' if negate else ''}{body}]")


class _FastFold:
    """`text.translate(_TABLE)` without a dict lookup per character.

    `str.translate` with a dict costs a few hundred instructions per non-ASCII character. For
    almost every character, the fold is just `str.lower()` of it, which CPython applies to a
    whole string at C speed (per character; its one context rule is the Greek final sigma, so Σ
    is always replaced first). The other characters ("special": diacritics, Arabic variants,
    marks, digits ...) are replaced with `str.replace`, one call per distinct special character
    present. Each character of `_FAST_BLOCKS` is checked here, when the table is built, to give
    exactly its `_TABLE` fold this way; a text with any other character takes `str.translate`.
    """

    def __init__(self) -> None:
        plain: list[int] = []
        special: list[int] = []
        for first, last in _FAST_BLOCKS:
            for code in range(first, last + 1):
                ch = chr(code)
                if ch != "Σ" and ch.lower() == _TABLE[code]:
                    plain.append(code)
        plain_set = set(plain)
        for first, last in _FAST_BLOCKS:
            for code in range(first, last + 1):
                folded = _TABLE[code]
                if code in plain_set or folded.lower() != folded:
                    continue
                if all(ord(c) in plain_set for c in folded):  # untouched by later steps
                    special.append(code)
        self.replacement = {chr(code): _TABLE[code] for code in special}
        self.other = _char_class(sorted(plain + special), negate=True)
        self.special = _char_class(special)
        not_unit = [code for code in special if len(_TABLE[code]) != 1]
        self.not_unit = _char_class(not_unit) if not_unit else None

    def fold(self, text: str) -> str:
        if text.isascii():
            return text.translate(_TABLE)  # CPython's ASCII fast path is quicker still
        if self.other.search(text):
            return text.translate(_TABLE)
        for ch in set(self.special.findall(text)):
            text = text.replace(ch, self.replacement[ch])
        return text.lower()

    def unit_width(self, text: str) -> bool:
        """Whether every character of `text` folds to exactly one character."""
        if text.isascii():
            return all(len(_TABLE[ord(c)]) == 1 for c in set(text))
        if self.other.search(text):
            return all(len(_TABLE[ord(c)]) == 1 for c in set(text))
        return self.not_unit is None or self.not_unit.search(text) is None


@lru_cache(maxsize=1)
def _fast_fold() -> _FastFold:
    return _FastFold()


def normalize_with_offsets(text: str) -> tuple[str, list[int]]:
    """Return the normalised text and, for each output character, its index in `text`."""
    table = _TABLE
    pieces = [table[ord(raw)] for raw in text]
    offsets: list[int] = []
    for i, piece in enumerate(pieces):
        if len(piece) == 1:
            offsets.append(i)
        elif piece:
            offsets.extend([i] * len(piece))
    return "".join(pieces), offsets


def normalize(text: str) -> str:
    return _fast_fold().fold(text)


def normalize_spans(text: str, spans: list[tuple[int, int]]) -> list[str]:
    """`[normalize(text[start:end]) for start, end in spans]`, folding `text` only once."""
    fast = _fast_fold()
    if fast.unit_width(text):
        # every character folds to one character: positions in `text` and its fold agree
        folded = fast.fold(text)
        return [folded[start:end] for start, end in spans]
    return [fast.fold(text[start:end]) for start, end in spans]
