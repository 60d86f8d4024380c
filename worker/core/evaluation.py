"""Pure helpers behind `coopwatch classify` and `coopwatch eval`.

`evaluate` computes exactly the metrics of shared/eval/score.py (detection P/R/F1, partner
exact-set accuracy, sector micro P/R/F1 and event-type accuracy over the truly positive items,
overall and per language) and lists every item where the prediction differs from the gold label.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from worker.core.classifier import ClassifierResult, classify

METRIC_COLUMNS = (
    "n",
    "detect_precision",
    "detect_recall",
    "detect_f1",
    "partners_exact",
    "sectors_micro_f1",
    "event_type_acc",
)


def classify_record(obj: dict[str, object]) -> dict[str, object]:
    """Classify one input JSON object (id, title, text, optional lang)."""
    title = obj.get("title")
    text = obj.get("text")
    lang = obj.get("lang")
    result = classify(
        title if isinstance(title, str) else "",
        text if isinstance(text, str) else "",
        lang if isinstance(lang, str) else None,
    )
    return {"id": obj.get("id"), **result.to_json()}


@dataclass(slots=True)
class Tally:
    """Counts for one group of items; mirrors score.py's Tally."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0
    partner_ok: int = 0
    partner_n: int = 0
    sec_tp: int = 0
    sec_fp: int = 0
    sec_fn: int = 0
    event_ok: int = 0
    event_n: int = 0

    def add(self, gold: dict[str, object], pred: ClassifierResult | None) -> None:
        g = bool(gold.get("is_cooperation"))
        p = bool(pred is not None and pred.is_cooperation)
        self.tp += g and p
        self.fp += p and not g
        self.fn += g and not p
        self.tn += not g and not p
        if not g:
            return
        self.partner_n += 1
        gold_partners = set(_str_list(gold.get("partners")))
        pred_partners = set(pred.partners) if p and pred is not None else set()
        self.partner_ok += gold_partners == pred_partners
        gold_sectors = set(_str_list(gold.get("sectors")))
        pred_sectors = set(pred.sectors) if p and pred is not None else set()
        self.sec_tp += len(gold_sectors & pred_sectors)
        self.sec_fp += len(pred_sectors - gold_sectors)
        self.sec_fn += len(gold_sectors - pred_sectors)
        self.event_n += 1
        self.event_ok += bool(p and pred is not None and gold.get("event_type") == pred.event_type)

    def summary(self) -> dict[str, float | int | None]:
        p, r, f = _f1(self.tp, self.fp, self.fn)
        sp, sr, sf = _f1(self.sec_tp, self.sec_fp, self.sec_fn)
        return {
            "n": self.tp + self.fp + self.fn + self.tn,
            "detect_precision": round(p, 4),
            "detect_recall": round(r, 4),
            "detect_f1": round(f, 4),
            "partners_exact": _ratio(self.partner_ok, self.partner_n),
            "sectors_micro_f1": round(sf, 4),
            "sectors_precision": round(sp, 4),
            "sectors_recall": round(sr, 4),
            "event_type_acc": _ratio(self.event_ok, self.event_n),
        }


@dataclass(frozen=True, slots=True)
class ItemError:
    id: str
    lang: str
    aspects: tuple[str, ...]  # detection / partners / sectors / event_type
    gold: dict[str, object]
    predicted: dict[str, object]
    evidence: tuple[str, ...]
    diagnostics: dict[str, object]


@dataclass(slots=True)
class EvalReport:
    overall: dict[str, float | int | None]
    by_lang: dict[str, dict[str, float | int | None]]
    errors: list[ItemError] = field(default_factory=list)


def _str_list(value: object) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list | tuple) else []


def _ratio(ok: int, n: int) -> float | None:
    return round(ok / n, 4) if n else None


def _f1(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    prec = tp / (tp + fp) if tp + fp else 0.0
    rec = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    return prec, rec, f1


def _differences(gold: dict[str, object], pred: ClassifierResult | None) -> tuple[str, ...]:
    g = bool(gold.get("is_cooperation"))
    p = bool(pred is not None and pred.is_cooperation)
    if g != p:
        return ("detection",)
    if not g or pred is None:
        return ()
    aspects = []
    if set(_str_list(gold.get("partners"))) != set(pred.partners):
        aspects.append("partners")
    if set(_str_list(gold.get("sectors"))) != set(pred.sectors):
        aspects.append("sectors")
    if gold.get("event_type") != pred.event_type:
        aspects.append("event_type")
    return tuple(aspects)


def _error(
    gold: dict[str, object], pred: ClassifierResult | None, aspects: tuple[str, ...]
) -> ItemError:
    keys = ("is_cooperation", "partners", "sectors", "event_type")
    predicted: dict[str, object] = {}
    evidence: tuple[str, ...] = ()
    diagnostics: dict[str, object] = {}
    if pred is not None:
        as_json = pred.to_json()
        predicted = {k: as_json[k] for k in keys}
        evidence = tuple(e.text for e in pred.evidence)
        diagnostics = {k: v for k, v in pred.details.items() if k != "lang_scores"}
    return ItemError(
        id=str(gold.get("id")),
        lang=str(gold.get("lang", "?")),
        aspects=aspects,
        gold={k: gold.get(k) for k in keys},
        predicted=predicted,
        evidence=evidence,
        diagnostics=diagnostics,
    )


def evaluate(
    gold_rows: list[dict[str, object]], predictions: dict[str, ClassifierResult]
) -> EvalReport:
    """Score predictions against gold rows; items without a prediction count as negative."""
    total = Tally()
    by_lang: dict[str, Tally] = defaultdict(Tally)
    errors: list[ItemError] = []
    for gold in gold_rows:
        pred = predictions.get(str(gold.get("id")))
        total.add(gold, pred)
        by_lang[str(gold.get("lang", "?"))].add(gold, pred)
        aspects = _differences(gold, pred)
        if aspects:
            errors.append(_error(gold, pred, aspects))
    return EvalReport(
        overall=total.summary(),
        by_lang={lang: t.summary() for lang, t in sorted(by_lang.items())},
        errors=errors,
    )


def format_report(report: EvalReport, max_errors: int = 200) -> str:
    """A metrics table (like score.py) followed by the list of errors."""
    lines = ["lang  " + "  ".join(f"{c:>16}" for c in METRIC_COLUMNS)]
    rows = [("all", report.overall), *report.by_lang.items()]
    for lang, summary in rows:
        lines.append(f"{lang:<5} " + "  ".join(f"{summary[c]!s:>16}" for c in METRIC_COLUMNS))
    lines.append("")
    lines.append(f"errors: {len(report.errors)}")
    for err in report.errors[:max_errors]:
        lines.append(f"- {err.id} [{err.lang}] {', '.join(err.aspects)}")
        lines.append(f"    gold: {err.gold}")
        lines.append(f"    pred: {err.predicted}")
        for ev in err.evidence:
            lines.append(f"    evidence: {ev[:200]}")
        for key in ("salience", "venue_only", "score_parts", "candidate_event_type"):
            if key in err.diagnostics:
                lines.append(f"    {key}: {err.diagnostics[key]}")
    return "\n".join(lines)
