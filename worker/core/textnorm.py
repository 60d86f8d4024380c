"""Text normalisation shared by the classifier and the watchlist matcher.

Folds case, Latin diacritics (Latin letters only: folding Cyrillic would turn й into и),
Arabic harakat and tatweel, Arabic/Persian letter variants (أإآٱ→ا, ى/ی/ئ→ي, ة/ۀ→ه, ك/ک→ک),
ZWNJ to space, and Arabic-Indic/Persian digits to ASCII. Every output character maps back to
one input character, so evidence offsets can be recovered.
"""

from __future__ import annotations

import unicodedata

_DROP = {0x0640, 0x0670} | set(range(0x0610, 0x061B)) | set(range(0x064B, 0x0660))
_DROP |= set(range(0x06D6, 0x06EE)) | {0x200B, 0x200D, 0x200E, 0x200F, 0xFEFF, 0x00AD}
_MAP = {
    "أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا",
    "ى": "ي", "ی": "ي", "ئ": "ي", "ې": "ي",
    "ة": "ه", "ۀ": "ه", "ە": "ه",
    "ك": "ک", "ؤ": "و",
    "\u200c": " ",
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
    if code < 0x250 and not ch.isascii():
        # Latin-1 supplement and Latin Extended-A/B: strip combining accents.
        base = unicodedata.normalize("NFD", ch)
        ch = "".join(c for c in base if not unicodedata.combining(c)) or ch
    folded = ch.casefold()
    return folded if len(folded) == 1 else ch.lower()


def normalize_with_offsets(text: str) -> tuple[str, list[int]]:
    """Return the normalised text and, for each output character, its index in `text`."""
    out: list[str] = []
    offsets: list[int] = []
    for i, raw in enumerate(text):
        for ch in unicodedata.normalize("NFKC", raw) if ord(raw) > 0x7F else raw:
            for folded in _fold_char(ch):
                out.append(folded)
                offsets.append(i)
    return "".join(out), offsets


def normalize(text: str) -> str:
    return normalize_with_offsets(text)[0]
