#!/usr/bin/env bash
# One entry point for a fresh Debian/Ubuntu machine:
#   bash scripts/run.sh demo [demo args...]   set up, then run the demo
#   bash scripts/run.sh test [pytest args...] set up, then run the whole test suite
#   bash scripts/run.sh bench [bench args...] set up, then run the benchmarks
# Setting up = OS packages that are missing (python3-venv, redis-server, sox,
# espeak-ng; for the tests chromium and a CJK font), a virtualenv in .venv and
# the Python packages. It is idempotent:
# a second run installs nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

need_pkgs=()
command -v redis-server >/dev/null 2>&1 || need_pkgs+=(redis-server)
command -v sox >/dev/null 2>&1 || need_pkgs+=(sox)
command -v espeak-ng >/dev/null 2>&1 || need_pkgs+=(espeak-ng)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need_pkgs+=(python3-venv)
if [ "${1:-}" = test ]; then
  # The browser tests drive Debian's Chromium (no browser downloads).
  command -v chromium >/dev/null 2>&1 || need_pkgs+=(chromium)
  # A CJK font, so the pages' screenshots show Chinese, not boxes (any installed
  # CJK font will do; fonts-wqy-zenhei is 16 MB, fonts-noto-cjk 90 MB).
  fc-list :lang=zh 2>/dev/null | grep -q . || need_pkgs+=(fonts-wqy-zenhei)
fi
if [ ${#need_pkgs[@]} -gt 0 ]; then
  echo "== installing OS packages: ${need_pkgs[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  echo "== creating .venv"
  python3 -m venv .venv
fi
stamp=.venv/.installed-$(sha1sum pyproject.toml | cut -c1-12)
if [ ! -f "$stamp" ]; then
  echo "== installing Python packages"
  .venv/bin/pip install -q --upgrade pip >/dev/null
  .venv/bin/pip install -q -e '.[test]'
  rm -f .venv/.installed-*; touch "$stamp"
fi

cmd=${1:-}; shift || true
case "$cmd" in
  demo)  exec .venv/bin/python -m server demo "$@" ;;
  test)
    # Lint and types first: any finding fails the run (issue 13).  pyproject.toml
    # holds both tools' settings; ivr, queues, cases, server.ami and server.call are
    # checked as --strict would, the rest of server/ at mypy's default level.
    echo "== ruff"; .venv/bin/ruff check .
    echo "== mypy"; .venv/bin/python -m mypy ivr queues cases server
    # Two workers, a test file each at a time: most of the suite's time is real
    # time waited (the demo, the chaos soak, the browser), not CPU.  `-n 0` runs
    # it in one process.
    exec .venv/bin/python -m pytest -n 2 --dist loadfile "$@" ;;
  bench) exec .venv/bin/python -m server.bench "$@" ;;
  *) echo "usage: bash scripts/run.sh demo|test|bench [args...]" >&2; exit 2 ;;
esac
