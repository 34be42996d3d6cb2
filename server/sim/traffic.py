"""A day in miniature: Poisson callers across the 95598 menu, agents' softphones by tier.

Pure and seeded: ``plan_callers`` and ``plan_phones`` return scripts; the
caller adds them to a :class:`~server.sim.Simulator`.  The demo and the soak
use it; tests may too.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from server.sim.scripts import COMMAND, AgentBehaviour, CallerScript, PhoneScript, Press

ACCOUNT = "1234567890#"  # in config/bills.yaml, so the self-service readout works

#: (weight, GET DATA answers after the language choice) — the main menu's branches
BRANCHES: tuple[tuple[float, tuple[str, ...]], ...] = (
    (30, ("1", ACCOUNT)),  # 故障报修 fault report, with the account number
    (12, ("2", "1", ACCOUNT, "0")),  # bill self-service, then an agent
    (8, ("2", "1", ACCOUNT)),  # bill self-service only (hangs up after the readout)
    (10, ("2", "2", ACCOUNT)),  # arrears and payment: an agent
    (6, ("3", "1")),  # new connection
    (6, ("3", "2", ACCOUNT)),  # capacity change
    (8, ("4", "1", ACCOUNT)),  # complaint
    (3, ("4", "2")),  # report
    (5, ("5",)),  # suggestion / praise
    (6, ("0",)),  # straight to an agent
    (3, ("7", "8", "9")),  # lost: three bad keys, the general queue takes them
    (3, ("",)),  # says nothing: timeouts, then the general queue
)


@dataclass(frozen=True)
class TrafficProfile:
    calls_per_minute: float = 20.0
    english_share: float = 0.08
    impatient_share: float = 0.3  # these hang up after an exponential patience
    mean_patience_s: float = 90.0
    callback_share: float = 0.15  # press 1 when the hold loop offers a callback
    survey_answer_share: float = 0.85


def _menu_presses(rng: random.Random, lang_key: str) -> list[Press]:
    weights = [w for w, _ in BRANCHES]
    answers = rng.choices([a for _, a in BRANCHES], weights)[0]
    presses = [Press(lang_key, rng.uniform(0.3, 1.5), after=COMMAND, command="GET DATA")]
    for digits in answers:
        if digits:
            presses.append(Press(digits, rng.uniform(0.4, 2.0), after=COMMAND,
                                 command="GET DATA"))
    return presses


def plan_callers(rng: random.Random, duration_s: float, profile: TrafficProfile = TrafficProfile(),
                 start_s: float = 0.0) -> list[CallerScript]:
    """Callers arriving as a Poisson process over ``duration_s`` seconds."""
    rate = profile.calls_per_minute / 60.0
    t = start_s
    scripts: list[CallerScript] = []
    n = 0
    while True:
        t += rng.expovariate(rate)
        if t >= start_s + duration_s:
            return scripts
        n += 1
        lang = "2" if rng.random() < profile.english_share else "1"
        presses = _menu_presses(rng, lang)
        if rng.random() < profile.callback_share:
            # "hold-callback" also starts the offer at the queue's maximum wait
            # (hold-callback-keep-place): such a caller takes whichever comes first.
            presses += [Press("1", 1.0, after=COMMAND, command="GET DATA hotline/hold-callback"),
                        Press("1", 1.0, after=COMMAND, command="GET DATA hotline/callback-conf")]
        if rng.random() < profile.survey_answer_share:
            presses.append(Press(rng.choice("1112223"), rng.uniform(0.5, 3.0), after=COMMAND,
                                 command="GET DATA hotline/survey "))
        patience = (rng.expovariate(1 / profile.mean_patience_s)
                    if rng.random() < profile.impatient_share else None)
        number = f"13{rng.randrange(10**8, 10**9)}"
        scripts.append(CallerScript(number, rng.choice(NAMES), arrive_at=t,
                                    presses=tuple(presses), patience=patience))


NAMES = ("张伟", "王芳", "李娜", "刘洋", "陈静", "杨磊", "赵敏", "黄强", "Sim Caller")


def plan_phones(rng: random.Random, agents: dict[str, str], calls_each: int = 40,
                talk_s: tuple[float, float] = (15.0, 45.0)) -> list[PhoneScript]:
    """One registered softphone per agent; ``agents`` maps endpoint -> tier.

    Trainees answer slower and now and then miss a call; seniors talk longer
    (complaints) and put callers on hold more often.
    """
    phones = []
    for endpoint, tier in sorted(agents.items()):
        junior = tier == "trainee"
        senior = tier in ("senior", "team_lead")
        behaviours = []
        for _ in range(calls_each):
            missed = junior and rng.random() < 0.08
            talk = rng.uniform(*talk_s) * (1.5 if senior else 1.0)
            hold = rng.random() < (0.3 if senior else 0.15)
            behaviours.append(AgentBehaviour(
                answer_after=None if missed else rng.uniform(1.0, 4.0 if junior else 2.5),
                talk=talk,
                hold_at=talk * 0.4 if hold else None,
                hold_for=min(15.0, talk * 0.3) if hold else 0.0,
            ))
        phones.append(PhoneScript(endpoint, behaviours[0], calls=tuple(behaviours)))
    return phones
