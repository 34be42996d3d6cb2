"""The URL-encoded fields of AsyncAGI events: ``Env`` of ``AsyncAGIStart`` and
``Result`` of ``AsyncAGIExec`` (GUIDE §2), and the encoding the simulator uses to
write them.  Pure, like the codec beside it."""

from __future__ import annotations

from urllib.parse import quote, unquote

__all__ = ["decode_env", "parse_agi_result", "percent_decode", "percent_encode"]

# Asterisk encodes AsyncAGI Env/Result with ast_uri_encode(..., ast_uri_http),
# which leaves RFC 3986's unreserved marks unescaped: '-', '_', '.', '!', '~',
# '*', "'", '(', ')'.  The traces show '(', ')', '.', '-', '_' left as they are;
# the others do not occur in them and follow Asterisk's source.
_AGI_SAFE = "-_.!~*'()"


def percent_encode(text: str) -> str:
    """Encode like Asterisk's ``ast_uri_encode`` does for AsyncAGI fields."""
    return quote(text, safe=_AGI_SAFE)


def percent_decode(text: str) -> str:
    return unquote(text, errors="replace")


def decode_env(env: str) -> dict[str, str]:
    """Decode an ``AsyncAGIStart`` ``Env`` header into ``agi_*`` variables."""
    out: dict[str, str] = {}
    for line in percent_decode(env).split("\n"):
        key, sep, value = line.partition(": ")
        if sep:
            out[key] = value
    return out


def parse_agi_result(result: str) -> tuple[int, str, str]:
    """Decode an ``AsyncAGIExec`` ``Result`` into ``(code, result, data)``.

    ``"200%20result%3D1%20(NOANSWER)%0A"`` gives ``(200, "1", "(NOANSWER)")``;
    ``"200 result= (timeout)"`` gives ``(200, "", "(timeout)")``;
    ``"510 Invalid or unknown command"`` gives ``(510, "", "Invalid or unknown command")``.
    """
    line = percent_decode(result).strip("\n")
    code_text, _, rest = line.partition(" ")
    try:
        code = int(code_text)
    except ValueError:
        return 0, "", line
    if rest.startswith("result="):
        value, _, data = rest[7:].partition(" ")
        return code, value, data
    return code, "", rest
