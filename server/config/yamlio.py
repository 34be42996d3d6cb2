"""Reading one YAML file into plain data, turning every failure into a Problem.

PyYAML's SafeLoader silently keeps the last of two equal keys; in a config
that hides mistakes (two ``"1":`` options, an agent listed twice as a key),
so this loader records duplicates instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .problems import Problems

__all__ = ["read_mapping"]


class _Loader(yaml.SafeLoader):
    duplicates: list[tuple[str, int]]

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
    loader = _Loader(text)
    loader.duplicates = []
    try:
        data = loader.get_single_data()
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problems.error(shown, "", f"YAML syntax error: {where}{e.problem or e}")
        return None
    except yaml.YAMLError as e:
        problems.error(shown, "", f"YAML error: {e}")
        return None
    finally:
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
