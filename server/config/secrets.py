"""Hashing PINs and passwords, and reading the AMI secret at run time.

Stored format, one string, self-describing so iterations can rise later
without invalidating old hashes::

    pbkdf2_sha256$<iterations>$<salt, base64>$<hash, base64>

PBKDF2-HMAC-SHA256 from the standard library, 600 000 iterations by default
(OWASP 2023 guidance), 16-byte random salt, 32-byte derived key.  Base64 is
standard with padding.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from pathlib import Path

__all__ = ["DEFAULT_ITERATIONS", "hash_iterations", "hash_secret", "is_hash", "read_secret",
           "verify_secret"]

DEFAULT_ITERATIONS = 600_000
_SCHEME = "pbkdf2_sha256"


def hash_secret(plain: str, iterations: int = DEFAULT_ITERATIONS) -> str:
    salt = os.urandom(16)
    digest = hashlib.pbkdf2_hmac("sha256", plain.encode("utf-8"), salt, iterations)
    b64 = base64.b64encode
    return f"{_SCHEME}${iterations}${b64(salt).decode()}${b64(digest).decode()}"


def _split(stored: str) -> tuple[int, bytes, bytes] | None:
    parts = stored.split("$")
    if len(parts) != 4 or parts[0] != _SCHEME or not parts[1].isdigit():
        return None
    try:
        salt = base64.b64decode(parts[2], validate=True)
        digest = base64.b64decode(parts[3], validate=True)
    except (binascii.Error, ValueError):
        return None
    if int(parts[1]) < 1 or not salt or not digest:
        return None
    return int(parts[1]), salt, digest


def is_hash(stored: object) -> bool:
    """True when ``stored`` is a well-formed hash in the format above."""
    return isinstance(stored, str) and _split(stored) is not None


def hash_iterations(stored: str) -> int | None:
    """The PBKDF2 iteration count of a well-formed hash; None if malformed."""
    parts = _split(stored)
    return parts[0] if parts else None


def verify_secret(plain: str, stored: str) -> bool:
    """Constant-time check of ``plain`` against a stored hash; False if malformed.

    A ``plain`` that is not encodable as UTF-8 (a lone surrogate, which JSON's
    ``\\ud800`` yields) is a wrong password, not an error: it is hashed with
    surrogatepass so the check costs the same and can never match, because
    hash_secret only ever hashes strict UTF-8.
    """
    parts = _split(stored)
    if parts is None:
        return False
    iterations, salt, digest = parts
    try:
        encoded, valid = plain.encode("utf-8"), True
    except UnicodeEncodeError:
        encoded, valid = plain.encode("utf-8", "surrogatepass"), False
    candidate = hashlib.pbkdf2_hmac("sha256", encoded, salt, iterations, dklen=len(digest))
    return hmac.compare_digest(candidate, digest) and valid


def read_secret(env: str | None, file: str | None, environ: dict[str, str]) -> str | None:
    """The secret from the named environment variable or file; None if unavailable.

    Trailing newlines are stripped from files because editors and
    ``echo > file`` add one that Asterisk would then reject.
    """
    if env is not None:
        return environ.get(env) or None
    if file is not None:
        try:
            return Path(file).read_text(encoding="utf-8").rstrip("\r\n") or None
        except OSError:
            return None
    return None
