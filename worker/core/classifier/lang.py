"""Language identification by script plus function words (data/langid.json).

No model is loaded: the script of the letters decides the family (Arabic, Latin, Cyrillic, Han,
Greek ...), then letters specific to one language and frequent function words decide the language
inside the family (ar/fa/ur; en/fr/es/it/tr/bs/de; ru/uk). A declared language is a hint: it
wins when it belongs to the detected script family and scores at least half the best score.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

SAMPLE_CHARS = 600
SCRIPT_SAMPLE_CHARS = 300
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
_SCRIPT_CLASSES = {
    "arabic": re.compile(r"[\u0600-\u08ff\ufb50-\ufeff]"),
    "cyrillic": re.compile(r"[\u0400-\u052f]"),
    "greek": re.compile(r"[\u0370-\u03ff\u1f00-\u1fff]"),
    "kana": re.compile(r"[\u3040-\u30ff]"),
    "hangul": re.compile(r"[\uac00-\ud7af]"),
    "han": re.compile(r"[\u2e80-\u9fff\uf900-\ufaff]"),
    "hebrew": re.compile(r"[\u0590-\u05ff]"),
    "latin": re.compile(r"[A-Za-z\u00c0-\u024f\u1e00-\u1eff]"),
}
_FAMILY_LANGS = {
    "arabic": ("ar", "fa", "ur"),
    "latin": ("en", "fr", "es", "it", "tr", "bs", "de"),
    "cyrillic": ("ru", "uk"),
}
_LANG_FAMILY = {lang: fam for fam, langs in _FAMILY_LANGS.items() for lang in langs}
_LANG_FAMILY.update({"zh": "han", "ja": "kana", "ko": "hangul", "el": "greek", "he": "hebrew"})


@dataclass(frozen=True, slots=True)
class LangGuess:
    lang: str
    family: str
    scores: dict[str, float]


_FAMILY_TAGS = {name: chr(0x41 + i) for i, name in enumerate(_SCRIPT_CLASSES)}


class _ScriptTags(dict[int, str]):
    """`str.translate` table: every character becomes the tag letter of its script (or '')."""

    def __missing__(self, code: int) -> str:
        ch = chr(code)
        tag = next((_FAMILY_TAGS[n] for n, rx in _SCRIPT_CLASSES.items() if rx.match(ch)), "")
        self[code] = tag
        return tag


_TAGS = _ScriptTags()


def _dominant_family(sample: str) -> str:
    tags = sample.translate(_TAGS)
    counts = {name: tags.count(tag) for name, tag in _FAMILY_TAGS.items()}
    if counts["kana"] >= 5:
        return "kana"
    best = max(counts, key=lambda name: counts[name])
    return best if counts[best] else "latin"


def _score_langs(
    sample: str, candidates: tuple[str, ...], data: dict[str, Any]
) -> dict[str, float]:
    words = Counter(_WORD.findall(sample.lower()))
    scores: dict[str, float] = {}
    for lang in candidates:
        word_score = sum(words[w] for w in data["words"].get(lang, ()) if w in words)
        letter_score = sum(sample.count(c) for c in data["letters"].get(lang, ""))
        scores[lang] = word_score + 0.5 * letter_score
    return scores


def detect_language(title: str, text: str, declared: str | None, data: dict[str, Any]) -> LangGuess:
    sample = f"{title}\n{text[:SAMPLE_CHARS]}"
    family = _dominant_family(sample[:SCRIPT_SAMPLE_CHARS])
    candidates = _FAMILY_LANGS.get(family)
    default = data["script_default"].get(family, "en")
    declared = (declared or "").strip().lower()[:2] or None
    if not candidates:
        if declared and _LANG_FAMILY.get(declared, family) == family:
            return LangGuess(declared, family, {})
        return LangGuess(default, family, {})
    scores = _score_langs(sample, candidates, data)
    best = max(candidates, key=lambda lang: (scores[lang], lang == default))
    if scores[best] <= 0:
        best = default
    if declared in candidates and scores[declared] >= 0.5 * scores[best]:
        best = declared
    return LangGuess(best, family, scores)
