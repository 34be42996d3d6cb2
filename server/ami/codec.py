"""Sans-IO codec for the Asterisk Manager Interface.

Bytes go in, :class:`Message` objects come out; nothing here touches a socket,
a reactor or a clock, so the same parser serves the client (reading Asterisk)
and the simulator (reading clients), and tests can feed it one byte at a time.

Framing, as recorded from Asterisk 22 (see tests/fixtures/ami-traces):

* the connection starts with one banner line, ``Asterisk Call Manager/11.0.0``,
  that is not followed by a blank line;
* every other message is ``Key: value`` lines ending in CRLF, closed by an
  empty line.  Asterisk itself accepts LF-only endings from clients, so the
  parser normalises CRLF to LF once per chunk and then splits on ``\\n\\n``;
* the pre-14 ``Response: Follows`` form of Command output carries raw lines
  (which may even be blank) up to ``--END COMMAND--``; it is kept whole.

The module is the wire format that the client and the simulator share: framing,
message access and action encoding.  AsyncAGI's value encodings (``Env``,
``Result``) are in ``server/ami/asyncagi.py``.

Speed: a block is only split into lines and decoded when somebody reads its
headers.  Classification needs just the first line (``Event: X`` in the common
case), so events nobody subscribed to cost one ``split`` slot and one slice.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import overload

__all__ = [
    "ACTION",
    "BANNER",
    "EVENT",
    "RESPONSE",
    "UNKNOWN",
    "AmiParser",
    "FrameTooLarge",
    "Message",
    "encode_action",
    "encode_message",
]

EVENT = "event"
RESPONSE = "response"
ACTION = "action"
BANNER = "banner"
UNKNOWN = "unknown"

_EVENT_PREFIX = b"Event: "
_RESPONSE_PREFIX = b"Response: "
_FOLLOWS_PREFIX = b"Response: Follows\n"
_END_COMMAND = b"--END COMMAND--"

#: A message (or the banner line) larger than this is a hostile or broken
#: peer: the parser raises :class:`FrameTooLarge` instead of buffering forever.
DEFAULT_MAX_MESSAGE_BYTES = 1 << 20


class FrameTooLarge(ValueError):
    """The peer sent more than the limit without ending a message."""


class Message:
    """One AMI message: an event, a response, an action or the banner.

    ``kind`` is one of :data:`EVENT`, :data:`RESPONSE`, :data:`ACTION`,
    :data:`BANNER` or :data:`UNKNOWN` (a block with none of the three
    identifying headers: malformed, to be logged and skipped).  ``name`` is the
    event name, the response status (``Success``, ``Error``, ``Follows``,
    ``Goodbye``) or the action name.

    Headers keep wire order and repeats (``ChanVariable``, ``Output``); they
    are decoded from UTF-8 on first access.  Lookups ignore case, like
    Asterisk does.
    """

    __slots__ = ("_headers", "_index", "_lower", "kind", "name", "raw")

    def __init__(
        self,
        kind: str,
        name: str,
        raw: bytes = b"",
        headers: list[tuple[str, str]] | None = None,
    ) -> None:
        self.kind = kind
        self.name = name
        self.raw = raw
        self._headers = headers
        self._index: dict[str, str] | None = None
        self._lower: bytes | None = None

    @classmethod
    def from_headers(cls, headers: Iterable[tuple[str, str]]) -> Message:
        """Build a message from ``(key, value)`` pairs, classifying it."""
        hdrs = list(headers)
        kind, name = _classify(hdrs)
        return cls(kind, name, headers=hdrs)

    @property
    def headers(self) -> list[tuple[str, str]]:
        if self._headers is None:
            self._headers = _split_headers(self.raw)
        return self._headers

    def _lookup(self) -> dict[str, str]:
        if self._index is None:
            index: dict[str, str] = {}
            for key, value in self.headers:
                index.setdefault(key.lower(), value)
            self._index = index
        return self._index

    def _value(self, lkey: str) -> str | None:
        """The first value of the lower-case ``lkey``, or ``None``.

        A subscriber usually reads two or three headers of a 20-header event;
        finding them in the raw bytes costs a fraction of decoding every line
        (see ``python -m server.bench``).  The result is the same as the
        decoded lookup: the first line whose key, before the first colon,
        equals ``lkey`` in any case, with one leading space dropped.
        """
        index = self._index
        if index is not None:
            return index.get(lkey)
        raw = self.raw
        if (
            self._headers is not None
            or not raw
            or raw.startswith(_FOLLOWS_PREFIX)
            or not lkey.isascii()
            or ":" in lkey
            or "\n" in lkey
        ):
            return self._lookup().get(lkey)
        lower = self._lower
        if lower is None:
            # The leading LF makes the first line findable like the others.
            lower = self._lower = b"\n" + raw.lower()
        pos = lower.find(b"\n" + lkey.encode() + b":")
        if pos < 0:
            return None
        start = pos + len(lkey) + 1  # in raw: just after the colon
        end = raw.find(b"\n", start)
        value = raw[start:end] if end >= 0 else raw[start:]
        if value.startswith(b" "):
            value = value[1:]
        return value.decode("utf-8", "replace")

    @overload
    def get(self, key: str) -> str | None: ...
    @overload
    def get(self, key: str, default: str) -> str: ...
    @overload
    def get(self, key: str, default: None) -> str | None: ...

    def get(self, key: str, default: str | None = None) -> str | None:
        """The first value of ``key`` (any case), or ``default``."""
        value = self._value(key.lower())
        return default if value is None else value

    def __getitem__(self, key: str) -> str:
        value = self._value(key.lower())
        if value is None:
            raise KeyError(key)
        return value

    def __contains__(self, key: str) -> bool:
        return self._value(key.lower()) is not None

    def getall(self, key: str) -> list[str]:
        """Every value of ``key``, in wire order (``Output``, ``ChanVariable``)."""
        lkey = key.lower()
        return [v for k, v in self.headers if k.lower() == lkey]

    @property
    def action_id(self) -> str | None:
        return self.get("ActionID")

    def as_dict(self) -> dict[str, str]:
        """First value of each header, keys as on the wire."""
        out: dict[str, str] = {}
        for key, value in self.headers:
            out.setdefault(key, value)
        return out

    def __repr__(self) -> str:
        return f"<Message {self.kind} {self.name!r} {len(self.headers)} headers>"


def _split_headers(raw: bytes) -> list[tuple[str, str]]:
    text = raw.decode("utf-8", "replace")
    if text.startswith("Response: Follows\n"):
        return _split_follows(text)
    out = []
    for line in text.split("\n"):
        key, sep, value = line.partition(":")
        if not sep:
            continue  # Asterisk ignores header lines without a colon; so do we.
        if value.startswith(" "):
            value = value[1:]
        out.append((key, value))
    return out


def _split_follows(text: str) -> list[tuple[str, str]]:
    """Pre-Asterisk-14 Command output: headers, then raw lines up to the marker.

    The raw lines become ``Output`` headers, the same shape Asterisk 14+ sends.
    """
    out: list[tuple[str, str]] = []
    in_body = False
    for line in text.split("\n"):
        if line.startswith("--END COMMAND--"):
            break
        key, sep, value = line.partition(": ")
        if not in_body and sep and key in ("Response", "Privilege", "ActionID", "Message"):
            out.append((key, value))
            continue
        in_body = True
        out.append(("Output", line))
    return out


def _classify(headers: list[tuple[str, str]]) -> tuple[str, str]:
    for key, value in headers:
        lkey = key.lower()
        if lkey == "event":
            return EVENT, value
        if lkey == "response":
            return RESPONSE, value
        if lkey == "action":
            return ACTION, value
    return UNKNOWN, ""


class AmiParser:
    """Incremental AMI parser.  ``feed(bytes)`` returns the complete messages.

    :param expect_banner: the peer is Asterisk, whose first line is the banner.
    :param max_message_bytes: a message (or banner) that grows beyond this
        raises :class:`FrameTooLarge`; the caller should drop the connection.
    """

    def __init__(
        self,
        expect_banner: bool = True,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    ) -> None:
        self._buf = b""
        self._want_banner = expect_banner
        self._max = max_message_bytes
        # A trailing CR is held back so that a CRLF split across two reads
        # still normalises to LF.
        self._held_cr = False

    @property
    def buffered(self) -> int:
        """Bytes received but not yet part of a complete message."""
        return len(self._buf)

    # One function of just over 60 lines on purpose: it runs for every read on
    # the ingest hot path (python -m server.bench --only ami), where each extra
    # call per message shows.
    def feed(self, data: bytes) -> list[Message]:
        if not data:
            return []
        if self._held_cr:
            data = b"\r" + data
            self._held_cr = False
        if data.endswith(b"\r"):
            data = data[:-1]
            self._held_cr = True
        if b"\r" in data:
            data = data.replace(b"\r\n", b"\n")
        buf = self._buf + data if self._buf else data
        out: list[Message] = []
        if self._want_banner:
            nl = buf.find(b"\n")
            if nl < 0:
                self._check_size(buf)
                self._buf = buf
                return out
            self._want_banner = False
            line = buf[:nl].decode("utf-8", "replace")
            out.append(Message(BANNER, line, buf[:nl], [("", line)]))
            buf = buf[nl + 1 :]
        blocks = buf.split(b"\n\n")
        rest = blocks.pop()
        if len(buf) > self._max and blocks:
            # A whole oversized message in one read must fail like one that
            # arrives in pieces (the limit must not depend on TCP segmentation).
            # Measured with its last line's LF, as the pending buffer would be.
            self._check_size(max(blocks, key=len) + b"\n")
        pending_follows = b""
        append = out.append
        for block in blocks:
            # Nearly every block Asterisk sends is an event: build it inline
            # (this loop runs once per message; see ``python -m server.bench``).
            if not pending_follows and block.startswith(b"Event: "):
                nl = block.find(b"\n")
                name = block[7:nl] if nl >= 0 else block[7:]
                append(Message(EVENT, name.decode("utf-8", "replace").strip(), block))
                continue
            if pending_follows:
                block = pending_follows + b"\n\n" + block
                pending_follows = b""
                # A Follows message glued from blocks is one message: its size
                # counts whole, as when it arrives in pieces (pre-check above
                # only sees the blocks between its blank lines).
                self._check_size(len(block) + 1)
            if not block:
                continue  # stray blank lines between messages
            if block.startswith(b"\n"):
                block = block.lstrip(b"\n")
            if block.startswith(_FOLLOWS_PREFIX) and _END_COMMAND not in block:
                # Command output may contain blank lines: keep gluing.
                pending_follows = block
                continue
            append(self._message(block))
        if pending_follows:
            rest = pending_follows + b"\n\n" + rest
        self._check_size(rest)
        self._buf = rest
        return out

    def _check_size(self, pending: bytes | int) -> None:
        size = pending if isinstance(pending, int) else len(pending)
        if size > self._max:
            self._buf = b""
            raise FrameTooLarge(
                f"peer sent {size} bytes without ending a message "
                f"(limit {self._max})"
            )

    @staticmethod
    def _message(block: bytes) -> Message:
        if block.startswith(_EVENT_PREFIX):
            nl = block.find(b"\n")
            name = block[7:] if nl < 0 else block[7:nl]
            return Message(EVENT, name.decode("utf-8", "replace").strip(), block)
        if block.startswith(_RESPONSE_PREFIX):
            nl = block.find(b"\n")
            name = block[10:] if nl < 0 else block[10:nl]
            return Message(RESPONSE, name.decode("utf-8", "replace").strip(), block)
        # Unusual first header (lowercase names from clients, or a header
        # before Event/Response): decode and classify the slow way.
        headers = _split_headers(block)
        kind, title = _classify(headers)
        return Message(kind, title.strip(), block, headers)


def _check_value(text: str) -> str:
    if "\r" in text or "\n" in text:
        # A newline would end the header (or the message) early and let the
        # rest be read as headers of our choosing: header injection.
        raise ValueError(f"AMI header text must not contain CR or LF: {text!r}")
    return text


def encode_message(headers: Iterable[tuple[str, object]]) -> bytes:
    """Serialise ``(key, value)`` pairs as one CRLF-framed AMI message.

    ``None`` values are skipped; other values are ``str()``-ed.  Raises
    ``ValueError`` if a key or value contains CR or LF.
    """
    parts = []
    for key, value in headers:
        if value is None:
            continue
        parts.append(f"{_check_value(key)}: {_check_value(str(value))}\r\n")
    parts.append("\r\n")
    return "".join(parts).encode("utf-8")


def encode_action(
    action: str,
    fields: Iterable[tuple[str, object]] | dict[str, object] = (),
    action_id: str | None = None,
) -> bytes:
    """Serialise an action.  ``fields`` may repeat keys (e.g. ``Variable``)."""
    items = fields.items() if isinstance(fields, dict) else fields
    head: list[tuple[str, object]] = [("Action", action)]
    if action_id is not None:
        head.append(("ActionID", action_id))
    return encode_message([*head, *items])


def iter_blocks(data: bytes, expect_banner: bool = True) -> Iterator[Message]:
    """Parse a complete byte string (a recorded stream) in one go."""
    yield from AmiParser(expect_banner=expect_banner, max_message_bytes=len(data) + 1).feed(data)
