#!/usr/bin/env python3
"""Synthesise every prompt of the IVR config into 8 kHz mono WAV for Asterisk.

    python3 deploy/prompts/synthesize.py --config config --out /var/lib/asterisk/sounds

writes ``<out>/<language>/hotline/<prompt>.wav`` for each prompt and language in
config/ivr.yaml, plus the number words Asterisk's SAY NUMBER / SAY DIGITS need in
Mandarin (``<out>/zh/digits/*.wav``; Asterisk ships no Mandarin core sounds),
and ``<out>/hotline-durations.json`` (prompt -> language -> seconds) which the
simulator reads so the demo's timings match the real files.

Asterisk finds ``hotline/main-menu`` under ``sounds/<CHANNEL(language)>/``, so
the IVR sets the channel's language once and plays the same names in both.

With ``--moh DIR`` it also writes placeholder music on hold: a few quiet
synthesised pieces for deploy/asterisk/musiconhold.conf's ``[default]`` class
(``directory = moh``, i.e. ``/var/lib/asterisk/moh``).  Waiting callers hear
silence when that directory is empty; replace the pieces with licensed music.
Needs espeak-ng and sox (Debian packages of the same names).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

VOICES = {"zh": "cmn", "en": "en-us"}
# Mandarin number words for Asterisk's say.c (digits/N, digits/hundred, ...).
ZH_DIGITS = {
    **{str(n): w for n, w in enumerate("零一二三四五六七八九")},
    "10": "十", "hundred": "百", "thousand": "千", "10000": "万", "100000000": "亿",
    "star": "星号", "pound": "井号", "minus": "负", "point": "点",
    "yuan": "元", "jiao": "角", "fen": "分",
}


def synth(text: str, voice: str, dest: Path) -> float:
    """Speak ``text`` into ``dest`` (8 kHz, mono, 16-bit); returns its duration."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(suffix=".wav") as raw:
        subprocess.run(["espeak-ng", "-v", voice, "-s", "150", "-w", raw.name, text],
                       check=True, capture_output=True)
        subprocess.run(["sox", raw.name, "-r", "8000", "-c", "1", "-b", "16", str(dest)],
                       check=True, capture_output=True)
    out = subprocess.run(["soxi", "-D", str(dest)], check=True, capture_output=True, text=True)
    return float(out.stdout.strip())


# Placeholder hold music: arpeggios (note names for sox's synth), one piece each.
MOH_PIECES = {
    "hotline-hold-1": ("C4", "E4", "G4", "C5", "G4", "E4"),
    "hotline-hold-2": ("A3", "C4", "E4", "A4", "E4", "C4"),
    "hotline-hold-3": ("F3", "A3", "C4", "F4", "C4", "A3"),
}


def hold_music(dest_dir: Path, seconds: float = 30.0) -> list[Path]:
    """Write the placeholder pieces (8 kHz mono, quiet, ``seconds`` long each)."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, notes in MOH_PIECES.items():
        chain: list[str] = []
        for note in notes:
            chain += [":", "synth", "0.5", "pluck", note] if chain else [
                "synth", "0.5", "pluck", note]
        one = dest_dir / f".{name}-phrase.wav"
        subprocess.run(["sox", "-n", "-r", "8000", "-c", "1", "-b", "16", str(one), *chain],
                       check=True, capture_output=True)
        dest = dest_dir / f"{name}.wav"
        repeats = max(0, int(seconds / (0.5 * len(notes))) - 1)
        subprocess.run(["sox", str(one), str(dest), "gain", "-14", "repeat", str(repeats)],
                       check=True, capture_output=True)
        one.unlink()
        written.append(dest)
    return written


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", default=str(ROOT / "config"))
    p.add_argument("--out", required=True, help="Asterisk sounds directory to write into")
    p.add_argument("--only", help="comma-separated prompt names (default: all)")
    p.add_argument("--moh", help="also write placeholder music on hold into this directory "
                                 "(musiconhold.conf: /var/lib/asterisk/moh)")
    args = p.parse_args(argv)
    for tool in ("espeak-ng", "sox", "soxi"):
        if shutil.which(tool) is None:
            print(f"{tool} not found: apt-get install espeak-ng sox", file=sys.stderr)
            return 2

    from server.config import ConfigError, load_config

    try:
        cfg = load_config(args.config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    out = Path(args.out)
    only = set(args.only.split(",")) if args.only else None
    durations: dict[str, dict[str, float]] = {}
    for prompt in cfg.ivr.prompts.values():
        if only and prompt.name not in only:
            continue
        for lang, text in prompt.texts.items():
            voice = VOICES.get(lang, lang)
            secs = synth(text, voice, out / lang / "hotline" / f"{prompt.name}.wav")
            durations.setdefault(prompt.name, {})[lang] = round(secs, 3)
            print(f"{lang}/hotline/{prompt.name}.wav  {secs:5.2f} s  {text[:40]}")
    if only is None and "zh" in cfg.ivr.languages:
        for name, word in ZH_DIGITS.items():
            synth(word, VOICES["zh"], out / "zh" / "digits" / f"{name}.wav")
        print(f"zh/digits: {len(ZH_DIGITS)} number words")
    (out / "hotline-durations.json").write_text(
        json.dumps(durations, ensure_ascii=False, indent=1, sort_keys=True))
    if args.moh:
        for piece in hold_music(Path(args.moh)):
            print(f"music on hold: {piece}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
