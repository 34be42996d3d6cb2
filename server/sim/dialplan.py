"""A parser for the documented subset of extensions.conf the simulator runs.

Subset (anything else raises :class:`DialplanError` with the line number):

* ``[context]`` headers; ``;`` comments; blank lines;
* ``exten => EXTEN,PRIORITY[(label)],App(args)`` where PRIORITY is a number
  or ``n``; ``same => n[(label)],App(args)``;
* ``exten => EXTEN,hint,DEVICE`` (device-state hints);
* ``include => other-context`` (searched after the context's own extensions,
  in file order, like pbx_find_extension; the channel keeps its own context);
* pattern extensions ``_X.``: ``X`` (0-9), ``Z`` (1-9), ``N`` (2-9), ``[a-c]``
  sets, ``.`` (one or more), ``!`` (zero or more), other characters literal.
  An exact extension wins over a pattern; among patterns the first in the file
  wins (Asterisk sorts by specificity; the shipped file never has two that overlap);
* ``[globals]``: ``NAME=value`` lines (``${NAME}`` falls back to them);
* ``#include`` and ``[context](template)`` are not supported.

Expressions (:func:`evaluate`): ``${VAR}``, ``${UNIQUEID}``, ``${CHANNEL}``,
``${EXTEN}``, ``${CALLERID(num)}``/``${CALLERID(name)}`` substitution and
``$[a OP b]`` with one comparison (``=``, ``!=``, ``<``, ``>``, ``<=``, ``>=``) of two
operands, quoted or bare, numeric when both are numbers, as in the shipped file.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TypeVar

#: a GotoIf comparison compares two numbers or two strings, never one of each
_Ordered = TypeVar("_Ordered", str, float)


class DialplanError(ValueError):
    """The file uses something outside the documented subset."""


@dataclass(frozen=True)
class Step:
    priority: int
    label: str | None
    app: str
    data: str


@dataclass(frozen=True)
class Dialplan:
    #: context -> exten -> steps in priority order
    contexts: dict[str, dict[str, tuple[Step, ...]]]
    #: (context, exten) -> device, from ``exten => 1001,hint,PJSIP/1001``
    hints: dict[tuple[str, str], str]
    #: context -> included contexts, in file order
    includes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: ``[globals]``
    globals: dict[str, str] = field(default_factory=dict)

    def steps(self, context: str, exten: str, _seen: frozenset[str] = frozenset()
              ) -> tuple[Step, ...]:
        """The steps ``exten`` runs in ``context``: exact, then patterns, then includes."""
        extens = self.contexts.get(context, {})
        found = extens.get(exten)
        if found is not None:
            return found
        for name, steps in extens.items():
            if name.startswith("_") and _pattern(name).fullmatch(exten):
                return steps
        for other in self.includes.get(context, ()):
            if other not in _seen:
                found = self.steps(other, exten, _seen | {context})
                if found:
                    return found
        return ()

    def step(self, context: str, exten: str, priority: int) -> Step | None:
        for step in self.steps(context, exten):
            if step.priority == priority:
                return step
        return None

    def has_exten(self, context: str, exten: str) -> bool:
        return bool(self.steps(context, exten))

    def label_priority(self, context: str, exten: str, label: str) -> int | None:
        for step in self.steps(context, exten):
            if step.label == label:
                return step.priority
        return None


@cache
def _pattern(name: str) -> re.Pattern[str]:
    """``_*1X`` -> a regex, per Asterisk's extension pattern syntax."""
    out, i, body = [], 0, name[1:]
    while i < len(body):
        ch = body[i]
        if ch == "[":
            end = body.index("]", i)
            out.append("[" + body[i + 1:end] + "]")
            i = end + 1
            continue
        out.append({"X": "[0-9]", "Z": "[1-9]", "N": "[2-9]", ".": ".+", "!": ".*"}.get(
            ch.upper() if ch in "xzn" else ch, re.escape(ch)))
        i += 1
    return re.compile("".join(out))


_LINE = re.compile(r"^(exten|same|include)\s*=>\s*(.*)$")
_GLOBAL = re.compile(r"^(\w+)\s*=\s*(.*)$")
_APP = re.compile(r"^(\w+)\((.*)\)$")
_PRIO = re.compile(r"^(n|\d+)(?:\((\w[\w-]*)\))?$")


def parse(text: str) -> Dialplan:
    contexts: dict[str, dict[str, list[Step]]] = {}
    hints: dict[tuple[str, str], str] = {}
    includes: dict[str, list[str]] = {}
    globals_: dict[str, str] = {}
    context: str | None = None
    last: tuple[str, int] | None = None  # (exten, priority) for same => n
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.split(";", 1)[0].strip()
        if not line:
            continue
        if line.startswith("[") and line.endswith("]"):
            context = line[1:-1].strip()
            contexts.setdefault(context, {})
            last = None
            continue
        if context == "globals" and (g := _GLOBAL.match(line)):
            globals_[g.group(1)] = g.group(2).strip()
            continue
        m = _LINE.match(line)
        if not m or context is None:
            raise DialplanError(f"line {lineno}: unsupported: {raw!r}")
        kind, rest = m.groups()
        if kind == "include":
            includes.setdefault(context, []).append(rest.strip())
            continue
        if kind == "exten":
            exten, _, rest = rest.partition(",")
            exten = exten.strip()
        else:
            if last is None:
                raise DialplanError(f"line {lineno}: same => without exten")
            exten = last[0]
        prio_text, _, app_text = rest.partition(",")
        prio_text, app_text = prio_text.strip(), app_text.strip()
        if prio_text == "hint":
            hints[(context, exten)] = app_text
            continue
        pm = _PRIO.match(prio_text)
        if not pm:
            raise DialplanError(f"line {lineno}: bad priority {prio_text!r}")
        if pm.group(1) == "n":
            if last is None or last[0] != exten:
                raise DialplanError(f"line {lineno}: priority n without a previous one")
            priority = last[1] + 1
        else:
            priority = int(pm.group(1))
        am = _APP.match(app_text)
        if am:
            app, data = am.group(1), am.group(2)
        elif re.fullmatch(r"\w+", app_text):
            app, data = app_text, ""
        else:
            raise DialplanError(f"line {lineno}: bad application {app_text!r}")
        contexts[context].setdefault(exten, []).append(Step(priority, pm.group(2), app, data))
        last = (exten, priority)
    frozen = {c: {e: tuple(s) for e, s in ex.items()} for c, ex in contexts.items()}
    return Dialplan(frozen, hints, {c: tuple(i) for c, i in includes.items()}, globals_)


def load(path: str | Path) -> Dialplan:
    return parse(Path(path).read_text(encoding="utf-8"))


_VAR = re.compile(r"\$\{([^${}]+)\}")
_OPERAND = r'(?:"([^"]*)"|([^\s"<>=!]+))'
_EXPR = re.compile(r"^\$\[\s*" + _OPERAND + r"\s*(=|!=|<=|>=|<|>)\s*" + _OPERAND + r"\s*\]$")
_NUMBER = re.compile(r"^-?\d+(?:\.\d+)?$")


def substitute(text: str, lookup: Callable[[str], str]) -> str:
    """Replace ``${NAME}`` (innermost first) using ``lookup``."""
    while True:
        new = _VAR.sub(lambda m: lookup(m.group(1)), text)
        if new == text:
            return new
        text = new


def evaluate(cond: str) -> bool:
    """Truth of a substituted GotoIf condition, like pbx's ``pbx_checkcondition``."""
    cond = cond.strip()
    m = _EXPR.match(cond)
    if m:
        lq, lw, op, rq, rw = m.groups()
        left = lq if lq is not None else lw
        right = rq if rq is not None else rw
        if _NUMBER.match(left) and _NUMBER.match(right):
            # ast_expr2 compares two numbers as numbers (leading zeros are fine:
            # 0${UNSET} reads as 0), anything else as strings.
            return _compare(op, float(left), float(right))
        return _compare(op, left, right)
    if cond.startswith("$["):
        raise DialplanError(f"unsupported expression {cond!r}")
    try:
        return int(cond) != 0
    except ValueError:
        return bool(cond)


def _compare(op: str, a: _Ordered, b: _Ordered) -> bool:
    """``a op b`` for a GotoIf comparison operator (both numbers or both strings)."""
    return {"=": a == b, "!=": a != b, "<": a < b, ">": a > b,
            "<=": a <= b, ">=": a >= b}[op]


def split_args(data: str) -> list[str]:
    """Split application arguments on commas outside ``$[...]`` and quotes."""
    out: list[str] = []
    cur: list[str] = []
    depth, quoted = 0, False
    for ch in data:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch == "[":
            depth += 1
        elif not quoted and ch == "]":
            depth -= 1
        if ch == "," and depth == 0 and not quoted:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    out.append("".join(cur))
    return out
