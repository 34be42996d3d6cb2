"""The state diagrams in docs/ are the transition tables, not drawings of them."""

from __future__ import annotations

import importlib.util

from queues.agents import TRANSITIONS
from tests.e2e_support import ROOT

_spec = importlib.util.spec_from_file_location("state_diagrams",
                                               ROOT / "scripts" / "state_diagrams.py")
diagrams = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(diagrams)


def test_docs_list_exactly_the_transitions_of_every_table():
    assert diagrams.main(["--check"]) == 0, "run python3 scripts/state_diagrams.py"


def test_a_transition_added_to_a_table_shows_in_its_diagram():
    lines = diagrams.render_table({**TRANSITIONS, ("paused", "beam_up"): "ready"})
    assert "    paused --> ready: beam_up" in lines
    assert len([x for x in lines if "-->" in x]) == len(TRANSITIONS) + 1
