"""Pure selection rules: the escalation step in force, who qualifies, who wins."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from queues.agents import AgentRuntime
from queues.model import EscalationStep, Queue, Strategy

__all__ = ["Step", "next_boundary", "overflow_due", "rank", "step_in_force"]


@dataclass(frozen=True)
class Step:
    index: int  # -1 = the queue's base requirement
    label: str
    levels: tuple[tuple[str, int], ...]  # (skill, minimum level) in force


def step_in_force(queue: Queue, waited: float) -> Step:
    """The requirements in force after ``waited`` seconds in the queue.

    Every step reached so far applies (the lowest level wins), so a step only ever
    widens the search: "level >= 2" lowers a base of 3 but never raises a base of 1,
    and a later step can never undo an earlier one.  The dispatch pass relies on this.
    """
    base = tuple((r.skill, r.min_level) for r in queue.skills)
    floor: int | None = None
    last: tuple[int, EscalationStep] | None = None
    for i, st in enumerate(queue.escalation):
        if st.after_s > waited:
            break
        if st.overflow_to is not None:
            continue
        last = (i, st)
        lvl = 1 if st.any_level else (st.min_level or 1)
        floor = lvl if floor is None else min(floor, lvl)
    if last is None or floor is None:
        return Step(-1, "base", base)
    i, st = last
    label = "any level" if floor == 1 and st.any_level else f"level>={floor}"
    return Step(i, f"after {st.after_s}s: {label}", tuple((s, min(b, floor)) for s, b in base))


def overflow_due(queue: Queue, waited: float) -> str | None:
    """The overflow target once its step's time has come, else None."""
    target = None
    for st in queue.escalation:
        if st.overflow_to is not None and st.after_s <= waited:
            target = st.overflow_to
    return target


def next_boundary(queue: Queue, waited: float, with_max_wait: bool) -> float | None:
    """Seconds-in-queue of the next escalation step (or max wait) still ahead."""
    ahead = [st.after_s for st in queue.escalation if st.after_s > waited]
    if with_max_wait and queue.max_wait_s > waited:
        ahead.append(queue.max_wait_s)
    return min(ahead) if ahead else None


def _fit(agent: AgentRuntime, intent: str | None) -> int:
    # The caller's intent (e.g. "billing.arrears" inside the billing queue) prefers
    # agents who hold that skill at all; level within it is the strategy's business.
    return 1 if intent is None or agent.spec.skills.get(intent, 0) > 0 else 0


def rank(
    strategy: Strategy,
    candidates: Sequence[AgentRuntime],
    step: Step,
    intent: str | None,
    missed_by: frozenset[str] | set[str],
    now: float,
    rr_last: str | None,
) -> tuple[AgentRuntime, str]:
    """Pick the winner; the key is (missed this call, skill fit, strategy, id).

    An agent who just let this call ring out goes last, so a requeued call tries
    someone else first if anyone else qualifies.  The agent id ends every key so
    the choice is deterministic whatever order the candidates arrive in.
    """
    skills = [s for s, _ in step.levels]

    def level_sum(a: AgentRuntime) -> int:
        extra = [intent] if intent and intent not in skills else []
        return sum(a.spec.skills.get(s, 0) for s in skills + extra)

    def key(a: AgentRuntime) -> tuple[bool | int | float | str, ...]:
        head = (a.spec.id in missed_by, -_fit(a, intent))
        if strategy is Strategy.LEAST_OCCUPIED:
            return (*head, round(a.occupancy(now), 9), a.idle_since, a.spec.id)
        if strategy is Strategy.ROUND_ROBIN:
            # Cycle through agent ids: the first id after the last one this queue used.
            return (*head, rr_last is not None and a.spec.id <= rr_last, a.spec.id)
        if strategy is Strategy.SKILL_LEVEL_FIRST:
            return (*head, -level_sum(a), a.idle_since, a.spec.id)
        return (*head, a.idle_since, a.spec.id)  # LONGEST_IDLE

    win = min(candidates, key=key)
    n = len(candidates)
    if n == 1:
        why = "only eligible agent"
    elif strategy is Strategy.LEAST_OCCUPIED:
        why = f"least occupied of {n} ({win.occupancy(now):.0%} over the last hour)"
    elif strategy is Strategy.ROUND_ROBIN:
        why = f"next in round-robin after {rr_last or 'start'} among {n}"
    elif strategy is Strategy.SKILL_LEVEL_FIRST:
        why = f"highest skill level of {n} (level sum {level_sum(win)})"
    else:
        why = f"longest idle of {n} (ready {now - win.idle_since:.0f}s)"
    if intent and _fit(win, intent):
        why += f"; has intent skill {intent}"
    if win.spec.id in missed_by:
        why += "; already missed this call but no one else qualifies"
    return win, why
