"""An agent's softphone dials an extension, e.g. the feature codes ``*11``-``*13``.

Not traced (the lab phones only received calls); Asterisk 22 behaviour: the
phone's INVITE makes chan_pjsip create ``PJSIP/<endpoint>-<n>`` in the
endpoint's ``context`` (``agent-phones``) at the dialled extension, state Ring,
with the endpoint's ``callerid``; the device turns INUSE, and the pbx runs the
dialplan there (an ``include`` does not change the channel's context).  Keys
the agent types arrive as DTMF on that channel (``Direction: Received``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from server.sim.channel import RING, Channel
from server.sim.keypad import Keypad
from server.sim.scripts import Press

if TYPE_CHECKING:
    from server.sim.core import Core
    from server.sim.phones import Phone, PhoneRegistry

PHONE_CONTEXT = "agent-phones"


class PhoneDial:
    """One call from a phone; ``presses`` like a caller's (``after=COMMAND`` arms on
    the next matching ``AGIExecStart`` on this channel)."""

    def __init__(self, core: Core, phones: PhoneRegistry, phone: Phone, exten: str,
                 presses: tuple[Press, ...] = ()) -> None:
        self.core = core
        self.phones = phones
        self.phone = phone
        self.exten = exten
        self.presses = presses
        self.timers: list[Any] = []
        self.keypad = Keypad(core, presses, self.timers)
        self.chan: Channel | None = None
        self.done = False

    def start(self) -> Channel:
        phone, core = self.phone, self.core
        if phone.state != "reachable" or phone.call_state:
            raise ValueError(f"PJSIP/{phone.endpoint} cannot dial now ({phone.state}, "
                             f"{phone.call_state or 'idle'})")
        name = phone.script.caller_name or f"Agent {phone.endpoint}"
        chan = core.new_channel(f"PJSIP/{phone.endpoint}", PHONE_CONTEXT, self.exten,
                                state=RING, caller=(phone.endpoint, name))
        chan.device = phone.device
        self.chan = chan
        phone.call_state = "INUSE"
        self.phones.publish_device(phone)
        core.on_gone[chan.name] = self.stop
        self.keypad.start(chan)
        core.start_pbx(chan, PHONE_CONTEXT, self.exten)
        return chan

    def stop(self) -> None:
        """The channel hung up: the phone is idle again."""
        if self.done:
            return
        self.done = True
        self.keypad.stop()  # and every timer of this call
        self.phone.call_state = ""
        self.phones.publish_device(self.phone)
