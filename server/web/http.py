"""The small JSON-over-twisted.web layer: a route table, body checks, errors as values.

No web framework: twisted.web gives requests, responses, static files (with Range)
and the Site; what it lacks is a route table with path parameters and a JSON body
checker, and both fit in this file.  ``ROUTES`` is also what the OpenAPI test
compares docs/openapi.yaml against.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from twisted.internet import defer
from twisted.logger import Logger
from twisted.web import server
from twisted.web.resource import Resource

__all__ = ["ApiError", "ApiRequest", "Field", "HANDLED", "JsonResource", "Route", "check_body"]

HANDLED = object()  # a handler's return value: it wrote (or keeps writing) the response


# The stable ``code`` of an error whose raiser names none: the pages translate codes
# (server/web/static/common.js, ERRORS), never the English message.
STATUS_CODES = {400: "bad_request", 401: "not_signed_in", 403: "forbidden", 404: "not_found",
                405: "method_not_allowed", 409: "conflict", 415: "bad_content_type",
                429: "rate_limited", 500: "internal", 502: "asterisk_refused"}


class ApiError(Exception):
    """An HTTP error with a message for the client (never a secret, never a trace) and a
    stable machine ``code`` (documented in docs/openapi.yaml) the pages translate."""

    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None,
                 code: str | None = None):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, dict(headers or {})
        self.code = code or STATUS_CODES.get(status, "error")


@dataclass(frozen=True)
class Field:
    """One JSON body field: its type(s) and whether it must be present."""

    types: tuple[type, ...]
    required: bool = False
    choices: tuple[str, ...] = ()


_TYPE_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "a boolean",
               list: "a list", dict: "an object", type(None): "null"}


MAX_BODY_BYTES = 64 * 1024  # the largest API body (a QA review, an ACD edit) is far smaller
MAX_BODY_DEPTH = 16  # nesting of arrays and objects; the deepest route body uses 2
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)


def _depth(text: str) -> int:
    """The deepest nesting of [ and { in ``text``, outside strings (no recursion)."""
    depth = deepest = 0
    for ch in _JSON_STRING.sub("", text):
        if ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def _finite(token: str) -> float:
    value = float(token)
    if not math.isfinite(value):
        raise ValueError(f"number {token[:40]} is out of range")
    return value


def _no_constant(token: str) -> Any:
    raise ValueError(f"{token} is not a JSON number")


def check_body(raw: bytes, spec: Mapping[str, Field]) -> dict[str, Any]:
    """Parse a JSON object body against ``spec``; raise ApiError(400) naming the field.

    Bodies over MAX_BODY_BYTES, nested deeper than MAX_BODY_DEPTH, or holding a
    number that is not finite (1e999, and the non-JSON NaN / Infinity) are 400:
    json.loads would recurse until RecursionError on the one, and json.dumps would
    echo the other as a token that is not JSON.
    """
    if len(raw) > MAX_BODY_BYTES:
        raise ApiError(400, f"body is larger than {MAX_BODY_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ApiError(400, f"body is not valid JSON: {e}") from None
    if _depth(text) > MAX_BODY_DEPTH:
        raise ApiError(400, f"body is nested deeper than {MAX_BODY_DEPTH} levels")
    try:
        body = json.loads(text or "{}", parse_float=_finite, parse_constant=_no_constant)
    except json.JSONDecodeError as e:
        raise ApiError(400, f"body is not valid JSON: {e}") from None
    except (ValueError, RecursionError) as e:
        raise ApiError(400, f"body is not valid JSON: {e}") from None
    if not isinstance(body, dict):
        raise ApiError(400, "body must be a JSON object")
    for name in body:
        if name not in spec:
            raise ApiError(400, f"unknown field '{name}'")
    for name, f in spec.items():
        if name not in body:
            if f.required:
                raise ApiError(400, f"field '{name}' is required")
            continue
        value = body[name]
        # bool is an int in Python; JSON true is not a number here.
        ok = any(isinstance(value, t) and not (isinstance(value, bool) and t in (int, float))
                 for t in f.types)
        if not ok:
            types = [t for t in f.types if not (t is int and float in f.types)]
            wanted = " or ".join(_TYPE_NAMES.get(t, t.__name__) for t in types)
            raise ApiError(400, f"field '{name}' must be {wanted}")
        if f.choices and value not in f.choices:
            raise ApiError(400, f"field '{name}' must be one of {', '.join(f.choices)}")
    return body


@dataclass(frozen=True)
class Route:
    """``template`` like ``/api/agents/{id}/state``; ``roles`` None means public.

    ``own_agent``: an agent may only name themselves in ``{id}`` (403 otherwise).
    """

    method: str
    template: str
    handler: Callable[[ApiRequest], Any]
    roles: frozenset[str] | None
    own_agent: bool = False
    body: Mapping[str, Field] | None = None
    pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        rx = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(self.template))
        object.__setattr__(self, "pattern", re.compile(f"^{rx}$"))


@dataclass
class ApiRequest:
    request: server.Request
    params: dict[str, str]
    query: dict[str, str]
    body: dict[str, Any]
    session: Any  # auth.Session | None


class JsonResource(Resource):
    """Dispatches every request under it through ``routes``; thin by design."""

    isLeaf = True
    log = Logger()

    def __init__(self, routes: list[Route], authenticate: Callable[[server.Request], Any]):
        super().__init__()
        self.routes = routes
        self.authenticate = authenticate  # request -> Session | None (expired: None)

    def render(self, request: server.Request):
        path = request.path.decode("utf-8", "replace")
        method = request.method.decode("ascii", "replace")
        if method == "HEAD":
            method = "GET"
        d = defer.maybeDeferred(self._dispatch, request, path, method)
        d.addCallback(self._respond, request)
        d.addErrback(self._failed, request, method, path)
        return server.NOT_DONE_YET

    def _dispatch(self, request: server.Request, path: str, method: str):
        matched = [(r, m) for r in self.routes if (m := r.pattern.match(path))]
        if not matched:
            raise ApiError(404, f"no such resource {path}")
        route_match = next(((r, m) for r, m in matched if r.method == method), None)
        if route_match is None:
            allowed = ", ".join(sorted({r.method for r, _ in matched}))
            raise ApiError(405, f"{method} not allowed here", {"Allow": allowed})
        route, m = route_match
        params = {k: _unquote(v) for k, v in m.groupdict().items()}
        session = self.authenticate(request)
        if route.roles is not None:
            if session is None:
                raise ApiError(401, "not signed in, or the session expired")
            if session.role not in route.roles:
                raise ApiError(403, f"role {session.role} may not {method} {route.template}")
            if route.own_agent and session.role == "agent" and params.get("id") != session.subject:
                raise ApiError(403, "an agent may only act on their own account")
        body: dict[str, Any] = {}
        if route.body is not None:
            ctype = (request.getHeader("content-type") or "").split(";")[0].strip().lower()
            if ctype != "application/json":
                # Also a CSRF guard: a cross-site form cannot send application/json.
                raise ApiError(415, "Content-Type must be application/json")
            content = request.content
            body = check_body(content.read(MAX_BODY_BYTES + 1) if content is not None else b"",
                              route.body)
        args: dict[bytes, list[bytes]] = request.args or {}
        query = {k.decode("utf-8", "replace"): v[-1].decode("utf-8", "replace")
                 for k, v in args.items()} if method == "GET" else {}
        return route.handler(ApiRequest(request, params, query, body, session))

    def _respond(self, result: Any, request: server.Request) -> None:
        if result is HANDLED:
            return
        status, payload = result if isinstance(result, tuple) else (200, result)
        write_json(request, status, payload)

    def _failed(self, failure, request: server.Request, method: str, path: str) -> None:
        if failure.check(ApiError):
            err = failure.value
            for k, v in err.headers.items():
                request.setHeader(k, v)
            write_json(request, err.status, {"error": err.message, "code": err.code})
            return
        self.log.failure("{method} {path} failed", failure, method=method, path=path)
        write_json(request, 500, {"error": "internal error (logged on the server)",
                                  "code": "internal"})


def _unquote(segment: str) -> str:
    from urllib.parse import unquote

    return unquote(segment)


def write_json(request: server.Request, status: int, payload: Any) -> None:
    if request.finished or request._disconnected:
        return
    data = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    request.setResponseCode(status)
    request.setHeader("Content-Type", "application/json; charset=utf-8")
    request.setHeader("Cache-Control", "no-store")
    request.setHeader("Content-Length", str(len(data)))
    if request.method != b"HEAD":
        request.write(data)
    request.finish()
