"""Moved to the ``server/call/`` package (issue 13): kept only for imports that still
name it during the transition.  New code imports from ``server.call``."""

from server.call.center import CallCenter
from server.call.dialplan import CONNECT_CONTEXT, in_fallback
from server.call.table import Call

__all__ = ["CONNECT_CONTEXT", "Call", "CallCenter", "in_fallback"]
