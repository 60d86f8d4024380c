"""Tests for worker.core.textnorm (shared by the classifier and the watchlist matcher)."""

from __future__ import annotations

import pytest

from worker.core.textnorm import _TABLE, normalize, normalize_spans, normalize_with_offsets


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Coopération", "cooperation"),
        ("IRAN", "iran"),
        ("Türkiye", "turkiye"),
        ("İran'ın", "iran'ın"),
        ("Китаем", "китаем"),  # Cyrillic й/и are not folded
        ("Й", "й"),
        ("الذَّكاءُ الاصْطِناعِيُّ", "الذکاء الاصطناعي"),
        ("مـــصر", "مصر"),
        ("أيران", "ايران"),
        ("إيران", "ايران"),
        ("همكاري", "همکاري"),  # Persian typed with Arabic ي/ك
        ("همکاری", "همکاري"),
        ("ایرانی‌ها", "ايراني ها"),  # ZWNJ becomes a space
        ("مدرسة", "مدرسه"),
        ("۲۵ و ٢٥", "25 و 25"),
        ("Côte d’Ivoire", "cote d'ivoire"),
        ("a\x07b", "a b"),
        ("", ""),
    ],
)
def test_normalize(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


@pytest.mark.parametrize(
    "raw",
    ["الذَّكاءُ والصين", "Pékin – Téhéran", "ﷲ ﬁ", "ایرانی‌ها", "a\u200bb\u00adc", "中伊合作"],
)
def test_offsets_point_back_into_the_original(raw: str) -> None:
    norm, offsets = normalize_with_offsets(raw)
    assert len(offsets) == len(norm)
    assert offsets == sorted(offsets)
    assert all(0 <= i < len(raw) for i in offsets)
    assert norm == normalize(raw)


def test_offsets_skip_dropped_marks() -> None:
    norm, offsets = normalize_with_offsets("بَحث")
    assert norm == "بحث"
    assert offsets == [0, 2, 3]


def test_large_input_is_fast_enough_to_call() -> None:
    text = "همکاری ایران و چین " * 50_000
    assert normalize(text).startswith("همکاري ايران")


def test_fast_fold_matches_the_translate_table_on_every_character() -> None:
    """normalize() folds with str.lower + str.replace; it must equal the per-character table."""
    chars = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    assert [normalize(c) for c in chars] == [c.translate(_TABLE) for c in chars]
    text = "ΣΟΦΙΑΣ σοφίας. İstanbul’da Coopération، الذَّكاءُ ایرانی‌ها ﷲ ﬁ 中伊合作 ٢٥"
    assert normalize(text) == text.translate(_TABLE)
    spans = [(0, 6), (7, 14), (16, 40), (41, len(text))]
    assert normalize_spans(text, spans) == [normalize(text[a:b]) for a, b in spans]
