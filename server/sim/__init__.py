"""A simulated Asterisk 22 (AMI + AsyncAGI + the hotline dialplan) for tests and demos.

Ground truth: the byte-exact recordings in tests/fixtures/ami-traces; where
they are silent, Asterisk 22's documented behaviour (each such place says so).

Use::

    sim = Simulator(clock)                       # a task.Clock or the reactor
    sim.add_phone(PhoneScript("1001", AgentBehaviour(answer_after=2.0, talk=60)))
    sim.add_caller(CallerScript("13912345678", "张伟", arrive_at=5.0,
                                presses=(Press("1", 0.5, after=COMMAND, command="GET DATA"),)))
    sim.add_local_agent("13912345678", AgentBehaviour(answer_after=3.0),
                        context="sim-customers")         # a callback customer
    sim.phone_dial("1001", "*13", presses=())            # an agent dials a feature code
    server, pump = connect_in_memory(sim, my_client_protocol)   # tests
    advance(clock, pump, 10.0)
    port = sim.listen(reactor, port=0)                           # real TCP
    sim.summary()

Modules: :mod:`.simulator` (composition), :mod:`.core` (channels, dialplan
runner, hangups), :mod:`.agi` (AsyncAGI), :mod:`.dial` (Dial, bridges, hold),
:mod:`.phones` (PJSIP registration), :mod:`.phone_dial` (a phone dials out),
:mod:`.originate` (Originate, ChanSpy),
:mod:`.actions` / :mod:`.ami_server` (AMI), :mod:`.actors` (callers),
:mod:`.dialplan` (extensions.conf subset), :mod:`.events` (values, filter).

Not simulated (events): Newexten, Cdr, CEL, NewCallerid on dialplan Set,
RTCP*, app_queue (Queue() only plays music), the ``Bridge`` action (trace 11).
"""

from server.sim.ami_server import AmiUser, shipped_user
from server.sim.events import EventFilter
from server.sim.memory import advance, connect_in_memory
from server.sim.prompts import PromptCatalog
from server.sim.scripts import (
    ARRIVAL,
    COMMAND,
    DIE,
    REGISTER,
    UNREGISTER,
    AgentBehaviour,
    CallerScript,
    PhoneScript,
    Press,
)
from server.sim.simulator import Simulator, Summary

__all__ = [
    "ARRIVAL", "COMMAND", "DIE", "REGISTER", "UNREGISTER", "AgentBehaviour", "AmiUser",
    "CallerScript", "EventFilter", "PhoneScript", "PromptCatalog", "Press", "Simulator",
    "Summary", "advance", "connect_in_memory", "shipped_user",
]
