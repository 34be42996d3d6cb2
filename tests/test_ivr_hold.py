"""The waiting loop: music in chunks, position and wait between them, one callback offer."""

from __future__ import annotations

from ivr.commands import to_agi
from ivr.hold import HoldLoop, HoldState, QueueStatus
from ivr.outcomes import CallbackRequested
from tests.ivr_driver import (
    DONE,
    GONE,
    PLAYED,
    TIMEOUT,
    check_contract,
    cut,
    is_command,
    key,
)

MOH = "EXEC MusicOnHold default,20"


KEYS = '"0123456789*#"'


def announce(position: int, minutes: int, escape: str = '""') -> list[str]:
    """Before the callback offer the announcement takes keys (``escape=KEYS``)."""
    return [f"STREAM FILE queue-position {escape}", f"SAY NUMBER {position} {escape}",
            f"STREAM FILE queue-in-line {escape}", f"STREAM FILE queue-wait {escape}",
            f"SAY NUMBER {minutes} {escape}", f"STREAM FILE minutes {escape}"]


class Acd:
    """Answers the loop's status question from a script of (position, ewt) values."""

    def __init__(self, *statuses: QueueStatus | None) -> None:
        self.statuses = list(statuses)
        self.asked: list[float] = []

    def __call__(self, now: float) -> QueueStatus | None:
        self.asked.append(now)
        return self.statuses.pop(0)


class Recorder:
    def __init__(self, loop: HoldLoop) -> None:
        self.loop, self.log, self.now = loop, [], 5000.0

    def take(self, outputs):
        check_contract(outputs)
        self.log.extend(outputs)
        return outputs

    def run(self, *results):
        for result in results:
            self.now += 20
            self.take(self.loop.on_result(result, self.now))

    @property
    def agi(self):
        return [to_agi(i) for i in self.log if is_command(i)]

    @property
    def outcomes(self):
        return [i for i in self.log if not is_command(i)]


def test_chunks_with_position_and_wait_between():
    acd = Acd(QueueStatus(3, 130), QueueStatus(1, 10))
    r = Recorder(HoldLoop("billing", "13864101234", acd))
    r.take(r.loop.start(r.now))
    r.run(PLAYED, *[PLAYED] * 6, PLAYED, *[PLAYED] * 6)
    assert r.agi == [MOH, *announce(3, 3), MOH, *announce(1, 1), MOH]
    assert acd.asked == [5020.0, 5160.0]
    assert r.outcomes == []


def test_redirect_to_an_agent_ends_the_running_chunk_quietly():
    r = Recorder(HoldLoop("billing", "13864101234", Acd()))
    r.take(r.loop.start(r.now))
    r.run(GONE)
    assert r.agi == [MOH]
    assert r.outcomes == []
    assert r.loop.state is HoldState.DONE
    r.run(PLAYED)
    assert r.agi == [MOH]


def test_call_no_longer_queued_stops_the_loop():
    r = Recorder(HoldLoop("billing", "13864101234", Acd(None)))
    r.take(r.loop.start(r.now))
    r.run(PLAYED)
    assert r.agi == [MOH] and r.loop.state is HoldState.DONE


def test_long_wait_offers_a_callback_once():
    acd = Acd(QueueStatus(9, 400), QueueStatus(8, 380))
    r = Recorder(HoldLoop("fault", "13864101234", acd, callback_above_ewt_s=300, chunk_s=30))
    r.take(r.loop.start(r.now))
    r.run(PLAYED, *[PLAYED] * 6, TIMEOUT, PLAYED, *[PLAYED] * 6)
    moh = "EXEC MusicOnHold default,30"
    offer = "GET DATA hold-callback-offer 5000 1"
    assert r.agi == [moh, *announce(9, 7, KEYS), offer, moh, *announce(8, 7), moh]


def test_callback_accepted_on_the_caller_id():
    acd = Acd(QueueStatus(9, 400))
    r = Recorder(HoldLoop("fault", "13864101234", acd, callback_above_ewt_s=300,
                          intent="fault", account="1234567890"))
    r.take(r.loop.start(r.now))
    r.run(PLAYED, *[PLAYED] * 6, key("1"), PLAYED, PLAYED, key("1"), PLAYED, DONE)
    assert r.agi == [MOH, *announce(9, 7, KEYS), "GET DATA hold-callback-offer 5000 1",
                     f"STREAM FILE callback-confirm {KEYS}", f"SAY DIGITS 13864101234 {KEYS}",
                     "GET DATA callback-confirm-keys 5000 1", 'STREAM FILE callback-done ""',
                     "HANGUP"]
    assert r.outcomes == [CallbackRequested("fault", "13864101234", "fault", "1234567890")]
    assert r.loop.state is HoldState.DONE


def test_a_key_that_cuts_the_number_readout_short_answers_the_confirmation():
    """Found on the real Asterisk (lab, --max-wait): the caller pressed 1 while their
    number was read out; SAY DIGITS reports the key as its ASCII code (result=49),
    and the loop took "49" for the answer, asked again three times and gave up.  The
    key answers the question the readout leads to, as in the IVR's own dialog."""
    acd = Acd(QueueStatus(9, 400))
    r = Recorder(HoldLoop("fault", "13864101234", acd, callback_above_ewt_s=300,
                          intent="fault"))
    r.take(r.loop.start(r.now))
    r.run(PLAYED, *[PLAYED] * 6, key("1"), PLAYED, cut("1"), DONE)
    assert r.agi == [MOH, *announce(9, 7, KEYS), "GET DATA hold-callback-offer 5000 1",
                     f"STREAM FILE callback-confirm {KEYS}", f"SAY DIGITS 13864101234 {KEYS}",
                     'STREAM FILE callback-done ""', "HANGUP"]
    assert r.outcomes == [CallbackRequested("fault", "13864101234", "fault", None)]


def test_callback_with_no_usable_number_keeps_the_place():
    acd = Acd(QueueStatus(2, 400), QueueStatus(1, 60))
    r = Recorder(HoldLoop("fault", None, acd, callback_above_ewt_s=300))
    r.take(r.loop.start(r.now))
    r.run(PLAYED, *[PLAYED] * 6, key("1"), TIMEOUT, key("12"), TIMEOUT, PLAYED, *[PLAYED] * 6)
    enter = "GET DATA callback-enter-number 5000 20"
    assert r.agi == [MOH, *announce(2, 7, KEYS), "GET DATA hold-callback-offer 5000 1",
                     enter, enter, enter, MOH, *announce(1, 1), MOH]
    assert r.outcomes == []


def test_max_wait_offers_the_keep_place_callback_after_the_early_offer():
    # the early offer (declined with a timeout), then at the maximum wait the other one
    acd = Acd(QueueStatus(9, 400), QueueStatus(3, 100, max_wait=True))
    r = Recorder(HoldLoop("fault", "13864101234", acd, callback_above_ewt_s=300,
                          intent="fault"))
    r.take(r.loop.start(r.now))
    r.run(PLAYED, *[PLAYED] * 6, TIMEOUT, PLAYED, *[PLAYED] * 6, key("1"), PLAYED, PLAYED,
          key("1"), PLAYED, DONE)
    assert r.agi == [MOH, *announce(9, 7, KEYS), "GET DATA hold-callback-offer 5000 1",
                     MOH, *announce(3, 2, KEYS), "GET DATA hold-callback-keep-place 5000 1",
                     f"STREAM FILE callback-confirm {KEYS}", f"SAY DIGITS 13864101234 {KEYS}",
                     "GET DATA callback-confirm-keys 5000 1", 'STREAM FILE callback-done ""',
                     "HANGUP"]
    assert r.outcomes == [CallbackRequested("fault", "13864101234", "fault", None)]


def test_declining_at_max_wait_keeps_waiting_and_is_not_asked_again():
    acd = Acd(QueueStatus(1, 30, max_wait=True), QueueStatus(1, 30, max_wait=True))
    r = Recorder(HoldLoop("general", "13864101234", acd))  # no early offer configured
    r.take(r.loop.start(r.now))
    r.run(PLAYED, *[PLAYED] * 6, key("9"), PLAYED, *[PLAYED] * 6)
    assert r.agi == [MOH, *announce(1, 1, KEYS), "GET DATA hold-callback-keep-place 5000 1",
                     MOH, *announce(1, 1), MOH]
    assert r.outcomes == []


def test_hangup_while_holding():
    r = Recorder(HoldLoop("fault", None, Acd()))
    r.take(r.loop.start(r.now))
    assert r.loop.on_hangup(r.now) == []
    assert r.loop.on_result(PLAYED, r.now) == []


def test_a_key_during_the_announcement_answers_the_callback_offer():
    """Issue 12: a key pressed during a prompt just before digit entry is kept."""
    acd = Acd(QueueStatus(9, 400))
    r = Recorder(HoldLoop("fault", "13864101234", acd, callback_above_ewt_s=300))
    r.take(r.loop.start(r.now))
    r.run(PLAYED, PLAYED, cut("1"), PLAYED, PLAYED, key("1"))
    assert r.agi == [MOH, *announce(9, 7, KEYS)[:2],  # cut during the position
                     f"STREAM FILE callback-confirm {KEYS}", f"SAY DIGITS 13864101234 {KEYS}",
                     "GET DATA callback-confirm-keys 5000 1", 'STREAM FILE callback-done ""']
    assert r.outcomes == [CallbackRequested("fault", "13864101234", None, None)]


def test_another_key_during_the_announcement_goes_back_to_the_music():
    acd = Acd(QueueStatus(9, 400))
    r = Recorder(HoldLoop("fault", "13864101234", acd, callback_above_ewt_s=300))
    r.take(r.loop.start(r.now))
    r.run(PLAYED, cut("5"))
    assert r.agi == [MOH, announce(9, 7, KEYS)[0], MOH]
    assert r.outcomes == []
