"""Which sound file a prompt name finds, and how long it plays.

Asterisk looks a prompt up under ``sounds/`` with the channel's language
(``CHANNEL(language)``, ``en`` until something sets it), in the order of
Asterisk 22's ``main/file.c`` ``fileexists_core``: ``<language>/<name>``, the
language without each ``_dialect`` suffix in turn (``zh_CN`` -> ``zh``), then
``<name>`` with no language, then the default language ``en/<name>`` unless
already tried.  A catalog keyed by language (``zh/hotline/welcome``, as
``deploy/prompts/synthesize.py`` writes them) therefore plays a channel left in
``en`` the English file, which is what callers heard on the real Asterisk.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

#: The lab's prompts (traces README): welcome 1.9 s, menu 2.8 s, enter-account 3.0 s.
LAB_PROMPTS: Mapping[str, float] = MappingProxyType(
    {"welcome": 1.9, "menu": 2.8, "enter-account": 3.0}
)

DEFAULT_LANGUAGE = "en"  # Asterisk's DEFAULT_LANGUAGE (main/file.c)


def lookup_order(name: str, language: str) -> list[str]:
    """The paths under ``sounds/`` Asterisk tries for ``name``, first to last."""
    paths: list[str] = []
    lang = language
    while lang:
        paths.append(f"{lang}/{name}")
        if "_" not in lang:
            break
        lang = lang.rsplit("_", 1)[0]
    paths.append(name)
    if language != DEFAULT_LANGUAGE and lang != DEFAULT_LANGUAGE:
        paths.append(f"{DEFAULT_LANGUAGE}/{name}")
    return paths


@dataclass(frozen=True)
class PromptCatalog:
    """The sound files the simulated Asterisk has: path under ``sounds/`` -> seconds.

    A path may carry a language (``zh/hotline/welcome``) or not (``welcome``).
    A name found under none of Asterisk's lookup paths plays ``default`` seconds
    from ``<language>/<name>`` (a lenient catalog for tests that do not care),
    or, with ``default=None``, is missing like any name in ``missing``: STREAM
    FILE answers ``200 result=-1 endpos=0`` and the AsyncAGI session fails
    (trace 07).  ``say_seconds`` is the length of one SAY DIGITS/SAY NUMBER sound.
    """

    durations: Mapping[str, float] = field(default_factory=lambda: dict(LAB_PROMPTS))
    default: float | None = 2.0
    missing: frozenset[str] = frozenset({"no-such-file"})
    say_seconds: float = 0.6

    def find(self, name: str, language: str = DEFAULT_LANGUAGE) -> tuple[str, float] | None:
        """(path played, seconds), or None when Asterisk would find no file."""
        if not name or name in self.missing:
            return None
        for path in lookup_order(name, language):
            if path in self.durations:
                return path, self.durations[path]
        if self.default is None:
            return None
        return f"{language}/{name}" if language else name, self.default

    def duration(self, name: str, language: str = DEFAULT_LANGUAGE) -> float | None:
        found = self.find(name, language)
        return None if found is None else found[1]


def per_language(durations: Mapping[str, Mapping[str, float]], sound_dir: str = "hotline"
                 ) -> dict[str, float]:
    """``{prompt: {language: seconds}}`` as ``<language>/<sound_dir>/<prompt>`` paths,
    the layout ``deploy/prompts/synthesize.py`` writes under ``sounds/``."""
    return {f"{lang}/{sound_dir}/{name}": secs
            for name, by_lang in durations.items() for lang, secs in by_lang.items()}
