"""Reading one YAML file into plain data, turning every failure into a Problem.

PyYAML's SafeLoader silently keeps the last of two equal keys; in a config
that hides mistakes (two ``"1":`` options, an agent listed twice as a key),
so this loader records duplicates instead.

Hostile files are Problems too, never a traceback or a hang: a non-printable
character (yaml's Reader), nesting deep enough to exhaust PyYAML's recursive
composer (RecursionError), and aliases that expand the document past
MAX_ALIAS_EXPANSION nodes (a "billion laughs" bomb: a few hundred bytes whose
aliases, once a parser walks or str()s them, are millions of values) or refer
to themselves.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .problems import Problems

__all__ = ["MAX_ALIAS_EXPANSION", "read_mapping"]

MAX_ALIAS_EXPANSION = 100_000  # nodes that aliases may add to a document once expanded


class _AliasError(yaml.YAMLError):
    pass


def _check_aliases(root: yaml.Node) -> None:
    """Refuse a node graph whose aliases expand it by more than MAX_ALIAS_EXPANSION
    nodes, or make it cyclic.  Iterative: the graph may be deep."""
    size: dict[int, int] = {}  # id(node) -> nodes in its expanded tree
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        children: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            children = node.value
        elif isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        if done:
            on_path.discard(id(node))
            size[id(node)] = total = 1 + sum(size[id(c)] for c in children)
            if total - len(size) > MAX_ALIAS_EXPANSION:
                raise _AliasError(f"too many aliases: they expand the document by more than "
                                  f"{MAX_ALIAS_EXPANSION} values")
            continue
        if id(node) in size:
            continue
        if id(node) in on_path:
            mark = node.start_mark
            raise _AliasError(f"line {mark.line + 1}: an alias refers to a node that contains it")
        on_path.add(id(node))
        stack.append((node, True))
        stack.extend((c, False) for c in children)


class _Loader(yaml.SafeLoader):
    duplicates: list[tuple[str, int]]

    def get_single_node(self) -> yaml.Node | None:
        node = super().get_single_node()
        if node is not None:
            _check_aliases(node)
        return node

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                if key in seen:
                    self.duplicates.append((str(key), key_node.start_mark.line + 1))
                seen.add(key)
            except TypeError:  # unhashable key: construct_mapping reports it below
                pass
        return super().construct_mapping(node, deep)


def read_mapping(path: Path, shown: str, problems: Problems) -> dict[str, Any] | None:
    """Return the file's top-level mapping, or None after recording why not."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        problems.error(shown, "", "file is missing")
        return None
    except (OSError, UnicodeDecodeError) as e:
        problems.error(shown, "", f"cannot read file: {e}")
        return None
    loader = None
    try:
        loader = _Loader(text)  # its Reader refuses non-printable characters here
        loader.duplicates = []
        data = loader.get_single_data()
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problems.error(shown, "", f"YAML syntax error: {where}{e.problem or e}")
        return None
    except yaml.YAMLError as e:
        problems.error(shown, "", f"YAML error: {e}")
        return None
    except RecursionError:
        problems.error(shown, "", "YAML error: nested too deeply")
        return None
    except (ValueError, UnicodeError) as e:  # a constructor's int()/float()/timestamp
        problems.error(shown, "", f"YAML error: {e}")
        return None
    finally:
        if loader is not None:
            loader.dispose()
    for key, line in loader.duplicates:
        problems.error(shown, "", f"duplicate key '{key}' (the later one would win)", line)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        problems.error(shown, "", f"expected a mapping of keys at the top, got {_kind(data)}")
        return None
    return data


def _kind(value: object) -> str:
    return {list: "a list", str: "a string", int: "a number", float: "a number"}.get(
        type(value), type(value).__name__
    )
