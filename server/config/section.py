"""A checked view of one YAML mapping: typed getters that report, never raise.

Each getter returns the value or a fallback and records a Problem naming the
file and key path, so one pass over a file finds every mistake in it.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Iterable, Iterator
from typing import Any, Literal, overload

from .problems import Problems

__all__ = ["Section", "describe", "parse_time"]

_MISSING: Any = object()
_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")

# name shown in messages, and the Python types accepted for it
_KINDS: dict[type, tuple[str, tuple[type, ...]]] = {
    str: ("a string", (str,)),
    int: ("an integer", (int,)),
    float: ("a number", (int, float)),
    bool: ("true or false", (bool,)),
    list: ("a list", (list,)),
    dict: ("a mapping", (dict,)),
}


def describe(value: object) -> str:
    if isinstance(value, bool):
        return f"boolean {value}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing (null)"
    return f"{type(value).__name__} {value!r}"


def suggest(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def parse_time(value: object) -> dt.time | None:
    """"HH:MM" -> time; None when malformed (caller reports)."""
    m = _TIME.match(value) if isinstance(value, str) else None
    return dt.time(int(m.group(1)), int(m.group(2))) if m else None


class Section:
    def __init__(
        self,
        problems: Problems,
        file: str,
        path: str,
        data: dict[Any, Any],
        keys: Iterable[str] | None = None,
    ) -> None:
        self.problems, self.file, self.path, self.data = problems, file, path, data
        if keys is not None:
            known = tuple(keys)
            for key in data:
                if str(key) not in known:
                    self.error(
                        str(key),
                        f"unknown key{suggest(str(key), known)}; known keys: {', '.join(known)}",
                    )

    def at(self, key: object) -> str:
        if key == "":
            return self.path
        return f"{self.path}.{key}" if self.path else str(key)

    def error(self, key: object, message: str) -> None:
        self.problems.error(self.file, self.at(key), message)

    def warn(self, key: object, message: str) -> None:
        self.problems.warn(self.file, self.at(key), message)

    def get(self, key: str, kind: type, default: Any = _MISSING) -> Any:
        """The value at ``key`` if it has type ``kind``; else report and return ``default``.

        Without a default the key is required.  A present-but-null key counts
        as missing, because YAML turns ``key:`` with nothing after it into null.
        """
        value = self.data.get(key)
        if value is None:
            if default is _MISSING:
                self.error(key, f"missing required key ({_KINDS[kind][0]})")
                return None
            return default
        name, accepted = _KINDS[kind]
        if not isinstance(value, accepted) or (kind is not bool and isinstance(value, bool)):
            hint = ""
            if kind is str and isinstance(value, int) and ":" not in str(value):
                hint = "; quote it"
            self.error(key, f"expected {name}, got {describe(value)}{hint}")
            return None if default is _MISSING else default
        # accepted for float is (int, float): the isinstance only tells mypy so
        return float(value) if kind is float and isinstance(value, (int, float)) else value

    def number(self, key: str, kind: type, default: Any = _MISSING, *, lo: float = 0,
               hi: float | None = None) -> Any:
        value = self.get(key, kind, default)
        if value is None or value is default:
            return value
        if value < lo or (hi is not None and value > hi):
            rng = f"at least {lo}" if hi is None else f"between {lo} and {hi}"
            self.error(key, f"{value} is out of range: must be {rng}")
            return None if default is _MISSING else default
        return value

    def choice(self, key: str, choices: Iterable[str], default: Any = _MISSING) -> Any:
        value = self.get(key, str, default)
        options = tuple(choices)
        if value is not None and value is not default and value not in options:
            hint = suggest(value, options)
            self.error(key, f"'{value}' is not one of: {', '.join(options)}{hint}")
            return None if default is _MISSING else default
        return value

    def time(self, key: str, default: Any = _MISSING) -> dt.time | None:
        raw = self.data.get(key)
        if raw is None and default is not _MISSING:
            return default
        if raw is None:
            self.error(key, "missing required key (a time \"HH:MM\")")
            return None
        return self.check_time(key, raw)

    def check_time(self, key: object, raw: object) -> dt.time | None:
        t = parse_time(raw)
        if t is None:
            hint = ""
            if isinstance(raw, int) and not isinstance(raw, bool):
                # YAML 1.1 reads unquoted 21:00 as base-60 (1260)
                hint = ' (unquoted times like 21:00 are read as numbers by YAML; write "21:00")'
            self.error(key, f'bad time {raw!r}: expected "HH:MM" from 00:00 to 23:59{hint}')
        return t

    @overload
    def sub(self, key: str, keys: Iterable[str] | None = None, *,
            required: Literal[False]) -> Section: ...

    @overload
    def sub(self, key: str, keys: Iterable[str] | None = None, *,
            required: bool = True) -> Section | None: ...

    def sub(self, key: str, keys: Iterable[str] | None = None, *,
            required: bool = True) -> Section | None:
        """A nested mapping as a Section; missing optional ones give an empty Section."""
        value = self.data.get(key)
        if value is None:
            if required:
                self.error(key, "missing required key (a mapping)")
                return None
            return Section(self.problems, self.file, self.at(key), {}, keys)
        if not isinstance(value, dict):
            self.error(key, f"expected a mapping, got {describe(value)}")
            # optional sections fall back to empty so callers take their defaults
            return None if required else Section(self.problems, self.file, self.at(key), {})
        return Section(self.problems, self.file, self.at(key), value, keys)

    def items(self, key: str, *, required: bool = True) -> Iterator[tuple[str, Any]]:
        """(name, value) pairs of a free-form mapping, names as strings."""
        value = self.data.get(key)
        if value is None:
            if required:
                self.error(key, "missing required key (a mapping)")
            return
        if not isinstance(value, dict):
            self.error(key, f"expected a mapping, got {describe(value)}")
            return
        for name, item in value.items():
            yield str(name), item

    def entries(self, key: str, keys: Iterable[str], *,
                required: bool = True) -> Iterator[tuple[int, Section]]:
        """Items of a list of mappings, each as a Section at ``key[i]``."""
        value = self.data.get(key)
        if value is None:
            if required:
                self.error(key, "missing required key (a list)")
            return
        if not isinstance(value, list):
            self.error(key, f"expected a list, got {describe(value)}")
            return
        known = tuple(keys)
        for i, item in enumerate(value):
            path = f"{self.at(key)}[{i}]"
            if not isinstance(item, dict):
                self.problems.error(self.file, path, f"expected a mapping, got {describe(item)}")
                continue
            yield i, Section(self.problems, self.file, path, item, known)

    def child(self, key: object, value: Any, keys: Iterable[str] | None = None) -> Section | None:
        """Wrap a value found while iterating ``items``; report if it is not a mapping."""
        if not isinstance(value, dict):
            self.error(key, f"expected a mapping, got {describe(value)}")
            return None
        return Section(self.problems, self.file, self.at(key), value, keys)
