"""The dialplan's safety net as the simulator runs it (deploy/asterisk/extensions.conf).

No trace covers it; the behaviour follows Asterisk 22's documentation:
TIMEOUT(absolute) and AbsoluteTimeout end the running application as if hung
up and continue at ``T,1``; ``UserEvent`` is the channel snapshot, ``UserEvent``
and the body headers; ``${EPOCH}`` and Getvar EPOCH read Asterisk's clock.
"""

from __future__ import annotations

from twisted.internet.task import Clock

from server.sim import AgentBehaviour, CallerScript, PromptCatalog, Simulator
from server.sim.dialplan import evaluate
from tests.sim_support import Harness

NOW = 1_795_823_000.0  # a real epoch: an unset heartbeat is then long stale


def harness(heartbeat: float | None) -> Harness:
    clock = Clock()
    clock.advance(NOW)
    sim = Simulator(clock)  # the shipped dialplan, HOTLINE_WATCHDOG=30
    h = Harness(sim, clock)
    if heartbeat is not None:
        h.send("Setvar", {"Variable": "HOTLINE_ALIVE_UNTIL", "Value": str(int(heartbeat))}, "hb")
    return h


def arrive(h: Harness, number: str = "13900000001") -> str:
    h.sim.add_caller(CallerScript(number, arrive_at=h.sim.uptime() + 0.5))
    h.run(1.0)
    return next(c.name for c in h.sim.core.channels.values()
                if c.caller_num == number and c.name.endswith(";1"))


def names(h: Harness) -> list[str]:
    return [m.name for m in h.client.events() if m.name != "DeviceStateChange"]


def test_comparisons_are_numeric_when_both_sides_are_numbers():
    assert evaluate("$[1795823000 > 0]") is True
    assert evaluate("$[1795823000 > 01795823030]") is False  # 0${VAR} reads as a number
    assert evaluate("$[10 > 9]") is True  # not "10" < "9" as strings
    assert evaluate('$["abc" < "abd"]') is True
    assert evaluate('$["${X}" = ""]'.replace("${X}", "")) is True
    assert evaluate("$[5 <= 5]") and evaluate("$[5 >= 6]") is False
    assert evaluate("$[3 != 3]") is False


def test_getvar_epoch_without_a_channel_reads_asterisks_clock():
    h = harness(None)
    h.send("Getvar", {"Variable": "EPOCH"}, "e1")
    reply = h.client.responses()[-1]
    assert (reply["Response"], reply["Variable"], reply["Value"]) == (
        "Success", "EPOCH", str(int(NOW)))


def test_without_a_heartbeat_the_caller_never_enters_asyncagi():
    h = harness(None)
    chan = arrive(h)
    assert "AsyncAGIStart" not in names(h)
    fell = h.client.events("UserEvent")[-1]
    assert (fell["Channel"], fell["UserEvent"], fell["Reason"]) == (
        chan, "HotlineFallback", "server-down")
    h.run(5.0)  # sorry-system-busy (2 s default length), then the plain queue
    assert h.client.events("MusicOnHoldStart")[-1]["Channel"] == chan
    assert h.sim.core.channels[chan].application == "Queue"


def test_a_fresh_heartbeat_lets_the_caller_in_and_a_stale_one_does_not():
    h = harness(NOW + 30)
    first = arrive(h, "13900000001")
    assert h.client.events("AsyncAGIStart")[-1]["Channel"] == first
    h.run(40.0)  # the heartbeat is now 11 s stale and nobody refreshed it
    second = arrive(h, "13900000002")
    assert all(m["Channel"] != second for m in h.client.events("AsyncAGIStart"))
    assert h.client.events("UserEvent")[-1]["Channel"] == second


def test_an_unrefreshed_caller_in_asyncagi_falls_back_after_the_watchdog():
    h = harness(NOW + 3600)
    chan = arrive(h)
    entered = h.clock.seconds()
    h.run(29.0)
    assert "AsyncAGIEnd" not in names(h)
    h.run(1.5)
    tail = names(h)[-2:]
    assert tail == ["AsyncAGIEnd", "UserEvent"]  # no SoftHangupRequest: not a hangup
    assert h.sim.core.channels[chan].variables["AGISTATUS"] == "HANGUP"
    assert h.client.events("UserEvent")[-1]["Reason"] == "watchdog"
    assert 29.0 < h.clock.seconds() - entered < 31.0
    h.run(3.0)
    assert h.sim.core.channels[chan].application == "Queue"


def test_absolute_timeout_pushes_the_deadline_and_errors_like_asterisk():
    h = harness(NOW + 3600)
    chan = arrive(h)
    for _ in range(6):  # refreshed every 10 s for a minute: the caller stays with us
        h.run(10.0)
        h.send("AbsoluteTimeout", {"Channel": chan, "Timeout": "30"}, "t")
        assert h.client.responses()[-1]["Message"] == "Timeout Set"
    assert "AsyncAGIEnd" not in names(h)
    for fields, message in (({"Timeout": "30"}, "No channel specified"),
                            ({"Channel": chan, "Timeout": "0"}, "No timeout specified"),
                            ({"Channel": chan, "Timeout": "soon"}, "No timeout specified"),
                            ({"Channel": "PJSIP/none-1", "Timeout": "5"}, "No such channel")):
        h.send("AbsoluteTimeout", fields, "bad")
        reply = h.client.responses()[-1]
        assert (reply["Response"], reply["Message"]) == ("Error", message)
    h.run(31.0)  # the last refresh was not repeated
    assert h.client.events("UserEvent")[-1]["Reason"] == "watchdog"


def test_setvar_on_timeout_absolute_sets_the_deadline_without_a_varset():
    h = harness(NOW + 3600)
    chan = arrive(h)
    before = len(h.client.events("VarSet"))
    h.send("Setvar", {"Channel": chan, "Variable": "TIMEOUT(absolute)", "Value": "2"}, "s")
    assert h.client.responses()[-1]["Message"] == "Variable Set"
    assert len(h.client.events("VarSet")) == before
    h.run(2.5)
    assert h.client.events("UserEvent")[-1]["Reason"] == "watchdog"


def test_after_a_conversation_the_watchdog_says_goodbye_instead_of_queueing():
    h = harness(NOW + 3600)
    h.sim.add_local_agent("1001", AgentBehaviour(answer_after=0.5, talk=2.0))
    chan = arrive(h)
    h.send("Setvar", {"Channel": chan, "Variable": "AGENT_IFACE",
                      "Value": "Local/1001@sim-agents"}, "v")
    h.send("Redirect", {"Channel": chan, "Context": "acd-connect", "Exten": "s",
                        "Priority": "1"}, "r")
    h.run(5.0)  # rang, answered, talked 2 s, the agent hung up: back in AsyncAGI
    assert h.client.events("AsyncAGIStart")[-1]["Channel"] == chan
    assert h.client.events("DialEnd")[-1]["DialStatus"] == "ANSWER"
    h.run(31.0)  # nobody drives the survey
    assert h.client.events("UserEvent") == []
    assert chan not in h.sim.core.channels  # goodbye played, then hung up
    assert h.client.events("Hangup")[-1]["Channel"] in (chan, chan[:-1] + "2")


def test_callers_are_noted_in_astdb_only_while_the_server_is_not_logged_in():
    clock = Clock()
    clock.advance(NOW)
    h = Harness(Simulator(clock), clock)  # logged in as "acd", not the hotline user
    h.send("Setvar", {"Variable": "HOTLINE_ALIVE_UNTIL", "Value": str(int(NOW + 3600))}, "hb")
    chan = arrive(h)
    uid = h.sim.core.channels[chan].uniqueid
    assert h.sim.core.astdb == {("hotline_unseen", uid): f"{int(NOW)},{uid},95598,13900000001"}
    h.sim.core.globals["HOTLINE_AMI_USER"] = "acd"  # now "the server" is logged in
    arrive(h, "13900000002")
    assert len(h.sim.core.astdb) == 1


def test_dbgettree_and_dbdel_answer_like_asterisk():
    h = harness(NOW + 3600)
    h.sim.core.astdb.update({("hotline_unseen", "1.1"): "a", ("hotline_unseen", "1.2"): "b",
                             ("other", "x"): "c"})
    h.send("DBGetTree", {"Family": "hotline_unseen"}, "t1")
    msgs = [m for m in h.client.messages if m.action_id == "t1"]
    assert (msgs[0]["Response"], msgs[0]["EventList"], msgs[0]["Message"]) == (
        "Success", "start", "Result will follow")
    rows = [m for m in msgs if m.name == "DBGetTreeResponse"]
    assert [(m["Key"], m["Val"]) for m in rows] == [("/hotline_unseen/1.1", "a"),
                                                    ("/hotline_unseen/1.2", "b")]
    assert [k for k, _ in rows[0].headers] == ["Event", "Key", "Val", "ActionID"]
    done = msgs[-1]
    assert (done.name, done["EventList"], done["ListItems"]) == (
        "DBGetTreeComplete", "Complete", "2")
    h.send("DBDel", {"Family": "hotline_unseen", "Key": "1.1"}, "d1")
    assert h.client.responses()[-1]["Message"] == "Key deleted successfully"
    for fields, message in (({"Key": "1.2"}, "No family specified."),
                            ({"Family": "hotline_unseen"}, "No key specified."),
                            ({"Family": "hotline_unseen", "Key": "1.1"},
                             "Database entry could not be deleted")):
        h.send("DBDel", fields, "d2")
        assert (h.client.responses()[-1]["Response"], h.client.responses()[-1]["Message"]) == (
            "Error", message)
    assert set(h.sim.core.astdb) == {("hotline_unseen", "1.2"), ("other", "x")}


def _agent_leg_alive(h: Harness, channel: str) -> bool:
    return h.sim.core.find(channel) is not None


def test_a_feature_code_without_a_server_is_hung_up_at_the_agent_watchdog():
    """Nobody drives the *13 dialogue (the daemon is dead): the agent hears
    silence for HOTLINE_AGENT_WATCHDOG (90 s), then the phone is free again."""
    from server.sim import PhoneScript

    h = harness(NOW + 600)
    h.sim.add_phone(PhoneScript("1007", AgentBehaviour()))
    h.run(1.0)
    channel = h.sim.phone_dial("1007", "*13")
    h.run(60.0)
    assert _agent_leg_alive(h, channel)
    h.run(40.0)
    assert not _agent_leg_alive(h, channel)
    assert not h.sim.phones.phones["1007"].call_state  # free for the next call


def _sounds() -> PromptCatalog:
    """One file per language, as deploy/prompts/synthesize.py writes them."""
    return PromptCatalog({"zh/hotline/sorry-system-busy": 5.0,
                          "en/hotline/sorry-system-busy": 4.0}, default=None)


def test_the_apology_of_a_caller_the_server_never_saw_is_in_the_default_language():
    # Issue 12: 9 of 10 fallback apologies were English, the channel's language
    # being Asterisk's default.  The dialplan sets HOTLINE_LANGUAGE on entry.
    clock = Clock()
    clock.advance(NOW)
    h = Harness(Simulator(clock, prompts=_sounds()), clock)
    chan = arrive(h)  # no heartbeat: straight to the fallback
    h.run(6.0)
    assert h.sim.core.channels[chan].played == ["zh/hotline/sorry-system-busy"]
    assert h.client.events("UserEvent")[-1]["Language"] == "zh"


def test_a_caller_who_chose_english_hears_the_apology_in_english():
    clock = Clock()
    clock.advance(NOW)
    h = Harness(Simulator(clock, prompts=_sounds()), clock)
    h.send("Setvar", {"Variable": "HOTLINE_ALIVE_UNTIL", "Value": str(int(NOW + 300))}, "hb")
    chan = arrive(h)
    h.client.send("AGI", {"Channel": chan, "Command": "SET VARIABLE CHANNEL(language) en",
                          "CommandID": "lang"})
    h.run(40.0)  # nobody pushes the caller's deadline (HOTLINE_WATCHDOG=30): fallback
    assert h.client.events("UserEvent")[-1]["Reason"] == "watchdog"
    assert h.sim.core.channels[chan].played == ["en/hotline/sorry-system-busy"]
