"""The sign-in throttle: attempts per account and per client, and hash checks in flight.

* An attempt is counted *before* its hash is checked (a reservation): thirty
  guesses sent at once are thirty attempts, not thirty checks that each saw a
  clean record.  A success gives the reservation back (the client's) or clears
  the record (the account's); a failure keeps it.
* After ``free`` attempts a key must wait a growing delay since its last attempt
  (``base_delay_s`` doubling up to ``max_delay_s``) rather than being locked out
  for a fixed time: a typo costs seconds, a guessing run costs it minutes per try,
  and someone who locks a named agent out on purpose holds them off for at most
  ``max_delay_s`` after they stop.  A key is forgotten ``forget_after_s`` after
  its last attempt.
* Accounts and clients are counted apart: the client is the real client
  behind a trusted proxy (see proxy.py), so one agent's typos do not slow down
  the floor; an unknown account name is counted like a real one, so the delay
  does not reveal which names exist.
* At most ``max_checks`` hash checks run at once (each is ~0.2 s of CPU in a
  thread); more get 429 at once instead of queueing behind a flood.
* The root builds one throttle for the web sign-in and the phones' ``*11`` sign-in
  (server/features.py, through ``try_admit``): an agent's account is one account,
  whether its PIN is guessed on a keypad or in a browser.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass

from .http import ApiError

__all__ = ["LoginThrottle", "ThrottlePolicy", "Ticket"]


@dataclass(frozen=True)
class ThrottlePolicy:
    account_free: int = 3  # attempts per account before the delay starts
    client_free: int = 10  # per client address (a shared PC, a NAT)
    base_delay_s: float = 1.0
    max_delay_s: float = 60.0
    forget_after_s: float = 900.0
    max_checks: int = 4  # hash checks at once (2 per core on the 2-core target)
    max_keys: int = 20_000  # memory bound: the oldest records go first


@dataclass(frozen=True)
class Ticket:
    """One admitted attempt: which keys it reserved."""

    account: str
    client: str


@dataclass
class _Record:
    attempts: int
    last: float


class LoginThrottle:
    def __init__(self, clock, policy: ThrottlePolicy = ThrottlePolicy()) -> None:
        self.clock, self.policy = clock, policy
        self._records: OrderedDict[str, _Record] = OrderedDict()
        self.checking = 0

    def _delay(self, attempts: int, free: int) -> float:
        if attempts < free:
            return 0.0
        p = self.policy
        return min(p.max_delay_s, p.base_delay_s * 2.0 ** min(attempts - free, 32))

    def _wait(self, key: str, free: int) -> float:
        rec = self._records.get(key)
        if rec is None:
            return 0.0
        now = self.clock.seconds()
        if now - rec.last > self.policy.forget_after_s:
            del self._records[key]
            return 0.0
        return max(0.0, rec.last + self._delay(rec.attempts, free) - now)

    def _reserve(self, key: str) -> None:
        rec = self._records.pop(key, None) or _Record(0, 0.0)
        rec.attempts += 1
        rec.last = self.clock.seconds()
        self._records[key] = rec  # most recent last
        while len(self._records) > self.policy.max_keys:
            self._records.popitem(last=False)

    def wait_s(self, account: str, client: str) -> float:
        """Seconds until another attempt for this account from this client is admitted."""
        return max(self._wait(f"account:{account}", self.policy.account_free),
                   self._wait(f"client:{client}", self.policy.client_free))

    def admit(self, account: str, client: str) -> Ticket:
        """Reserve one attempt and one hash-check slot; raises ApiError(429) with
        Retry-After when this account or client must wait, or every slot is busy."""
        wait = self.wait_s(account, client)
        if wait > 0:
            secs = math.ceil(wait)
            raise ApiError(429, f"too many failed sign-ins; try again in {secs} s",
                           {"Retry-After": str(secs)}, code="rate_limited")
        if self.checking >= self.policy.max_checks:
            raise ApiError(429, "the server is busy checking other sign-ins; try again in 1 s",
                           {"Retry-After": "1"}, code="busy")
        return self._take(account, client)

    def try_admit(self, account: str, client: str) -> Ticket | None:
        """:meth:`admit` for callers that are not HTTP (a phone's ``*11``): None when
        this account or client must wait, or every hash-check slot is busy."""
        if self.wait_s(account, client) > 0 or self.checking >= self.policy.max_checks:
            return None
        return self._take(account, client)

    def _take(self, account: str, client: str) -> Ticket:
        self.checking += 1
        ticket = Ticket(f"account:{account}", f"client:{client}")
        self._reserve(ticket.account)
        self._reserve(ticket.client)
        return ticket

    def failed(self, ticket: Ticket) -> None:
        """The attempt failed: its reservation stays as the failure."""
        self.checking -= 1

    def succeeded(self, ticket: Ticket) -> None:
        """The account's record is cleared; the client's reservation is given back."""
        self.checking -= 1
        self._records.pop(ticket.account, None)
        rec = self._records.get(ticket.client)
        if rec is not None:
            rec.attempts -= 1
            if rec.attempts <= 0:
                del self._records[ticket.client]
