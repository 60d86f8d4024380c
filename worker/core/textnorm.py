"""Text normalisation shared by the classifier and the watchlist matcher.

Folds case, Latin diacritics (Latin letters only: folding Cyrillic would turn й into и),
Arabic harakat and tatweel, Arabic/Persian letter variants (أإآٱ→ا, ى/ی/ئ→ي, ة/ۀ→ه, ك/ک→ک),
ZWNJ to space, typographic apostrophes to ', and Arabic-Indic/Persian digits to ASCII. Control
characters other than tab and newline become spaces. Every output character maps back to one
input character, so evidence offsets can be recovered.

Each input character is folded on its own, so the fold of a character is computed once and
cached; `normalize` then runs as one `str.translate` call.
"""

from __future__ import annotations

import unicodedata

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
    return text.translate(_TABLE)
