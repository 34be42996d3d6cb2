"""Mutation fuzzer for the AMI codec: ``python -m server.bench.fuzz --inputs 1000000``.

Seeds are the wire bytes of the recorded Asterisk 22 traces
(tests/fixtures/ami-traces): both directions, cut into runs of one to six
messages.  Each input is a seed with one to four mutations (bit flips, random
and non-UTF-8 bytes, truncations, duplicated or removed CR/LF/blank lines,
splices of two seeds, a huge header line, a message that never ends, a
``Response: Follows`` prefix) fed to a fresh :class:`AmiParser` in random
pieces.  The random generator has a fixed seed, so a run is reproducible and a
failure names the input number that shows it.

Checked for every input:

* no exception but :class:`FrameTooLarge` leaves ``feed`` (after it the caller
  drops the connection, so the input ends there);
* ``parser.buffered`` never exceeds ``max_message_bytes`` after a ``feed``;
* every message's accessors work (``headers``, ``get``, ``getall``,
  ``as_dict``, ``repr``, AsyncAGI ``Env``/``Result`` decoding) and the fast
  raw-bytes lookup agrees with the decoded one for ASCII keys;
* when nothing was too large, feeding the input in pieces gives the same
  messages as feeding it whole (framing does not depend on TCP segmentation).

Memory: the process RSS (``/proc/self/status`` VmRSS, else ``ru_maxrss``) is
sampled every ``--sample`` inputs; the run fails if it grows by more than
``--rss-growth-mb`` over the first sample.  Prints inputs/s and peak RSS.

``--atheris`` runs the same checks under atheris (coverage-guided libFuzzer)
instead, if atheris is installed; its inputs are the fuzzer's, not the
mutator's.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from server.ami.asyncagi import decode_env, parse_agi_result
from server.ami.codec import AmiParser, FrameTooLarge, Message

TRACE_DIR = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "ami-traces"
LOOKUP_KEYS = ("Event", "Response", "ActionID", "Channel", "Uniqueid", "CommandId",
               "Env", "Result", "Output", "Message", "EventList", "Privilege")
DEFAULT_LIMIT = 8192


class FuzzFailure(AssertionError):
    """A check failed; the message names the input number and the check."""


# -- seeds ------------------------------------------------------------------


def _wire(path: Path, direction: str) -> bytes:
    """Every wire byte of one direction, in order (the trace format: see its README)."""
    opener = gzip.open if path.name.endswith(".gz") else open
    out = []
    with opener(path, "rb") as f:
        for line in f:
            if line[:3] == direction.encode():
                out.append(line[16:])
    return b"".join(out)


def load_seeds(trace_dir: Path = TRACE_DIR, max_seed_bytes: int = 6000) -> list[tuple[bool, bytes]]:
    """``(expect_banner, bytes)`` seeds: the banner run plus runs of 1-6 messages."""
    rng = random.Random(95598)
    seeds: list[tuple[bool, bytes]] = []
    for path in sorted(trace_dir.glob("*.ami")):
        for direction in ("<<<", ">>>"):
            data = _wire(path, direction)
            if not data:
                continue
            messages = [m + b"\r\n\r\n" for m in data.split(b"\r\n\r\n") if m]
            if direction == "<<<":
                seeds.append((True, b"".join(messages[:3])))
                messages = messages[1:]
                # messages[0] began with the banner line; the rest are plain
            i = 0
            while i < len(messages):
                n = rng.randint(1, 6)
                chunk = b"".join(messages[i : i + n])
                if len(chunk) <= max_seed_bytes:
                    seeds.append((False, chunk))
                i += n
    if not seeds:
        raise SystemExit(f"no .ami traces under {trace_dir}")
    return seeds


# -- mutations --------------------------------------------------------------


def _pos(rng: random.Random, data: bytes) -> int:
    return rng.randint(0, len(data))


def _bit_flip(rng, data, _seeds, _limit):
    if not data:
        return data
    b = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        i = rng.randrange(len(b))
        b[i] ^= 1 << rng.randrange(8)
    return bytes(b)


def _random_bytes(rng, data, _seeds, _limit):
    i = _pos(rng, data)
    junk = rng.randbytes(rng.randint(1, 64))
    return data[:i] + junk + data[i + rng.randint(0, 16):]


def _non_utf8(rng, data, _seeds, _limit):
    i = _pos(rng, data)
    junk = rng.choice([b"\xff\xfe", b"\xc3", b"\xe4\xb8", b"\xed\xa0\x80", b"\x80" * 5,
                       b"\xf4\x90\x80\x80", b"\x00", "供电所".encode()[:-1]])
    return data[:i] + junk + data[i:]


def _truncate(rng, data, _seeds, _limit):
    return data[: _pos(rng, data)] if rng.random() < 0.5 else data[_pos(rng, data):]


def _dup_crlf(rng, data, _seeds, _limit):
    i = _pos(rng, data)
    return data[:i] + rng.choice([b"\r\n", b"\n", b"\r", b"\r\n\r\n", b"\n\n\n"]) + data[i:]


def _remove_crlf(rng, data, _seeds, _limit):
    for _ in range(rng.randint(1, 4)):
        i = data.find(b"\r\n", _pos(rng, data))
        if i < 0:
            break
        data = data[:i] + data[i + rng.choice((1, 2)):]
    return data


def _no_blank_lines(rng, data, _seeds, _limit):
    return data.replace(b"\r\n\r\n", b"\r\n")


def _lf_only(rng, data, _seeds, _limit):
    return data.replace(b"\r\n", b"\n")


def _splice(rng, data, seeds, _limit):
    other = rng.choice(seeds)[1]
    return data[: _pos(rng, data)] + other[_pos(rng, other):]


def _huge_line(rng, data, _seeds, limit):
    i = _pos(rng, data)
    size = rng.choice([limit - 2, limit, limit + 1, limit * 2, limit * 5])
    return data[:i] + b"Variable: " + b"x" * size + b"\r\n" + data[i:]


def _never_ends(rng, data, _seeds, limit):
    line = b"ChanVariable: k=" + rng.randbytes(8).hex().encode() + b"\r\n"
    return data + b"Event: Endless\r\n" + line * (limit // len(line) + rng.randint(-3, 3))


def _follows(rng, data, _seeds, _limit):
    body = b"Response: Follows\r\nPrivilege: Command\r\nline 1\r\n\r\nline 3\r\n"
    if rng.random() < 0.5:
        body += b"--END COMMAND--\r\n\r\n"
    i = _pos(rng, data)
    return data[:i] + body + data[i:]


def _case(rng, data, _seeds, _limit):
    return data.lower() if rng.random() < 0.5 else data.upper()


MUTATORS: list[Callable] = [_bit_flip, _random_bytes, _non_utf8, _truncate, _dup_crlf,
                            _remove_crlf, _no_blank_lines, _lf_only, _splice, _huge_line,
                            _never_ends, _follows, _case]
# The cheap, local mutations are drawn more often than the big ones.
_WEIGHTS = [6, 4, 4, 3, 5, 4, 1, 1, 3, 1, 1, 2, 1]


def mutate(rng: random.Random, seeds: list[tuple[bool, bytes]], limit: int) -> tuple[bool, bytes]:
    banner, data = rng.choice(seeds)
    for mutator in rng.choices(MUTATORS, _WEIGHTS, k=rng.randint(1, 4)):
        data = mutator(rng, data, seeds, limit)
    if rng.random() < 0.05:
        banner = not banner
    return banner, data


def split(rng: random.Random, data: bytes) -> list[bytes]:
    """Random pieces: one, a few, or (for short inputs) byte by byte."""
    roll = rng.random()
    if roll < 0.25 or len(data) < 2:
        return [data]
    if roll < 0.3 and len(data) < 400:
        return [data[i : i + 1] for i in range(len(data))]
    cuts = sorted(rng.sample(range(1, len(data)), min(len(data) - 1, rng.randint(1, 12))))
    return [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]


# -- checks -----------------------------------------------------------------


def _shape(m: Message) -> tuple:
    return (m.kind, m.name, m.raw, tuple(m.headers))


def exercise(m: Message) -> None:
    """Read the message every way the server does; raises on any inconsistency."""
    fresh = Message(m.kind, m.name, m.raw) if m.raw and m._headers is None else None
    m.headers  # noqa: B018 (decode them)
    for key in LOOKUP_KEYS:
        value = m.get(key)
        if fresh is not None and fresh.get(key) != value:
            raise FuzzFailure(f"raw lookup of {key!r} gives {fresh.get(key)!r}, "
                              f"decoded gives {value!r}")
        _ = key in m
        m.getall(key)
    m.as_dict()
    m.action_id  # noqa: B018
    repr(m)
    env = m.get("Env")
    if env is not None:
        decode_env(env)
    result = m.get("Result")
    if result is not None:
        parse_agi_result(result)


def run_one(banner: bool, data: bytes, pieces: list[bytes], limit: int) -> tuple[int, bool, bool]:
    """Feed ``pieces``; return (messages, cut off, cut off only in pieces).

    Raises FuzzFailure, or whatever unexpected the codec raised.
    """
    parser = AmiParser(expect_banner=banner, max_message_bytes=limit)
    got: list[Message] = []
    too_large = False
    for piece in pieces:
        try:
            got += parser.feed(piece)
        except FrameTooLarge:
            too_large = True
            break
        if parser.buffered > limit:
            raise FuzzFailure(f"parser buffers {parser.buffered} bytes, limit {limit}")
    for m in got:
        exercise(m)
    if too_large and len(pieces) > 1:
        try:
            AmiParser(expect_banner=banner, max_message_bytes=limit).feed(data)
        except FrameTooLarge:
            return len(got), True, False
        return len(got), True, True
    if not too_large and len(pieces) > 1:
        whole = AmiParser(expect_banner=banner, max_message_bytes=limit)
        try:
            once = whole.feed(data)
        except FrameTooLarge:
            raise FuzzFailure(
                "one read is cut off at the limit, the same bytes in pieces are not") from None
        if [_shape(m) for m in once] != [_shape(m) for m in got]:
            raise FuzzFailure("pieces and one read give different messages")
    return len(got), too_large, False


def rss_kib() -> int:
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


@dataclass
class Report:
    inputs: int = 0
    messages: int = 0
    cut_off: int = 0
    cut_off_only_in_pieces: int = 0
    bytes_fed: int = 0
    seconds: float = 0.0
    rss_first_kib: int = 0
    rss_peak_kib: int = 0
    failures: list[str] = field(default_factory=list)

    @property
    def per_second(self) -> float:
        return self.inputs / self.seconds if self.seconds else 0.0

    def to_dict(self) -> dict:
        return {"inputs": self.inputs, "messages": self.messages, "cut_off": self.cut_off,
                "cut_off_only_in_pieces": self.cut_off_only_in_pieces,
                "bytes_fed": self.bytes_fed, "seconds": round(self.seconds, 2),
                "inputs_per_s": round(self.per_second), "rss_first_kib": self.rss_first_kib,
                "rss_peak_kib": self.rss_peak_kib, "failures": self.failures}


def run(inputs: int, seed: int = 95598, limit: int = DEFAULT_LIMIT, sample: int = 1000,
        rss_growth_mb: float = 64.0, max_failures: int = 10,
        progress: Callable[[Report], None] | None = None) -> Report:
    """Fuzz ``inputs`` inputs; failures are collected in the report, never raised."""
    seeds = load_seeds()
    rng = random.Random(seed)
    report = Report()
    start = time.perf_counter()
    for n in range(inputs):
        banner, data = mutate(rng, seeds, limit)
        pieces = split(rng, data)
        try:
            count, cut, only_pieces = run_one(banner, data, pieces, limit)
        except Exception as e:  # noqa: BLE001 (the point is to catch anything)
            report.failures.append(f"input {n} (seed {seed}): {type(e).__name__}: {e}"[:500])
            if len(report.failures) >= max_failures:
                break
            continue
        report.inputs = n + 1
        report.messages += count
        report.cut_off += cut
        report.cut_off_only_in_pieces += only_pieces
        report.bytes_fed += len(data)
        if n % sample == 0:
            rss = rss_kib()
            report.rss_first_kib = report.rss_first_kib or rss
            report.rss_peak_kib = max(report.rss_peak_kib, rss)
            if rss - report.rss_first_kib > rss_growth_mb * 1024:
                report.failures.append(f"RSS grew from {report.rss_first_kib} KiB to {rss} KiB "
                                       f"by input {n}")
                break
            if progress is not None and n and n % (sample * 100) == 0:
                report.seconds = time.perf_counter() - start
                progress(report)
    report.seconds = time.perf_counter() - start
    report.rss_peak_kib = max(report.rss_peak_kib, rss_kib())
    return report


# -- atheris ----------------------------------------------------------------


def run_atheris(argv: list[str], limit: int) -> int:  # pragma: no cover (optional tool)
    try:
        import atheris
    except ImportError:
        print("atheris is not installed: pip install atheris", file=sys.stderr)
        return 2
    import server.ami.codec as codec_module

    # The codec is imported already (by this module), so instrument its functions
    # and classes in place rather than at import time.
    for obj in vars(codec_module).values():
        if getattr(obj, "__module__", None) == codec_module.__name__:
            if isinstance(obj, type):
                for attr in vars(obj).values():
                    fn = getattr(attr, "__func__", attr)
                    if hasattr(fn, "__code__"):
                        atheris.instrument_func(fn)
            elif hasattr(obj, "__code__"):
                atheris.instrument_func(obj)
    if not any(not a.startswith("-") for a in argv):
        # No corpus directory given: start from the trace seeds.
        corpus = Path(tempfile.mkdtemp(prefix="ami-fuzz-corpus-"))
        for i, (banner, data) in enumerate(load_seeds()[:300]):
            (corpus / f"seed{i:04}").write_bytes(bytes([banner]) + b"\x00" + data[:4000])
        argv = [*argv, str(corpus)]

    def one(data: bytes) -> None:
        if not data:
            return
        fdp = atheris.FuzzedDataProvider(data)
        banner = fdp.ConsumeBool()
        cuts = fdp.ConsumeIntInRange(0, 8)
        body = fdp.ConsumeBytes(fdp.remaining_bytes())
        step = max(1, len(body) // (cuts + 1))
        pieces = [body[i : i + step] for i in range(0, len(body), step)] or [body]
        run_one(banner, body, pieces, limit)

    atheris.Setup([sys.argv[0], *argv], one)
    atheris.Fuzz()
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m server.bench.fuzz", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--inputs", type=int, default=1_000_000)
    p.add_argument("--seed", type=int, default=95598)
    p.add_argument("--limit", type=int, default=DEFAULT_LIMIT,
                   help="the parser's max_message_bytes (small, so the limit is hit often)")
    p.add_argument("--rss-growth-mb", type=float, default=64.0)
    p.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    p.add_argument("--atheris", nargs=argparse.REMAINDER, metavar="LIBFUZZER_ARGS",
                   help="coverage-guided run under atheris (e.g. --atheris -runs=1000000)")
    args = p.parse_args(argv)
    if args.atheris is not None:
        return run_atheris(args.atheris, args.limit)

    def progress(r: Report) -> None:
        print(f"  {r.inputs:>9} inputs  {r.per_second:8.0f}/s  RSS {r.rss_peak_kib / 1024:.1f} MiB",
              flush=True)

    r = run(args.inputs, args.seed, args.limit, rss_growth_mb=args.rss_growth_mb,
            progress=progress)
    print(f"AMI codec fuzz: {r.inputs} inputs ({r.bytes_fed / 1e6:.1f} MB, {r.messages} messages, "
          f"{r.cut_off} cut off at the {args.limit}-byte limit, {r.cut_off_only_in_pieces} of them "
          f"only when fed in pieces) in {r.seconds:.1f} s: "
          f"{r.per_second:.0f} inputs/s; RSS first {r.rss_first_kib / 1024:.1f} MiB, "
          f"peak {r.rss_peak_kib / 1024:.1f} MiB; seed {args.seed}")
    for f in r.failures:
        print("FAIL", f)
    if args.json:
        Path(args.json).write_text(json.dumps(r.to_dict(), indent=2) + "\n", encoding="utf-8")
    return 1 if r.failures else 0


if __name__ == "__main__":
    sys.exit(main())
