"""Weak and demo secrets: refused by ``check-config``, ``server run`` and ``hash-secret``.

The shipped agents.yaml holds demo secrets (each agent's PIN is its id, each
user's password ``change-me-<name>``) so the demo runs out of the box.  A server
for real agents must never start with them, nor with a hash cheaper than
``MIN_ITERATIONS`` (a stolen config would give up its PINs in seconds):

* :func:`secret_problems` tries each stored hash against its demo secret.  Each
  try is a full PBKDF2 (~0.2-0.3 s), so they run on every core, and a hash found
  clean is remembered in ``<records.spool>/.secrets-checked`` (digests of
  hash + candidate, never a secret) so a restart does not pay again.
* :func:`plain_secret_problem` is what ``hash-secret`` refuses: PINs shorter than
  ``MIN_PIN_DIGITS`` or trivially guessed, passwords shorter than
  ``MIN_PASSWORD_CHARS``, with few distinct characters or a well-known word.

The demo and the tests run on demo secrets by an explicit allowance
(``allow_weak_secrets=True`` to ``check_config_main`` and ``run_daemon``);
the command line offers no such switch, so ``server run`` and the systemd
unit's ``check-config`` never have it.
"""

from __future__ import annotations

import hashlib
import os
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .problems import Problem
from .secrets import DEFAULT_ITERATIONS, hash_iterations, verify_secret

__all__ = ["MIN_ITERATIONS", "MIN_PASSWORD_CHARS", "MIN_PIN_DIGITS", "plain_secret_problem",
           "secret_problems"]

MIN_ITERATIONS = DEFAULT_ITERATIONS
MIN_PIN_DIGITS = 6
MIN_PASSWORD_CHARS = 12
CACHE_NAME = ".secrets-checked"
_DIGITS = re.compile(r"[0-9]+")
_COMMON = ("password", "passwort", "change-me", "changeme", "hotline", "95598", "qwerty",
           "letmein", "admin", "welcome", "123456", "abcdef", "supervisor", "reviewer")


def plain_secret_problem(plain: str) -> str | None:
    """Why ``plain`` is too weak to hash, or None.  ASCII digits only: a PIN (agents
    type it on a keypad); anything else: a password."""
    if _DIGITS.fullmatch(plain):
        if len(plain) < MIN_PIN_DIGITS:
            return f"a PIN needs at least {MIN_PIN_DIGITS} digits (got {len(plain)})"
        steps = {int(b) - int(a) for a, b in zip(plain, plain[1:], strict=False)}
        if len(steps) == 1 and steps <= {-1, 0, 1}:
            return "a PIN of one repeated digit or a run like 123456 is guessed first"
        return None
    if len(plain) < MIN_PASSWORD_CHARS:
        return (f"a password needs at least {MIN_PASSWORD_CHARS} characters "
                f"(got {len(plain)})")
    if len(set(plain)) < 6:
        return "a password needs at least 6 different characters"
    lowered = plain.lower()
    for word in _COMMON:
        if word in lowered:
            return f"a password must not contain the well-known '{word}'"
    return None


def _candidates(cfg) -> list[tuple[str, str, str, str]]:
    """(key path, stored hash, demo secret, what it is) for every account."""
    out = [(f"agents[{i}].pin_hash", a.pin_hash, a.id, f"agent {a.id}'s id (the demo PIN)")
           for i, a in enumerate(cfg.acd.agents.values())]
    out += [(f"users[{i}].password_hash", u.password_hash, f"change-me-{u.name}",
             f"'change-me-{u.name}' (the demo password)") for i, u in enumerate(cfg.users)]
    return out


def _digest(stored: str, candidate: str) -> str:
    return hashlib.sha256(f"{stored}\0{candidate}".encode()).hexdigest()


def _read_cache(path: Path | None) -> set[str]:
    try:
        return set(path.read_text(encoding="ascii").split()) if path else set()
    except (OSError, UnicodeDecodeError):
        return set()


def _write_cache(path: Path | None, digests: set[str]) -> None:
    if path is None:
        return
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text("".join(f"{d}\n" for d in sorted(digests)), encoding="ascii")
        os.replace(tmp, path)
    except OSError:
        pass  # an unwritable spool only costs the next start the same checks


def secret_problems(cfg, cache_dir: str | os.PathLike[str] | None = None) -> list[Problem]:
    """Every stored hash that is below MIN_ITERATIONS or verifies against its demo
    secret, as errors in agents.yaml.  ``cache_dir``: where clean results are kept
    (default the records spool; None when the config has no server part)."""
    agents_file = str(Path(cfg.directory) / "agents.yaml")
    if cache_dir is None and cfg.server is not None:
        cache_dir = cfg.server.records.spool
    cache = Path(cache_dir) / CACHE_NAME if cache_dir and Path(cache_dir).is_dir() else None
    clean = _read_cache(cache)
    problems: list[Problem] = []
    to_try = []
    for path, stored, candidate, what in _candidates(cfg):
        iterations = hash_iterations(stored) or 0
        if iterations < MIN_ITERATIONS:
            problems.append(Problem(agents_file, path, f"{iterations} PBKDF2 iterations is "
                                    f"too cheap to guard a PIN or password; at least "
                                    f"{MIN_ITERATIONS} (make a new hash with hash-secret)"))
        elif _digest(stored, candidate) not in clean:
            to_try.append((path, stored, candidate, what))
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        # hashlib's PBKDF2 releases the GIL, so the threads use every core
        matches = list(pool.map(lambda t: verify_secret(t[2], t[1]), to_try))
    for (path, stored, candidate, what), match in zip(to_try, matches, strict=True):
        if match:
            problems.append(Problem(agents_file, path, f"is the hash of {what}: a demo "
                                    f"secret must be replaced (hash-secret) before going live"))
        else:
            clean.add(_digest(stored, candidate))
    if to_try:
        _write_cache(cache, clean)
    return problems
