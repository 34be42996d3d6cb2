"""Run this project's daemon and dialplan on a real Asterisk 22 with SIP softphones.

    python -m deploy.lab run [--repo DIR] [--callers 10] [--rate 1] [--out DIR]

See deploy/lab/README.md.  Everything listens on 127.0.0.1; every process the run
starts is stopped by its own PID (Asterisk through asterisk-lab.sh's pid file).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from deploy.lab import account, compare, faults, followup, render
from deploy.lab.agents import AgentPhone
from deploy.lab.amiproxy import AmiProxy
from deploy.lab.callers import MIX, PROFILES, CallerDriver, originate_headers

PREFIX = Path(os.environ.get("ASTLAB_PREFIX", "/opt/asterisk"))
LAB_DIR = Path(os.environ.get("HOTLINE_LAB_DIR", "/work/shared/lab/asterisk"))
AGENTS = ("1001", "1002", "1003")
HOLDING_AGENT = "1003"
# --return-visit: the case's owner and the customer's number (sim-customers answers)
VISIT_OWNER, VISIT_NUMBER = "1002", "13900009999"
# --max-wait: the agents are paused until the caller has taken the callback
MAX_WAIT_AGENTS_BACK_S = 75.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_busy(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def missing_tools() -> list[str]:
    """What this machine lacks for a lab run (empty: ready)."""
    out = [] if (PREFIX / "sbin" / "asterisk").exists() else [str(PREFIX / "sbin/asterisk")]
    out += [t for t in ("baresip", "redis-server", "espeak-ng", "sox") if not shutil.which(t)]
    out += [str(p) for p in (LAB_DIR / "sipua.py", LAB_DIR / "amirec.py",
                             LAB_DIR / "asterisk-lab.sh") if not p.exists()]
    return out


def _lab_modules(run_dir: Path):
    os.environ["ASTLAB_RUN"] = str(run_dir)  # sipua keeps each phone's files under it
    sys.path.insert(0, str(LAB_DIR))
    import amirec  # the lab's own modules, by path
    import sipua
    sipua.RUN = str(run_dir)
    return amirec, sipua


class Lab:
    """One run: start everything, drive the callers, compare, stop everything."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.repo = Path(args.repo).resolve()
        self.run_dir = Path(args.run_dir).resolve()
        self.out = Path(args.out).resolve()
        self.python = args.python
        self.sec = render.fresh_secrets(list(AGENTS))
        self.ports = {"redis": free_port(), "http": free_port(), "metrics": free_port(),
                      "proxy": free_port()}
        self.procs: dict[str, subprocess.Popen] = {}
        self.phones: list[AgentPhone] = []
        self.observer = self.proxy = self.driver = None
        self.faults: faults.DaemonFaults | None = None
        self.tokens: dict[str, str] = {}
        self.visit_case = ""
        self.started_at = time.time()
        self.daemon_starts = 0
        self.asterisk_started = False
        self.log_lines: list[str] = []

    # ------------------------------------------------------------------ helpers
    def note(self, text: str) -> None:
        line = time.strftime("%H:%M:%S ") + text
        self.log_lines.append(line)
        print(line, flush=True)
        if self.observer is not None:
            self.observer.note(text)

    def astlab(self, *cmd: str) -> subprocess.CompletedProcess:
        env = {**os.environ, "ASTLAB_RUN": str(self.run_dir), "ASTLAB_PJSIP": "1",
               "ASTLAB_ETC": str(self.run_dir / "astlab-etc"), "ASTLAB_PREFIX": str(PREFIX)}
        return subprocess.run([str(LAB_DIR / "asterisk-lab.sh"), *cmd], env=env,
                              capture_output=True, text=True)

    def daemon_env(self) -> dict:
        return {**os.environ, "HOTLINE_AMI_SECRET": self.sec["ami"]}

    # ------------------------------------------------------------------ setup
    def prepare(self) -> None:
        if port_busy(5038) or port_busy(5060):
            raise SystemExit("127.0.0.1:5038 or :5060 is in use: another lab run? "
                             "(one Asterisk lab at a time)")
        for sub in ("astlab-etc", "hotline-config", "data", "spool", "log", "lib", "run", "ua",
                    "redis", "hotline-records-spool"):
            shutil.rmtree(self.run_dir / sub, ignore_errors=True)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.out.mkdir(parents=True, exist_ok=True)
        render.render_etc(self.repo, LAB_DIR / "etc", self.run_dir / "astlab-etc", self.sec)
        cfg = self.run_dir / "hotline-config"
        self.settings = render.render_server_config(
            self.repo, cfg, self.run_dir, self.sec, self.ports, self.args.wrapup, self.python)
        if self.args.return_visit or self.args.max_wait:  # never placed in quiet hours
            render.quiet_hours_off(cfg / "queues.yaml")
        if self.args.max_wait:
            render.max_wait_scenario(cfg / "queues.yaml")
        # the daemon reaches Asterisk through the recording proxy
        server_yaml = cfg / "server.yaml"
        server_yaml.write_text(server_yaml.read_text().replace(
            "port=5038", f"port={self.ports['proxy']}"))
        self.prompts()

    def prompts(self) -> None:
        """Synthesise the prompts (cached per ivr.yaml) into data/sounds/<lang>/, and MOH."""
        cfg = self.run_dir / "hotline-config"
        synth = self.repo / "deploy" / "prompts" / "synthesize.py"
        key = hashlib.sha256((cfg / "ivr.yaml").read_bytes() + synth.read_bytes()).hexdigest()
        cache = self.run_dir.parent / (self.run_dir.name + "-prompts") / key[:16]
        if not (cache / "hotline-durations.json").exists():
            self.note(f"synthesising prompts into {cache} (once per ivr.yaml)")
            subprocess.run([self.python, str(synth), "--config", str(cfg), "--out", str(cache)],
                           cwd=self.repo, env=self.daemon_env(), check=True,
                           stdout=subprocess.DEVNULL)
        shutil.copytree(cache, self.run_dir / "data" / "sounds", dirs_exist_ok=True)
        moh = self.run_dir / "data" / "moh"  # musiconhold.conf: directory = moh (data dir)
        moh.mkdir(parents=True, exist_ok=True)
        for i in (1, 2, 3):
            subprocess.run(["sox", "-n", "-r", "8000", "-c", "1", "-b", "16",
                            str(moh / f"moh{i}.wav"), "synth", "8", "sine",
                            str(300 + 110 * i), "vol", "0.2"], check=True)

    def start(self) -> None:
        amirec, sipua = _lab_modules(self.run_dir)
        res = self.astlab("start")
        self.asterisk_started = True
        if res.returncode != 0:
            raise RuntimeError("asterisk-lab.sh start failed: " + res.stdout + res.stderr)
        self.note("Asterisk up: " + res.stdout.strip().splitlines()[0])
        self.observer = amirec.Recorder(str(self.out / "observer.ami"),
                                        secret_to_redact=self.sec["observer"])
        resp = amirec.login(self.observer, self.sec["observer"], user=render.OBSERVER_USER)
        if resp is None or resp.response != "Success":
            raise RuntimeError(f"observer login failed: {resp}")
        self.procs["redis"] = subprocess.Popen(
            ["redis-server", "--port", str(self.ports["redis"]), "--bind", "127.0.0.1",
             "--dir", str(self._mkdir("redis")), "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for i, agent in enumerate(AGENTS):
            hold = (3.0, 2.0) if agent == HOLDING_AGENT else (None, 0.0)
            phone = AgentPhone(sipua.Baresip, agent, self.sec["sip"][agent], i,
                               answer_s=self.args.answer_s, talk_s=self.args.talk_s,
                               hold_at_s=hold[0], hold_s=hold[1], note=self.note)
            self.phones.append(phone)
            start = self.observer.index()
            phone.start(lambda timeout, a=agent, i=start: self.observer.wait_event(
                "DeviceStateChange", timeout=timeout, start=i, Device=f"PJSIP/{a}",
                State="NOT_INUSE") is not None)
        self.note("phones registered: " + ", ".join(AGENTS))
        self.proxy = AmiProxy(self.out / "server-session.ami", self.ports["proxy"])
        # lets `compare` put the daemon's session on the observer's clock later
        self.observer.note(f"{faults.OFFSET_NOTE}{self.proxy.t0 - self.observer.t0:.6f} s")
        self.daemon_log = open(self.out / "daemon.log", "wb")
        self.start_daemon()
        self.login_agents()

    def start_daemon(self) -> None:
        """Start the daemon on the run's config (the same Redis, ports and
        recordings directory each time); its output goes on in daemon.log."""
        self.daemon_starts += 1
        if self.daemon_starts > 1:
            self.daemon_log.write(b"\n===== lab: daemon started again =====\n")
            self.daemon_log.flush()
            self.proxy.note(f"lab: daemon start {self.daemon_starts}")
        self.procs["daemon"] = subprocess.Popen(
            [self.python, "-m", "server", "run", "--config",
             str(self.run_dir / "hotline-config")], cwd=self.repo, env=self.daemon_env(),
            stdout=self.daemon_log, stderr=subprocess.STDOUT)
        self.note(f"daemon pid {self.procs['daemon'].pid} from {self.repo}")

    def restart_daemon(self, timeout: float = 40.0) -> bool:
        """After a fault: start the daemon again; True once its API signs an agent
        in (signing in changes no agent state: the restored snapshot holds it)."""
        self.start_daemon()
        deadline = time.monotonic() + timeout
        agent = AGENTS[0]
        while time.monotonic() < deadline:
            if self.procs["daemon"].poll() is not None:
                return False
            try:
                code, _ = self.api("/api/login", {"username": agent, "token": True,
                                                  "password": self.sec["pin"][agent]})
            except (OSError, ValueError):
                code = 0
            if code == 200:
                self.note("restarted daemon serves its API")
                return True
            time.sleep(0.5)
        return False

    def _mkdir(self, name: str) -> Path:
        path = self.run_dir / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def api(self, path: str, body: dict, token: str | None = None) -> tuple[int, dict]:
        req = urllib.request.Request(f"http://127.0.0.1:{self.ports['http']}{path}",
                                     data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(req, timeout=5) as resp:
                return resp.status, json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"{}")

    def get(self, path: str, token: str | None = None) -> dict:
        """GET an API path as the first agent (or ``token``); {} when refused."""
        req = urllib.request.Request(f"http://127.0.0.1:{self.ports['http']}{path}")
        req.add_header("Authorization", f"Bearer {token or self.tokens[AGENTS[0]]}")
        try:
            with urllib.request.urlopen(req, timeout=5) as resp:
                return json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError:
            return {}

    def set_agents(self, state: str) -> None:
        body = {"state": state, **({"reason": "break"} if state == "paused" else {})}
        for agent in AGENTS:
            code, resp = self.api(f"/api/agents/{agent}/state", body, self.tokens[agent])
            self.note(f"agent {agent} {state}: {code} {resp.get('state', resp)}")

    def login_agents(self, timeout: float = 40.0) -> None:
        deadline = time.monotonic() + timeout
        pending = list(AGENTS)
        while pending and time.monotonic() < deadline:
            if self.procs["daemon"].poll() is not None:
                raise RuntimeError(f"daemon exited ({self.procs['daemon'].returncode}); "
                                   f"see {self.out / 'daemon.log'}")
            agent = pending[0]
            try:
                code, body = self.api("/api/login", {"username": agent, "token": True,
                                                     "password": self.sec["pin"][agent],
                                                     "phone": f"PJSIP/{agent}"})
                if code == 200:
                    self.tokens[agent] = body["token"]
                    code, body = self.api(f"/api/agents/{agent}/state", {"state": "ready"},
                                          body["token"])
            except (OSError, ValueError):
                code, body = 0, {}
            if code == 200:
                self.note(f"agent {agent} ready: {body.get('state', body)}")
                pending.pop(0)
            else:
                time.sleep(0.5)
        if pending:
            raise RuntimeError(f"agents not ready: {pending}; see {self.out / 'daemon.log'}")

    # ------------------------------------------------------------------ calls
    def drive(self) -> bool:
        self.driver = CallerDriver(self.observer)
        self.driver.start()
        plan = self.fault_plan()
        extra = 0.0
        if plan is not None:
            self.faults = faults.DaemonFaults(plan, time.monotonic(),
                                              lambda: self.procs.get("daemon"),
                                              self.restart_daemon, self.note)
            self.faults.start()
            extra = plan.at_s + plan.away_s + 60  # + the restarted daemon's resync
        names = self.args.profiles.split(",") if self.args.profiles else list(MIX)
        n = self.args.callers
        if self.args.case_owner:
            case = followup.open_owner_case(self.api, self.tokens[self.args.case_owner],
                                            caller_number(0))
            self.note(f"case {case} for {caller_number(0)}, owner {self.args.case_owner}")
        if self.args.return_visit:
            owner = VISIT_OWNER
            self.visit_case = followup.open_resolved_case(self.api, self.tokens[owner],
                                                          VISIT_NUMBER)
            self.note(f"case {self.visit_case} for {VISIT_NUMBER} resolved by {owner}: "
                      "its return visit is booked")
        if self.args.max_wait:  # nobody answers until the callback is booked
            self.set_agents("paused")
            timer = threading.Timer(MAX_WAIT_AGENTS_BACK_S, self.set_agents, ("ready",))
            timer.daemon = True
            timer.start()
        self.started_at = time.time()
        for k in range(n):
            profile = PROFILES[names[k % len(names)]]
            tag = f"c{k + 1:04d}"
            headers = originate_headers(tag, caller_number(k), profile,
                                        self.args.survey_delay_s, self.args.after_s)
            resp = self.observer.call("Originate", headers)
            self.note(f"caller {tag} ({profile.name}): {resp.response if resp else 'no answer'}")
            time.sleep(1.0 / self.args.rate)
        wrap = self.args.wrapup + self.args.answer_s + self.args.talk_s + 5
        bound = 90 + wrap * -(-n // len(AGENTS)) + extra
        done = self.driver.wait_all_done(n, bound)
        if self.faults is not None:  # a restart still under way is waited for
            self.faults.join(max(0.0, plan.at_s + plan.away_s + 60))
        # A record is final (and exported) once its agent's wrap-up is over too.
        wait = self.args.wrapup + self.args.settle_s
        self.note(f"callers {'all done' if done else f'still up after {bound:.0f}s'}; "
                  f"up to {wait}s for the last records (wrap-up)")
        deadline = time.monotonic() + wait
        while True:
            missing = self.driver.call_ids - set(compare.load_records(self.export()))
            if not missing or time.monotonic() > deadline:
                break
            time.sleep(2)
        self.note(f"records missing: {sorted(missing)}" if missing else "every caller has a record")
        if self.args.max_wait:  # the callback is placed once the agents are back
            self._await_callback(MAX_WAIT_AGENTS_BACK_S + 60 + self.args.wrapup)
        return done

    def _await_callback(self, within_s: float) -> None:
        deadline = self.started_at + within_s
        while time.time() < deadline:
            if any(max(v, key=lambda r: r["version"])["kind"] == "callback"
                   for v in compare.load_records(self.export()).values()):
                self.note("the callback has a final record")
                return
            time.sleep(2)
        self.note("no final callback record in time")

    def fault_plan(self) -> faults.FaultPlan | None:
        a = self.args
        if a.stop_daemon_at is not None:
            return faults.FaultPlan(a.stop_daemon_at, a.away, kill=False)
        if a.kill_daemon_at is not None:
            return faults.FaultPlan(a.kill_daemon_at, a.back_after, kill=True)
        return None

    def fault_result(self, accounts: dict) -> tuple[list, dict | None]:
        """Observer-time windows with no daemon listening, and the session checks."""
        away, checks = fault_checks(self.out, accounts)
        if self.faults is not None:
            log = self.faults.log
            checks["plans"] = [f"{log.plan.name} at {log.plan.at_s:g} s, back after "
                               f"{log.plan.away_s:g} s"] + checks["plans"] + log.errors
            checks["checks"]["fault_applied"] = "ok" if log.serving and not log.errors \
                else "; ".join(log.errors) or "the daemon was not restarted"
        return away, (checks if self.faults is not None or checks["sessions"] > 1 else None)

    def export(self) -> Path:
        """The records in Redis, exported by the worktree's own CLI; returns the file."""
        records = self.out / "records.jsonl"
        subprocess.run([self.python, "-m", "server", "records", "export", "--redis-url",
                        self.settings["redis_url"], "--format", "jsonl", "--output",
                        str(records)], cwd=self.repo, check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        return records

    def results(self) -> dict:
        records = self.export()
        for name in ("full.log", "messages.log"):
            src = self.run_dir / "log" / name
            if src.exists():
                shutil.copy(src, self.out / f"asterisk-{name}")
        log = (self.run_dir / "log" / "full.log")
        accounts = account.build_accounts(account.read_events(self.out / "observer.ami"))
        away, fault_checks = self.fault_result(accounts)
        result = compare.compare(accounts, compare.load_records(records), self.run_dir,
                                 Path(self.settings["recordings_directory"]),
                                 account.missing_sounds(log.read_text() if log.exists() else ""),
                                 self.args.tolerance_s, away)
        if fault_checks is not None:
            result["faults"] = fault_checks
        extra = {"report": followup.report_check(
            self.python, self.repo, self.run_dir / "hotline-config", self.settings["redis_url"],
            self.daemon_env(), accounts, self.started_at, self.out)}
        if self.args.return_visit:
            token = self.tokens[VISIT_OWNER]
            extra["return_visit"] = followup.visit_check(
                lambda path: self.get(path, token), self.api, token, self.visit_case,
                lambda: compare.load_records(self.export()),
                lambda: followup.customer_answered(
                    account.read_events(self.out / "observer.ami"), VISIT_NUMBER))
        if self.args.max_wait:
            extra["max_wait"] = followup.max_wait_check(
                compare.load_records(records), accounts,
                account.read_events(self.out / "observer.ami"), caller_number(0))
        if self.args.case_owner:
            extra["case_owner"] = followup.owner_check(
                compare.load_records(records), accounts, "c0001", self.args.case_owner)
        result["followup"] = extra
        result["settings"] = {"repo": str(self.repo), "callers": self.args.callers,
                              "rate": self.args.rate, "wrapup_s": self.args.wrapup,
                              "recordings_directory": self.settings["recordings_directory"],
                              "run_dir": str(self.run_dir), "away": away}
        (self.out / "comparison.json").write_text(json.dumps(result, indent=1))
        return result

    # ------------------------------------------------------------------ teardown
    def stop(self) -> None:
        if self.faults is not None:
            self.faults.cancel()
            self.faults.join(60)  # a restart under way ends within its own bound
        if self.driver is not None:
            self.driver.stop()
        daemon = self.procs.pop("daemon", None)
        if daemon is not None and daemon.poll() is None:
            daemon.send_signal(signal.SIGTERM)
            try:
                daemon.wait(15)
            except subprocess.TimeoutExpired:
                daemon.kill()
                daemon.wait()
        for phone in self.phones:
            try:
                phone.stop()
            except Exception as exc:  # a phone that cannot quit is killed by PID
                self.note(f"phone {phone.agent}: {exc}; SIGKILL")
                phone.ua.kill()
        if self.observer is not None:
            try:
                self.observer.call("Logoff", timeout=2)
            except OSError:
                pass
        if self.proxy is not None:
            self.proxy.close()
        if self.asterisk_started:
            self.astlab("stop")
        redis = self.procs.pop("redis", None)
        if redis is not None:
            redis.terminate()
            redis.wait(10)
        (self.out / "harness.log").write_text("\n".join(self.log_lines) + "\n")


def cmd_run(args: argparse.Namespace) -> int:
    lacking = missing_tools()
    if lacking:
        print("cannot run the lab, missing: " + ", ".join(lacking), file=sys.stderr)
        return 3
    lab = Lab(args)
    lab.prepare()
    try:
        lab.start()
        lab.drive()
        result = lab.results()
    finally:
        lab.stop()
    print(compare.format_report(result))
    print("\n".join(followup.format_followup(result["followup"])))
    print(f"\nsessions, records and comparison in {lab.out}")
    failed = sum(c["failed"] for c in result["summary"].values())
    failed += sum(row["verdict"] != "ok" for row in result["followup"].values())
    failed += sum(v != "ok" for v in result.get("faults", {}).get("checks", {}).values())
    return 1 if failed and args.strict else 0


def caller_number(k: int) -> str:
    """The k-th scripted caller's number (0-based)."""
    return f"1390000{k + 1:04d}"


def fault_checks(out: Path, accounts: dict) -> tuple[list, dict]:
    """From a run's files: the away windows and the session checks (faults.py)."""
    away, notes = faults.away_windows(out / "observer.ami", out / "server-session.ami")
    checks = faults.session_checks(out / "server-session.ami", accounts)
    checks["plans"] = notes + [f"no daemon listening (observer time) {a:.3f} .. {b:.3f}"
                               for a, b in away]
    return away, checks


def cmd_compare(args: argparse.Namespace) -> int:
    """Compare again from a run's saved files (its run directory must still hold the
    recordings for the recording check)."""
    out = Path(args.out)
    saved = out / "comparison.json"
    settings = json.loads(saved.read_text())["settings"] if saved.exists() else {
        "run_dir": args.run_dir, "recordings_directory": str(
            Path(args.run_dir) / "spool" / "monitor")}
    log = out / "asterisk-full.log"
    accounts = account.build_accounts(account.read_events(out / "observer.ami"))
    away, checks = fault_checks(out, accounts)
    result = compare.compare(
        accounts, compare.load_records(out / "records.jsonl"),
        Path(settings.get("run_dir", "/var/tmp/hotline-lab")),
        Path(settings["recordings_directory"]),
        account.missing_sounds(log.read_text() if log.exists() else ""), args.tolerance_s,
        away)
    if away or checks["sessions"] > 1:
        result["faults"] = checks
    if args.save:
        result["settings"] = settings
        saved.write_text(json.dumps(result, indent=1))
    print(compare.format_report(result))
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m deploy.lab", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser("run", help="one scripted run, then the comparison")
    run.add_argument("--repo", default=".", help="worktree whose server/config/deploy to run")
    run.add_argument("--callers", type=int, default=10)
    run.add_argument("--rate", type=float, default=1.0, help="callers per second")
    run.add_argument("--profiles", help=f"comma list cycled over callers: {', '.join(PROFILES)}"
                                        f" (default: {','.join(MIX)})")
    run.add_argument("--wrapup", type=int, default=30, help="wrap-up seconds (queues.yaml)")
    run.add_argument("--answer-s", type=float, default=2.0, help="phones answer after this")
    run.add_argument("--talk-s", type=float, default=8.0, help="phones hang up after this")
    run.add_argument("--survey-delay-s", type=float, default=2.0)
    run.add_argument("--after-s", type=float, default=8.0,
                     help="a caller stays this long after the agent left")
    run.add_argument("--settle-s", type=float, default=3.0)
    run.add_argument("--tolerance-s", type=float, default=0.25)
    run.add_argument("--run-dir", default=os.environ.get("ASTLAB_RUN", "/var/tmp/hotline-lab"))
    run.add_argument("--out", default=None, help="default: <run-dir>-out/<UTC time>")
    run.add_argument("--python", default=sys.executable, help="runs the daemon and its CLIs")
    run.add_argument("--strict", action="store_true", help="exit 1 when any check fails")
    run.add_argument("--return-visit", action="store_true",
                     help=f"before the run, {VISIT_OWNER} resolves a case for "
                          f"{VISIT_NUMBER}: its return visit must be called, linked and "
                          "closed (quiet hours are off for the run)")
    run.add_argument("--max-wait", action="store_true",
                     help="one caller in general (max_wait_s 20 s) while the agents are "
                          "paused: the keep-place callback must be offered, taken and "
                          "placed to the caller's number once the agents are back "
                          "(use --callers 1 --profiles maxwait)")
    run.add_argument("--case-owner", choices=AGENTS, metavar="AGENT",
                     help="before the run, AGENT opens a case for the first caller's number: "
                          "the caller must be offered to AGENT first")
    fault = run.add_mutually_exclusive_group()
    fault.add_argument("--stop-daemon-at", type=float, metavar="S",
                       help="SIGTERM the daemon S seconds after the first caller")
    fault.add_argument("--kill-daemon-at", type=float, metavar="S",
                       help="kill -9 the daemon S seconds after the first caller")
    run.add_argument("--away", type=float, default=65.0, metavar="S",
                     help="with --stop-daemon-at: start it again S seconds after the signal")
    run.add_argument("--back-after", type=float, default=2.0, metavar="S",
                     help="with --kill-daemon-at: start it again S seconds after the kill")
    again = sub.add_parser("compare", help="print the comparison of a finished run again")
    again.add_argument("out", help="the run's --out directory")
    again.add_argument("--tolerance-s", type=float, default=0.25)
    again.add_argument("--run-dir", default=os.environ.get("ASTLAB_RUN", "/var/tmp/hotline-lab"),
                       help="where the run's recordings are (when OUT has no comparison.json)")
    again.add_argument("--save", action="store_true", help="write OUT/comparison.json again")
    args = p.parse_args(argv)
    if args.cmd == "compare":
        return cmd_compare(args)
    if args.out is None:
        args.out = f"{args.run_dir}-out/{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}"
    return cmd_run(args)


if __name__ == "__main__":
    sys.exit(main())
