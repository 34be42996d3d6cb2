"""``python -m server.bench [--json FILE] [--events N] [--runs R]``."""

from __future__ import annotations

import argparse
import json
import sys

from . import ami_ingest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m server.bench", description=__doc__)
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    parser.add_argument("--events", type=int, default=200_000, help="events per run")
    parser.add_argument("--runs", type=int, default=5, help="runs per measurement")
    parser.add_argument("--chunk", type=int, default=64 * 1024, help="bytes per dataReceived")
    args = parser.parse_args(argv)

    figures = {"ami_ingest": ami_ingest.run(args.events, args.runs, args.chunk)}
    print(ami_ingest.table(figures["ami_ingest"]))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(figures, f, indent=2, sort_keys=True)
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
