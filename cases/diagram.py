"""The state diagram of docs/cases.md, generated from the transition table.

``python -m cases.diagram`` prints it; tests/test_cases_docs.py checks that the
diagram in docs/cases.md is exactly this text, so the doc cannot drift from
``TRANSITIONS``.
"""

from __future__ import annotations

from .machine import TRANSITIONS
from .model import CaseState

__all__ = ["diagram"]


def diagram() -> str:
    """One line per state: ``state --input--> target``, self-loops gathered on one line."""
    lines: list[str] = []
    for state in CaseState:
        moves = [(i, t) for (s, i), t in TRANSITIONS.items() if s is state]
        loops = sorted(i.value for i, t in moves if t is state)
        for inp, target in sorted(((i.value, t.value) for i, t in moves if t is not state)):
            lines.append(f"{state.value:<13} --{inp}--> {target}")
        if loops:
            lines.append(f"{state.value:<13} (stays) on {', '.join(loops)}")
    return "\n".join(lines)


if __name__ == "__main__":
    print(diagram())
