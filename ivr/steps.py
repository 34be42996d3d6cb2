"""Names for the step a caller is at, and tags that tie an AGI command to it.

A server that dies (or loses its AMI link) with a GET DATA running leaves
the caller typing to nobody; Asterisk delivers the command's result, digits
included, to the next AMI session that receives AsyncAGI events (GUIDE §2.10).
The command carries a tag in its CommandID, ``<kind>.<step>``: ``ask`` for the
step's question (the result holds the digits), ``key`` for a prompt a key may
cut short before a one-key question (the result holds the key's ASCII code).
A restarted server compares the step with the one its restored state names,
and uses the result only if they agree.
"""

from __future__ import annotations

from urllib.parse import quote

from ivr.model import AGENT_KEY, IvrConfig, Leaf

__all__ = ["leaf_at", "make_tag", "parse_tag", "step_name"]

KINDS = ("ask", "key")


def step_name(state: str, *parts: str) -> str:
    """``menu:billing``, ``account:main/1``, ``language``: safe in an AMI header
    (menu names come from the YAML: percent-quoted, no spaces or line breaks)."""
    if not parts:
        return str(state)
    return f"{state}:" + "/".join(quote(str(p), safe="") for p in parts)


def make_tag(kind: str, step: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"unknown tag kind {kind!r}")
    return f"{kind}.{step}"


def parse_tag(tag: str) -> tuple[str, str]:
    """``(kind, step)``; ``("", "")`` for anything that is not a tag of ours."""
    kind, sep, step = tag.partition(".")
    return (kind, step) if sep and kind in KINDS and step else ("", "")


def leaf_at(config: IvrConfig, menu: str, key: str) -> Leaf | None:
    """The leaf key ``key`` chooses in ``menu`` (0: the menu's agent route), if any."""
    found = config.menus.get(menu)
    if found is None:
        return None
    if key == AGENT_KEY:
        return found.agent
    option = found.options.get(key)
    return option.leaf if option is not None else None
