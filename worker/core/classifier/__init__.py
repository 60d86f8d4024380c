"""Cooperation classifier: one pure function, `classify`.

Pipeline: language guess (script + function words) -> sentence split with offsets into the
original strings -> one Aho-Corasick pass over the normalised sentences (countries, cues, sector
terms; closed affix sets) -> partner salience, detection score, sectors and event type
(rules.py). Data files under data/ are loaded once, lazily, on the first call.
"""

from __future__ import annotations

from worker.core.classifier.lang import detect_language
from worker.core.classifier.lexicon import get_lexicon
from worker.core.classifier.result import ClassifierResult, Evidence
from worker.core.classifier.rules import decide
from worker.core.classifier.scan import MAX_TEXT_CHARS, ScannedDoc, scan

CLASSIFIER_VERSION = "1.5.1"

__all__ = ["CLASSIFIER_VERSION", "ClassifierResult", "Evidence", "classify"]


def _evidence(
    doc: ScannedDoc, title: str, text: str, indexes: tuple[int, ...]
) -> tuple[Evidence, ...]:
    found: list[Evidence] = []
    for index in indexes:
        sentence = doc.sentences[index]
        source = title if sentence.field == "title" else text
        raw = source[sentence.start : sentence.end]
        start = sentence.start + (len(raw) - len(raw.lstrip()))
        end = sentence.end - (len(raw) - len(raw.rstrip()))
        if end > start:
            found.append(Evidence(sentence.field, start, end, source[start:end]))
    return tuple(found)


def classify(title: str, text: str, lang: str | None = None) -> ClassifierResult:
    """Decide whether a news item announces technology cooperation between countries."""
    title = title if isinstance(title, str) else ""
    text = text if isinstance(text, str) else ""
    lexicon = get_lexicon()
    guess = detect_language(title, text, lang, lexicon.langid)
    home = lexicon.langid.get("implicit_party", {}).get(guess.lang)
    doc = scan(lexicon, title, text, home)
    decision = decide(lexicon, doc, home)
    details: dict[str, object] = dict(decision.diagnostics)
    details["lang_scores"] = guess.scores
    if doc.truncated:
        details["truncated_to_chars"] = MAX_TEXT_CHARS
    return ClassifierResult(
        is_cooperation=decision.is_cooperation,
        score=decision.score,
        partners=decision.partners,
        sectors=decision.sectors,
        event_type=decision.event_type,
        lang=guess.lang,
        evidence=_evidence(doc, title, text, decision.deciding_sentences),
        version=CLASSIFIER_VERSION,
        details=details,
    )
