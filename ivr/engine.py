"""One caller's trip through the 95598 IVR: an explicit state machine, no I/O.

Inputs: ``start``, ``on_result`` (the decoded AsyncAGIExec of the last
command), ``on_lookup`` (the bill backend's answer), ``on_hangup`` and
``start_survey`` (the caller is back in AsyncAGI after the agent hung up).
Each returns a list of outputs: any ``ivr.outcomes`` values first, then at
most one AGI command, which the adapter sends before feeding its result back.

Each state owns a run of commands that ends in one decision (usually a
one-key ``Ask``); ``_TABLE`` maps the state to the handler of that decision.
A key pressed during a prompt of the run (type-ahead) answers the decision at
once instead of asking again.  See docs/ivr-engine.md for the diagram.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from ivr.account import valid_account
from ivr.callback import CallbackDialog, CallbackPrompts
from ivr.commands import (
    AgiCommand,
    AgiResult,
    Ask,
    Hangup,
    Play,
    SayDateTime,
    SayNumber,
    SetLanguage,
)
from ivr.model import AGENT_KEY, BACK_KEY, IvrConfig, Leaf
from ivr.outage import OutageNotice
from ivr.outcomes import (
    BillInfo,
    BillLookupRequest,
    CallbackRequested,
    Deflected,
    Enqueue,
    Goodbye,
    IvrAbandoned,
    Outcome,
    SelfServed,
    SurveyAnswered,
)
from ivr.sequence import KEYS, Sequence, is_choice
from ivr.steps import leaf_at, make_tag, parse_tag, step_name

__all__ = ["CallInfo", "EnginePrompts", "IvrSession", "Output", "State"]

Output = Outcome | AgiCommand
SURVEY_TRIES = 2  # "no input twice": then record no score and say goodbye
#: AgiResult.data of a key that cut a prompt short, handed to the decision it answers
TYPED_AHEAD = "typed ahead"


class State(StrEnum):
    IDLE = "idle"  # before start
    OUTAGE = "outage"  # announcement, then "press 1 to continue"
    LANGUAGE = "language"
    MENU = "menu"
    LEAF_INTRO = "leaf_intro"  # the leaf's own prompt before queueing / self-service
    ACCOUNT = "account"
    LOOKUP = "lookup"  # waiting for on_lookup; nothing in flight
    BILL = "bill"  # balance readout, then 0 agent / * back / else goodbye
    CLOSED = "closed"  # queue closed: press 1 for a callback
    CALLBACK = "callback"  # confirming the callback number
    SURVEY = "survey"
    SURVEY_REASON = "survey_reason"
    GOODBYE = "goodbye"  # outcome already given; prompt then HANGUP
    QUEUED = "queued"  # handed to the ACD; only start_survey wakes it
    ENDED = "ended"


# states in which the journey has already produced its outcome: a hangup adds nothing
_SETTLED = {State.IDLE, State.GOODBYE, State.QUEUED, State.ENDED}
# states whose decision a restored session can take: the others need what a snapshot
# does not keep (the outage notice, the bill, the closed queue, the callback dialog)
_ANSWERABLE = {State.LANGUAGE, State.MENU, State.ACCOUNT, State.SURVEY, State.SURVEY_REASON}
# states about the leaf chosen in a menu: their step names it
_LEAF_STEPS = {State.LEAF_INTRO, State.ACCOUNT, State.LOOKUP, State.BILL, State.CLOSED,
               State.CALLBACK}


@dataclass(frozen=True)
class CallInfo:
    channel: str
    caller_number: str
    dialled: str = "95598"
    uniqueid: str = ""


@dataclass(frozen=True)
class EnginePrompts:
    """Prompts the engine plays that ``IvrConfig`` does not name (yet).

    The defaults are the file stems the default config is expected to ship.
    """

    goodbye: str = "goodbye"
    outage_continue: str = "outage-continue"  # "press 1 to continue to the menu"
    closed: str = "closed"  # "we are closed; press 1 for a callback"
    bill_balance: str = "bill-balance"  # "your balance is"
    bill_arrears: str = "bill-arrears"  # "you owe"
    yuan: str = "yuan"
    fen: str = "fen"
    bill_due: str = "bill-due"  # "payment is due on"
    bill_menu: str = "bill-menu"  # "0 for an agent, * to go back"
    bill_unavailable: str = "bill-unavailable"  # "sorry, we cannot read your bill"
    date_format: str = "YBd"  # Asterisk SAY DATETIME format for the due date
    timezone: str = "Asia/Shanghai"
    callback: CallbackPrompts = field(default_factory=CallbackPrompts)

    def names(self) -> tuple[str, ...]:
        """Every prompt file this engine may play beyond IvrConfig's (for check-config)."""
        skip = {"date_format", "timezone", "callback"}
        own = tuple(v for k, v in vars(self).items() if k not in skip)
        return own + self.callback.names()


def _always_open(queue: str, now: float) -> bool:
    return True


class IvrSession:
    def __init__(self, config: IvrConfig, *,
                 is_open: Callable[[str, float], bool] = _always_open,
                 prompts: EnginePrompts | None = None,
                 closed_queue: Callable[[str], str | None] = lambda queue: None) -> None:
        self.config = config
        self.prompts = prompts or EnginePrompts()
        self._is_open = is_open
        self._closed_queue_of = closed_queue  # Queue.closed_queue: where calls go out of hours
        self.state = State.IDLE
        self.language = config.default_language
        self.menu: str | None = None
        self.path: list[tuple[str, str]] = []
        self.account: str | None = None
        self.account_asked = False
        self.retries = 0
        self.call: CallInfo | None = None
        self.leaf: Leaf | None = None
        self.notice: OutageNotice | None = None
        self._seq = Sequence()
        self._bill: BillInfo | None = None
        self._callback: CallbackDialog | None = None
        self._score: str | None = None
        self._survey_intent: str | None = None
        self._closed_queue = ""
        self._ahead = ""  # keys typed during the leaf's intro, the start of the account
        self._leaf_at: tuple[str, str] | None = None  # (menu, key) the leaf was chosen with

    # ---- inputs -----------------------------------------------------------------

    def start(self, call: CallInfo, now: float, outage: OutageNotice | None = None) -> list[Output]:
        """The first command of a call sets the channel's language: Asterisk starts
        every channel in its own default (``en``) and finds prompts under
        ``sounds/<CHANNEL(language)>/``, so the welcome would be English."""
        self.call = call
        language = SetLanguage(self.language)
        settings = self.config.outage
        if outage is not None and settings.enabled and outage.active(now, settings.max_age_s):
            self.notice = outage
            escape = settings.skip_key or ""
            return self._run(State.OUTAGE, [
                language,
                Play(self.config.welcome_prompt),
                Play(outage.prompt or settings.prompt, escape),
                SayDateTime(int(outage.restore), self._restore_format(outage.restore, now),
                            self.prompts.timezone, escape),
                self._choice(self.prompts.outage_continue)], now)
        return self._enter_language([language, Play(self.config.welcome_prompt, KEYS)], now)

    def on_result(self, result: AgiResult, now: float) -> list[Output]:
        if self.state in (State.IDLE, State.QUEUED, State.LOOKUP, State.ENDED):
            return []  # nothing of ours is in flight: a stale or duplicate result
        if result.failed:
            return self._gone()
        following, key = self._seq.advance(result)
        if following is not None:
            return [following]
        if key is not None:
            # type-ahead answers the question it cut short (a choice), or starts the
            # digit entry that follows (the leaf's intro before the account number)
            result = AgiResult(200, key, TYPED_AHEAD)
        return _TABLE[self.state](self, result, now)

    def on_lookup(self, info: BillInfo | None, now: float) -> list[Output]:
        if self.state is not State.LOOKUP:
            return []
        self._bill = info
        if info is None:
            return self._run(State.BILL, [Play(self.prompts.bill_unavailable, KEYS),
                                          self._choice(self.prompts.bill_menu)], now)
        p = self.prompts
        amount = abs(info.balance_fen)
        readout: list[AgiCommand] = [Play(p.bill_arrears if info.balance_fen < 0
                                          else p.bill_balance, KEYS),
                                     SayNumber(amount // 100, KEYS), Play(p.yuan, KEYS)]
        if amount % 100:
            readout += [SayNumber(amount % 100, KEYS), Play(p.fen, KEYS)]
        readout += [Play(p.bill_due, KEYS),
                    SayDateTime(info.due_epoch, p.date_format, p.timezone, KEYS),
                    self._choice(p.bill_menu)]
        return self._run(State.BILL, readout, now)

    def on_hangup(self, now: float) -> list[Output]:
        return self._gone()

    def start_survey(self, now: float, intent: str | None = None) -> list[Output]:
        """The caller is back in AsyncAGI after talking to an agent who hung up first."""
        self._survey_intent, self._score, self.retries = intent, None, 0
        survey = self.config.survey
        if not survey.enabled:
            self._seq.clear()
            self.state = State.GOODBYE
            return [Hangup()]
        return self._run(State.SURVEY, [self._choice(survey.prompt)], now)

    # ---- restart support ----------------------------------------------------------

    def resume_point(self) -> str:
        """The menu to replay if the server restarts mid-call."""
        return self.menu or self.config.root_menu

    def step(self) -> str:
        """The decision the caller is at, as a restored session names it too."""
        if self.state is State.MENU:
            return step_name(self.state, self.resume_point())
        if self.state in _LEAF_STEPS:
            return step_name(self.state, *(self._leaf_at or ("?", "?")))
        return step_name(self.state)

    def command_tag(self, command: AgiCommand) -> str | None:
        """A tag for ``command`` if it is ours in flight and its result answers this
        step: ``ask.<step>`` for the step's question, ``key.<step>`` for a prompt a
        key may cut short before a one-key question (type-ahead).  A server that
        dies with the command running can then use its result after the restart
        (Asterisk delivers it to the next AMI session, GUIDE §2.10)."""
        if command is not self._seq.sent or self._ahead:
            return None  # not the engine's, or digits the result would not hold
        if isinstance(command, Ask) and command is self._seq.final:
            return make_tag("ask", self.step())
        if getattr(command, "escape", "") and is_choice(self._seq.final):
            return make_tag("key", self.step())
        return None

    def snapshot(self) -> dict[str, Any]:
        """The essential state as plain data, for a store to persist."""
        return {"state": str(self.state), "language": self.language, "menu": self.menu,
                "path": [list(step) for step in self.path], "account": self.account,
                "retries": self.retries,
                "caller": self.call.caller_number if self.call else None,
                "channel": self.call.channel if self.call else None,
                "leaf": list(self._leaf_at) if self._leaf_at else None,
                "score": self._score, "survey_intent": self._survey_intent}

    @classmethod
    def restore(cls, config: IvrConfig, data: dict[str, Any], **kwargs: Any) -> IvrSession:
        """A session rebuilt from ``snapshot()``; call ``resume(now)`` to re-ask its menu."""
        session = cls(config, **kwargs)
        session.state = State(data["state"])
        session.language = data.get("language") or config.default_language
        menu = data.get("menu")
        session.menu = menu if menu in config.menus else None
        session.path = [(m, k) for m, k in data.get("path", ())]
        session.account = data.get("account")
        session.retries = int(data.get("retries", 0))
        if data.get("channel"):
            session.call = CallInfo(data["channel"], data.get("caller") or "")
        # Keys added later: a snapshot written by an older server has none of them.
        chosen = data.get("leaf")
        leaf = leaf_at(config, *chosen) if chosen and len(chosen) == 2 else None
        if chosen and leaf is not None:  # None if the menus changed meanwhile: it replays
            session._leaf_at, session.leaf = (chosen[0], chosen[1]), leaf
        session._score, session._survey_intent = data.get("score"), data.get("survey_intent")
        return session

    def resume(self, now: float, answer: tuple[str, AgiResult] | None = None,
               outage: OutageNotice | None = None) -> list[Output]:
        """The commands to go on with after a restart or a link loss, at a safe point.

        ``answer``: ``(tag, result)`` of a command that was running when the
        server went away (``command_tag``).  If it answers the step the caller
        is at, the call goes on with it, as if nothing happened; otherwise only
        that step is asked again (``outage``: the notice to replay, if the
        caller was hearing one).  The first command sets the channel's language.
        A caller being said goodbye to (the outcome is already recorded) hears the
        goodbye again and is hung up: left alone they would wait in silence.
        """
        if self.state is State.GOODBYE:
            return [self._seq.start([SetLanguage(self.language), Play(self.prompts.goodbye),
                                     Hangup()])]
        if self.state in _SETTLED:
            return []
        result = self._answer_of(answer)
        if result is not None:
            outputs = _TABLE[self.state](self, result, now)
        else:
            outputs = self._replay(now, outage)
        return self._language_first(outputs)

    def _answer_of(self, answer: tuple[str, AgiResult] | None) -> AgiResult | None:
        """The result to hand this step's decision, if ``answer`` holds one for it."""
        if answer is None or answer[1].failed:
            return None
        kind, step = parse_tag(answer[0])
        result = answer[1]
        if step != self.step() or self.state not in _ANSWERABLE:
            return None
        if kind == "ask" and (result.result or not result.timed_out):
            return result  # digits, or "#" alone; a timeout asks again
        if kind == "key" and result.digit is not None and result.digit in KEYS:
            return AgiResult(200, result.digit, TYPED_AHEAD)
        return None

    def _replay(self, now: float, outage: OutageNotice | None) -> list[Output]:
        """Ask the step the caller was at again (not the whole menu)."""
        self.retries = 0
        state, leaf = self.state, self.leaf
        if state is State.OUTAGE and self.call is not None:
            return self.start(self.call, now, outage)
        if state is State.LANGUAGE:
            return self._run(state, [self._choice(self.config.language_prompt)], now)
        if state is State.SURVEY or (state is State.SURVEY_REASON and self._score is None):
            return self._run(State.SURVEY, [self._choice(self.config.survey.prompt)], now)
        if state is State.SURVEY_REASON and self.config.survey.reason_prompt:
            return self._run(state, [self._choice(self.config.survey.reason_prompt)], now)
        if leaf is not None and state in (State.LEAF_INTRO, State.ACCOUNT):
            return self._route(leaf, now) if state is State.LEAF_INTRO else (
                self._after_intro(now))
        if leaf is not None and state in (State.LOOKUP, State.BILL) and self.account:
            self.state = State.LOOKUP
            self._seq.clear()
            return [BillLookupRequest(self.account)]  # read the bill out again
        if leaf is not None and state in (State.CLOSED, State.CALLBACK):
            return self._enqueue(leaf, now)  # still closed: the callback offer again
        return self._enter_menu(self.resume_point(), [], now)

    def _language_first(self, outputs: list[Output]) -> list[Output]:
        """The same outputs, the command (if any) preceded by SET VARIABLE CHANNEL(language)."""
        if not outputs or not hasattr(outputs[-1], "agi") or (
                isinstance(outputs[-1], SetLanguage)):
            return outputs  # no command (an outcome, a lookup), or the language leads
        return [*outputs[:-1], self._seq.lead(SetLanguage(self.language))]

    # ---- helpers ----------------------------------------------------------------

    def _restore_format(self, restore: float, now: float) -> str:
        # "back at 18:30" is enough today; a later day needs the date too
        zone = ZoneInfo(self.prompts.timezone)
        same_day = (dt.datetime.fromtimestamp(restore, zone).date()
                    == dt.datetime.fromtimestamp(now, zone).date())
        return "HM" if same_day else self.prompts.date_format + "HM"

    def _choice(self, prompt: str) -> Ask:
        return Ask(prompt, self.config.input.timeout_ms, 1)

    def _run(self, state: State, commands: list[AgiCommand], now: float) -> list[Output]:
        self.state = state
        return [self._seq.start(commands)]

    def _gone(self) -> list[Output]:
        """Hangup, or a failed result: the channel left AsyncAGI.  No more commands."""
        state = self.state
        self.state = State.ENDED
        self._seq.clear()
        if state in _SETTLED:
            return []
        if state in (State.SURVEY, State.SURVEY_REASON):
            return [SurveyAnswered(self._score, None)]
        return [IvrAbandoned(str(state), self.menu, tuple(self.path))]

    def _goodbye(self, outcomes: list[Output], prompt: str | None = None) -> list[Output]:
        self.state = State.GOODBYE
        return [*outcomes, self._seq.start([Play(prompt or self.prompts.goodbye), Hangup()])]

    def _retry(self, result: AgiResult, ask: Ask, give_up: Callable[[], list[Output]],
               now: float, limit: int | None = None) -> list[Output]:
        """No input replays the question after the timeout prompt; a wrong key after "invalid"."""
        self.retries += 1
        if self.retries >= (limit or self.config.input.max_retries):
            return give_up()
        rules = self.config.input
        said = rules.timeout_prompt if result.timed_out else rules.invalid_prompt
        return self._run(self.state, [Play(said, KEYS), ask], now)

    # ---- language and outage --------------------------------------------------------

    def _enter_language(self, lead: list[AgiCommand], now: float) -> list[Output]:
        self.retries = 0
        if len(self.config.languages) <= 1:
            return self._enter_menu(self.config.root_menu, lead, now)
        return self._run(State.LANGUAGE, [*lead, self._choice(self.config.language_prompt)], now)

    def _on_outage(self, result: AgiResult, now: float) -> list[Output]:
        assert self.notice is not None
        if result.result in ("1", self.config.outage.skip_key):
            return self._enter_language([], now)
        return self._goodbye([Deflected(self.notice.id)])

    def _on_language(self, result: AgiResult, now: float) -> list[Output]:
        chosen = next((lang for lang in self.config.languages.values()
                       if lang.key == result.result), None)
        if chosen is None:
            def default() -> list[Output]:
                # never strand a caller at the language question: carry on in the
                # default, which start() set on the channel already
                return self._enter_menu(self.config.root_menu, [], now)
            return self._retry(result, self._choice(self.config.language_prompt), default, now)
        lead: list[AgiCommand] = (
            [SetLanguage(chosen.code)] if chosen.code != self.language else [])
        self.language = chosen.code
        return self._enter_menu(self.config.root_menu, lead, now)

    # ---- menus --------------------------------------------------------------------

    def _enter_menu(self, name: str, lead: list[AgiCommand], now: float) -> list[Output]:
        self.menu, self.retries = name, 0
        return self._run(State.MENU, [*lead, self._choice(self.config.menus[name].prompt)], now)

    def _on_menu(self, result: AgiResult, now: float) -> list[Output]:
        menu = self.config.menus[self.menu or self.config.root_menu]
        key = result.result
        if key:
            self.path.append((menu.name, key))
        if key and (key == AGENT_KEY or (menu.options.get(key) and menu.options[key].leaf)):
            self._leaf_at = (menu.name, key)
        if key == AGENT_KEY:
            return self._route(menu.agent, now)
        if key == BACK_KEY:
            return self._enter_menu(menu.parent or menu.name, [], now)
        option = menu.options.get(key) if key else None
        if option is None:
            return self._retry(result, self._choice(menu.prompt), lambda: self._fallback(), now)
        if option.menu is not None:
            return self._enter_menu(option.menu, [], now)
        assert option.leaf is not None
        return self._route(option.leaf, now)

    def _fallback(self) -> list[Output]:
        # the root's agent route: the general queue's agents may lack a sub-menu's skill
        agent = self.config.menus[self.config.root_menu].agent
        self.state = State.QUEUED
        self._seq.clear()
        queue = self._queue_for(self.config.input.fallback_queue)
        return [Enqueue(queue, agent.intent, agent.priority, self.account, self.language,
                        fell_back=True)]

    # ---- leaves: account, self-service, queueing ------------------------------------

    def _route(self, leaf: Leaf, now: float) -> list[Output]:
        self.leaf, self.retries = leaf, 0
        if leaf.prompt:
            # Before the account number a key cuts the intro short and counts as its
            # first digit (the fault intro asks for the number itself); before the
            # queue the caller just listens.
            escape = KEYS if self._wants_account() else ""
            return self._run(State.LEAF_INTRO, [Play(leaf.prompt, escape)], now)
        return self._after_intro(now)

    def _wants_account(self) -> bool:
        assert self.leaf is not None
        wants = self.leaf.ask_account or self.leaf.self_service == "bill_balance"
        return wants and self.account is None and not self.account_asked

    def _on_leaf_intro(self, result: AgiResult, now: float) -> list[Output]:
        return self._after_intro(now, result.result if result.data == TYPED_AHEAD else "")

    def _after_intro(self, now: float, ahead: str = "") -> list[Output]:
        if not self._wants_account():
            return self._after_account(now)
        self.retries = 0
        rule = self.config.account
        if ahead == rule.terminator:  # "#" alone, typed ahead: nothing more to collect
            self.state = State.ACCOUNT
            return self._on_account(AgiResult(200, ahead), now)
        if ahead:
            # The caller is typing the number: collect the rest without a prompt.
            # Keys pressed in the moment between the two commands are lost (idle
            # AsyncAGI reads and drops frames, res_agi.c): a short number is "retry".
            self._ahead = ahead
            return self._run(State.ACCOUNT, [Ask("", self.config.input.timeout_ms,
                                                 rule.digits + 1 - len(ahead))], now)
        return self._run(State.ACCOUNT, [self._account_ask(rule.prompt)], now)

    def _account_ask(self, prompt: str) -> Ask:
        rule = self.config.account
        return Ask(prompt, self.config.input.timeout_ms, rule.digits + 1)  # room for the #

    def _on_account(self, result: AgiResult, now: float) -> list[Output]:
        rule = self.config.account
        ahead, self._ahead = self._ahead, ""
        digits = (ahead + result.result).rstrip(rule.terminator)
        if not digits and not result.timed_out and rule.allow_skip:
            self.account_asked = True  # "#" alone: the caller has no number to hand
            return self._after_account(now)
        if digits and valid_account(digits, rule):
            self.account, self.account_asked = digits, True
            return self._after_account(now)
        self.retries += 1
        if self.retries >= rule.max_tries:
            self.account_asked = True  # go on without it: an agent can ask
            return self._after_account(now)
        return self._run(State.ACCOUNT, [self._account_ask(rule.retry_prompt)], now)

    def _after_account(self, now: float) -> list[Output]:
        assert self.leaf is not None
        if self.leaf.self_service == "bill_balance" and self.account is not None:
            self.state = State.LOOKUP
            self._seq.clear()
            return [BillLookupRequest(self.account)]
        return self._enqueue(self.leaf, now)

    def _on_bill(self, result: AgiResult, now: float) -> list[Output]:
        assert self.leaf is not None
        if result.result == AGENT_KEY:
            return self._enqueue(self.leaf, now)
        if result.result == BACK_KEY:
            return self._enter_menu(self.resume_point(), [], now)
        if self._bill is None:
            return self._goodbye([Goodbye("bill_unavailable", self.leaf.queue)])
        return self._goodbye([SelfServed("bill_balance", self.account)])

    def _queue_for(self, queue: str) -> str:
        # a language may have its own agents (English callers all go to "english")
        language = self.config.languages.get(self.language)
        return language.queue if language is not None and language.queue else queue

    def _enqueue(self, leaf: Leaf, now: float) -> list[Output]:
        queue = self._queue_for(leaf.queue)
        if not self._is_open(queue, now):
            elsewhere = self._closed_queue_of(queue)
            if elsewhere is None or not self._is_open(elsewhere, now):
                self._closed_queue = queue
                return self._run(State.CLOSED, [self._choice(self.prompts.closed)], now)
            queue = elsewhere
        self.state = State.QUEUED
        self._seq.clear()
        return [Enqueue(queue, leaf.intent, leaf.priority, self.account, self.language)]

    def _on_closed(self, result: AgiResult, now: float) -> list[Output]:
        assert self.leaf is not None and self.call is not None
        if result.result != "1":
            return self._goodbye([Goodbye("closed", self._closed_queue)])
        self._callback = CallbackDialog(self.call.caller_number, self.prompts.callback,
                                        self.config.input.timeout_ms,
                                        self.config.input.max_retries)
        return self._run(State.CALLBACK, self._callback.opening(), now)

    def _on_callback(self, result: AgiResult, now: float) -> list[Output]:
        assert self._callback is not None and self.leaf is not None
        step = self._callback.decide(result.result)
        if isinstance(step, list):
            return self._run(State.CALLBACK, step, now)
        if step is None:
            return self._goodbye([Goodbye("callback_not_confirmed", self._closed_queue)])
        wanted = CallbackRequested(self._closed_queue, step, self.leaf.intent, self.account)
        return self._goodbye([wanted], self.prompts.callback.done)

    # ---- survey -------------------------------------------------------------------

    def _on_survey(self, result: AgiResult, now: float) -> list[Output]:
        survey = self.config.survey
        score = survey.answers.get(result.result)
        if score is None:
            def no_score() -> list[Output]:
                return self._goodbye([SurveyAnswered(None)])
            return self._retry(result, self._choice(survey.prompt), no_score, now, SURVEY_TRIES)
        self._score = score
        # ivr.yaml: the reason is asked after "dissatisfied", whatever the call was about.
        if score == "dissatisfied" and survey.reasons and survey.reason_prompt:
            return self._run(State.SURVEY_REASON, [self._choice(survey.reason_prompt)], now)
        return self._goodbye([SurveyAnswered(score)], survey.thanks_prompt)

    def _on_survey_reason(self, result: AgiResult, now: float) -> list[Output]:
        survey = self.config.survey
        reason = (survey.reasons or {}).get(result.result)  # no answer: keep the score anyway
        return self._goodbye([SurveyAnswered(self._score, reason)], survey.thanks_prompt)

    def _on_goodbye(self, result: AgiResult, now: float) -> list[Output]:
        self.state = State.ENDED  # the HANGUP has run
        return []


_TABLE: dict[State, Callable[[IvrSession, AgiResult, float], list[Output]]] = {
    State.OUTAGE: IvrSession._on_outage,
    State.LANGUAGE: IvrSession._on_language,
    State.MENU: IvrSession._on_menu,
    State.LEAF_INTRO: IvrSession._on_leaf_intro,
    State.ACCOUNT: IvrSession._on_account,
    State.BILL: IvrSession._on_bill,
    State.CLOSED: IvrSession._on_closed,
    State.CALLBACK: IvrSession._on_callback,
    State.SURVEY: IvrSession._on_survey,
    State.SURVEY_REASON: IvrSession._on_survey_reason,
    State.GOODBYE: IvrSession._on_goodbye,
}
