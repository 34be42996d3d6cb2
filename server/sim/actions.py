"""AMI actions the hotline uses, answered as Asterisk 22 does (traces 01-12)."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

from server.ami.codec import Message
from server.sim.ami_server import AmiSession
from server.sim.phones import EXT_STATUS

log = logging.getLogger(__name__)

Handler = Callable[[AmiSession, Message], None]


def _login(s: AmiSession, m: Message) -> None:
    s.login(m)


def _challenge(s: AmiSession, m: Message) -> None:
    if (m.get("AuthType") or "").lower() != "md5":
        s.error(m, "Must specify AuthType")
        return
    s.challenge = str(s.sim.core.rng.randrange(10**8, 10**9))
    s.respond(m, "Success", ("Challenge", s.challenge))


def _logoff(s: AmiSession, m: Message) -> None:
    s.respond(m, "Goodbye", ("Message", "Thanks for all the fish."))
    s.close()


def _ping(s: AmiSession, m: Message) -> None:
    s.respond(m, "Success", ("Ping", "Pong"), ("Timestamp", f"{s.sim.clock.seconds():.6f}"))


def _events(s: AmiSession, m: Message) -> None:
    mask = (m.get("EventMask") or "").strip().lower()
    s.set_events(mask)
    s.respond(m, "Success", ("Events", "Off" if s.event_classes == frozenset() else "On"))


def _command(s: AmiSession, m: Message) -> None:
    cmd = (m.get("Command") or "").strip()
    lines = ["Asterisk 22.10.1 (simulated)"] if cmd == "core show version" else [
        f"No such command '{cmd}' (simulated Asterisk)"]
    s.respond(m, "Success", ("Message", "Command output follows"),
              *[("Output", line) for line in lines])


def _channel(s: AmiSession, m: Message, header: str = "Channel"):
    name = m.get(header)
    if not name:
        s.error(m, "No channel specified")
        return None
    chan = s.sim.core.find(name)
    if chan is None:
        s.error(m, "No such channel")
    return chan


def _agi(s: AmiSession, m: Message) -> None:
    name, command = m.get("Channel"), m.get("Command")
    if not name or not command:
        s.error(m, "Both, Channel and Command are *required*")
        return
    chan = s.sim.core.find(name)
    if chan is None:
        s.error(m, f"Channel {name} does not exist.")
        return
    if not s.sim.core.has_agi(chan):
        s.error(m, "Failed to add AGI command to queue")
        return
    s.respond(m, "Success", ("Message", "Added AGI command to queue"))
    s.sim.core.queue_agi(chan, command, m.get("CommandID"))


def _setvar(s: AmiSession, m: Message) -> None:
    var = m.get("Variable")
    if not var:
        s.error(m, "No variable specified")
        return
    name = m.get("Channel")
    if not name:
        s.respond(m, "Success", ("Message", "Variable Set"))
        s.sim.core.set_global(var, m.get("Value") or "")
        return
    chan = s.sim.core.find(name)
    if chan is None:
        s.error(m, "No such channel")
        return
    # The response goes out before the VarSet event (trace 08).
    s.respond(m, "Success", ("Message", "Variable Set"))
    if not s.sim.core.write_function(chan, var, m.get("Value") or ""):
        s.sim.core.set_var(chan, var, m.get("Value") or "")


def _absolute_timeout(s: AmiSession, m: Message) -> None:
    # Not traced.  As Asterisk 22's manager.c action_timeout: the channel name is
    # checked, then the timeout (atof; 0, negative or garbage is "No timeout
    # specified", so AMI cannot clear one), then the channel; "Timeout Set".
    if not m.get("Channel"):
        s.error(m, "No channel specified")
        return
    try:
        timeout = float((m.get("Timeout") or "").strip() or 0)
    except ValueError:
        timeout = 0.0
    if timeout <= 0:
        s.error(m, "No timeout specified")
        return
    chan = _channel(s, m)
    if chan is None:
        return
    s.respond(m, "Success", ("Message", "Timeout Set"))
    s.sim.core.set_absolute_timeout(chan, str(timeout))


def _db_get_tree(s: AmiSession, m: Message) -> None:
    # Not traced; as Asterisk 22's main/db.c manager_db_tree_get: a list ack,
    # one DBGetTreeResponse per entry (Key is the full /family/key, then Val,
    # then ActionID), DBGetTreeComplete.
    family, key = (m.get("Family") or "").strip(), (m.get("Key") or "").strip()
    rows = sorted((f"/{f}/{k}", v) for (f, k), v in s.sim.core.astdb.items()
                  if (not family or f == family) and (not key or k == key or
                                                      k.startswith(key + "/")))
    s.respond(m, "Success", ("EventList", "start"), ("Message", "Result will follow"))
    for full, value in rows:
        s.send_list_event("DBGetTreeResponse", m, [("Key", full), ("Val", value)], id_last=True)
    s.send_list_event("DBGetTreeComplete", m, [("EventList", "Complete"),
                                               ("ListItems", len(rows))])


def _db_del(s: AmiSession, m: Message) -> None:
    # Not traced; as Asterisk 22's main/db.c manager_dbdel.
    family, key = m.get("Family") or "", m.get("Key") or ""
    if not family:
        s.error(m, "No family specified.")
        return
    if not key:
        s.error(m, "No key specified.")
        return
    if s.sim.core.astdb.pop((family, key), None) is None:
        s.error(m, "Database entry could not be deleted")
        return
    s.respond(m, "Success", ("Message", "Key deleted successfully"))


def _getvar(s: AmiSession, m: Message) -> None:
    var = m.get("Variable") or ""
    name = m.get("Channel")
    if name:
        chan = s.sim.core.find(name)
        if chan is None:
            s.error(m, "No such channel")
            return
        value = s.sim.core.expand(chan, "${" + var + "}")
    else:
        value = s.sim.core.global_value(var)
    s.respond(m, "Success", ("Variable", var), ("Value", value))


def _redirect(s: AmiSession, m: Message) -> None:
    chan = _channel(s, m)
    if chan is None:
        return
    context, exten = m.get("Context") or "", m.get("Exten") or ""
    priority = m.get("Priority") or "1"
    if not priority.isdigit():
        s.error(m, "Invalid priority")
        return
    s.respond(m, "Success", ("Message", "Redirect successful"))
    s.sim.core.redirect(chan, context, exten, int(priority))


def _hangup(s: AmiSession, m: Message) -> None:
    name = m.get("Channel") or ""
    cause_text = m.get("Cause") or ""
    cause = int(cause_text) if cause_text.isdigit() else None
    core = s.sim.core
    if len(name) > 2 and name.startswith("/") and name.endswith("/"):
        pattern = re.compile(name[1:-1])
        matched = [c for c in list(core.channels.values()) if pattern.search(c.name)]
        s.respond(m, "Success", ("EventList", "start"),
                  ("Message", "Channels hung up will follow"))
        for chan in matched:
            if not chan.hungup:
                core.hangup_action(chan, cause)
            s.send_list_event("ChannelHungup", m, [("Channel", chan.name)], id_last=True)
        s.send_list_event("ChannelsHungupListComplete", m,
                          [("EventList", "Complete"), ("ListItems", len(matched))])
        return
    chan = _channel(s, m)
    if chan is None:
        return
    s.respond(m, "Success", ("Message", "Channel Hungup"))
    core.hangup_action(chan, cause)


def _bridge_id(chan) -> str:
    return chan.bridge.id if chan.bridge is not None else ""


def _core_show_channels(s: AmiSession, m: Message) -> None:
    core = s.sim.core
    chans = [c for c in core.channels.values() if not c.hungup]
    s.respond(m, "Success", ("EventList", "start"), ("Message", "Channels will follow"))
    now = core.clock.seconds()
    for c in chans:
        secs = int(now - c.created)
        duration = f"{secs // 3600:02d}:{secs // 60 % 60:02d}:{secs % 60:02d}"
        s.send_list_event("CoreShowChannel", m, [*c.block(), ("Application", c.application),
                          ("ApplicationData", c.app_data), ("Duration", duration),
                          ("BridgeId", _bridge_id(c))])
    s.send_list_event("CoreShowChannelsComplete", m,
                      [("EventList", "Complete"), ("ListItems", len(chans))])


def _status(s: AmiSession, m: Message) -> None:
    core = s.sim.core
    name = m.get("Channel")
    if name:
        chan = core.find(name)
        if chan is None:
            s.error(m, "No such channel")
            return
        chans = [chan]
    else:
        chans = [c for c in core.channels.values() if not c.hungup]
    s.respond(m, "Success", ("EventList", "start"), ("Message", "Channel status will follow"))
    wanted = [v.strip() for v in (m.get("Variables") or "").split(",") if v.strip()]
    for c in chans:
        pairs = [("Privilege", "Call"), *c.block(), ("Type", c.tech), ("DNID", ""),
                 ("EffectiveConnectedLineNum", c.connected_num),
                 ("EffectiveConnectedLineName", c.connected_name), ("TimeToHangup", "0"),
                 ("BridgeID", _bridge_id(c)), ("Application", c.application),
                 ("Data", c.app_data), ("Nativeformats", "(ulaw)"), ("Readformat", "ulaw"),
                 ("Readtrans", ""), ("Writeformat", "ulaw"), ("Writetrans", ""),
                 ("Callgroup", "0"), ("Pickupgroup", "0"),
                 ("Seconds", str(int(core.clock.seconds() - c.created)))]
        pairs += [("Variable", f"{v}={c.variables.get(v, '')}") for v in wanted]
        s.send_list_event("Status", m, pairs, id_last=True)
    s.send_list_event("StatusComplete", m, [("EventList", "Complete"),
                      ("ListItems", len(chans)), ("Items", len(chans))])


def _play_dtmf(s: AmiSession, m: Message) -> None:
    chan = _channel(s, m)
    if chan is None:
        return
    digit = (m.get("Digit") or "")[:1]
    if not digit:
        s.error(m, "No digit specified")
        return
    s.respond(m, "Success", ("Message", "DTMF successfully queued"))
    s.sim.core.dtmf(chan, digit)


def _mixmonitor(s: AmiSession, m: Message) -> None:
    chan = _channel(s, m)
    if chan is None:
        return
    s.respond(m, "Success")
    s.sim.core.apps.mixmonitor_action(chan, m.get("File") or f"{chan.uniqueid}.wav", True)


def _stop_mixmonitor(s: AmiSession, m: Message) -> None:
    chan = _channel(s, m)
    if chan is None:
        return
    s.respond(m, "Success")
    s.sim.core.apps.mixmonitor_action(chan, "", False)


def _device_state_list(s: AmiSession, m: Message) -> None:
    phones = list(s.sim.phones.phones.values())
    s.respond(m, "Success", ("EventList", "start"), ("Message", "Device State Changes will follow"))
    for p in phones:
        s.send_list_event("DeviceStateChange", m, [("Device", p.device), ("State", p.device_state)])
    s.send_list_event("DeviceStateListComplete", m,
                      [("EventList", "Complete"), ("ListItems", len(phones))])


_DEVICE_TEXT = {"NOT_INUSE": "Not in use", "INUSE": "In use", "RINGING": "Ringing",
                "UNAVAILABLE": "Unavailable"}


def _hint_status(s: AmiSession, context: str, exten: str) -> tuple[str, str, str] | None:
    """(hint, Status, StatusText) of a dialplan hint, from the phone behind it."""
    hint = s.sim.core.dialplan.hints.get((context, exten))
    if hint is None:
        return None
    phone = s.sim.phones.phones.get(hint.partition("/")[2]) if hint.startswith("PJSIP/") else None
    code, text = EXT_STATUS[phone.device_state if phone else "UNAVAILABLE"]
    return hint, str(code), text


def _extension_state_list(s: AmiSession, m: Message) -> None:
    hints = sorted(s.sim.core.dialplan.hints)
    s.respond(m, "Success", ("EventList", "start"), ("Message", "Extension Statuses will follow"))
    for context, exten in hints:
        hint, code, text = _hint_status(s, context, exten) or ("", "-1", "Unknown")
        s.send_list_event("ExtensionStatus", m, [("Exten", exten), ("Context", context),
                          ("Hint", hint), ("Status", code), ("StatusText", text)])
    s.send_list_event("ExtensionStateListComplete", m,
                      [("EventList", "Complete"), ("ListItems", len(hints))])


def _extension_state(s: AmiSession, m: Message) -> None:
    exten, context = m.get("Exten") or "", m.get("Context") or ""
    found = _hint_status(s, context, exten)
    hint, code, text = found or ("", "-1", "Unknown")
    s.respond(m, "Success", ("Message", "Extension Status"), ("Exten", exten),
              ("Context", context), ("Hint", hint), ("Status", code), ("StatusText", text))


def _pjsip_show_endpoints(s: AmiSession, m: Message) -> None:
    phones = sorted(s.sim.phones.phones.values(), key=lambda p: p.endpoint)
    s.respond(m, "Success", ("EventList", "start"),
              ("Message", "A listing of Endpoints follows, presented as EndpointList events"))
    for p in phones:
        contacts = f"{p.endpoint}/{p.contact}," if p.contact else ""
        active = "1" if p.call_state else "0"
        s.send_list_event("EndpointList", m, [
            ("ObjectType", "endpoint"), ("ObjectName", p.endpoint), ("Transport", ""),
            ("Aor", p.endpoint), ("Auths", p.endpoint), ("OutboundAuths", ""),
            ("Contacts", contacts), ("DeviceState", _DEVICE_TEXT[p.device_state]),
            ("ActiveChannels", active)])
    s.send_list_event("EndpointListComplete", m,
                      [("EventList", "Complete"), ("ListItems", len(phones))])


def _originate(s: AmiSession, m: Message) -> None:
    s.sim.originator.originate(s, m)


ACTIONS: dict[str, Handler] = {
    "login": _login, "challenge": _challenge, "logoff": _logoff, "ping": _ping,
    "events": _events, "command": _command, "agi": _agi, "setvar": _setvar, "getvar": _getvar,
    "redirect": _redirect, "hangup": _hangup, "coreshowchannels": _core_show_channels,
    "status": _status, "playdtmf": _play_dtmf, "mixmonitor": _mixmonitor,
    "stopmixmonitor": _stop_mixmonitor, "devicestatelist": _device_state_list,
    "originate": _originate, "extensionstatelist": _extension_state_list,
    "extensionstate": _extension_state, "pjsipshowendpoints": _pjsip_show_endpoints,
    "absolutetimeout": _absolute_timeout, "dbgettree": _db_get_tree, "dbdel": _db_del,
}

