"""The QA form (config/qa.yaml) and scoring a call against it.  Pure apart from the load.

The main config loader does not know qa.yaml, so it is read here, checked, and
turned into frozen values; an unreadable or wrong file stops the start-up with a
message naming the problem, like the other config files do.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from server.config.problems import Problems
from server.config.yamlio import read_mapping

from .http import ApiError


@dataclass(frozen=True)
class Criterion:
    id: str
    label_zh: str
    label_en: str
    weight: float
    max: int


@dataclass(frozen=True)
class QaForm:
    criteria: tuple[Criterion, ...]

    def to_json(self) -> list[dict[str, Any]]:
        return [{"id": c.id, "label": {"zh": c.label_zh, "en": c.label_en},
                 "weight": c.weight, "max": c.max} for c in self.criteria]

    def score(self, scores: dict[str, Any]) -> float:
        """Weighted total 0-100; raises ApiError(400) naming a bad or missing criterion."""
        known = {c.id for c in self.criteria}
        for key in scores:
            if key not in known:
                raise ApiError(400, f"field 'scores.{key}': no such criterion")
        total = 0.0
        for c in self.criteria:
            v = scores.get(c.id)
            if v is None:
                raise ApiError(400, f"field 'scores.{c.id}' is required")
            if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= c.max:
                raise ApiError(400, f"field 'scores.{c.id}' must be an integer 0-{c.max}")
            total += v / c.max * c.weight
        weights = sum(c.weight for c in self.criteria)
        return round(total / weights * 100, 2)


def load_qa_form(directory: str | Path) -> QaForm:
    """The form in ``directory``/qa.yaml; ValueError whose message starts with the path.

    Read through config.yamlio like the other config files, so an unreadable,
    non-UTF-8, hostile (deep, alias bomb) or duplicate-keyed file is refused the same way.
    """
    path = Path(directory) / "qa.yaml"
    problems = Problems()
    data = read_mapping(path, str(path), problems)
    if problems.errors:
        first = problems.errors[0]
        where = f"{path}:{first.line}" if first.line is not None else str(path)
        raise ValueError(f"{where}: cannot read the QA form: {first.message}")
    items = data.get("criteria") if isinstance(data, dict) else None
    if not isinstance(items, list) or not items:
        raise ValueError(f"{path}: 'criteria' must be a non-empty list")
    out = []
    for i, c in enumerate(items):
        try:
            label = c.get("label") or {}
            crit = Criterion(str(c["id"]), str(label.get("zh", c["id"])),
                             str(label.get("en", c["id"])), float(c["weight"]), int(c["max"]))
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError):
            # OverflowError: int() of max: .inf
            raise ValueError(f"{path}: criteria[{i}] needs id, weight and max") from None
        if not math.isfinite(crit.weight) or crit.weight <= 0 or crit.max < 1:
            raise ValueError(
                f"{path}: criteria[{i}] ({crit.id}): weight and max must be finite and > 0")
        out.append(crit)
    if len({c.id for c in out}) != len(out):
        raise ValueError(f"{path}: criterion ids must be unique")
    return QaForm(tuple(out))
