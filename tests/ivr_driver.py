"""A scripted caller for IVR engine tests: records every output in order.

Each step checks the engine's contract: outcomes first, at most one AGI
command, and that command last.
"""

from __future__ import annotations

import dataclasses
from functools import cache
from types import MappingProxyType

from ivr.commands import AgiResult, to_agi
from ivr.engine import CallInfo, IvrSession
from ivr.model import IvrConfig, Leaf, Menu, MenuOption
from ivr.outcomes import BillInfo


def is_command(item: object) -> bool:
    return hasattr(item, "agi")


def check_contract(outputs: list) -> None:
    commands = [i for i, item in enumerate(outputs) if is_command(item)]
    assert len(commands) <= 1, outputs
    if commands:
        assert commands[0] == len(outputs) - 1, outputs


# results as Asterisk reports them
PLAYED = AgiResult(200, "0", "endpos=16000")  # STREAM FILE / SAY ran to the end
DONE = AgiResult(200, "1")  # SET VARIABLE, HANGUP
TIMEOUT = AgiResult(200, "", "(timeout)")  # GET DATA with nothing pressed
HASH = AgiResult(200, "")  # GET DATA ended by # alone
GONE = AgiResult(200, "-1")  # channel hung up / AsyncAGI ended


def key(digits: str) -> AgiResult:
    """GET DATA: the digit string itself."""
    return AgiResult(200, digits)


def cut(k: str) -> AgiResult:
    """STREAM FILE / SAY cut short by a key: its ASCII code."""
    return AgiResult(200, str(ord(k)), "endpos=4000")


class Caller:
    def __init__(self, session: IvrSession, number: str = "13864101234") -> None:
        self.session = session
        self.number = number
        self.now = 1_790_000_000.0
        self.log: list = []  # every output, in order

    def _take(self, outputs: list) -> list:
        check_contract(outputs)
        self.log.extend(outputs)
        return outputs

    def start(self, outage=None) -> list:
        call = CallInfo("PJSIP/trunk-0001", self.number)
        return self._take(self.session.start(call, self.now, outage))

    def reply(self, result: AgiResult) -> list:
        self.now += 1
        return self._take(self.session.on_result(result, self.now))

    def replies(self, *results: AgiResult) -> list:
        out: list = []
        for result in results:
            out += self.reply(result)
        return out

    def lookup(self, info: BillInfo | None) -> list:
        return self._take(self.session.on_lookup(info, self.now))

    def hangup(self) -> list:
        return self._take(self.session.on_hangup(self.now))

    def survey(self, intent: str | None) -> list:
        return self._take(self.session.start_survey(self.now, intent))

    @property
    def agi(self) -> list[str]:
        return [to_agi(i) for i in self.log if is_command(i)]

    @property
    def outcomes(self) -> list:
        return [i for i in self.log if not is_command(i)]


@cache
def default_config() -> IvrConfig:
    from server.config import load_config

    return load_config("config").ivr


def deep_config() -> IvrConfig:
    """The default tree plus service > 9 > level3 > level4, for 0 and * at depth."""
    base = default_config()
    menus = dict(base.menus)
    agent = Leaf("general", "general", 50)
    leaf = Leaf("service", "service", 30)
    service = menus["service"]
    menus["service"] = dataclasses.replace(service, options=MappingProxyType(
        {**service.options, "9": MenuOption("9", menu="level3")}))
    menus["level3"] = Menu("level3", "service-menu",
                           MappingProxyType({"1": MenuOption("1", menu="level4")}),
                           Leaf("service", "service", 35), "service", 3)
    menus["level4"] = Menu("level4", "service-menu",
                           MappingProxyType({"1": MenuOption("1", leaf=leaf)}),
                           agent, "level3", 4)
    return dataclasses.replace(base, menus=MappingProxyType(menus))


def session(config: IvrConfig | None = None, **kwargs) -> IvrSession:
    return IvrSession(config or default_config(), **kwargs)
