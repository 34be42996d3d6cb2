"""cases/ is pure like queues/: stdlib, itself and queues.model only (no Twisted/Redis/HTTP)."""

from __future__ import annotations

import ast
import pathlib
import sys

import cases

ALLOWED_LOCAL = {"cases", "queues.model"}


def test_cases_imports_only_the_standard_library_and_queue_values() -> None:
    root = pathlib.Path(cases.__file__).parent
    seen = set()
    for path in root.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = ["cases" if node.level else (node.module or "")]
            else:
                continue
            for name in names:
                seen.add(name)
                top = name.split(".")[0]
                assert (name in ALLOWED_LOCAL or top == "cases"
                        or top in sys.stdlib_module_names), f"{path.name} imports {name}"
                assert top not in ("time", "socket", "http", "urllib"), f"{path.name}: {name}"
    assert "queues.model" in seen  # the check saw the imports it is meant to judge
