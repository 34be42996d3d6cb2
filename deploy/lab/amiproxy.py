"""A transparent AMI proxy on loopback that records the daemon's own session.

The daemon connects to the proxy instead of 127.0.0.1:5038; every byte is relayed
unchanged and written to a transcript in the format of ``ami-traces/README.md``
(``<<<`` from Asterisk, ``>>>`` from the daemon).  One transcript per run; a
reconnecting daemon's sessions follow one another, each headed by a ``###`` note.
The daemon logs in with an MD5 challenge, so no secret crosses the wire.
"""

from __future__ import annotations

import socket
import threading
import time


class AmiProxy:
    def __init__(self, path, listen_port: int, upstream=("127.0.0.1", 5038)) -> None:
        self.upstream = upstream
        self.f = open(path, "wb")
        self.lock = threading.Lock()
        self.t0 = time.monotonic()
        self.server = socket.socket()
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.server.bind(("127.0.0.1", listen_port))
        self.server.listen(4)
        self.port = listen_port
        self._closed = False
        self._socks: list[socket.socket] = []
        threading.Thread(target=self._accept, name="ami-proxy", daemon=True).start()

    def _write(self, marker: bytes, line: bytes) -> None:
        with self.lock:
            if not self.f.closed:
                stamp = b"%011.6f" % (time.monotonic() - self.t0)
                self.f.write(marker + b" " + stamp + b" " + line)
                self.f.flush()

    def note(self, text: str) -> None:
        self._write(b"###", text.encode() + b"\n")

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            try:
                up = socket.create_connection(self.upstream)
            except OSError as exc:
                self.note(f"upstream connect failed: {exc}")
                client.close()
                continue
            self.note(f"daemon connected; relaying to {self.upstream[0]}:{self.upstream[1]}")
            self._socks += [client, up]
            threading.Thread(target=self._pump, args=(up, client, b"<<<"), daemon=True).start()
            threading.Thread(target=self._pump, args=(client, up, b">>>"), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, marker: bytes) -> None:
        buf = b""
        while True:
            try:
                data = src.recv(65536)
            except OSError:
                data = b""
            if not data:
                break
            try:
                dst.sendall(data)
            except OSError:
                break
            buf += data
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                self._write(marker, line + b"\n")
        if buf:
            self.note("partial line follows (no LF before EOF)")
            self._write(marker, buf + b"\n")
        self.note("EOF from Asterisk" if marker == b"<<<" else "EOF from the daemon")
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self) -> None:
        self._closed = True
        self.server.close()
        for s in self._socks:
            try:
                s.close()
            except OSError:
                pass
        with self.lock:
            self.f.close()
