"""AsyncAGI driver: correlation by CommandID and the rules the traces taught."""

from __future__ import annotations

import pytest
from twisted.internet import defer

from ivr.commands import AgiResult
from server.agi import AgiDriver, AgiSessionEnded
from server.ami.asyncagi import percent_encode
from server.ami.codec import Message
from server.ami.protocol import AmiActionError
from server.ami.router import EventRouter

CHAN = "Local/1@sim-callers-00000000;1"


class FakeAmi:
    """Records actions; each answers per ``self.reply`` (success by default)."""

    def __init__(self) -> None:
        self.router = EventRouter()
        self.sent: list[tuple[str, dict]] = []
        self.error: str | None = None

    def sendAction(self, action, fields=(), timeout=None):
        self.sent.append((action, dict(fields)))
        if self.error:
            return defer.fail(AmiActionError(action, Message.from_headers(
                [("Response", "Error"), ("Message", self.error)])))
        return defer.succeed(Message.from_headers([("Response", "Success")]))


def event(name, **headers):
    return Message.from_headers([("Event", name), *headers.items()])


def env(**values):
    return percent_encode("".join(f"{k}: {v}\n" for k, v in values.items()) + "\n")


def subscribe(ami, driver: AgiDriver) -> None:
    """As the subscription table in server/wiring.py does."""
    for name, handler in (("AsyncAGIStart", driver.async_agi_start),
                          ("AsyncAGIExec", driver.async_agi_exec),
                          ("AsyncAGIEnd", driver.async_agi_end), ("Hangup", driver.hangup)):
        ami.router.subscribe(name, handler)


@pytest.fixture
def rig():
    ami = FakeAmi()
    started, ended = [], []
    driver = AgiDriver(ami, on_start=lambda s, e: started.append(s),
                       on_end=lambda s, e: ended.append((s.channel, e.name)))
    subscribe(ami, driver)
    return ami, driver, started, ended


def start(ami, channel=CHAN):
    ami.router.dispatch(event("AsyncAGIStart", Channel=channel, Uniqueid="1.0", Linkedid="1.0",
                              Env=env(agi_channel=channel, agi_callerid="13800001")))


def results_of(d):
    out = []
    d.addBoth(out.append)
    return out


def test_start_decodes_env_and_result_is_matched_by_command_id(rig):
    ami, driver, started, _ = rig
    start(ami)
    session = started[0]
    assert session.env["agi_callerid"] == "13800001"
    got = results_of(driver.run(session, "GET DATA menu 5000 1"))
    action, fields = ami.sent[0]
    assert action == "AGI" and fields["Command"] == "GET DATA menu 5000 1"
    # An AsyncAGIExec for another CommandID does not complete ours.
    ami.router.dispatch(event("AsyncAGIExec", Channel=CHAN, Result="200%20result%3D9%0A",
                              CommandId="other"))
    assert got == []
    ami.router.dispatch(event("AsyncAGIExec", Channel=CHAN, Result="200%20result%3D1%0A",
                              CommandId=fields["CommandID"]))
    assert got == [AgiResult(200, "1", "")]


def test_second_command_while_one_is_in_flight_is_refused(rig):
    ami, driver, started, _ = rig
    start(ami)
    driver.run(started[0], "STREAM FILE welcome \"\"")
    second = results_of(driver.run(started[0], "HANGUP"))
    assert isinstance(second[0].value, RuntimeError)
    assert len(ami.sent) == 1


def test_redirect_leaves_a_stale_command_whose_late_result_is_dropped(rig):
    ami, driver, started, ended = rig
    start(ami)
    first = results_of(driver.run(started[0], "STREAM FILE welcome \"\""))
    cid = ami.sent[0][1]["CommandID"]
    ami.router.dispatch(event("AsyncAGIEnd", Channel=CHAN))
    assert first[0].check(AgiSessionEnded)
    assert ended == [(CHAN, "AsyncAGIEnd")]
    # Back in AsyncAGI after the Dial: the queued command reports first (trace 08).
    start(ami)
    fresh = started[1]
    got = results_of(driver.run(fresh, "GET VARIABLE DIALSTATUS"))
    new_cid = ami.sent[1][1]["CommandID"]
    assert new_cid != cid
    ami.router.dispatch(event("AsyncAGIExec", Channel=CHAN,
                              Result="200%20result%3D0%20endpos%3D15233%0A", CommandId=cid))
    assert got == []
    ami.router.dispatch(event("AsyncAGIExec", Channel=CHAN,
                              Result="200%20result%3D1%20(ANSWER)%0A", CommandId=new_cid))
    assert got == [AgiResult(200, "1", "(ANSWER)")]


def test_hangup_fails_the_pending_command_and_forgets_it(rig):
    ami, driver, started, ended = rig
    start(ami)
    got = results_of(driver.run(started[0], "EXEC MusicOnHold default,20"))
    ami.router.dispatch(event("Hangup", Channel=CHAN, Cause="16"))
    assert got[0].check(AgiSessionEnded)
    assert CHAN not in driver.sessions
    assert ended == [(CHAN, "Hangup")]
    late = results_of(driver.run(started[0], "HANGUP"))
    assert late[0].check(AgiSessionEnded)


def test_ami_error_on_the_action_fails_the_command(rig):
    ami, driver, started, _ = rig
    start(ami)
    ami.error = f"Channel {CHAN} does not exist."
    got = results_of(driver.run(started[0], "ANSWER"))
    assert got[0].check(AmiActionError)
    assert started[0].pending == {}


def test_new_start_without_end_closes_the_old_session(rig):
    ami, driver, started, ended = rig
    start(ami)
    got = results_of(driver.run(started[0], "EXEC MusicOnHold default,20"))
    start(ami)  # taken by an AMI Bridge, then back: no AsyncAGIEnd (trace 11)
    assert got[0].check(AgiSessionEnded)
    assert driver.sessions[CHAN] is started[1]
    assert ended == []  # no event to report for the silent end


def test_results_of_commands_nothing_waits_for_go_to_on_orphan():
    """Issue 12: a dead process's GET DATA result reaches the next session, digits
    included; a tagged CommandID tells the new process which step it answers."""
    ami = FakeAmi()
    started, orphans = [], []
    driver = AgiDriver(ami, on_start=lambda s, e: started.append(s),
                       on_orphan=lambda ch, tag, r: orphans.append((ch, tag, r)))
    subscribe(ami, driver)
    start(ami)
    # An earlier run's (another prefix), tagged by the IVR: handed over.
    ami.router.dispatch(event("AsyncAGIExec", Channel=CHAN, Result="200%20result%3D2%0A",
                              CommandId="h0a1b2c-7.ask.menu:billing"))
    # Untagged (the hold loop's music, a farewell) or not ours at all: dropped.
    for other in ("h0a1b2c-8", "traffic-c0001", "x.ask.menu:main"):
        ami.router.dispatch(event("AsyncAGIExec", Channel=CHAN,
                                  Result="200%20result%3D3%0A", CommandId=other))
    assert orphans == [(CHAN, "ask.menu:billing", AgiResult(200, "2", ""))]
    # Ours, in flight when the link dropped: its late result too.
    d = results_of(driver.run(started[0], "GET DATA hotline/main-menu 5000 1",
                              tag="ask.menu:main"))
    command_id = ami.sent[-1][1]["CommandID"]
    assert command_id.endswith("-1.ask.menu:main")
    driver.link_lost()
    ami.router.dispatch(event("AsyncAGIExec", Channel=CHAN, Result="200%20result%3D5%0A",
                              CommandId=command_id))
    assert orphans[-1] == (CHAN, "ask.menu:main", AgiResult(200, "5", ""))
    assert len(d) == 1 and d[0].check(Exception)  # the waiter was failed at the loss
