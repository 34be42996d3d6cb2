"""The shipped config loads into the expected values; secrets and check-config behave."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
from pathlib import Path

import pytest

from ivr.model import AGENT_KEY, BACK_KEY, MAX_MENU_DEPTH
from queues.model import Strategy
from server.config import (
    Config,
    ConfigError,
    check_config_main,
    hash_secret,
    load_config,
    verify_secret,
)
from server.config.derive import prune_teams
from server.config.secrets import is_hash

from .test_config_support import GOOD, broken_copy

ENV = {"HOTLINE_AMI_SECRET": "s3cret"}


@pytest.fixture(scope="module")
def config() -> Config:
    return load_config(GOOD, environ=ENV)


def test_shipped_config_loads_without_warnings(config: Config) -> None:
    assert config.warnings == ()
    assert len(config.acd.agents) == 20
    assert [t.name for t in config.acd.tiers] == ["trainee", "agent", "senior", "team_lead"]
    assert set(config.acd.queues) == {"fault", "billing", "service", "complaints",
                                      "suggestions", "english", "general"}


def test_values_are_frozen(config: Config) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.acd.queues["fault"].priority = 1  # type: ignore[misc]
    with pytest.raises(TypeError):
        config.acd.queues["x"] = config.acd.queues["fault"]  # type: ignore[index]


def test_menu_tree_follows_dl_t_2046(config: Config) -> None:
    ivr = config.ivr
    assert ivr.root_menu == "main"
    assert {lang.code: lang.key for lang in ivr.languages.values()} == {"zh": "1", "en": "2"}
    for menu in ivr.menus.values():
        assert AGENT_KEY not in menu.options and BACK_KEY not in menu.options
        assert menu.agent.queue in config.acd.queues
        assert menu.depth <= MAX_MENU_DEPTH
    assert ivr.menus["main"].parent is None
    assert ivr.menus["billing"].parent == "main" and ivr.menus["billing"].depth == 2
    assert sorted(ivr.menus["main"].options) == ["1", "2", "3", "4", "5"]
    balance = ivr.menus["billing"].options["1"].leaf
    assert balance is not None and balance.self_service == "bill_balance" and balance.ask_account
    complaint = ivr.menus["complaints"].options["1"].leaf
    assert complaint is not None and complaint.queue == "complaints"
    assert config.acd.queues["complaints"].min_tier == "senior"
    assert complaint.priority > ivr.menus["main"].options["5"].leaf.priority


def test_ivr_rules(config: Config) -> None:
    ivr = config.ivr
    assert ivr.input.max_retries == 3
    assert (ivr.account.digits, ivr.account.terminator, ivr.account.max_tries) == (10, "#", 3)
    assert ivr.account.allow_skip
    assert dict(ivr.survey.answers) == {"1": "satisfied", "2": "fairly_satisfied",
                                        "3": "dissatisfied"}
    assert ivr.bill_lookup.backend == "fixture"
    assert Path(ivr.bill_lookup.fixture_path).is_file()
    assert ivr.prompts["welcome"].texts["zh"].startswith("您好")


def test_queue_settings(config: Config) -> None:
    fault = config.acd.queues["fault"]
    assert fault.service_level.target == 0.8 and fault.service_level.threshold_s == 20
    assert [(s.after_s, s.min_level, s.any_level, s.overflow_to) for s in fault.escalation] == [
        (30, 2, False, None), (60, None, True, None), (120, None, False, "general")]
    assert fault.strategy is Strategy.LONGEST_IDLE
    assert fault.hours.timezone == "Asia/Shanghai"
    service = config.acd.queues["service"]
    assert dt.date(2026, 10, 1) in service.hours.holidays
    assert service.hours.weekly["sun"] == ()
    policy = config.acd.policy
    assert policy.short_abandon_s == 5
    assert policy.quiet_hours.contains(dt.time(23, 0)) and policy.quiet_hours.contains(dt.time(7))
    assert not policy.quiet_hours.contains(dt.time(8, 0))
    assert {c.code for c in policy.pause_reasons} >= {"break", "meal", "training", "meeting",
                                                      "device_offline", "missed_call"}


def test_server_settings(config: Config) -> None:
    s = config.server
    assert s.ami.endpoint == "tcp:host=127.0.0.1:port=5038"
    assert "interface=127.0.0.1" in s.http.listen
    assert s.recordings.retention_days >= 92 and s.records.retention_days >= 92
    assert s.ami.secret(ENV) == "s3cret"


def test_agent_pins_are_hashes(config: Config) -> None:
    for agent in config.acd.agents.values():
        assert is_hash(agent.pin_hash)
        assert 1 <= min(agent.skills.values()) and max(agent.skills.values()) <= 5
    assert verify_secret("1001", config.acd.agents["1001"].pin_hash)
    assert {u.role for u in config.users} == {"supervisor", "reviewer"}


def test_hash_and_verify() -> None:
    stored = hash_secret("4321", iterations=1000)
    scheme, iterations, _, _ = stored.split("$")
    assert (scheme, iterations) == ("pbkdf2_sha256", "1000")
    assert verify_secret("4321", stored)
    assert not verify_secret("4322", stored)
    assert hash_secret("4321", iterations=1000) != stored  # salted
    for bad in ("", "4321", "pbkdf2_sha256$x$a$b", "md5$1$AAAA$AAAA", "pbkdf2_sha256$1$!!$AA"):
        assert not verify_secret("4321", bad)


def test_missing_secret_warns_at_load_and_fails_at_start() -> None:
    config = load_config(GOOD, environ={})
    (warning,) = config.warnings
    assert warning.path == "ami" and "HOTLINE_AMI_SECRET is not set" in warning.message
    with pytest.raises(ConfigError) as info:
        config.server.ami.secret({})
    assert "HOTLINE_AMI_SECRET" in str(info.value)


def test_secret_file_is_relative_to_config_dir(tmp_path: Path) -> None:
    case = {"file": "server.yaml", "set": {"ami.secret_file": "ami-secret"},
            "delete": ["ami.secret_env"]}
    directory = broken_copy(case, tmp_path)
    (directory / "ami-secret").write_text("from-file\n", encoding="utf-8")
    config = load_config(directory, environ={})
    assert config.warnings == ()
    assert config.server.ami.secret({}) == "from-file"


def test_check_config_ok_summary(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOTLINE_AMI_SECRET", "x")
    out, err = io.StringIO(), io.StringIO()
    assert check_config_main(GOOD, out=out, err=err, allow_weak_secrets=True) == 0
    assert "4 menus" in out.getvalue() and "7 queues, 20 agents" in out.getvalue()
    assert err.getvalue() == ""


def test_check_config_warns_but_passes_without_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HOTLINE_AMI_SECRET", raising=False)
    out, err = io.StringIO(), io.StringIO()
    assert check_config_main(GOOD, out=out, err=err, allow_weak_secrets=True) == 0
    assert "warning: ami: environment variable HOTLINE_AMI_SECRET" in err.getvalue()


def test_check_config_missing_directory(tmp_path: Path) -> None:
    err = io.StringIO()
    assert check_config_main(tmp_path / "nope", out=io.StringIO(), err=err) == 1
    assert err.getvalue().count("file is missing") == 6  # the 5 config files and qa.yaml


def test_five_levels_is_allowed(tmp_path: Path) -> None:
    leaf = {"intent": "general", "queue": "general", "priority": 1}
    chain = {"menus.main.options.6": {"menu": "d2"}}
    for level in range(2, 6):
        nxt = {"menu": f"d{level + 1}"} if level < 5 else leaf
        chain[f"menus.d{level}"] = {"prompt": "main-menu", "options": {"1": nxt}}
    config = load_config(broken_copy({"file": "ivr.yaml", "set": chain}, tmp_path), environ=ENV)
    assert config.ivr.menus["d5"].depth == 5 and config.ivr.menus["d5"].parent == "d4"


def test_escalation_that_does_not_widen_is_a_warning(tmp_path: Path) -> None:
    case = {"file": "queues.yaml", "set": {"queues.fault.escalation.0.min_level": 3}}
    config = load_config(broken_copy(case, tmp_path), environ=ENV)
    (warning,) = config.warnings
    assert warning.path == "queues.fault.escalation[0].min_level"
    assert "does not widen" in warning.message


def test_shipped_dialplan_speaks_the_default_language(monkeypatch: pytest.MonkeyPatch,
                                                      tmp_path: Path) -> None:
    """extensions.conf sets HOTLINE_LANGUAGE on every caller's channel on entry (the
    safety net's apology included); check-config --dialplan keeps it in step."""
    monkeypatch.setenv("HOTLINE_AMI_SECRET", "x")
    shipped = Path(__file__).resolve().parents[1] / "deploy" / "asterisk" / "extensions.conf"
    out, err = io.StringIO(), io.StringIO()
    assert check_config_main(GOOD, out=out, err=err, dialplan=shipped,
                             allow_weak_secrets=True) == 0, err.getvalue()
    other = tmp_path / "extensions.conf"
    other.write_text(shipped.read_text().replace("HOTLINE_LANGUAGE=zh", "HOTLINE_LANGUAGE=en"))
    err = io.StringIO()
    assert check_config_main(GOOD, out=io.StringIO(), err=err, dialplan=other,
                             allow_weak_secrets=True) == 1
    assert "HOTLINE_LANGUAGE is 'en', but ivr.yaml languages.default is 'zh'" in err.getvalue()
    err = io.StringIO()
    assert check_config_main(GOOD, out=io.StringIO(), err=err,
                             dialplan=tmp_path / "none.conf", allow_weak_secrets=True) == 1
    assert "cannot read the dialplan" in err.getvalue()


def test_teams_mix_tiers_under_a_lead(config: Config) -> None:
    acd = config.acd
    assert [t.id for t in acd.teams] == ["team-1", "team-2"]
    one = acd.teams[0]
    assert one.lead == "1019" and one.lead in one.members
    # teams mix tiers (分层): every shipped team has more than one tier in it
    for team in acd.teams:
        assert len({acd.agents[m].tier for m in team.members}) > 1
    team_of_1003 = acd.team_of("1003")
    assert team_of_1003 is not None and team_of_1003.id == "team-2"
    assert acd.team_of("no-such-agent") is None


def test_a_derived_config_keeps_only_the_teams_it_can() -> None:
    doc = {"agents": [{"id": "1"}, {"id": "2"}, {"id": "3"}],
           "teams": [{"id": "a", "name": "A", "lead": "1", "members": ["1", "2", "9"]},
                     {"id": "b", "name": "B", "lead": "8", "members": ["8", "3"]}]}
    prune_teams(doc)
    # team a loses the missing member 9; team b's lead is gone, so team b goes
    assert doc["teams"] == [{"id": "a", "name": "A", "lead": "1", "members": ["1", "2"]}]
    lone = {"agents": [{"id": "3"}], "teams": doc["teams"]}
    prune_teams(lone)
    assert "teams" not in lone


def test_a_grace_shorter_than_the_music_between_announcements_is_a_warning(tmp_path: Path
                                                                            ) -> None:
    case = {"file": "queues.yaml", "set": {"policy.max_wait_grace_s": 50}}
    config = load_config(broken_copy(case, tmp_path), environ=ENV)
    (warning,) = config.warnings
    assert warning.path == "policy.max_wait_grace_s"
    assert "of service, suggestions:" in warning.message  # announce_interval_s 60 > 50
    assert config.acd.policy.max_wait_grace_s == 50
