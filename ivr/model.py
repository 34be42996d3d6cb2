"""Value types for the IVR: languages, prompts and the 95598 menu tree.

These are plain frozen dataclasses, built once by the configuration loader
(``server.config``) and read by the IVR engine.  Nothing here plays a prompt
or reads a key: the engine owns behaviour, this module owns shape.

DL/T 2046-2019 menu rules are part of the shape: the keys ``0`` (agent) and
``*`` (back one level) are reserved and never appear in ``Menu.options``; the
engine answers them from ``Menu.agent`` and ``Menu.parent``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = [
    "AGENT_KEY",
    "BACK_KEY",
    "MAX_MENU_DEPTH",
    "AccountRule",
    "BillLookup",
    "InputRules",
    "IvrConfig",
    "Language",
    "Leaf",
    "Menu",
    "MenuOption",
    "OutageSettings",
    "Prompt",
    "Survey",
]

AGENT_KEY = "0"
BACK_KEY = "*"
MAX_MENU_DEPTH = 5


@dataclass(frozen=True)
class Language:
    code: str  # "zh", "en": also the prompt-text key and the sound sub-directory
    key: str  # DTMF digit that picks it at the language menu
    name: str
    queue: str | None = None  # if set, every agent route for this language goes here


@dataclass(frozen=True)
class Prompt:
    name: str  # file stem under the Asterisk sounds directory, e.g. "hotline/main-menu"
    texts: Mapping[str, str]  # language code -> text the synthesis script speaks
    duration_s: float | None = None


@dataclass(frozen=True)
class Leaf:
    """Where a key ends: a queue for an agent, optionally after self-service."""

    intent: str  # skill name the call needs
    queue: str
    priority: int  # higher is served first within a queue
    ask_account: bool = False
    self_service: str | None = None  # e.g. "bill_balance"; the queue is the way out to a person
    prompt: str | None = None  # played before queueing or self-service


@dataclass(frozen=True)
class MenuOption:
    """Exactly one of ``menu`` (a sub-menu name) or ``leaf`` is set."""

    key: str
    menu: str | None = None
    leaf: Leaf | None = None


@dataclass(frozen=True)
class Menu:
    name: str
    prompt: str
    options: Mapping[str, MenuOption]  # never holds AGENT_KEY or BACK_KEY
    agent: Leaf  # what 0 does here (DL/T 2046: 0 reaches an agent from every level)
    parent: str | None  # where * goes; None at the root, where * repeats the menu
    depth: int  # root menu is 1


@dataclass(frozen=True)
class InputRules:
    timeout_ms: int
    max_retries: int
    invalid_prompt: str
    timeout_prompt: str
    fallback_queue: str  # after max_retries of bad or no input


@dataclass(frozen=True)
class AccountRule:
    digits: int
    terminator: str
    check_digit: str  # "luhn", "mod10" or "none"
    max_tries: int
    allow_skip: bool  # terminator alone skips the number
    prompt: str
    retry_prompt: str


@dataclass(frozen=True)
class BillLookup:
    backend: str  # "fixture" or "http"
    fixture_path: str | None = None
    url: str | None = None
    timeout_s: float = 3.0


@dataclass(frozen=True)
class Survey:
    enabled: bool
    prompt: str
    answers: Mapping[str, str]  # key -> "satisfied" | "fairly_satisfied" | "dissatisfied"
    reason_prompt: str | None = None
    reasons: Mapping[str, str] | None = None  # key -> reason code, asked after "dissatisfied"
    thanks_prompt: str | None = None


@dataclass(frozen=True)
class OutageSettings:
    enabled: bool
    prompt: str  # the announcement; the engine fills in area and restore time
    skip_key: str | None  # lets a caller cut the announcement short
    max_age_s: int  # an outage notice older than this is not announced


@dataclass(frozen=True)
class IvrConfig:
    languages: Mapping[str, Language]
    default_language: str
    prompts: Mapping[str, Prompt]
    welcome_prompt: str
    language_prompt: str
    root_menu: str
    menus: Mapping[str, Menu]
    input: InputRules
    account: AccountRule
    bill_lookup: BillLookup
    survey: Survey
    outage: OutageSettings
