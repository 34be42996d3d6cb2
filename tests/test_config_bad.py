"""Every case in tests/fixtures/bad-configs is reported precisely, and never as a traceback."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import yaml

from server.config import ConfigError, check_config_main, load_config

from .test_config_support import CASES, broken_copy

ENV = {"HOTLINE_AMI_SECRET": "s3cret"}
CASE_DIRS = sorted(p for p in CASES.iterdir() if (p / "case.yaml").is_file())


def test_corpus_is_there() -> None:
    assert len(CASE_DIRS) >= 30


@pytest.mark.parametrize("case_dir", CASE_DIRS, ids=[p.name for p in CASE_DIRS])
def test_bad_config_is_reported(case_dir: Path, tmp_path: Path) -> None:
    case = yaml.safe_load((case_dir / "case.yaml").read_text(encoding="utf-8"))
    directory = broken_copy(case, tmp_path)
    with pytest.raises(ConfigError) as info:
        load_config(directory, environ=ENV)
    problems = info.value.problems
    for want in case["expect"]:
        matches = [p for p in problems
                   if Path(p.file).name == want["file"] and p.path == want["path"]
                   and want["says"] in p.message]
        assert matches, f"expected {want} among:\n{info.value}"
        assert all(p.file == str(directory / want["file"]) for p in matches)
    err = io.StringIO()
    assert check_config_main(directory, out=io.StringIO(), err=err) == 1
    text = err.getvalue()
    assert "Traceback" not in text
    assert str(problems[0]) in text.splitlines()


def test_message_format_names_file_key_and_problem(tmp_path: Path) -> None:
    case = {"file": "ivr.yaml", "set": {"menus.main.options.5.queue": "biling"}}
    directory = broken_copy(case, tmp_path)
    with pytest.raises(ConfigError) as info:
        load_config(directory, environ=ENV)
    assert str(info.value).splitlines()[0] == (
        f"{directory}/ivr.yaml: menus.main.options.5.queue: queue 'biling' does not exist "
        "(did you mean 'billing'?) (known: billing, complaints, english, fault, general, "
        "service, suggestions)"
    )


def test_all_errors_are_collected(tmp_path: Path) -> None:
    case = {"file": "agents.yaml", "set": {"agents.0.skills.fault": 9, "agents.1.tier": "x",
                                           "agents.2.id": "1001"}}
    with pytest.raises(ConfigError) as info:
        load_config(broken_copy(case, tmp_path), environ=ENV)
    paths = {p.path for p in info.value.problems}
    assert {"agents[0].skills.fault", "agents[1].tier", "agents[2].id"} <= paths


def test_duplicate_yaml_key_gives_its_line(tmp_path: Path) -> None:
    case = {"file": "server.yaml", "append": "redis:\n  url: redis://x\n"}
    directory = broken_copy(case, tmp_path)
    lines = (directory / "server.yaml").read_text(encoding="utf-8").splitlines()
    with pytest.raises(ConfigError) as info:
        load_config(directory, environ=ENV)
    (dup,) = [p for p in info.value.problems if "duplicate key" in p.message]
    assert dup.line == len(lines) - 1
    assert str(dup).startswith(f"{directory}/server.yaml:{dup.line}: ")


# Replace each top-level section, and each of its keys, by values of the wrong
# shape: the loader must answer with ConfigError, never another exception.
_WRONG = [None, "text", 7, [1, 2], {"zz": 1}, True]


def _mutations() -> list[tuple[str, str, object]]:
    out = []
    for name in ("server.yaml", "ivr.yaml", "queues.yaml", "agents.yaml", "cases.yaml"):
        data = yaml.safe_load((CASES.parent.parent.parent / "config" / name).read_text("utf-8"))
        for key, value in data.items():
            if key.startswith("x-"):
                continue
            out += [(name, key, w) for w in _WRONG]
            if isinstance(value, dict):
                for sub in list(value)[:6]:
                    out += [(name, f"{key}.{sub}", w) for w in _WRONG]
    return out


@pytest.mark.parametrize("name,path,value", _mutations())
def test_wrong_shapes_never_traceback(name: str, path: str, value: object,
                                      tmp_path: Path) -> None:
    directory = broken_copy({"file": name, "set": {path: value}}, tmp_path)
    try:
        load_config(directory, environ=ENV)
    except ConfigError as e:
        assert e.problems
