"""Test support, not tests: break a copy of the shipped config as a bad-configs case.yaml says."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
GOOD = ROOT / "config"
CASES = ROOT / "tests" / "fixtures" / "bad-configs"


def _walk(data: Any, parts: list[str], create: bool) -> Any:
    for part in parts:
        if isinstance(data, list):
            data = data[int(part)]
        elif part in data or not part.isdigit() or int(part) not in data:
            if create and part not in data:
                data[part] = {}
            data = data[part]
        else:
            data = data[int(part)]
    return data


def _key(parent: Any, part: str) -> Any:
    if isinstance(parent, list):
        return int(part)
    return int(part) if part not in parent and part.isdigit() and int(part) in parent else part


def apply(step: dict[str, Any], directory: Path) -> None:
    target = directory / step["file"]
    if step.get("remove"):
        target.unlink()
        return
    if "raw" in step:
        target.write_text(step["raw"], encoding="utf-8")
        return
    if "append" in step:
        target.write_text(target.read_text(encoding="utf-8") + step["append"], encoding="utf-8")
        return
    data = yaml.safe_load(target.read_text(encoding="utf-8"))
    for path, value in (step.get("set") or {}).items():
        *head, last = str(path).split(".")
        parent = _walk(data, head, create=True)
        parent[_key(parent, last)] = value
    for path in step.get("delete") or ():
        *head, last = str(path).split(".")
        parent = _walk(data, head, create=False)
        del parent[_key(parent, last)]
    target.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False),
                      encoding="utf-8")


def broken_copy(case: dict[str, Any], tmp: Path) -> Path:
    directory = tmp / "config"
    shutil.copytree(GOOD, directory)
    apply(case, directory)
    if "also" in case:
        apply(case["also"], directory)
    return directory
