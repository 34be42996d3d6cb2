"""What the server does each time the AMI link comes up again.

Events sent while the link was down are lost for good, so after every login
the server asks Asterisk for the present instead: device states
(``DeviceStateList``) for the agents' phones, and the live channels
(``CoreShowChannels``) for the calls.  It never replays an action it sent
before the loss (a Redirect sent twice could act twice on a live call).

An Asterisk restart is told apart from a mere link loss by ``FullyBooted``'s
``Uptime`` (seconds since Asterisk started, sent at each login): shorter than
the time we were away means every call we knew died with it.
"""

from __future__ import annotations

from twisted.internet import defer
from twisted.logger import Logger

from server.ami.codec import Message
from server.ami.protocol import AmiClientProtocol, AmiError
from server.call.dialplan import in_fallback
from server.endfacts import FAMILY as END_FAMILY
from server.endfacts import FORGET_CONTEXT, FORGET_DONE_EXTEN, EndFacts

#: AstDB family where the dialplan notes callers who came while no AMI session
#: of ours was logged in (deploy/asterisk/extensions.conf, [hotline]).
UNSEEN_FAMILY = "hotline_unseen"


class Resync:
    log = Logger()

    def __init__(self, clock, calls, acd, agi) -> None:
        """``calls``: the CallCenter (its recovery entry points); ``acd``: the router
        (device states); ``agi``: the AGI driver (sessions whose channel is gone).
        The AMI link's hooks and ``FullyBooted`` reach ``link_state``, ``run`` and
        ``booted`` through the wiring table (server/wiring.py)."""
        self.clock = clock
        self.calls = calls
        self.acd = acd
        self.agi = agi
        self.down_since: float | None = None
        self._uptime: tuple[float, float] | None = None  # (Asterisk uptime, when seen)
        self.resyncs = 0

    def booted(self, event: Message) -> None:
        try:
            self._uptime = (float(event.get("Uptime") or 0), self.clock.seconds())
        except ValueError:
            self._uptime = None

    def link_state(self, up: bool) -> None:
        if not up:
            self.down_since = self.clock.seconds()
            self.calls.link_lost()

    def _restarted(self) -> bool:
        if self.down_since is None or self._uptime is None:
            return False
        uptime, seen = self._uptime
        if seen < self.down_since:
            return False  # no FullyBooted on this login: cannot tell, assume not
        return uptime < (seen - self.down_since) + 1.0

    @defer.inlineCallbacks
    def run(self, proto: AmiClientProtocol):
        """Fires when the server agrees with Asterisk again.

        If Asterisk does not answer the listing (an error, a timeout), the link
        is dropped: the server must not run on unsynced (nothing is connected to
        an agent until a resync succeeds), and the reconnect tries again."""
        try:
            yield self._sync(proto)
        except Exception as exc:
            self.log.error("Resync with Asterisk failed ({e}); dropping the link to retry",
                           e=exc)
            transport = getattr(proto, "transport", None)
            if transport is not None:
                transport.loseConnection()

    @defer.inlineCallbacks
    def _sync(self, proto: AmiClientProtocol):
        # FullyBooted follows the login response, possibly in the same read: by
        # the time this first list action is answered it has been seen.
        devices = yield proto.sendListAction("DeviceStateList")
        if self._restarted():
            self.log.warn("Asterisk restarted while the link was down: closing all calls")
            self.calls.asterisk_restarted()
        for event in devices.events:
            self.acd.device_state(event.get("Device", ""), event.get("State", ""))
        # The dialplan's facts first: with our session logged in it writes no more,
        # and the reconcile then follows the channel list at once.
        ours = yield self._notes_are_ours(proto)
        facts = (yield self._read_facts(proto)) if ours else {}
        channels = yield proto.sendListAction("CoreShowChannels")
        live = {e.get("Channel", "") for e in channels.events}
        self.agi.forget_missing(live)
        self.calls.reconcile(channels.events, {f.call_id: f for f in facts.values()})
        if ours:
            collected = yield self._collect_unseen(proto, channels.events, facts)
            for uid in sorted(set(facts) - collected):
                yield self._forget(proto, uid)  # applied above: now they may go
        self.down_since = None
        self.resyncs += 1
        self.log.info("Resynced with Asterisk: {n} channels, {d} device states",
                      n=len(live), d=len(devices.events))

    @defer.inlineCallbacks
    def _notes_are_ours(self, proto: AmiClientProtocol):
        """Fires with True if the dialplan notes calls while *our* AMI user is away.

        If it watches another user's sessions it notes every caller, seen or not:
        collecting would record handled calls twice, so nothing is collected (or
        deleted: the operator sees the notes pile up) until the two agree."""
        try:
            named = yield proto.sendAction("Getvar", [("Variable", "HOTLINE_AMI_USER")])
        except AmiError as exc:
            self.log.warn("Could not read HOTLINE_AMI_USER: {e}", e=exc)
            return False
        user = named.get("Value") or ""
        if user != getattr(proto, "username", user):
            self.log.error(
                "extensions.conf [globals] HOTLINE_AMI_USER is {user!r} but the server "
                "logs in as {ours!r}: notes of unseen callers are not collected until "
                "they agree", user=user, ours=proto.username)
            return False
        return True

    @defer.inlineCallbacks
    def _read_facts(self, proto: AmiClientProtocol):
        """Fires with {Uniqueid: EndFacts}: how calls ended while we were away, as
        the dialplan kept them in AstDB (server/endfacts.py); {} if unreadable."""
        try:
            tree = yield proto.sendListAction("DBGetTree", [("Family", END_FAMILY)])
        except AmiError as exc:
            self.log.warn("Could not read the dialplan's facts of ended calls: {e}", e=exc)
            return {}
        facts = {}
        for entry in tree.events:
            uid = (entry.get("Key") or "").rsplit("/", 1)[-1]
            if uid:
                facts[uid] = EndFacts.parse(uid, entry.get("Val") or "")
        return facts

    @defer.inlineCallbacks
    def _forget(self, proto: AmiClientProtocol, uid: str):
        """Delete a caller's AstDB notes (both families); fires with True once gone.

        Through the dialplan (extensions.conf, hotline-forget): the DBDel action
        would need ``write = system``, which the AMI user must not have.  The
        Originate is synchronous, and the context deletes before it answers, so
        its success means the notes are gone."""
        try:
            yield proto.sendAction("Originate", [
                ("Channel", f"Local/{uid}@{FORGET_CONTEXT}"), ("Context", FORGET_CONTEXT),
                ("Exten", FORGET_DONE_EXTEN), ("Priority", "1"), ("Timeout", "5000")])
        except AmiError as exc:
            self.log.warn("Could not delete the notes of {uid}: {e}", uid=uid, e=exc)
            return False
        return True

    @defer.inlineCallbacks
    def _collect_unseen(self, proto: AmiClientProtocol, channels: list[Message],
                        facts: dict[str, EndFacts]):
        """Callers the dialplan noted in AstDB while we were not logged in; fires
        with the Uniqueids whose notes it deleted.

        A note is deleted first, then acted on (a crash in between loses that
        one record rather than writing it twice).  Callers we know by now (the
        reconcile adopted them) or who are still on a channel we will hear from
        need nothing more; one still in the fallback queue gets a record that
        waits for how it ends there; one who hung up before we were back gets a
        final record, with how it ended if the hangup handler kept it (``facts``).
        """
        done: set[str] = set()
        try:
            tree = yield proto.sendListAction("DBGetTree", [("Family", UNSEEN_FAMILY)])
        except AmiError as exc:
            self.log.warn("Could not read the dialplan's notes of unseen callers: {e}", e=exc)
            return done
        by_uid = {m.get("Uniqueid", ""): m for m in channels}
        for entry in tree.events:
            uid = (entry.get("Key") or "").rsplit("/", 1)[-1]
            epoch, linkedid, dialled, caller = ((entry.get("Val") or "").split(",", 3)
                                                + ["", "", "", ""])[:4]
            call_id = linkedid or uid
            if not uid or not (yield self._forget(proto, uid)):
                continue
            done.add(uid)
            if call_id in self.calls.calls:
                continue
            channel = by_uid.get(uid)
            if channel is not None and not in_fallback(channel):
                continue  # in AsyncAGI (adopted) or on its way: we hear of it now
            try:
                entered = float(epoch)
            except ValueError:
                entered = self.clock.seconds()
            if channel is not None:
                self.log.warn("{call}: came while the server was away; in the fallback "
                              "queue now", call=call_id)
                self.calls.adopt_fallback(call_id, channel.get("Channel", ""), caller,
                                          dialled, entered, "fallback: server-down")
                continue
            note = "hung up while the server was away"
            self.log.warn("{call}: came while the server was away ({note})",
                          call=call_id, note=note)
            self.calls.record_unseen(call_id, caller, dialled, entered, note, facts.get(uid))
        return done
