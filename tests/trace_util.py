"""Access to the recorded Asterisk 22 transcripts in tests/fixtures/ami-traces.

The reference reader ``ami_trace.py`` ships with the recordings; it is loaded
from there so that the tests compare the codec with an independent parser.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

TRACE_DIR = Path(__file__).resolve().parent / "fixtures" / "ami-traces"
ALL_TRACES = sorted(p for p in TRACE_DIR.iterdir() if p.name.endswith((".ami", ".ami.gz")))
SMALL_TRACES = [p for p in ALL_TRACES if p.suffix == ".ami"]

_spec = importlib.util.spec_from_file_location("ami_trace", TRACE_DIR / "ami_trace.py")
ami_trace = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ami_trace)


def trace(name: str) -> Path:
    """The trace whose file name starts with ``name`` (e.g. ``"02"``)."""
    (path,) = [p for p in ALL_TRACES if p.name.startswith(name + "-")]
    return path


def wire_bytes(path: Path, direction: str) -> bytes:
    """Every wire byte of one direction (``<<<`` received, ``>>>`` sent), in order."""
    lines = ami_trace.read_lines(str(path))
    return b"".join(raw for marker, _t, raw in lines if marker == direction)


def reference(path: Path, direction: str) -> list[tuple[list[tuple[str, str]], bytes]]:
    """``(headers, raw)`` of each message of one direction, per the reference reader."""
    return [
        (headers, raw)
        for d, _t, headers, raw in ami_trace.read_messages(str(path))
        if d == direction
    ]


def set_action_id(raw: bytes, action_id: str) -> bytes:
    """A recorded message with its ``ActionID`` value replaced."""
    out, n = re.subn(rb"(?im)^(ActionID: )[^\r\n]*", b"\\g<1>" + action_id.encode(), raw)
    assert n == 1, raw
    return out


def header(headers: list[tuple[str, str]], key: str) -> str | None:
    for k, v in headers:
        if k.lower() == key.lower():
            return v
    return None
