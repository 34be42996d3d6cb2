"""What the adapter knows of the dialplan (deploy/asterisk/extensions.conf) and of the
channel list Asterisk reports (``CoreShowChannel``)."""

from __future__ import annotations

from server.agi import AgiSession
from server.ami.codec import Message

__all__ = ["CONNECT_CONTEXT", "bridge_of", "from_dial", "in_fallback", "interface_of"]

#: where a Redirect sends a caller to be connected: sets up and runs the Dial
CONNECT_CONTEXT = ("acd-connect", "s", "1")


def from_dial(session: AgiSession) -> bool:
    """An AsyncAGI session started in the connect context: back from a Dial."""
    return session.env.get("agi_context") == CONNECT_CONTEXT[0]


def in_fallback(info: Message) -> bool:
    """A ``CoreShowChannel`` in the dialplan's fallback (extensions.conf, [hotline])."""
    return info.get("Context") == "hotline" and (
        info.get("Exten") == "T" or info.get("Application") in ("UserEvent", "Playback", "Queue"))


def bridge_of(info: Message) -> str:
    """The bridge a ``CoreShowChannel`` is in, or "" (``BridgeId``; the ``Status``
    event spells it ``BridgeID``, trace 05a: header lookups ignore case)."""
    return info.get("BridgeId") or ""


def interface_of(channel: str) -> str:
    """The device a channel was dialled on: ``PJSIP/1001-0000002a`` -> ``PJSIP/1001``,
    ``Local/1001@agents-0000000b;1`` -> ``Local/1001@agents``."""
    return channel.rsplit(";", 1)[0].rpartition("-")[0]
