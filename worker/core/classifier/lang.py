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

SAMPLE_CHARS = 1000
SCRIPT_SAMPLE_CHARS = 400
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


def _dominant_family(sample: str) -> str:
    counts = {name: len(rx.findall(sample)) for name, rx in _SCRIPT_CLASSES.items()}
    if counts["kana"] >= 5:
        return "kana"
    best = max(counts, key=lambda name: counts[name])
    return best if counts[best] else "latin"


def _score_langs(
    sample: str, candidates: tuple[str, ...], data: dict[str, Any]
) -> dict[str, float]:
    words = Counter(w.lower() for w in _WORD.findall(sample))
    scores: dict[str, float] = {}
    for lang in candidates:
        vocab = set(data["words"].get(lang, ()))
        word_score = sum(n for w, n in words.items() if w in vocab)
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
