"""For tools that derive a configuration from the shipped one with other agents
(the soak, the end-to-end benchmark, tests): keep agents.yaml consistent."""

from __future__ import annotations

from typing import Any

__all__ = ["prune_teams"]


def prune_teams(doc: dict[str, Any]) -> None:
    """Fit agents.yaml's ``teams`` to the agents ``doc`` now lists: members who are
    gone leave their team; a team whose lead is gone goes (check-config refuses a
    team without its lead, so a derived config would not load)."""
    ids = {str(a.get("id")) for a in doc.get("agents") or ()}
    teams = []
    for team in doc.get("teams") or ():
        members = [m for m in team.get("members") or () if str(m) in ids]
        if str(team.get("lead")) in members:
            teams.append({**team, "members": members})
    if teams:
        doc["teams"] = teams
    else:
        doc.pop("teams", None)
