"""CaseService: what the adapter, the web API and the tick call.

It joins the pure rules (``cases``) to the store and the spool.  Writes go
through ``DurableRecords`` (the records' spool, same rules: strictly in order,
fsync'd to a local file while Redis is down, replayed in order, idempotent by
(id, version) in the store), so a case opened or moved during a Redis outage is
kept, and read back from this process's cache until Redis has it.

Mutations run one at a time (a ``DeferredLock``): each is read, decide, write,
and two at once on the same case would lose one.  Case numbers: the day's
counter is read from Redis once per day (after the spool has drained, so it
includes what the spool held) and counted up here; the store keeps the highest
number written.  A day that comes while Redis is down starts from 0, which is
safe because this process read an earlier day's counter and is the only writer.
A process started while Redis is down cannot number cases until Redis answers
once: ``open`` then fails with ``CaseIdsUnavailable``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import asdict, replace
from typing import Any, Protocol

from twisted.internet import defer
from twisted.logger import Logger

from cases.due import Escalation, Reminder, due_score, tick
from cases.history import CallSummary, CustomerHistory, RepeatFlag, repeat_flag
from cases.ids import format_id, local_day
from cases.machine import CaseError, CaseInput, open_case, record_visit, transition
from cases.model import Case, CaseState, CaseType
from cases.rules import CasesConfig
from server.records.spool import REDIS_DOWN, DurableRecords

from .store import CaseStore, call_entry, case_entry

__all__ = ["CaseIdsUnavailable", "CaseNotFound", "CaseService"]


class CaseNotFound(LookupError):
    def __init__(self, case_id: str) -> None:
        super().__init__(f"no case {case_id}")
        self.case_id = case_id


class CaseIdsUnavailable(RuntimeError):
    """Redis has not answered since start, so the day's case numbers are unknown."""


class Clock(Protocol):
    """The service only reads the time (the reactor, task.Clock in tests)."""

    def seconds(self) -> float: ...


class CaseService:
    log = Logger()

    def __init__(self, store: CaseStore, writer: DurableRecords, rules: CasesConfig,
                 clock: Clock, *, cache_size: int = 10_000, due_batch: int = 500,
                 publish: Callable[[str, dict[str, Any]], object] | None = None) -> None:
        """``publish(topic, payload)`` (the Notifier's): each written change is
        announced as a ``case`` event (kind ``changed``) for the live feed and
        server/return_visits.py."""
        self._store, self._writer, self._rules, self._clock = store, writer, rules, clock
        self._publish = publish
        self._lock = defer.DeferredLock()
        # Latest versions this process wrote: newer than Redis while the spool holds them.
        self._cache: OrderedDict[str, Case] = OrderedDict()
        self._cache_size = cache_size
        self._client_keys: OrderedDict[str, str] = OrderedDict()
        self._seq: dict[str, int] = {}
        self._due_batch = due_batch

    @property
    def rules(self) -> CasesConfig:
        return self._rules

    # -- writes -------------------------------------------------------------------------

    def open(self, *, type: str, account: str, phone: str, actor: str,
             grade: str | None = None, owner: str | None = None,
             responsible: str | None = None, call_id: str | None = None, intent: str = "",
             summary: str = "", client_key: str = "") -> defer.Deferred:
        """Open a case.  Fires with (case, created): a create repeated with the same
        ``client_key`` fires with the first case and False.  Fails with CaseError (bad
        type, grade or customer) or CaseIdsUnavailable."""
        return self._lock.run(lambda: defer.ensureDeferred(self._open(
            type=type, account=account, phone=phone, actor=actor, grade=grade, owner=owner,
            responsible=responsible, call_id=call_id, intent=intent, summary=summary,
            client_key=client_key)))

    async def _open(self, *, client_key: str, **kw: Any) -> tuple[Case, bool]:
        if client_key:
            existing = await self._by_client_key(client_key)
            if existing is not None:
                return existing, False
        now = self._clock.seconds()
        # Checked before it is numbered, so a refused case leaves no gap in the numbers.
        case = open_case(self._rules, case_id="", now=now, client_key=client_key, **kw)
        case = replace(case, id=await self._next_id(now))
        await self._write(case)
        self._announce(case, None)
        if client_key:
            self._remember(self._client_keys, client_key, case.id)
        return case, True

    def auto_open(self, *, disposition: str, intent: str, call_id: str, account: str,
                  phone: str, owner: str | None, responsible: str | None = None,
                  summary: str = "") -> defer.Deferred:
        """Open the case a wrap-up disposition calls for (cases.yaml ``auto_open``).
        Fires with the Case, or None when no rule matches.  Idempotent per call: the
        client key is the call id, so a repeated disposition opens nothing new."""
        rule = self._rules.auto_open_for(disposition, intent)
        if rule is None:
            return defer.succeed(None)
        d = self.open(type=rule.type, grade=rule.grade, account=account, phone=phone,
                      actor=owner or "system", owner=owner, responsible=responsible,
                      call_id=call_id, intent=intent, summary=summary,
                      client_key=f"auto:{call_id}")
        return d.addCallback(lambda result: result[0])

    def transition(self, case_id: str, input: CaseInput | str, *, actor: str, note: str = "",
                   owner: str | None = None, responsible: str | None = None,
                   call_id: str | None = None, visit_at: float | None = None
                   ) -> defer.Deferred:
        """Apply one input (see cases.machine.transition).  Fires with the new Case.
        Fails with CaseNotFound, InvalidTransition (the table refuses: HTTP 409) or
        CaseError (bad input: HTTP 400)."""
        def apply(case: Case) -> Case:
            return transition(case, input, self._rules, now=self._clock.seconds(), actor=actor,
                              note=note, owner=owner, responsible=responsible,
                              call_id=call_id, visit_at=visit_at)
        return self._lock.run(lambda: defer.ensureDeferred(self._change(case_id, apply)))

    def record_visit(self, case_id: str, *, actor: str, reached: bool,
                     resolved: bool | None = None, satisfaction: int | None = None,
                     reason: str = "", call_id: str = "") -> defer.Deferred:
        """Record a return-visit call (see cases.machine.record_visit).  Fires with the
        new Case (the unchanged one when ``call_id``'s attempt is already recorded);
        fails like ``transition``."""
        def apply(case: Case) -> Case:
            return record_visit(case, self._rules, now=self._clock.seconds(), actor=actor,
                                reached=reached, resolved=resolved,
                                satisfaction=satisfaction, reason=reason, call_id=call_id)
        return self._lock.run(lambda: defer.ensureDeferred(self._change(case_id, apply)))

    async def _change(self, case_id: str, apply: Any) -> Case:
        case = await self._load(case_id)
        if case is None:
            raise CaseNotFound(case_id)
        new = apply(case)
        if new is not case:
            await self._write(new)
            self._announce(new, case)
        return new

    def record_call(self, summary: CallSummary) -> defer.Deferred:
        """Add a finished call to its customer's history (account and phone).
        Fires with "stored" or "spooled"."""
        return self._writer.put(call_entry(asdict(summary)))

    def tick(self) -> defer.Deferred:
        """Reminders and escalations due now.  Fires with the notices (Reminder or
        Escalation), after their cases are written; the caller delivers them.  Reads at
        most ``due_batch`` cases from the due set; a backlog is taken by the next tick.
        Fails with the Redis error when the due set cannot be read."""
        return self._lock.run(lambda: defer.ensureDeferred(self._tick()))

    async def _tick(self) -> list[Reminder | Escalation]:
        now = self._clock.seconds()
        ids = await self._store.due_ids(now, self._due_batch)
        due = [c for c in await self._load_many(ids) if c is not None]
        notices = []
        for case, notice in tick(due, self._rules, now):
            await self._write(case)
            notices.append(notice)
        return notices

    def drained(self) -> defer.Deferred:
        """Fires (with None) once every change asked for so far has run."""
        return self._lock.run(defer.succeed, None)

    # -- reads --------------------------------------------------------------------------

    def get(self, case_id: str) -> defer.Deferred:
        """Fires with the Case or None.  Fails with the Redis error unless cached."""
        return defer.ensureDeferred(self._load(case_id))

    def counts(self) -> defer.Deferred:
        """Open cases by state, type and grade, and the overdue count (for /metrics).
        Fires with the dict ``CaseStore.counts`` gives."""
        grades = {g.name for t in self._rules.types.values() for g in t.grades}
        return self._store.counts(self._clock.seconds(), states=[s.value for s in CaseState],
                                  types=[t.value for t in CaseType], grades=sorted(grades))

    def find(self, *, state: str | None = None, type: str | None = None,
             grade: str | None = None, owner: str | None = None, overdue: bool = False,
             open_only: bool = False, limit: int = 500) -> defer.Deferred:
        """Fires with the cases matching every filter, by id; ``overdue``: past the
        running limit now.  No filter lists the open cases."""
        return defer.ensureDeferred(self._find(state, type, grade, owner, overdue,
                                               open_only, limit))

    async def _find(self, state: str | None, type: str | None, grade: str | None,
                    owner: str | None, overdue: bool, open_only: bool, limit: int
                    ) -> list[Case]:
        ids = await self._store.find_ids(state=state, type=type, grade=grade, owner=owner,
                                         open_only=open_only or overdue)
        if overdue:
            late = set(await self._store.overdue_ids(self._clock.seconds(), 100_000))
            ids = [i for i in ids if i in late]
        return [c for c in await self._load_many(ids[:limit]) if c is not None]

    def history(self, *, account: str = "", phone: str = "", intent: str = "",
                exclude_call: str = "", limit: int = 20) -> defer.Deferred:
        """The screen pop's history.  Fires with (CustomerHistory, RepeatFlag)."""
        return defer.ensureDeferred(self._history(account, phone, intent, exclude_call, limit))

    async def _history(self, account: str, phone: str, intent: str, exclude_call: str,
                       limit: int) -> tuple[CustomerHistory, RepeatFlag]:
        if not account and not phone:
            raise CaseError("history needs an account number or a phone")
        case_ids, calls = await self._store.customer(account=account, phone=phone,
                                                     limit=limit)
        cases = tuple(c for c in await self._load_many(case_ids) if c is not None)
        summaries = tuple(CallSummary(**c) for c in calls)
        flag = repeat_flag(summaries, cases, intent=intent, now=self._clock.seconds(),
                           window_days=self._rules.repeat_contact_days,
                           exclude_call=exclude_call)
        return CustomerHistory(summaries, cases), flag

    def open_case_owner(self, *, account: str = "", phone: str = "") -> defer.Deferred:
        """The routing's question (issue 14): whose open case is this caller's?

        Fires with ``(case id, owner agent id)`` of the customer's newest open case
        that has an owner (by account and phone together), or None; fails with
        Redis's error when it is down (the caller is then routed as usual).
        """
        return defer.ensureDeferred(self._open_case_owner(account, phone))

    async def _open_case_owner(self, account: str, phone: str) -> tuple[str, str] | None:
        if not account and not phone:
            return None
        case_ids, _ = await self._store.customer(account=account, phone=phone, limit=20)
        for case in await self._load_many(case_ids):  # newest first
            if case is not None and case.is_open and case.owner:
                return case.id, case.owner
        return None

    # -- internals ----------------------------------------------------------------------

    def _announce(self, case: Case, before: Case | None) -> None:
        if self._publish is None:
            return
        last = case.audit[-1] if case.audit else None
        # The Notifier logs a listener's failure and goes on: the write stands.
        self._publish("case", {
            "kind": "changed", "case_id": case.id, "version": case.version,
            "state": case.state.value, "type": case.type.value, "owner": case.owner,
            "previous_owner": before.owner if before is not None else None,
            "responsible": case.responsible, "input": last.input if last else "",
            "actor": last.actor if last else "", "visit_at": case.visit_at})

    async def _write(self, case: Case) -> None:
        # The cache first: the spool may hold this version for a while.
        self._remember(self._cache, case.id, case)
        await self._writer.put(case_entry(case.to_dict(), due_score(case, self._rules)))

    def _remember(self, cache: OrderedDict, key: str, value: Any) -> None:
        cache[key] = value
        cache.move_to_end(key)
        while len(cache) > self._cache_size:
            cache.popitem(last=False)

    async def _load(self, case_id: str) -> Case | None:
        return (await self._load_many([case_id]))[0]

    async def _load_many(self, ids: Iterable[str]) -> list[Case | None]:
        ids = list(ids)
        missing = [i for i in ids if i not in self._cache]
        found = {d["id"]: Case.from_dict(d) for d in await self._store.get_many(missing)} \
            if missing else {}
        return [self._cache.get(i) or found.get(i) for i in ids]

    async def _by_client_key(self, client_key: str) -> Case | None:
        case_id = self._client_keys.get(client_key)
        if case_id is None:
            try:
                case_id = await self._store.case_for_client_key(client_key)
            except REDIS_DOWN:
                # Keys this process created are in the local map; an older key cannot be
                # checked now, and refusing would lose a customer's case.
                self.log.warn("cases: client key {key} not checked, Redis is down",
                              key=client_key)
                return None
        if case_id is None:
            return None
        try:
            return await self._load(case_id)
        except REDIS_DOWN:
            return None

    async def _next_id(self, now: float) -> str:
        day = local_day(now, self._rules.timezone)
        if day not in self._seq:
            self._seq[day] = await self._day_counter(day)
        self._seq[day] += 1
        return format_id(day, self._seq[day])

    async def _day_counter(self, day: str) -> int:
        if self._seq and day > max(self._seq):
            return 0  # a later day than one already read: only this process numbers it
        if self._writer.backlog:
            await self._writer.retry_now()
        try:
            if self._writer.backlog:
                raise CaseIdsUnavailable("case numbers unknown: Redis is down and the case "
                                         "spool is not yet replayed")
            return await self._store.day_counter(day)
        except REDIS_DOWN as e:
            raise CaseIdsUnavailable(f"case numbers unknown until Redis answers ({e!r})"
                                     ) from None
