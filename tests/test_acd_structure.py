"""The shape of queues/: plain top-level imports, no cycles, no reaching into privates.

The router was one 800-line class; its parts (waiting list, roster, escalation,
dispatch, callbacks, offers, snapshot) talk through public methods only.  A
function-local import would hide a cycle, and ``x._field`` on anything but
``self`` would be one part editing another's state.
"""

from __future__ import annotations

import ast
import pathlib

import queues

ROOT = pathlib.Path(queues.__file__).parent


def _modules() -> dict[str, ast.Module]:
    return {p.stem: ast.parse(p.read_text()) for p in sorted(ROOT.glob("*.py"))}


def _queues_imports(tree: ast.Module) -> set[str]:
    out = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "queues":
                out.update(a.name for a in node.names)
            elif node.module.startswith("queues."):
                out.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            out.update(a.name.split(".")[1] for a in node.names if a.name.startswith("queues."))
    return out


def test_imports_are_top_level_and_unconditional():
    for name, tree in _modules().items():
        top = {id(n) for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                assert id(node) in top, f"queues/{name}.py line {node.lineno}: nested import"
            if isinstance(node, ast.Name) and node.id == "TYPE_CHECKING":
                raise AssertionError(f"queues/{name}.py: TYPE_CHECKING import hides a cycle")


def test_import_graph_has_no_cycle():
    graph = {name: _queues_imports(tree) for name, tree in _modules().items()}
    done: set[str] = set()

    def visit(n: str, path: tuple[str, ...]) -> None:
        assert n not in path, f"import cycle: {' -> '.join((*path, n))}"
        if n in done:
            return
        for m in sorted(graph.get(n, ())):
            visit(m, (*path, n))
        done.add(n)

    for name in graph:
        visit(name, ())


def test_no_module_touches_another_objects_private_fields():
    for name, tree in _modules().items():
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
            ):
                owner = node.value
                assert isinstance(owner, ast.Name) and owner.id in ("self", "cls"), (
                    f"queues/{name}.py line {node.lineno}: .{node.attr} of {ast.unparse(owner)}"
                )
