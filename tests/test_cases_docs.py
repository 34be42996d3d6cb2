"""docs/cases.md shows exactly the transition table: the diagram is generated from it."""

from __future__ import annotations

import re
from pathlib import Path

from cases.diagram import diagram
from cases.machine import TRANSITIONS

DOC = Path(__file__).resolve().parents[1] / "docs" / "cases.md"


def test_the_doc_diagram_is_the_table() -> None:
    blocks = re.findall(r"```text\n(.*?)\n```", DOC.read_text(encoding="utf-8"), re.S)
    assert blocks == [diagram()], "regenerate with: python -m cases.diagram"


def test_the_diagram_lists_every_transition_once() -> None:
    listed = set()
    for line in diagram().splitlines():
        state, rest = line.split(None, 1)
        if rest.startswith("(stays) on "):
            listed |= {(state, i, state) for i in rest[len("(stays) on "):].split(", ")}
        else:
            inp, target = re.fullmatch(r"--(\w+)--> (\w+)", rest).groups()
            listed.add((state, inp, target))
    assert listed == {(s.value, i.value, t.value) for (s, i), t in TRANSITIONS.items()}
