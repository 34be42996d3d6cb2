"""The prompt synthesis script produces files Asterisk can play."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from server.config import load_config

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(
    not (shutil.which("espeak-ng") and shutil.which("sox")), reason="espeak-ng/sox missing"
)


def soxi(flag: str, path: Path) -> str:
    return subprocess.run(["soxi", flag, str(path)], check=True, capture_output=True,
                          text=True).stdout.strip()


def test_every_prompt_in_every_language_is_an_8khz_mono_wav(tmp_path):
    cfg = load_config(ROOT / "config", environ={})
    subprocess.run([sys.executable, str(ROOT / "deploy/prompts/synthesize.py"),
                    "--config", str(ROOT / "config"), "--out", str(tmp_path)],
                   check=True, capture_output=True)
    durations = json.loads((tmp_path / "hotline-durations.json").read_text())
    expected = {(p.name, lang) for p in cfg.ivr.prompts.values() for lang in p.texts}
    assert {(n, lang) for n, per in durations.items() for lang in per} == expected
    assert {lang for _, lang in expected} == {"zh", "en"}
    for name, lang in sorted(expected):
        wav = tmp_path / lang / "hotline" / f"{name}.wav"
        assert soxi("-r", wav) == "8000", wav
        assert soxi("-c", wav) == "1", wav
        assert soxi("-b", wav) == "16", wav
        seconds = float(soxi("-D", wav))
        assert seconds > 0.3, wav
        assert abs(seconds - durations[name][lang]) < 0.01
    # Mandarin number words exist for SAY NUMBER / SAY DIGITS.
    for digit in "0123456789":
        assert (tmp_path / "zh" / "digits" / f"{digit}.wav").exists()


def test_placeholder_music_on_hold_is_written_where_musiconhold_conf_looks(tmp_path):
    conf = (ROOT / "deploy/asterisk/musiconhold.conf").read_text()
    assert "directory = moh" in conf  # relative to astdatadir: /var/lib/asterisk/moh
    moh = tmp_path / "moh"
    subprocess.run([sys.executable, str(ROOT / "deploy/prompts/synthesize.py"),
                    "--config", str(ROOT / "config"), "--out", str(tmp_path / "sounds"),
                    "--only", "goodbye", "--moh", str(moh)], check=True, capture_output=True)
    pieces = sorted(moh.glob("*.wav"))
    assert len(pieces) == 3 and not list(moh.glob(".*"))
    for wav in pieces:
        assert (soxi("-r", wav), soxi("-c", wav), soxi("-b", wav)) == ("8000", "1", "16")
        assert 25.0 <= float(soxi("-D", wav)) <= 35.0  # long enough for a 20 s MOH chunk
