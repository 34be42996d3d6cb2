"""check-config: the admin-facing report over load_config.

Exit status 1 with one problem per line on stderr; 0 with a one-line
summary on stdout.  Warnings (e.g. the AMI secret's variable is unset in
this shell) are printed but do not fail the check, because check-config
usually runs where the service's environment is not loaded.

It also refuses demo secrets and cheap hashes (strength.py); only the tests
pass ``allow_weak_secrets=True``, the command line cannot.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TextIO

from .loader import load_config
from .problems import ConfigError
from .strength import secret_problems

__all__ = ["check_config_main"]


def _check_qa(path: str | os.PathLike[str]) -> str | None:
    """qa.yaml's problem, loaded as the web side loads it at start-up; None if fine."""
    from server.web.qa import load_qa_form  # the web side owns the QA form

    try:
        load_qa_form(Path(path))
    except ValueError as e:
        return str(e)
    return None


def check_config_main(path: str | os.PathLike[str], *, out: TextIO | None = None,
                      err: TextIO | None = None,
                      dialplan: str | os.PathLike[str] | None = None,
                      allow_weak_secrets: bool = False) -> int:
    """``dialplan``: an extensions.conf whose ``[globals]`` must agree with the config.

    ``allow_weak_secrets``: the demo's and the tests' allowance; ``server run`` and the
    command line never pass it."""
    out, err = out or sys.stdout, err or sys.stderr
    qa_problem = _check_qa(path)
    try:
        config = load_config(path)
    except ConfigError as e:
        problems = [str(p) for p in e.problems] + ([qa_problem] if qa_problem else [])
        for problem in problems:
            print(problem, file=err)
        print(f"{len(problems)} problem(s) in {path}", file=err)
        return 1
    problems = [] if allow_weak_secrets else [str(p) for p in secret_problems(config)]
    problems += [qa_problem] if qa_problem else []
    if problems:
        for problem in problems:
            print(problem, file=err)
        print(f"{len(problems)} problem(s) in {path}", file=err)
        return 1
    if dialplan is not None:
        from .dialplan_globals import dialplan_problems

        problems = dialplan_problems(config, dialplan)
        if problems:
            for problem in problems:
                print(problem, file=err)
            print(f"{len(problems)} problem(s) in {path} with {dialplan}", file=err)
            return 1
    for warning in config.warnings:
        print(warning, file=err)
    acd = config.acd
    print(f"OK {path}: {len(config.ivr.menus)} menus, {len(config.ivr.prompts)} prompts, "
          f"{len(acd.queues)} queues, {len(acd.agents)} agents, {len(config.users)} users, "
          f"{len(config.cases.types)} case types, "
          f"{len(config.warnings)} warning(s)", file=out)
    return 0
