"""Configuration problems: one value per thing wrong, and the error that carries them all.

An admin fixing a deployment wants every mistake at once, each naming the
file, the key path and what is wrong, so parsers report into a collector
instead of raising on the first problem.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["ConfigError", "Problem", "Problems"]


@dataclass(frozen=True)
class Problem:
    file: str  # as the admin named it, e.g. "config/ivr.yaml"
    path: str  # dotted key path, list items as [i]; "" for the whole file
    message: str
    line: int | None = None  # 1-based, when the YAML mark is known
    warning: bool = False

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        key = f" {self.path}:" if self.path else ""
        kind = " warning:" if self.warning else ""
        return f"{where}:{kind}{key} {self.message}"


class ConfigError(Exception):
    """Raised with every problem found; ``str()`` is one problem per line."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in problems))


@dataclass
class Problems:
    """Collects problems while parsers walk the files."""

    items: list[Problem] = field(default_factory=list)

    def error(self, file: str, path: str, message: str, line: int | None = None) -> None:
        self.items.append(Problem(file, path, message, line))

    def warn(self, file: str, path: str, message: str) -> None:
        self.items.append(Problem(file, path, message, warning=True))

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.items if not p.warning]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.items if p.warning]
