"""What check-config compares between the config and Asterisk's dialplan.

The dialplan cannot ask the server what it should say while the server is
away, so a few values live in both places: ``[globals]`` of
``extensions.conf`` (deploy/asterisk/) and the YAML.  ``check-config
--dialplan FILE`` reports where they differ.
"""

from __future__ import annotations

import os
import re

__all__ = ["dialplan_problems", "read_globals"]

_SECTION = re.compile(r"^\[([^\]]+)\]")


def read_globals(text: str) -> dict[str, str]:
    """``[globals]`` of an extensions.conf: ``NAME=value`` (or ``NAME => value``)."""
    found: dict[str, str] = {}
    section = None
    for raw in text.splitlines():
        line = raw.split(";", 1)[0].strip()
        head = _SECTION.match(line)
        if head:
            section = head.group(1).strip().lower()
        elif section == "globals" and "=" in line:
            name, _, value = line.partition("=")
            found[name.strip()] = value.lstrip(">").strip()
    return found


def dialplan_problems(config, path: str | os.PathLike[str]) -> list[str]:
    """One line per value the dialplan at ``path`` holds differently from ``config``."""
    try:
        with open(path, encoding="utf-8") as fh:
            names = read_globals(fh.read())
    except OSError as e:
        return [f"{path}: cannot read the dialplan: {e.strerror}"]
    default = config.ivr.default_language
    language = names.get("HOTLINE_LANGUAGE")
    if language != default:
        # The dialplan sets it on every caller's channel on entry: the safety net's
        # apology (and the first prompt if the server's SET VARIABLE is lost) uses it.
        return [f"{path}: [globals] HOTLINE_LANGUAGE is {language!r}, but ivr.yaml "
                f"languages.default is {default!r}: callers the server does not reach "
                f"would hear the wrong language"]
    return []
