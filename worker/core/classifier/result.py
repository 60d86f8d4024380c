"""The classifier's output contract (DESIGN.md, "Classifier output")."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Field = Literal["title", "text"]


@dataclass(frozen=True, slots=True)
class Evidence:
    """A sentence that decided the result, with offsets into the original field."""

    field: Field
    start: int
    end: int
    text: str


@dataclass(frozen=True, slots=True)
class ClassifierResult:
    is_cooperation: bool
    score: float
    partners: tuple[str, ...]  # ISO 3166-1 alpha-2, sorted, focal country included
    sectors: tuple[str, ...]  # keys from shared/eval/LABELS.md, sorted
    event_type: str | None  # key from LABELS.md, None when not cooperation
    lang: str  # ISO 639-1
    evidence: tuple[Evidence, ...]
    version: str
    details: dict[str, object] = field(default_factory=dict, compare=False)

    def to_json(self) -> dict[str, object]:
        return {
            "is_cooperation": self.is_cooperation,
            "score": round(self.score, 4),
            "partners": list(self.partners),
            "sectors": list(self.sectors),
            "event_type": self.event_type,
            "lang": self.lang,
            "evidence": [
                {"field": e.field, "start": e.start, "end": e.end, "text": e.text}
                for e in self.evidence
            ],
            "version": self.version,
        }
