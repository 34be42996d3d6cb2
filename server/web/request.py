"""The Site's request: security headers on every response, and a body cut off at the limit.

* Every response gets a Content-Security-Policy without inline scripts or styles
  (the pages load /common.js, /<page>.js and /common.css only) unless its handler
  set one itself (the printable report: server/web/reports_page.py),
  ``frame-ancestors 'none'`` (no clickjacking frame around the desk),
  ``nosniff``, a Referrer-Policy, and no ``Server`` header naming Twisted's
  version.
* twisted.web buffers a request body in full (in memory, or a temp file past
  100 kB) before any resource sees it.  Here the body is refused as soon as it
  is known to be too big: a Content-Length over ``MAX_BODY_BYTES`` at the end of
  the headers, or a chunked body once its bytes pass it.  The client gets 413
  and the connection is closed without reading the rest.
"""

from __future__ import annotations

import json

from twisted.web import server

from .http import MAX_BODY_BYTES

__all__ = ["SECURITY_HEADERS", "HardenedRequest"]

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; media-src 'self'; object-src 'none'; base-uri 'none'; "
       "form-action 'self'; frame-ancestors 'none'")
SECURITY_HEADERS = (
    (b"Content-Security-Policy", CSP.encode("ascii")),
    (b"X-Content-Type-Options", b"nosniff"),
    (b"X-Frame-Options", b"DENY"),  # for browsers that predate frame-ancestors
    (b"Referrer-Policy", b"no-referrer"),
)
_TOO_LARGE = json.dumps({"error": f"body is larger than {MAX_BODY_BYTES} bytes"}).encode()


class HardenedRequest(server.Request):
    _refused = False
    _body_bytes = 0

    def gotLength(self, length):
        if length is not None and length > MAX_BODY_BYTES:
            self._refuse()
        super().gotLength(0 if self._refused else length)

    def handleContentChunk(self, data: bytes) -> None:
        if self._refused:
            return  # the connection is closing; nothing more is kept
        self._body_bytes += len(data)
        if self._body_bytes > MAX_BODY_BYTES:
            self._refuse()
            return
        super().handleContentChunk(data)

    def _refuse(self) -> None:
        self._refused = True
        transport = self.channel.transport
        if transport is None:
            return  # the connection is gone already: nothing to answer
        transport.write(b"HTTP/1.1 413 Content Too Large\r\n"
                        b"Content-Type: application/json; charset=utf-8\r\n"
                        b"Content-Length: " + str(len(_TOO_LARGE)).encode() + b"\r\n"
                        b"Connection: close\r\n\r\n" + _TOO_LARGE)
        # Stops reading at once; closes once the 413 is written.
        transport.loseConnection()

    def requestReceived(self, command, path, version):
        if self._refused:
            return  # answered already; never dispatched
        super().requestReceived(command, path, version)

    def write(self, data: bytes) -> None:
        if not self.startedWriting:
            self.responseHeaders.removeHeader(b"server")
            for name, value in SECURITY_HEADERS:
                if not self.responseHeaders.hasHeader(name):
                    self.responseHeaders.setRawHeaders(name, [value])
        super().write(data)
