"""A simulated Asterisk 22 (AMI + AsyncAGI + the hotline dialplan) for tests and demos.

See :class:`server.sim.simulator.Simulator`; scripts for callers and phones are
in :mod:`server.sim.scripts`; :func:`server.sim.memory.connect_in_memory` wires
a client protocol to it without sockets.
"""

from server.sim.ami_server import AmiUser
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
    "Summary", "advance", "connect_in_memory",
]
