"""ivr.yaml -> ivr.model.IvrConfig, with the DL/T 2046 menu rules enforced.

Queues and skills live in other files, so the caller passes their names in;
every reference is checked here, where the key path is known.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ivr.model import (
    AGENT_KEY,
    BACK_KEY,
    MAX_MENU_DEPTH,
    AccountRule,
    BillLookup,
    InputRules,
    IvrConfig,
    Language,
    Leaf,
    Menu,
    MenuOption,
    OutageSettings,
    Prompt,
    Survey,
)

from .section import Section, suggest

__all__ = ["parse_ivr"]

_LEAF_KEYS = ("intent", "queue", "priority", "ask_account", "self_service", "prompt")
_SELF_SERVICES = ("bill_balance",)
_SURVEY_ANSWERS = ("satisfied", "fairly_satisfied", "dissatisfied")
_CHECK_DIGITS = ("luhn", "mod10", "none")


class _Refs:
    """Names other parts may point at, and the checks that say so."""

    def __init__(self, prompts: Collection[str], queues: Collection[str],
                 skills: Collection[str]) -> None:
        self.prompts, self.queues, self.skills = prompts, queues, skills

    def check(self, sec: Section, key: str, value: Any, kind: str, known: Collection[str]) -> None:
        if value is not None and value not in known:
            listed = ", ".join(sorted(known)[:12])
            sec.error(key, f"{kind} '{value}' does not exist{suggest(value, known)} "
                           f"(known: {listed})")

    def prompt(self, sec: Section, key: str, *, required: bool = True) -> str | None:
        value = sec.get(key, str) if required else sec.get(key, str, None)
        self.check(sec, key, value, "prompt", self.prompts)
        return value

    def queue(self, sec: Section, key: str) -> str | None:
        value = sec.get(key, str)
        self.check(sec, key, value, "queue", self.queues)
        return value


def _leaf(sec: Section, refs: _Refs) -> Leaf | None:
    intent = sec.get("intent", str)
    refs.check(sec, "intent", intent, "skill", refs.skills)
    service = sec.choice("self_service", _SELF_SERVICES, None)
    queue = refs.queue(sec, "queue")
    priority = sec.number("priority", int, lo=0, hi=100)
    ask = sec.get("ask_account", bool, service == "bill_balance")
    prompt = refs.prompt(sec, "prompt", required=False)
    if intent is None or queue is None or priority is None:
        return None
    return Leaf(intent, queue, priority, ask_account=ask, self_service=service, prompt=prompt)


def _option_key(menu: Section, raw: str) -> str | None:
    if raw == AGENT_KEY:
        menu.error(raw, "key 0 is reserved by DL/T 2046 (0 reaches an agent from every level); "
                        "set this menu's 'agent:' route instead")
    elif raw == BACK_KEY:
        menu.error(raw, "key * is reserved by DL/T 2046 (* goes back one level)")
    elif raw not in "123456789" or len(raw) != 1:
        menu.error(raw, "option keys must be a single digit 1-9")
    else:
        return raw
    return None


def _option(opts: Section, key: str, item: Any, refs: _Refs, parent: str,
            links: list[tuple[Section, str, str]]) -> MenuOption | None:
    key_ok = _option_key(opts, key)
    osec = opts.child(key, item, ("menu", *_LEAF_KEYS))
    if key_ok is None or osec is None:
        return None
    if "menu" not in osec.data:
        leaf = _leaf(osec, refs)
        return None if leaf is None else MenuOption(key, leaf=leaf)
    extra = [k for k in osec.data if k != "menu"]
    if extra:
        osec.error(extra[0], "an option is either 'menu:' or a leaf, not both")
    child = osec.get("menu", str)
    if child is None:
        return None
    links.append((osec, parent, child))
    return MenuOption(key, menu=child)


def _menus(top: Section, refs: _Refs, default_agent: Leaf | None,
           root: str | None) -> dict[str, Menu]:
    raw: dict[str, tuple[str | None, dict[str, MenuOption], Leaf | None]] = {}
    links: list[tuple[Section, str, str]] = []  # (option section, parent, child)
    for name, value in top.items("menus"):
        sec = top.child(f"menus.{name}", value, ("prompt", "agent", "options"))
        if sec is None:
            continue
        agent_sec = sec.sub("agent", _LEAF_KEYS, required=False)
        agent = _leaf(agent_sec, refs) if agent_sec.data else default_agent
        if agent is None and not agent_sec.data:
            sec.error("agent", "no route for key 0: set 'agent:' here or at the top of ivr.yaml "
                               "(DL/T 2046: 0 reaches an agent from every level)")
        opts = sec.sub("options")
        options: dict[str, MenuOption] = {}
        if opts is not None:
            for key, item in opts.data.items():
                option = _option(opts, str(key), item, refs, name, links)
                if option is not None:
                    options[option.key] = option
            if not opts.data:
                sec.error("options", "a menu needs at least one option")
        raw[name] = (refs.prompt(sec, "prompt"), options, agent)
    return _tree(top, raw, links, root)


def _tree(top: Section, raw: dict, links: list, root: str | None) -> dict[str, Menu]:
    parent: dict[str, str] = {}
    for osec, name, child in links:
        if child not in raw:
            osec.error("menu", f"menu '{child}' does not exist{suggest(child, raw)} "
                               f"(known: {', '.join(sorted(raw))})")
        elif child == root or child in parent:
            first = ("it is the root menu" if child == root
                     else f"it is already under '{parent[child]}'")
            osec.error("menu", f"menu '{child}' cannot be reached from here: {first}, and each "
                               "menu has one parent so * can go back")
        else:
            parent[child] = name
    if root is None or root not in raw:
        return {}
    depth, order = {root: 1}, [root]
    for name in order:  # breadth-first; grows as children are found
        for osec, pname, child in links:
            if pname == name and parent.get(child) == name and child not in depth:
                depth[child] = depth[name] + 1
                order.append(child)
                if depth[child] > MAX_MENU_DEPTH:
                    osec.error("menu", f"menu '{child}' would be level {depth[child]}; DL/T 2046 "
                                       f"allows at most {MAX_MENU_DEPTH} menu levels")
    for name in raw:
        if name not in depth:
            top.warn(f"menus.{name}", "menu is not reachable from the root menu")
    return {n: Menu(n, raw[n][0], MappingProxyType(raw[n][1]), raw[n][2], parent.get(n), depth[n])
            for n in order if None not in (raw[n][0], raw[n][2])}


def _languages(top: Section, refs: _Refs) -> tuple[dict[str, Language], str | None]:
    sec = top.sub("languages", ("default", "choices"))
    langs: dict[str, Language] = {}
    if sec is None:
        return langs, None
    keys: dict[str, str] = {}
    for code, value in sec.items("choices"):
        lsec = sec.child(f"choices.{code}", value, ("key", "name", "queue"))
        if lsec is None:
            continue
        key, name = lsec.get("key", str), lsec.get("name", str)
        if key is not None and key in keys:
            lsec.error("key", f"key {key} is already used by language '{keys[key]}'")
        if key is not None and name is not None:
            keys[key] = code
            queue = lsec.get("queue", str, None)
            refs.check(lsec, "queue", queue, "queue", refs.queues)
            langs[code] = Language(code, key, name, queue)
    default = sec.choice("default", tuple(langs) or ("zh",))
    return langs, default


def _prompts(top: Section, languages: Collection[str]) -> dict[str, Prompt]:
    prompts: dict[str, Prompt] = {}
    for name, value in top.items("prompts"):
        sec = top.child(f"prompts.{name}", value, (*languages, "duration_s"))
        if sec is None:
            continue
        texts = {code: sec.get(code, str) for code in languages}
        duration = sec.number("duration_s", float, None, lo=0)
        # kept even when a text is missing, so menus using it do not also report it unknown
        found = {code: text for code, text in texts.items() if text is not None}
        prompts[name] = Prompt(name, MappingProxyType(found), duration)
    return prompts


def _bill_lookup(top: Section, base: Path) -> BillLookup | None:
    sec = top.sub("bill_lookup", ("backend", "path", "url", "timeout_s"))
    if sec is None:
        return None
    backend = sec.choice("backend", ("fixture", "http"))
    timeout = sec.number("timeout_s", float, 3.0, lo=0.1, hi=30)
    if backend == "fixture":
        path = sec.get("path", str)
        if path is not None and not (base / path).is_file():
            sec.error("path", f"fixture file '{path}' not found (relative paths are relative "
                              "to the config directory)")
        return None if path is None else BillLookup("fixture", fixture_path=str(base / path))
    if backend == "http":
        url = sec.get("url", str)
        if url is not None and not url.startswith(("http://", "https://")):
            sec.error("url", f"'{url}' must start with http:// or https://")
        return None if url is None else BillLookup("http", url=url, timeout_s=timeout)
    return None


def _survey(top: Section, refs: _Refs) -> Survey | None:
    sec = top.sub("survey", ("enabled", "prompt", "answers", "reason_prompt", "reasons",
                             "thanks_prompt"))
    if sec is None:
        return None
    answers = {k: v for k, v in sec.items("answers")}
    for key, value in answers.items():
        if value not in _SURVEY_ANSWERS:
            sec.error(f"answers.{key}", f"'{value}' is not one of: {', '.join(_SURVEY_ANSWERS)}")
    missing = set(_SURVEY_ANSWERS) - set(answers.values())
    if answers and missing:
        sec.error("answers", f"no key for: {', '.join(sorted(missing))}")
    reasons = {k: str(v) for k, v in sec.items("reasons", required=False)} or None
    reason_prompt = refs.prompt(sec, "reason_prompt", required=reasons is not None)
    enabled, prompt = sec.get("enabled", bool, True), refs.prompt(sec, "prompt")
    thanks = refs.prompt(sec, "thanks_prompt", required=False)
    if prompt is None:  # reported by refs.prompt: the load fails
        return None
    return Survey(enabled, prompt, MappingProxyType(answers), reason_prompt,
                  MappingProxyType(reasons) if reasons else None, thanks)


def parse_ivr(top: Section, queues: Collection[str], skills: Collection[str],
              base: Path) -> IvrConfig | None:
    """Parse ivr.yaml against the known queue and skill names; None if unusable."""
    refs = _Refs((), queues, skills)
    languages, default_lang = _languages(top, refs)
    prompts = _prompts(top, languages)
    refs.prompts = prompts
    entry = top.sub("entry", ("welcome_prompt", "language_prompt", "menu"))
    welcome = refs.prompt(entry, "welcome_prompt") if entry is not None else None
    lang_prompt = refs.prompt(entry, "language_prompt") if entry is not None else None
    root = entry.get("menu", str) if entry is not None else None
    raw_menus = top.data.get("menus")
    menu_names = [str(m) for m in raw_menus] if isinstance(raw_menus, dict) else []
    if entry is not None:
        refs.check(entry, "menu", root, "menu", menu_names)
    agent_sec = top.sub("agent", _LEAF_KEYS, required=False)
    default_agent = _leaf(agent_sec, refs) if agent_sec.data else None
    menus = _menus(top, refs, default_agent, root)

    isec = top.sub("input", ("timeout_ms", "max_retries", "invalid_prompt", "timeout_prompt",
                             "fallback_queue"))
    inp = _input(isec, refs) if isec is not None else None
    asec = top.sub("account", ("digits", "terminator", "check_digit", "max_tries", "allow_skip",
                               "prompt", "retry_prompt"))
    acc = _account(asec, refs) if asec is not None else None
    osec = top.sub("outage", ("enabled", "prompt", "skip_key", "max_age_s"), required=False)
    skip = osec.get("skip_key", str, None)
    if skip in (AGENT_KEY, BACK_KEY):
        osec.error("skip_key", f"key {skip} is reserved by DL/T 2046")
    enabled = osec.get("enabled", bool, False)
    outage_prompt = refs.prompt(osec, "prompt", required=bool(osec.data.get("enabled")))
    max_age = osec.number("max_age_s", int, 6 * 3600, lo=60)
    bill, survey = _bill_lookup(top, base), _survey(top, refs)
    if (default_lang is None or welcome is None or lang_prompt is None or root is None
            or inp is None or acc is None or bill is None or survey is None or not menus):
        return None
    # a disabled outage announcement may name no prompt; the engine never plays it then
    outage = OutageSettings(enabled, outage_prompt or "", skip, max_age)
    return IvrConfig(MappingProxyType(languages), default_lang, MappingProxyType(prompts),
                     welcome, lang_prompt, root, MappingProxyType(menus), inp, acc, bill,
                     survey, outage)


def _input(sec: Section, refs: _Refs) -> InputRules | None:
    timeout = sec.number("timeout_ms", int, 5000, lo=1000, hi=30000)
    retries = sec.number("max_retries", int, 3, lo=1, hi=9)
    invalid, silent = refs.prompt(sec, "invalid_prompt"), refs.prompt(sec, "timeout_prompt")
    fallback = refs.queue(sec, "fallback_queue")
    if (timeout is None or retries is None or invalid is None or silent is None
            or fallback is None):
        return None
    return InputRules(timeout, retries, invalid, silent, fallback)


def _account(sec: Section, refs: _Refs) -> AccountRule | None:
    digits = sec.number("digits", int, 10, lo=1, hi=20)
    terminator = sec.choice("terminator", ("#",), "#")
    check = sec.choice("check_digit", _CHECK_DIGITS, "none")
    tries = sec.number("max_tries", int, 3, lo=1, hi=9)
    skip = sec.get("allow_skip", bool, True)
    prompt, retry = refs.prompt(sec, "prompt"), refs.prompt(sec, "retry_prompt")
    if (digits is None or terminator is None or check is None or tries is None or skip is None
            or prompt is None or retry is None):
        return None
    return AccountRule(digits, terminator, check, tries, skip, prompt, retry)
