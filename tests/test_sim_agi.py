"""AsyncAGI semantics of the simulator: queue, results, type-ahead, session end."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet.task import Clock

from server.ami.asyncagi import decode_env, parse_agi_result
from server.sim import COMMAND, AgentBehaviour, CallerScript, Press, PromptCatalog, Simulator
from server.sim.dialplan import load
from server.sim.simulator import DEFAULT_DIALPLAN
from tests.sim_support import Harness

PROMPTS = PromptCatalog({"welcome": 1.9, "menu": 2.8, "enter-account": 3.0})


def arrive(script: CallerScript, agi_delay: float = 0.02) -> tuple[Harness, str]:
    clock = Clock()
    sim = Simulator(clock, prompts=PROMPTS, agi_delay=agi_delay, seed=7).without_safety_net()
    h = Harness(sim, clock)
    sim.add_caller(script)
    h.run(script.arrive_at + 0.001)
    start = h.client.events("AsyncAGIStart")[-1]
    return h, start["Channel"]


def result(msg) -> tuple[int, str, str]:
    return parse_agi_result(msg["Result"])


def test_env_has_every_agi_key_in_order_and_chinese_names_survive() -> None:
    h, chan = arrive(CallerScript("13912345678", "张三"))
    start = h.client.events("AsyncAGIStart")[0]
    env = decode_env(start["Env"])
    assert list(env) == [
        "agi_request", "agi_channel", "agi_language", "agi_type", "agi_uniqueid",
        "agi_version", "agi_callerid", "agi_calleridname", "agi_callingpres",
        "agi_callingani2", "agi_callington", "agi_callingtns", "agi_dnid", "agi_rdnis",
        "agi_context", "agi_extension", "agi_priority", "agi_enhanced", "agi_accountcode",
        "agi_threadid"]
    assert env["agi_calleridname"] == "张三"
    assert env["agi_channel"] == chan == "Local/13912345678@sim-callers-00000000;1"
    assert (env["agi_context"], env["agi_extension"], env["agi_priority"]) == (
        "hotline", "95598",
        str(load(DEFAULT_DIALPLAN).label_priority("hotline", "95598", "agi")))  # the agi label
    assert env["agi_language"] == "zh"  # the dialplan set it on entry (HOTLINE_LANGUAGE)
    assert start["CallerIDName"] == "张三"
    assert start["Env"].endswith("%0A%0A")


def test_commands_run_fifo_one_at_a_time_after_the_configured_delay() -> None:
    h, chan = arrive(CallerScript("1"), agi_delay=0.05)
    t0 = h.clock.seconds()
    for i, cmd in enumerate(['STREAM FILE welcome ""', "NOOP", "SET VARIABLE X y"]):
        h.send("AGI", {"Channel": chan, "Command": cmd, "CommandID": f"c{i}"}, f"a{i}")
    assert [m["Message"] for m in h.client.responses()[-3:]] == ["Added AGI command to queue"] * 3
    h.run(0.049)
    assert h.client.events("AGIExecStart") == []
    h.run(0.002)
    assert len(h.client.events("AGIExecStart")) == 1
    h.run(2.0)
    names = [m.name for m in h.client.events() if m.name.startswith(("AGIExec", "AsyncAGIExec"))]
    assert names == ["AGIExecStart", "AGIExecEnd", "AsyncAGIExec"] * 3
    execs = h.client.events("AsyncAGIExec")
    assert [m["CommandId"] for m in execs] == ["c0", "c1", "c2"]
    assert [m.headers[-1][0] for m in execs] == ["CommandId"] * 3  # last header
    assert result(execs[0]) == (200, "0", "endpos=15200")
    starts = h.client.events("AGIExecStart")
    ends = h.client.events("AGIExecEnd")
    assert [s["CommandId"] for s in starts] == [e["CommandId"] for e in ends]
    assert all(s["CommandId"].isdigit() for s in starts)  # Asterisk's own ids
    assert h.clock.seconds() - t0 > 1.9


def test_get_data_type_ahead_during_prompt_and_hash_ends_input() -> None:
    script = CallerScript("1", presses=(Press("12#", 1.0, after=COMMAND, command="GET DATA"),))
    h, chan = arrive(script)
    msg = h.agi(chan, "GET DATA menu 5000 4", "g1")
    assert result(msg) == (200, "12", "")
    # the first digit cut the 2.8 s prompt: the whole command took ~1.6 s
    assert h.client.events("DTMFEnd")[0]["DurationMs"] == "100"
    assert [m["Direction"] for m in h.client.events("DTMFBegin")] == ["Received"] * 3


def test_get_data_timeouts() -> None:
    h, chan = arrive(CallerScript("1", presses=(
        Press("7", 3.5, after=COMMAND, command="GET DATA"),)))
    t0 = h.clock.seconds()
    first = h.agi(chan, "GET DATA menu 1000 3", "g1")  # digit after the prompt, then silence
    assert result(first) == (200, "7", "(timeout)")
    assert 4.5 < h.clock.seconds() - t0 < 4.8
    second = h.agi(chan, "GET DATA menu 300 1", "g2")
    assert result(second) == (200, "", "(timeout)")


def test_get_data_max_digits_completes_without_timeout() -> None:
    h, chan = arrive(CallerScript("1", presses=(Press("58", 0.5, after=COMMAND),)))
    assert result(h.agi(chan, "GET DATA menu 5000 2", "g1")) == (200, "58", "")


def test_stream_file_escape_digit_interrupts_with_ascii_code_and_endpos() -> None:
    h, chan = arrive(CallerScript("1", presses=(Press("31", 1.0, after=COMMAND),)))
    msg = h.agi(chan, "STREAM FILE enter-account 12", "s1")
    code, value, data = result(msg)
    assert (code, value) == (200, "49")  # '3' is not an escape digit; '1' is
    # '1' begins 1.25 s into the prompt and counts at its DTMFEnd 100 ms later: 8 kHz samples
    assert data == "endpos=10800"
    assert h.client.events("AGIExecEnd")[-1]["Result"] == "Success"


def test_digits_between_commands_are_dropped() -> None:
    h, chan = arrive(CallerScript("1", presses=(Press("5", 0.1),)))
    h.run(1.0)
    assert result(h.agi(chan, "WAIT FOR DIGIT 500", "w1")) == (200, "0", "")


def test_wait_for_digit_say_and_variables() -> None:
    h, chan = arrive(CallerScript("1", name="Sim Caller", presses=(
        Press("2", 0.3, after=COMMAND, command="WAIT FOR DIGIT"),)))
    assert result(h.agi(chan, "WAIT FOR DIGIT -1", "w1")) == (200, "50", "")
    t0 = h.clock.seconds()
    assert result(h.agi(chan, "SAY DIGITS 1234 #", "s1")) == (200, "0", "")
    assert 2.4 <= h.clock.seconds() - t0 < 2.5  # 4 x 0.6 s
    assert result(h.agi(chan, "SAY NUMBER 95 #", "s2")) == (200, "0", "")
    assert result(h.agi(chan, 'SET VARIABLE GREETING "hello world; a=b&c"', "v1")) == (200, "1", "")
    got = h.agi(chan, "GET VARIABLE GREETING", "v2")
    assert got["Result"] == "200%20result%3D1%20(hello%20world%3B%20a%3Db%26c)%0A"
    assert result(h.agi(chan, "GET VARIABLE NOPE", "v3")) == (200, "0", "")
    assert result(h.agi(chan, "GET FULL VARIABLE ${CALLERID(name)}", "v4")) == (
        200, "1", "(Sim Caller)")
    assert result(h.agi(chan, "CHANNEL STATUS", "c1")) == (200, "6", "")
    assert result(h.agi(chan, 'VERBOSE "from the ACD" 1', "c2")) == (200, "1", "")
    varsets = [(m["Variable"], m["Value"]) for m in h.client.events("VarSet")]
    assert ("GREETING", "hello world; a=b&c") not in varsets  # shipped filter drops it


def test_unknown_command_and_unknown_application_keep_the_session() -> None:
    h, chan = arrive(CallerScript("1"))
    bad = h.agi(chan, "FOO BAR", "x1")
    assert result(bad) == (510, "", "Invalid or unknown command")
    end = h.client.events("AGIExecEnd")[-1]
    assert (end["ResultCode"], end["Result"]) == ("510", "Invalid or unknown command")
    app = h.agi(chan, "EXEC NoSuchApp foo", "x2")
    assert result(app) == (200, "-2", "")
    end = h.client.events("AGIExecEnd")[-1]
    assert (end["ResultCode"], end["Result"]) == ("200", "Unknown Result")
    assert h.client.events("AsyncAGIEnd") == []
    assert result(h.agi(chan, "EXEC Playback welcome", "x3")) == (200, "0", "")


def test_command_without_command_id_has_no_command_id_header() -> None:
    h, chan = arrive(CallerScript("1"))
    msg = h.agi(chan, "NOOP", None)
    assert "CommandId" not in msg
    assert msg.headers[-1][0] == "Result"


def test_missing_prompt_fails_the_session_into_the_fallback_queue() -> None:
    h, chan = arrive(CallerScript("1"))
    msg = h.agi(chan, 'STREAM FILE no-such-file ""', "m1")
    assert result(msg) == (200, "-1", "endpos=0")
    end = h.client.events("AGIExecEnd")[-1]
    assert (end["ResultCode"], end["Result"]) == ("-1", "Failure")
    names = [m.name for m in h.client.events()]
    assert names[-2:] == ["AsyncAGIEnd", "UserEvent"]
    fell = h.client.events("UserEvent")[-1]
    # Asterisk 22 app_userevent: the channel snapshot, then UserEvent, then the body.
    assert [k for k, _ in fell.headers[-2:]] == ["UserEvent", "Reason"]
    assert (fell["Channel"], fell["UserEvent"], fell["Reason"]) == (
        chan, "HotlineFallback", "agi-failure")
    assert h.sim.core.channels[chan].variables["AGISTATUS"] == "FAILURE"
    h.run(2.1)  # the sorry prompt (2 s default), then Queue(hotline-fallback) plays MOH
    assert h.client.events("MusicOnHoldStart")[-1]["Channel"] == chan
    assert h.sim.summary().calls_active == 1
    h.send("Hangup", {"Channel": chan}, "h1")
    assert h.sim.summary().calls_active == 0
    assert h.pending_calls() == 0


def test_async_agi_break_without_agent_hangs_up() -> None:
    h, chan = arrive(CallerScript("1"))
    h.agi(chan, "ASYNCAGI BREAK", "b1")
    names = [m.name for m in h.client.events() if m.name != "DeviceStateChange"]
    assert names[-7:] == ["AsyncAGIExec", "AsyncAGIEnd", "SoftHangupRequest", "HangupRequest",
                          "Hangup", "SoftHangupRequest", "Hangup"]
    assert [m["Channel"][-2:] for m in h.client.events("Hangup")] == [";1", ";2"]
    assert h.sim.summary().channels_active == 0
    assert h.pending_calls() == 0


def test_caller_hangup_cuts_running_command_and_drops_queued_ones() -> None:
    h, chan = arrive(CallerScript("1", patience=1.0))
    for cid in ("q1", "q2"):
        h.send("AGI", {"Channel": chan, "Command": 'STREAM FILE enter-account ""',
                       "CommandID": cid}, cid)
    h.run(2.0)
    execs = h.client.events("AsyncAGIExec")
    assert [m["CommandId"] for m in execs] == ["q1"]
    code, value, data = result(execs[0])
    assert (code, value) == (200, "-1") and data.startswith("endpos=")
    names = [m.name for m in h.client.events() if m.name != "DeviceStateChange"]
    i = names.index("AsyncAGIExec")
    assert names[i - 4:i + 4] == ["SoftHangupRequest", "HangupRequest", "Hangup", "AGIExecEnd",
                                  "AsyncAGIExec", "AsyncAGIEnd", "SoftHangupRequest", "Hangup"]
    h.send("AGI", {"Channel": chan, "Command": "ANSWER", "CommandID": "late"}, "late")
    assert h.client.responses()[-1]["Message"] == f"Channel {chan} does not exist."
    assert h.pending_calls() == 0


def test_redirect_cuts_running_moh_and_keeps_the_queued_command() -> None:
    h, chan = arrive(CallerScript("1"))
    h.sim.add_local_agent("1009", AgentBehaviour(None))  # rings until the Dial timeout
    h.send("AGI", {"Channel": chan, "Command": "EXEC MusicOnHold default,20",
                   "CommandID": "moh"}, "a1")
    h.send("AGI", {"Channel": chan, "Command": 'STREAM FILE welcome ""',
                   "CommandID": "queued"}, "a2")
    h.run(1.0)
    h.send("Setvar", {"Channel": chan, "Variable": "AGENT_IFACE",
                      "Value": "Local/1009@sim-agents"}, "s1")
    h.send("Setvar", {"Channel": chan, "Variable": "DIAL_TIMEOUT", "Value": "3"}, "s2")
    h.send("Redirect", {"Channel": chan, "Context": "acd-connect", "Exten": "s",
                        "Priority": "1"}, "r1")
    assert h.client.responses()[-1]["Message"] == "Redirect successful"
    names = [m.name for m in h.client.events()]
    i = names.index("MusicOnHoldStop")
    assert names[i:i + 4] == ["MusicOnHoldStop", "AGIExecEnd", "AsyncAGIExec", "AsyncAGIEnd"]
    assert result(h.client.events("AsyncAGIExec")[0]) == (200, "-1", "")
    h.run(3.5)  # Dial NOANSWER, back into AGI(agi:async): the queued command runs at once
    starts = h.client.events("AsyncAGIStart")
    assert len(starts) == 2 and "acd-connect" in decode_env(starts[1]["Env"])["agi_context"]
    h.run(2.0)
    execs = h.client.events("AsyncAGIExec")
    assert execs[-1]["CommandId"] == "queued"
    assert result(h.agi(chan, "GET VARIABLE DIALSTATUS", "d1")) == (200, "1", "(NOANSWER)")


def test_agi_to_a_channel_that_never_ran_agi_is_refused() -> None:
    h, chan = arrive(CallerScript("1"))
    two = chan[:-1] + "2"  # the caller's own half never runs AGI(agi:async)
    h.send("AGI", {"Channel": two, "Command": "ANSWER", "CommandID": "x"}, "x")
    assert h.client.responses()[-1]["Message"] == "Failed to add AGI command to queue"
    h.send("AGI", {"Channel": two}, "y")
    assert h.client.responses()[-1]["Message"] == "Both, Channel and Command are *required*"


COMMANDS = ['STREAM FILE welcome ""', "NOOP", "SET VARIABLE X 1", "WAIT FOR DIGIT 200",
            "GET DATA menu 300 1", "EXEC Wait 0.3", "SAY DIGITS 12 #", "FOO"]


@settings(derandomize=True, max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(COMMANDS), st.floats(0, 3)), min_size=1, max_size=8))
def test_random_command_bursts_run_fifo_without_overlap(burst) -> None:
    h, chan = arrive(CallerScript("1"))
    for i, (cmd, gap) in enumerate(burst):
        h.send("AGI", {"Channel": chan, "Command": cmd, "CommandID": f"c{i}"}, f"a{i}")
        h.run(gap)
    h.run(15.0)
    agi = [m for m in h.client.events() if m.name in ("AGIExecStart", "AGIExecEnd",
                                                      "AsyncAGIExec")]
    assert [m.name for m in agi] == ["AGIExecStart", "AGIExecEnd", "AsyncAGIExec"] * len(burst)
    assert [m["CommandId"] for m in agi[2::3]] == [f"c{i}" for i in range(len(burst))]
    assert h.client.events("AsyncAGIEnd") == []


def test_a_long_queue_of_instant_commands_does_not_recurse() -> None:
    h, chan = arrive(CallerScript("1"))
    for i in range(3000):
        h.client.send("AGI", {"Channel": chan, "Command": "NOOP", "CommandID": f"n{i}"})
    h.pump.flush()
    h.run(0.05)
    execs = h.client.events("AsyncAGIExec")
    assert len(execs) == 3000 and execs[-1]["CommandId"] == "n2999"


# ---- prompts are looked up in the channel's language (issue 12, GUIDE §2.10) -----------

def test_lookup_order_is_asterisks():
    from server.sim.prompts import lookup_order

    # main/file.c fileexists_core: language, each dialect stripped, none, then en.
    assert lookup_order("hotline/welcome", "zh_CN") == [
        "zh_CN/hotline/welcome", "zh/hotline/welcome", "hotline/welcome",
        "en/hotline/welcome"]
    assert lookup_order("hotline/welcome", "en") == ["en/hotline/welcome", "hotline/welcome"]
    catalog = PromptCatalog({"en/hotline/welcome": 2.0, "zh/hotline/welcome": 3.0},
                            default=None)
    assert catalog.find("hotline/welcome", "zh_TW") == ("zh/hotline/welcome", 3.0)
    assert catalog.find("hotline/welcome", "fr") == ("en/hotline/welcome", 2.0)
    assert catalog.find("hotline/goodbye", "zh") is None


SOUNDS = PromptCatalog({"zh/hotline/welcome": 3.0, "en/hotline/welcome": 2.0,
                        "zh/hotline/menu": 2.5}, default=None)


def arrive_with(prompts: PromptCatalog) -> tuple[Harness, str]:
    clock = Clock()
    sim = Simulator(clock, prompts=prompts, seed=7).without_safety_net()
    h = Harness(sim, clock)
    sim.add_caller(CallerScript("1"))
    h.run(0.001)
    return h, h.client.events("AsyncAGIStart")[-1]["Channel"]


def test_a_channel_plays_the_file_of_its_language_and_set_variable_changes_it():
    h, chan = arrive_with(SOUNDS)
    channel = h.sim.core.channels[chan]
    channel.language = "en"  # as a dialplan without Set(CHANNEL(language)) leaves it
    assert result(h.agi(chan, 'STREAM FILE hotline/welcome ""', "w1")) == (
        200, "0", "endpos=16000")
    varsets = len(h.client.events("VarSet"))
    assert result(h.agi(chan, "SET VARIABLE CHANNEL(language) zh", "l1")) == (200, "1", "")
    # A function is written, not a variable: no VarSet (pbx_builtin_setvar_helper).
    assert len(h.client.events("VarSet")) == varsets
    h.agi(chan, 'STREAM FILE hotline/welcome ""', "w2")
    assert channel.played == ["en/hotline/welcome", "zh/hotline/welcome"]
    assert h.client.events("AGIExecStart")[-1]["Language"] == "zh"


def test_get_data_of_a_missing_prompt_answers_minus_one_and_agi_goes_on():
    # res_agi.c handle_getdata: ast_app_getdata_full returns -1, result=-1, RESULT_SUCCESS.
    h, chan = arrive_with(SOUNDS)
    h.sim.core.channels[chan].language = "en"
    assert result(h.agi(chan, "GET DATA hotline/menu 5000 1", "g1")) == (200, "-1", "")
    end = h.client.events("AGIExecEnd")[-1]
    assert (end["ResultCode"], end["Result"]) == ("200", "Success")
    assert h.client.events("AsyncAGIEnd") == []
    # app_playback: a missing file is PLAYBACKSTATUS=FAILED and result 0.
    assert result(h.agi(chan, "EXEC Playback hotline/goodbye", "p1")) == (200, "0", "")
    assert h.sim.core.channels[chan].variables["PLAYBACKSTATUS"] == "FAILED"
    # STREAM FILE of it fails the session (trace 07).
    assert result(h.agi(chan, 'STREAM FILE hotline/menu ""', "s1")) == (200, "-1", "endpos=0")
    assert len(h.client.events("AsyncAGIEnd")) == 1
    assert h.client.events("UserEvent")[-1]["Reason"] == "agi-failure"


def test_get_data_with_no_prompt_collects_digits_at_once():
    h, chan = arrive_with(SOUNDS)
    h.sim.core.dtmf(h.sim.core.channels[chan], "7")  # idle in AsyncAGI: read and dropped
    h.run(0.2)
    h.client.send("AGI", {"Channel": chan, "Command": 'GET DATA "" 3000 2',
                          "CommandID": "e1"})
    h.run(0.05)
    for digit in "42":
        h.sim.core.dtmf(h.sim.core.channels[chan], digit)
        h.run(0.2)
    assert result(h.client.events("AsyncAGIExec")[-1]) == (200, "42", "")
    assert h.sim.core.channels[chan].played == []
