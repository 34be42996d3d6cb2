"""Account check digits, business hours and the outage board."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ivr.account import check_digit, is_valid
from ivr.hours import is_open, opener
from ivr.outage import OutageBoard, OutageNotice, national_number
from server.config import load_config

SHANGHAI = ZoneInfo("Asia/Shanghai")


# ---- account numbers -------------------------------------------------------------------

def test_luhn_known_numbers():
    assert is_valid("79927398713", 11, "luhn")  # the textbook example
    assert not is_valid("79927398710", 11, "luhn")
    assert check_digit("7992739871", "luhn") == "3"


def test_mod10_known_numbers():
    assert check_digit("400638133393", "mod10") == "1"  # EAN-13 4006381333931
    assert is_valid("4006381333931", 13, "mod10")
    assert not is_valid("4006381333932", 13, "mod10")


def test_length_and_digits_only():
    assert is_valid("1234567890", 10, "none")
    assert not is_valid("123456789", 10, "none")
    assert not is_valid("12345678901", 10, "none")
    assert not is_valid("12345678a0", 10, "none")
    assert not is_valid("１２３４５６７８９０", 10, "none")  # full-width digits are not DTMF
    with pytest.raises(ValueError):
        is_valid("1234567890", 10, "crc")


@given(st.text("0123456789", min_size=9, max_size=9), st.sampled_from(["luhn", "mod10"]),
       st.integers(0, 9), st.integers(1, 9))
def test_check_digit_catches_every_single_digit_error(payload, rule, where, delta):
    number = payload + check_digit(payload, rule)
    assert is_valid(number, 10, rule)
    wrong = number[:where] + str((int(number[where]) + delta) % 10) + number[where + 1:]
    assert not is_valid(wrong, 10, rule)


# ---- business hours --------------------------------------------------------------------

def at(y, mo, d, h, mi=0) -> float:
    return dt.datetime(y, mo, d, h, mi, tzinfo=SHANGHAI).timestamp()


@pytest.fixture(scope="module")
def queues():
    return load_config("config").acd.queues


def test_office_hours_in_shanghai_time(queues):
    hours = queues["service"].hours
    assert is_open(hours, at(2026, 11, 27, 9))  # Friday morning
    assert not is_open(hours, at(2026, 11, 27, 12, 30))  # lunch
    assert is_open(hours, at(2026, 11, 27, 17, 59))
    assert not is_open(hours, at(2026, 11, 27, 18))
    assert is_open(hours, at(2026, 11, 28, 10))  # Saturday
    assert not is_open(hours, at(2026, 11, 29, 10))  # Sunday: not listed
    assert not is_open(hours, at(2027, 1, 1, 10))  # holiday (a Friday)


def test_fault_reports_are_never_closed(queues):
    check = opener(queues)
    for moment in (at(2026, 11, 29, 3), at(2027, 1, 1, 10), at(2026, 10, 1, 23, 59)):
        assert check("fault", moment)
        assert not check("service", moment)
    assert check("no-such-queue", at(2026, 11, 29, 3))


# ---- outage board ----------------------------------------------------------------------

def test_national_number_forms():
    assert national_number("+86 531 8888 6666") == "053188886666"
    assert national_number("0086-531-88886666") == "053188886666"
    assert national_number("+8613864101234") == "13864101234"
    assert national_number("053188886666") == "053188886666"
    assert national_number("anonymous") == ""


def test_board_finds_the_most_specific_active_notice():
    board = OutageBoard()
    board.add(OutageNotice("jinan", 100, 5000, area_codes=("531",)))
    board.add(OutageNotice("lixia", 200, 5000, prefixes=("05318888",)))
    board.add(OutageNotice("mobile", 100, 5000, prefixes=("1386410",)))
    assert board.covering("053188886666", 300).id == "lixia"
    assert board.covering("+86 531 2222 3333", 300).id == "jinan"
    assert board.covering("13864101234", 300).id == "mobile"
    assert board.covering("13900000000", 300) is None
    assert board.covering("053188886666", 150).id == "jinan"  # lixia not started yet
    assert board.covering("053122223333", 5000) is None  # restore time reached
    assert board.covering("053122223333", 4000, max_age_s=1000) is None


def test_board_add_remove_expire_and_round_trip():
    board = OutageBoard()
    board.add(OutageNotice("a", 100, 500, area_codes=("0531",), text="feeder 7"))
    board.add(OutageNotice("b", 100, 900, prefixes=("139",)))
    board.add(OutageNotice("a", 100, 700, area_codes=("0531",)))  # revised restore time
    assert [n.restore for n in board.notices()] == [700, 900]
    copy = OutageBoard.from_dict(board.to_dict())
    assert copy.notices() == board.notices()
    assert [n.id for n in board.expire(800)] == ["a"]
    assert board.remove("b") and not board.remove("b")
    assert board.notices() == ()
    with pytest.raises(ValueError):
        board.add(OutageNotice("c", 100, 50, area_codes=("0531",)))
    with pytest.raises(ValueError):
        board.add(OutageNotice("d", 100, 500))
