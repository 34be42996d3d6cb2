"""The dialplan subset parser and the shipped deploy/asterisk/extensions.conf."""

from __future__ import annotations

import pytest

from server.sim.dialplan import DialplanError, evaluate, load, parse, split_args, substitute
from server.sim.simulator import DEFAULT_DIALPLAN


def test_shipped_file_parses_with_the_contexts_the_hotline_needs() -> None:
    dp = load(DEFAULT_DIALPLAN)
    hotline = [(s.priority, s.label, s.app) for s in dp.contexts["hotline"]["95598"]]
    assert hotline[:9] == [(1, None, "Set"), (2, None, "Set"), (3, None, "Set"),
                           (4, None, "Answer"), (5, None, "GotoIf"), (6, None, "Set"),
                           (7, "seen", "GotoIf"), (8, None, "Set"), (9, "agi", "AGI")]
    # Every caller hears the default language from the start, the fallback's too, and
    # a hangup handler keeps how the call ended for a server that was not there.
    assert dp.contexts["hotline"]["95598"][1].data == "CHANNEL(language)=${HOTLINE_LANGUAGE}"
    assert dp.contexts["hotline"]["95598"][2].data == (
        "CHANNEL(hangup_handler_push)=hotline-facts,s,1")
    assert [s.app for s in dp.contexts["hotline"]["95598"]][9:] == [
        "Set", "GotoIf", "GotoIf", "Hangup", "Set", "Goto", "Set", "UserEvent", "Playback",
        "Set", "MixMonitor", "Queue", "Hangup"]
    assert dp.label_priority("hotline", "95598", "fallback") == 17
    assert [s.app for s in dp.contexts["hotline"]["T"]] == ["Set", "Goto"]
    connect = [(s.app, s.data) for s in dp.contexts["acd-connect"]["s"]]
    assert connect[:4] == [
        ("Set", "TIMEOUT(absolute)=0"), ("NoOp", "connect to ${AGENT_IFACE}"),
        ("MixMonitor", "${HOTLINE_RECORDINGS}/${UNIQUEID}.wav"),
        ("Dial", "${AGENT_IFACE},${DIAL_TIMEOUT},g")]
    assert [s.app for s in dp.contexts["acd-connect"]["s"]][4:] == [
        "GotoIf", "Set", "GotoIf", "Set", "StopMixMonitor", "Set", "Set", "AGI", "Set",
        "GotoIf", "Hangup"]
    assert [s.app for s in dp.contexts["hotline-facts"]["s"]] == [
        "Set", "GotoIf", "Set", "Return", "GotoIf", "UserEvent", "Return"]
    assert dp.has_exten("hotline-forget", "1796588586.147")
    assert dp.has_exten("acd-connect", "T")
    assert dp.globals["HOTLINE_WATCHDOG"] == "30"
    assert dp.globals["HOTLINE_AMI_USER"] == "hotline"  # config/server.yaml ami.username
    assert dp.hints[("agent-phones", "1001")] == "PJSIP/1001"
    cb = [s.app for s in dp.contexts["acd-callback-agent"]["s"]]
    assert cb == ["NoOp", "Set", "AGI", "Set", "GotoIf", "MixMonitor", "Dial",
                  "StopMixMonitor", "Hangup"]
    assert dp.globals["HOTLINE_AGENT_WATCHDOG"] == "90"
    assert dp.has_exten("acd-callback-agent", "T") and dp.has_exten("agent-phones", "T")
    assert dp.globals["CALLBACK_TECH"] == "Local"
    assert dp.includes["agent-phones"] == ("agent-features",)
    assert [s.app for s in dp.steps("agent-phones", "*13")] == ["Answer", "Set", "AGI",
                                                                "Hangup"]
    assert not dp.has_exten("agent-phones", "*21")


def test_parse_priorities_labels_and_hints() -> None:
    dp = parse("""
; comment
[ctx]
exten => 1,1,NoOp(a, b)   ; trailing comment
 same => n(lbl),Wait(1)
 same => n,Hangup
exten => 2,hint,PJSIP/2
""")
    steps = dp.contexts["ctx"]["1"]
    assert [(s.priority, s.label, s.app, s.data) for s in steps] == [
        (1, None, "NoOp", "a, b"), (2, "lbl", "Wait", "1"), (3, None, "Hangup", "")]
    assert dp.step("ctx", "1", 2) == steps[1]
    assert dp.step("ctx", "1", 4) is None
    assert dp.hints == {("ctx", "2"): "PJSIP/2"}


@pytest.mark.parametrize("text", [
    "exten => 1,1,NoOp()",  # no context
    "[c]\nsame => n,NoOp()",  # same without exten
    "[c]\nexten => 1,n,NoOp()",  # n first
    "[c]\n#include other.conf",
    "[c]\nexten => 1,1,Bad App()",
])
def test_unsupported_lines_are_refused(text: str) -> None:
    with pytest.raises(DialplanError):
        parse(text)


def test_expressions() -> None:
    values = {"AGENT_IFACE": "PJSIP/1001", "EMPTY": ""}
    sub = substitute('$["${AGENT_IFACE}" != ""]', lambda n: values.get(n, ""))
    assert sub == '$["PJSIP/1001" != ""]'
    assert evaluate(sub) is True
    assert evaluate('$["" = ""]') is True
    assert evaluate('$["x" = ""]') is False
    assert evaluate("0") is False and evaluate("1") is True
    with pytest.raises(DialplanError):
        evaluate("$[1 + 1]")
    assert split_args('$["a,b" = ""]?x,y,1:z') == ['$["a,b" = ""]?x', "y", "1:z"]


def test_patterns_includes_and_globals() -> None:
    dp = parse("""
[globals]
TRUNK=sim-customers
[phones]
include => features
exten => 1001,1,NoOp(exact)
[features]
exten => _*1X,1,Answer()
exten => _[4-5]N.,1,NoOp(range)
exten => _1001,1,NoOp(pattern loses to exact)
""")
    assert dp.globals == {"TRUNK": "sim-customers"}
    assert dp.step("phones", "*13", 1).app == "Answer"  # through the include
    assert not dp.has_exten("phones", "*1")  # X is exactly one digit
    assert dp.has_exten("features", "452") and not dp.has_exten("features", "45")  # . is 1+
    assert not dp.has_exten("features", "412")  # N is 2-9
    assert dp.step("phones", "1001", 1).data == "exact"


@pytest.mark.parametrize("cond, expected", [
    ("$[10 > 9]", True),            # two numbers compare as numbers ...
    ("$[010 = 10]", True),          # ... leading zeros and all (0${UNSET} reads as 0)
    ("$[1.5 <= 1.25]", False),
    ("$[-1 < 0]", True),
    ("$[10 > 9a]", False),          # anything else compares as strings: "10" < "9a"
    ("$[abc < abd]", True),
    ('$["b" >= "a"]', True),
    ("$[abc != abc]", False),
])
def test_gotoif_comparisons_are_numeric_only_between_two_numbers(cond: str,
                                                                 expected: bool) -> None:
    assert evaluate(cond) is expected
