"""The screen-pop the desk shows for an agent's current call, in words it can translate.

* ``ivr_steps``: each (menu, key) of the caller's IVR path with where the key led
  (a sub-menu, an intent, an agent, back), read from the IVR config, so the page
  can say "故障报修" instead of ``main:1``.
* ``enrich``: the screen plus those steps and the caller's calls of the last 7 days.
* ``current_call``: what the desk restores after a reload: the agent's ringing,
  live or wrapped-up call (from the adapter while the call lives, from the final
  record once it has ended) with the disposition and notes saved so far.
"""

from __future__ import annotations

from typing import Any

from ivr.model import IvrConfig
from queues.agents import AgentView

from .live import LiveFigures

AGENT_KEY, BACK_KEY = "0", "*"


def ivr_steps(ivr: IvrConfig, path) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for menu_name, key in path:
        menu = ivr.menus.get(menu_name)
        step: dict[str, Any] = {"menu": menu_name, "key": key, "to": "invalid", "name": None}
        if menu is not None:
            option = menu.options.get(key)
            if key == AGENT_KEY:
                step.update(to="agent", name=menu.agent.intent)
            elif key == BACK_KEY:
                step.update(to="back", name=menu.parent or menu.name)
            elif option is not None and option.menu is not None:
                step.update(to="menu", name=option.menu)
            elif option is not None and option.leaf is not None:
                step.update(to="self_service" if option.leaf.self_service else "intent",
                            name=option.leaf.intent)
        out.append(step)
    return out


def enrich(screen: dict[str, Any], ivr: IvrConfig, live: LiveFigures) -> dict[str, Any]:
    out = dict(screen)
    out["ivr_steps"] = ivr_steps(ivr, screen.get("ivr_path") or [])
    out["previous_calls"] = live.previous_calls(screen.get("caller") or "",
                                                exclude=screen.get("call_id"))
    return out


def current_call(calls, live: LiveFigures, view: AgentView,
                 pending: dict[str, tuple[str, str]]) -> dict[str, Any] | None:
    """The call the agent is ringing for, talking on or wrapping up; None if none (or
    if it is neither live here nor among the recent final records)."""
    call_id = view.item_id
    if call_id is None:
        return None
    call = calls.calls.get(call_id)
    if call is not None and call.agent_id == view.id:
        rec = call.record.snapshot()
        screen = calls.screen(call_id)
        ended = call.phase in ("survey", "ended") or view.state == "wrap_up"
    else:
        rec = live.record(call_id)
        if rec is None or rec.agent_id != view.id:
            return None
        screen = {"call_id": call_id, "caller": rec.caller, "account": rec.account,
                  "ivr_path": [list(p) for p in rec.ivr_path], "intent": rec.intent,
                  "queue": rec.queues[-1] if rec.queues else None,
                  "language": rec.language, "waited_s": None}
        ended = True
    disposition, notes = pending.get(call_id, (rec.disposition, rec.notes))
    out = enrich(screen, calls.cfg.ivr, live)
    out.update(ended=ended, disposition=disposition, notes=notes or "")
    return out
