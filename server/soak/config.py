"""The generated config: the shipped files plus N agents with cheap PIN hashes."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from server.config.derive import prune_teams
from server.config.secrets import hash_secret

SUPERVISOR = "supervisor1"


def supervisor_password(name: str = SUPERVISOR) -> str:
    return f"soak-{name}"


def write_config(src: str | Path, dest: Path, *, agents: int, ami_endpoint: str,
                 redis_url: str, http_port: int, metrics_port: int, workdir: Path,
                 wrapup_s: float | None = None, log_level: str = "error") -> Path:
    """Copy ``src`` to ``dest`` and rewrite agents.yaml, server.yaml (and the wrap-up).

    Agent ``1001+i`` takes the tier and skills of a shipped agent, the tiers taken
    in turn from the top (team lead, senior, agent, trainee, team lead, ...) so
    that even ten agents cover every skill the queues ask for;
    its PIN is its id, hashed with one PBKDF2 iteration (300 sign-ins at start-up
    and after each daemon restart must not cost minutes).  Users keep their names;
    their password becomes ``soak-<name>``.  ``log_level``: not "warning" — the
    config check accepts it but the daemon's Twisted logger knows only "warn"
    and dies at start-up (reported); "error" or "info" work.
    """
    src, dest = Path(src), Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    for f in src.glob("*.yaml"):
        shutil.copy(f, dest / f.name)
    doc = yaml.safe_load((src / "agents.yaml").read_text(encoding="utf-8"))
    templates = mixed_tiers(doc["agents"], doc.get("tiers", []))
    out = []
    for i in range(agents):
        t = templates[i % len(templates)]
        aid = str(1001 + i)
        out.append({"id": aid, "name": f"坐席{aid}", "tier": t["tier"],
                    "interface": f"PJSIP/{aid}", "skills": dict(t["skills"]),
                    "capacity": t.get("capacity", 1), "pin_hash": hash_secret(aid, 1)})
    doc["agents"] = out
    prune_teams(doc)
    for user in doc.get("users", []):
        user["password_hash"] = hash_secret(supervisor_password(user["name"]), 1)
    _dump(dest / "agents.yaml", doc)

    srv = yaml.safe_load((src / "server.yaml").read_text(encoding="utf-8"))
    srv["ami"]["endpoint"] = ami_endpoint
    srv["ami"].pop("secret_file", None)
    srv["ami"]["secret_env"] = "HOTLINE_AMI_SECRET"
    srv["redis"]["url"] = redis_url
    srv["http"]["listen"] = f"tcp:port={http_port}:interface=127.0.0.1"
    srv["metrics"]["listen"] = f"tcp:port={metrics_port}:interface=127.0.0.1"
    srv["logging"] = {"format": "text", "level": log_level}
    (workdir / "recordings").mkdir(parents=True, exist_ok=True)
    (workdir / "spool").mkdir(parents=True, exist_ok=True)
    srv["recordings"]["directory"] = str(workdir / "recordings")
    srv["records"]["spool"] = str(workdir / "spool")
    _dump(dest / "server.yaml", srv)

    if wrapup_s is not None:
        q = yaml.safe_load((src / "queues.yaml").read_text(encoding="utf-8"))
        q["policy"]["wrapup_default_s"] = int(round(wrapup_s))
        _dump(dest / "queues.yaml", q)
    return dest


def mixed_tiers(agents: list[dict], tiers: list[str]) -> list[dict]:
    """The agents in turns of tier from the top (team lead, senior, agent, trainee,
    team lead, ...), so that the first few already cover every tier floor."""
    by_tier: dict[str, list[dict]] = {}
    for a in agents:
        by_tier.setdefault(a["tier"], []).append(a)
    order = [t for t in reversed(tiers) if t in by_tier] + [
        t for t in by_tier if t not in tiers]
    out: list[dict] = []
    for i in range(len(agents)):
        for t in order:
            if i < len(by_tier[t]):
                out.append(by_tier[t][i])
    return out


def _dump(path: Path, doc) -> None:
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
