"""How long prompts play, so simulated IVR timings are realistic."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

#: The lab's prompts (traces README): welcome 1.9 s, menu 2.8 s, enter-account 3.0 s.
LAB_PROMPTS: Mapping[str, float] = MappingProxyType(
    {"welcome": 1.9, "menu": 2.8, "enter-account": 3.0}
)


@dataclass(frozen=True)
class PromptCatalog:
    """``durations``: name -> seconds; unknown names play ``default`` seconds.

    Names in ``missing`` behave like absent sound files: STREAM FILE answers
    ``200 result=-1 endpos=0`` and the AsyncAGI session fails (trace 07).
    ``say_seconds`` is the length of one SAY DIGITS/SAY NUMBER sound file.
    """

    durations: Mapping[str, float] = field(default_factory=lambda: dict(LAB_PROMPTS))
    default: float = 2.0
    missing: frozenset[str] = frozenset({"no-such-file"})
    say_seconds: float = 0.6

    def duration(self, name: str) -> float | None:
        if name in self.missing:
            return None
        return self.durations.get(name, self.default)
