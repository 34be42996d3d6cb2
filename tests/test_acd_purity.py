"""queues/ is the pure core: no Twisted, Redis, HTTP or server imports; bench smoke."""

from __future__ import annotations

import ast
import pathlib

import queues
from server.bench.routing import run_routing_bench

FORBIDDEN = ("twisted", "redis", "server", "http", "urllib", "socket", "requests", "time")


def test_queues_imports_nothing_impure():
    root = pathlib.Path(queues.__file__).parent
    for path in root.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for n in names:
                top = n.split(".")[0]
                assert top not in FORBIDDEN, f"{path.name} imports {n}"


def test_routing_bench_smoke():
    res = run_routing_bench(agents=60, calls=120, skills=6, seed=2)
    assert res["decisions"] > 0 and res["p50_us"] > 0 and res["decisions_per_s"] > 0
