"""PJSIP agent softphones: registration, qualify, device state (trace 09).

Phone states: ``unregistered`` -> ``reachable`` (REGISTER) -> ``unregistered``
(REGISTER Expires: 0), or ``reachable`` -> ``dead`` (the process died; nothing
is sent) -> ``unreachable`` (the next qualify timed out) -> ``reachable`` when
it registers again (remove_existing replaces the old contact).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from server.sim.events import event
from server.sim.scripts import DIE, REGISTER, UNREGISTER, AgentBehaviour, PhoneScript

if TYPE_CHECKING:
    from server.sim.core import Core

EXT_STATUS = {"NOT_INUSE": (0, "Idle"), "INUSE": (1, "InUse"), "UNAVAILABLE": (4, "Unavailable"),
              "RINGING": (8, "Ringing")}


@dataclass
class Phone:
    script: PhoneScript
    state: str = "unregistered"
    contact: str | None = None
    call_state: str = ""  # "", "RINGING", "INUSE"
    registered_at: float = 0.0
    port: int = 5071
    notice: Any = None
    calls_offered: int = 0

    def next_behaviour(self) -> AgentBehaviour:
        behaviour = self.script.behaviour_for(self.calls_offered)
        self.calls_offered += 1
        return behaviour

    @property
    def endpoint(self) -> str:
        return self.script.endpoint

    @property
    def device(self) -> str:
        return f"PJSIP/{self.endpoint}"

    @property
    def device_state(self) -> str:
        if self.state not in ("reachable", "dead"):
            return "UNAVAILABLE"
        return self.call_state or "NOT_INUSE"


class PhoneRegistry:
    """Every simulated phone; emits the registration/qualify events."""

    def __init__(self, core: Core, qualify_frequency: float = 5.0, qualify_timeout: float = 2.0
                 ) -> None:
        self.core = core
        self.phones: dict[str, Phone] = {}
        self.qualify_frequency = qualify_frequency
        self.qualify_timeout = qualify_timeout
        self._contact_seq = 0

    def add(self, script: PhoneScript) -> Phone:
        phone = Phone(script, port=5071 + 10 * len(self.phones))
        self.phones[script.endpoint] = phone
        if script.registered:
            self.register(phone)
        for at, what in script.timeline:
            fn = {REGISTER: self.register, UNREGISTER: self.unregister, DIE: self.die}[what]
            self.core.clock.callLater(max(0.0, at - self.core.clock.seconds()), fn, phone)
        return phone

    # -- events ------------------------------------------------------------
    def _security(self, name: str, phone: Phone, *extra: tuple[str, str]) -> None:
        self.core.publish(event(name, "security", [
            ("EventTV", "1970-01-01T00:00:00.000+0000"), ("Severity", "Informational"),
            ("Service", "PJSIP"), ("EventVersion", "1"), ("AccountID", phone.endpoint),
            ("SessionID", f"{self.core.rng.getrandbits(64):016x}"),
            ("LocalAddress", "IPV4/UDP/127.0.0.1/5060"),
            ("RemoteAddress", f"IPV4/UDP/127.0.0.1/{phone.port}"), *extra]))

    def _contact(self, phone: Phone, uri: str, status: str, rtt: str = "0") -> None:
        self.core.publish(event("ContactStatus", "system", [
            ("URI", uri), ("ContactStatus", status), ("AOR", phone.endpoint),
            ("EndpointName", phone.endpoint), ("RoundtripUsec", rtt)]))

    def _peer(self, phone: Phone, status: str) -> None:
        self.core.publish(event("PeerStatus", "system", [
            ("ChannelType", "PJSIP"), ("Peer", phone.device), ("PeerStatus", status)]))

    def publish_device(self, phone: Phone) -> None:
        state = phone.device_state
        self.core.device_state(phone.device, state)
        self.extension_status(phone)

    def extension_status(self, phone: Phone) -> None:
        for (context, exten), device in self.core.dialplan.hints.items():
            if device == phone.device:
                code, text = EXT_STATUS[phone.device_state]
                self.core.publish(event("ExtensionStatus", "call", [
                    ("Exten", exten), ("Context", context), ("Hint", device),
                    ("Status", str(code)), ("StatusText", text)]))

    # -- transitions -------------------------------------------------------
    def register(self, phone: Phone) -> None:
        if phone.state == "reachable":
            return
        self._contact_seq += 1
        tag = 0x560D55EE5580 + self._contact_seq
        uri = f"sip:{phone.endpoint}-0x{tag:x}@127.0.0.1:{phone.port}"
        old = phone.contact
        self._security("ChallengeSent", phone, ("Challenge", ""))
        self._security("SuccessfulAuth", phone, ("UsingPassword", "1"))
        self._contact(phone, uri, "NonQualified")
        if old is not None:
            self._contact(phone, old, "Removed")  # remove_existing = yes
        phone.contact, phone.state = uri, "reachable"
        phone.registered_at = self.core.clock.seconds()
        if phone.notice is not None and phone.notice.active():
            phone.notice.cancel()
        phone.notice = None
        self._peer(phone, "Reachable")
        self._contact(phone, uri, "Reachable", "311")
        self.publish_device(phone)

    def unregister(self, phone: Phone) -> None:
        if phone.state not in ("reachable", "unreachable"):
            return
        self._security("ChallengeSent", phone, ("Challenge", ""))
        self._security("SuccessfulAuth", phone, ("UsingPassword", "1"))
        phone.state = "unregistered"
        self._peer(phone, "Unreachable")
        self._contact(phone, phone.contact or "", "Removed")
        phone.contact = None
        self.publish_device(phone)

    def die(self, phone: Phone) -> None:
        """The softphone process is gone; Asterisk learns at the next qualify."""
        if phone.state != "reachable":
            return
        phone.state = "dead"
        now = self.core.clock.seconds()
        since = now - phone.registered_at
        periods = int(since // self.qualify_frequency) + 1
        next_qualify = phone.registered_at + periods * self.qualify_frequency
        phone.notice = self.core.clock.callLater(
            next_qualify + self.qualify_timeout - now, self._qualify_failed, phone)

    def _qualify_failed(self, phone: Phone) -> None:
        phone.notice = None
        if phone.state != "dead":
            return
        phone.state = "unreachable"
        self._peer(phone, "Unreachable")
        self.extension_status(phone)
        self.core.device_state(phone.device, "UNAVAILABLE")
        self._contact(phone, phone.contact or "", "Unreachable")
