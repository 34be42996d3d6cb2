"""``python -m server.soak.daemon CONFIG_DIR``: the daemon as the soak runs it.

The same ``run_daemon`` as ``python -m server run``, with the one difference the
soak needs: its generated config holds cheap, guessable PINs (one PBKDF2
iteration, PIN = agent id) so 300 agents can sign in after every restart in
seconds.  ``server run`` refuses those (server/config/strength.py); this
launcher is the explicit allowance, and it is never what the systemd unit runs.
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m server.soak.daemon CONFIG_DIR", file=sys.stderr)
        return 2
    from twisted.internet import asyncioreactor

    asyncioreactor.install()  # as server/cli.py does: redis-py's client is asyncio
    from server.daemon import run_daemon

    return run_daemon(argv[0], allow_weak_secrets=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
