"""The HTTP side: JSON API, Server-Sent Events feed and static pages, on twisted.web.

Modules: :mod:`.http` (route table, body checks), :mod:`.auth` (sign-in, sessions,
rate limit), :mod:`.api` (agent and supervisor handlers), :mod:`.review` (records,
recordings, QA), :mod:`.qa` (the QA form from config/qa.yaml), :mod:`.feed` (SSE),
:mod:`.live` (in-memory figures from Notifier publications), :mod:`.site` (wiring).
"""

from .site import Web, WebOptions, build_web

__all__ = ["Web", "WebOptions", "build_web"]
