"""Render what one lab run needs: Asterisk's configuration and the daemon's.

* ``render_etc``: the lab's ``etc/*.conf`` (the configuration the traces were
  recorded with) with the project's ``deploy/asterisk/*.conf`` laid over them.
  The lab's ``asterisk.conf`` and ``modules.conf`` are kept, so every directory
  stays under ``$ASTLAB_RUN``; every bind address becomes 127.0.0.1; the
  placeholder secrets are replaced by fresh ones; the ``lab-callers`` context
  (scripted callers) and an ``observer`` AMI user (``read = all``) are added.
* ``render_server_config``: the project's ``config/`` with a lab ``server.yaml``
  (AMI on 127.0.0.1:5038, a private Redis, free HTTP/metrics ports, recordings
  mapped into the lab's spool), three agents with fresh PIN hashes made by
  ``python -m server hash-secret``, and the wrap-up the run asks for.
"""

from __future__ import annotations

import re
import secrets
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

KEEP_FROM_LAB = {"asterisk.conf", "modules.conf"}
OBSERVER_USER = "observer"
# Where a deployment's Asterisk keeps its spool; the lab keeps it under $ASTLAB_RUN/spool.
ASTERISK_SPOOL = "/var/spool/asterisk"

# The ;2 half of Local/caller@lab-callers (its ;1 half runs hotline,95598).  The
# harness sets the script as channel variables on the Originate (a Local pair copies
# them to both halves): LAB_DIGITS/LAB_DELAYS ('-'-separated lists; each step waits, then
# sends its digits), LAB_PATIENCE (seconds the caller then stays before hanging up).
# The harness Redirects the ;2 half to `talk` when the caller is bridged to an agent
# and to `after` when the agent has left: there it presses LAB_SURVEY (if any) after
# LAB_SURVEY_DELAY seconds and stays LAB_AFTER seconds.
LAB_CALLERS = r"""
; ---------------------------------------------------------------------------
; Added by deploy/lab (not part of the deployment): scripted callers.
; ---------------------------------------------------------------------------
[lab-callers]
exten => caller,1,NoOp(lab caller ${LAB_CALL} profile ${LAB_PROFILE})
 same => n,Answer()
 same => n,Set(LAB_I=0)
 same => n(next),Set(LAB_I=$[${LAB_I} + 1])
 same => n,GotoIf($[${LAB_I} > ${LAB_STEPS}]?wait)
 same => n,Wait(${CUT(LAB_DELAYS,-,${LAB_I})})
 same => n,SendDTMF(${CUT(LAB_DIGITS,-,${LAB_I})},250,100)
 same => n,Goto(next)
 same => n(wait),NoOp(lab caller ${LAB_CALL}: keys done, patience ${LAB_PATIENCE}s)
 same => n,Wait(${LAB_PATIENCE})
 same => n,NoOp(lab caller ${LAB_CALL}: patience used up, hanging up)
 same => n,Hangup()
exten => talk,1,NoOp(lab caller ${LAB_CALL}: connected)
 same => n,Wait(600)
 same => n,Hangup()
exten => after,1,NoOp(lab caller ${LAB_CALL}: the agent left, stays ${LAB_AFTER}s)
 same => n,GotoIf($["${LAB_SURVEY}" = ""]?stay)
 same => n,Wait(${LAB_SURVEY_DELAY})
 same => n,SendDTMF(${LAB_SURVEY},250,100)
 same => n(stay),Wait(${LAB_AFTER})
 same => n,Hangup()

; Customers the server calls back (callbacks, return visits): the dialplan dials
; Local/<number>@sim-customers (CALLBACK_TECH/CALLBACK_TRUNK); they answer after 2 s
; and stay until the agent hangs up (60 s at most).
[sim-customers]
exten => _X.,1,NoOp(lab customer ${EXTEN} called back)
 same => n,Wait(2)
 same => n,Answer()
 same => n,Wait(60)
 same => n,Hangup()
"""


def fresh_secrets(agents: list[str]) -> dict:
    """Random secrets for one run: AMI users, SIP passwords, agents' PINs."""
    return {
        "ami": secrets.token_hex(16),
        "observer": secrets.token_hex(16),
        "sip": {a: secrets.token_hex(8) for a in agents},
        "pin": {a: str(secrets.randbelow(900000) + 100000) for a in agents},
    }


def _loopback_binds(text: str) -> str:
    """Every ``bind``/``bindaddr`` on 127.0.0.1 (the port, if any, kept)."""
    def fix(m: re.Match) -> str:
        value = m.group(2)
        port = value.rsplit(":", 1)[1] if ":" in value else None
        return m.group(1) + ("127.0.0.1:" + port if port else "127.0.0.1")
    return re.sub(r"^(\s*bind(?:addr)?\s*=\s*)([^\s;]+)", fix, text, flags=re.M)


def _manager(text: str, sec: dict) -> str:
    text = re.sub(r"^(\[hotline\][^\[]*?^secret\s*=\s*)\S+", lambda m: m.group(1) + sec["ami"],
                  text, count=1, flags=re.M | re.S)
    return text + f"""
; Added by deploy/lab: an observer that sees every event (no eventfilter) and
; drives the scripted callers (Originate, Redirect).
[{OBSERVER_USER}]
secret = {sec["observer"]}
deny = 0.0.0.0/0.0.0.0
permit = 127.0.0.1/255.255.255.255
read = all
write = all
writetimeout = 5000
"""


def _pjsip(text: str, sec: dict) -> str:
    # RTP on loopback too (the shipped template leaves the media address to Asterisk).
    text = re.sub(r"^(type\s*=\s*endpoint[^\n]*\n)",
                  r"\1media_address = 127.0.0.1\nbind_rtp_to_media_address = yes\n",
                  text, flags=re.M)
    for agent in sec["sip"]:
        if not re.search(rf"^\[{agent}\]", text, flags=re.M):
            # the shipped file lists two agents: "copy the three sections per agent"
            templates = re.findall(r"^\[1001\]\(([^)]+)\)", text, flags=re.M)
            blocks = []
            for tpl in templates:
                body = re.search(rf"^\[1001\]\({re.escape(tpl)}\)\n(.*?)(?=^\[|^;|\Z)",
                                 text, flags=re.M | re.S).group(1)
                blocks.append(f"[{agent}]({tpl})\n" + body.replace("1001", agent))
            text += "\n; added by deploy/lab\n" + "\n".join(blocks)
    out, section = [], None
    for line in text.splitlines(keepends=True):
        m = re.match(r"^\[([^\]]+)\]", line)
        if m:
            section = m.group(1)
        if section in sec["sip"] and re.match(r"^\s*password\s*=", line):
            line = f"password = {sec['sip'][section]}\n"
        out.append(line)
    return "".join(out)


def render_etc(repo: Path, lab_etc: Path, dest: Path, sec: dict) -> None:
    """Write the ASTLAB_ETC directory (templates: @RUN@/@PREFIX@ still unfilled)."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for conf in lab_etc.glob("*.conf"):
        shutil.copy(conf, dest / conf.name)
    for conf in sorted((repo / "deploy" / "asterisk").glob("*.conf")):
        if conf.name in KEEP_FROM_LAB:
            continue
        text = _loopback_binds(conf.read_text())
        if conf.name == "manager.conf":
            text = _manager(text, sec)
        elif conf.name == "pjsip.conf":
            text = _pjsip(text, sec)
        elif conf.name == "extensions.conf":
            text += LAB_CALLERS
        (dest / conf.name).write_text(text)


def quiet_hours_off(queues_yaml: Path) -> None:
    """Quiet hours down to one minute after midnight, so a run at night may still
    place a return visit (the demo does the same)."""
    doc = yaml.safe_load(queues_yaml.read_text(encoding="utf-8"))
    doc["policy"]["quiet_hours"] = {"start": "00:00", "end": "00:01"}
    queues_yaml.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False),
                           encoding="utf-8")


def max_wait_scenario(queues_yaml: Path, max_wait_s: int = 20) -> None:
    """``general`` (key 0) reaches its maximum wait after ``max_wait_s`` and announces
    every 10 s, so the keep-place callback is offered soon; its estimated-wait offer
    is off, so the callback a caller takes is that one; the grace is a minute."""
    doc = yaml.safe_load(queues_yaml.read_text(encoding="utf-8"))
    general = doc["queues"]["general"]
    general.update(max_wait_s=max_wait_s, announce_interval_s=10)
    general.pop("callback_offer_after_s", None)
    doc["policy"]["max_wait_grace_s"] = 60
    queues_yaml.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False),
                           encoding="utf-8")


def hash_secrets(repo: Path, python: str, plains: list[str]) -> list[str]:
    """Hashes of ``plains`` made by the project's own ``python -m server hash-secret``."""
    def one(plain: str) -> str:
        out = subprocess.run([python, "-m", "server", "hash-secret", "--stdin"], cwd=repo,
                             input=plain + "\n", capture_output=True, text=True, check=True)
        return out.stdout.strip().splitlines()[-1]
    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(one, plains))


def render_server_config(repo: Path, dest: Path, run: Path, sec: dict, ports: dict,
                         wrapup_s: float, python: str = sys.executable) -> dict:
    """Write the daemon's config directory; returns the lab settings worth reporting."""
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(repo / "config", dest)
    server = yaml.safe_load((dest / "server.yaml").read_text())
    server["ami"]["endpoint"] = "tcp:host=127.0.0.1:port=5038"
    server["ami"].pop("secret_file", None)
    server["ami"]["secret_env"] = "HOTLINE_AMI_SECRET"
    server["redis"]["url"] = f"redis://127.0.0.1:{ports['redis']}/0"
    server["http"]["listen"] = f"tcp:port={ports['http']}:interface=127.0.0.1"
    server["metrics"]["listen"] = f"tcp:port={ports['metrics']}:interface=127.0.0.1"
    shipped = server["recordings"]["directory"]
    # the shipped directory, moved from Asterisk's spool into the lab's
    if shipped.startswith(ASTERISK_SPOOL):
        server["recordings"]["directory"] = str(run / "spool") + shipped[len(ASTERISK_SPOOL):]
    server["records"]["spool"] = str(run / "hotline-records-spool")
    (dest / "server.yaml").write_text(yaml.safe_dump(server, sort_keys=False,
                                                     allow_unicode=True))

    agents_cfg = yaml.safe_load((dest / "agents.yaml").read_text())
    ids = list(sec["pin"])
    users = agents_cfg.get("users") or []
    user_pw = {u["name"]: secrets.token_hex(8) for u in users}
    hashes = hash_secrets(repo, python, [sec["pin"][a] for a in ids] + list(user_pw.values()))
    shipped_agents = {a["id"]: a for a in agents_cfg["agents"]}
    skills = {name: 4 for name in agents_cfg["skills"]}
    lab_agents = []
    for agent, pin_hash in zip(ids, hashes, strict=False):
        base = dict(shipped_agents.get(agent, {"id": agent, "name": f"Agent {agent}",
                                               "interface": f"PJSIP/{agent}", "capacity": 1}))
        # every lab agent may take every queue at once (3 phones serve all menus)
        base.update(tier=agents_cfg["tiers"][-1], skills=dict(skills), pin_hash=pin_hash)
        lab_agents.append(base)
    agents_cfg["agents"] = lab_agents
    # the shipped teams name agents the lab does not have (their leads 1019/1020)
    agents_cfg.pop("teams", None)
    for user, pw_hash in zip(users, hashes[len(ids):], strict=False):
        user["password_hash"] = pw_hash
    (dest / "agents.yaml").write_text(yaml.safe_dump(agents_cfg, sort_keys=False,
                                                     allow_unicode=True))

    queues = yaml.safe_load((dest / "queues.yaml").read_text())
    queues["policy"]["wrapup_default_s"] = int(wrapup_s)
    for key in [k for k in queues if str(k).startswith("x-")]:
        del queues[key]  # anchors are already expanded by the YAML loader
    (dest / "queues.yaml").write_text(yaml.safe_dump(queues, sort_keys=False,
                                                     allow_unicode=True))
    return {"recordings_directory": server["recordings"]["directory"],
            "redis_url": server["redis"]["url"], "user_passwords": user_pw}
