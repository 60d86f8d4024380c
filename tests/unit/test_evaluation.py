"""`evaluate` must give exactly the numbers of shared/eval/score.py."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from worker.core.classifier import CLASSIFIER_VERSION, ClassifierResult
from worker.core.evaluation import classify_record, evaluate, format_report

SCORE_PY = Path(__file__).parents[2].parent / "shared/eval/score.py"


def _result(
    coop: bool,
    partners: tuple[str, ...] = (),
    sectors: tuple[str, ...] = (),
    event: str | None = None,
) -> ClassifierResult:
    return ClassifierResult(
        coop, 0.9 if coop else 0.1, partners, sectors, event, "en", (), CLASSIFIER_VERSION
    )


GOLD: list[dict[str, Any]] = [
    {
        "id": "a",
        "lang": "ar",
        "is_cooperation": True,
        "partners": ["IR", "RU"],
        "sectors": ["ai", "space"],
        "event_type": "agreement",
    },
    {
        "id": "b",
        "lang": "ar",
        "is_cooperation": True,
        "partners": ["CN", "IR"],
        "sectors": ["telecom"],
        "event_type": "visit",
    },
    {
        "id": "c",
        "lang": "fr",
        "is_cooperation": False,
        "partners": [],
        "sectors": [],
        "event_type": None,
    },
    {
        "id": "d",
        "lang": "fr",
        "is_cooperation": True,
        "partners": ["FR", "MA"],
        "sectors": ["ai", "innovation"],
        "event_type": "meeting",
    },
    {
        "id": "e",
        "lang": "en",
        "is_cooperation": False,
        "partners": [],
        "sectors": [],
        "event_type": None,
    },
    {
        "id": "f",
        "lang": "en",
        "is_cooperation": True,
        "partners": ["IN", "IR"],
        "sectors": ["post"],
        "event_type": "meeting",
    },
]
PRED: dict[str, ClassifierResult] = {
    "a": _result(True, ("IR", "RU"), ("ai", "telecom"), "agreement"),
    "b": _result(True, ("CN", "IR", "RU"), ("telecom",), "meeting"),
    "c": _result(True, ("DZ", "FR"), ("space",), "event"),
    "d": _result(False),
    "e": _result(False),
    # "f" is missing: counts as predicted negative
}


def _hand_numbers() -> dict[str, Any]:
    # tp=2 (a, b), fp=1 (c), fn=2 (d, f), tn=1 (e)
    prec, rec = 2 / 3, 2 / 4
    f1 = 2 * prec * rec / (prec + rec)
    # sectors over true items: a: tp1 fp1 fn1; b: tp1; d: fn2; f: fn1 -> tp2 fp1 fn4
    sp, sr = 2 / 3, 2 / 6
    return {
        "detect_f1": round(f1, 4),
        "partners_exact": round(1 / 4, 4),
        "sectors_micro_f1": round(2 * sp * sr / (sp + sr), 4),
        "event_type_acc": round(1 / 4, 4),
        "n": 6,
    }


def test_evaluate_matches_hand_computed_numbers() -> None:
    report = evaluate(GOLD, PRED)
    for key, value in _hand_numbers().items():
        assert report.overall[key] == value, key
    assert report.by_lang["fr"]["detect_precision"] == 0.0
    assert {e.id for e in report.errors} == {"a", "b", "c", "d", "f"}
    assert next(e for e in report.errors if e.id == "b").aspects == ("partners", "event_type")


def _load_score_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("official_score", SCORE_PY)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(not SCORE_PY.exists(), reason="shared/eval/score.py not available")
def test_evaluate_agrees_with_official_scorer() -> None:
    score = _load_score_module()
    total = score.Tally()
    by_lang: dict[str, Any] = {}
    for gold in GOLD:
        pred = PRED.get(gold["id"])
        pred_json = pred.to_json() if pred else {}
        total.add(gold, pred_json)
        by_lang.setdefault(gold["lang"], score.Tally()).add(gold, pred_json)
    report = evaluate(GOLD, PRED)
    assert report.overall == total.summary()
    assert report.by_lang == {lang: t.summary() for lang, t in by_lang.items()}


def test_format_report_lists_table_and_errors() -> None:
    text = format_report(evaluate(GOLD, PRED))
    assert text.splitlines()[0].split()[:3] == ["lang", "n", "detect_precision"]
    assert "- b [ar] partners, event_type" in text


def test_classify_record_returns_contract_fields() -> None:
    out = classify_record(
        {
            "id": "x1",
            "title": "Iran and Russia sign MoU on satellites",
            "text": "Iran and Russia signed a memorandum on satellite launches.",
        }
    )
    assert out["id"] == "x1"
    assert set(out) >= {
        "is_cooperation",
        "partners",
        "sectors",
        "event_type",
        "lang",
        "score",
        "evidence",
        "version",
    }
    json.dumps(out)


def test_classify_record_tolerates_missing_fields() -> None:
    out = classify_record({"id": 7})
    assert out["is_cooperation"] is False
