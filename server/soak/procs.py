"""The processes of a run (simulator, daemon), the AMI proxy, /proc sampling, HTTP.

Everything is bounded: every wait has a deadline, every loop a count or a clock.
"""

from __future__ import annotations

import asyncio
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

PYTHON = sys.executable
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


class RigError(RuntimeError):
    pass


def _stop(proc: subprocess.Popen | None, grace: float = 10.0) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


class SimProcess:
    """``python -m server.sim`` in traffic mode; the port is read from its first line."""

    def __init__(self, workdir: Path, args: list[str], env: dict[str, str]) -> None:
        self.workdir = workdir
        self.callers_log = workdir / "callers.jsonl"
        self.status_file = workdir / "sim-status.json"
        self.go_file = workdir / "go"
        self.args = args
        self.env = env
        self.proc: subprocess.Popen | None = None
        self.port = 0

    def start(self, timeout: float = 30.0) -> SimProcess:
        cmd = [PYTHON, "-m", "server.sim", "--port", "0", "--callers-log", str(self.callers_log),
               "--status-file", str(self.status_file), "--wait-for", str(self.go_file),
               *self.args]
        err = open(self.workdir / "sim.log", "ab")  # noqa: SIM115 - the child keeps it
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, env=self.env)
        err.close()
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline().decode() if ready else ""
        if "AMI on" not in line:
            _stop(self.proc)
            raise RigError(f"simulator did not start: {line!r}; see {self.workdir}/sim.log")
        self.port = int(line.rsplit(":", 1)[1])
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def go(self) -> None:
        self.go_file.touch()

    def status(self) -> dict:
        try:
            return json.loads(self.status_file.read_text())
        except (OSError, ValueError):
            return {}

    def stop(self) -> None:
        _stop(self.proc)


class DaemonProcess:
    """``python -m server.soak.daemon DIR`` (``server run`` allowing the soak's cheap
    PINs); restartable; its log goes to daemon.log."""

    def __init__(self, workdir: Path, config_dir: Path, env: dict[str, str]) -> None:
        self.workdir = workdir
        self.config_dir = config_dir
        self.env = env
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> DaemonProcess:
        log = open(self.workdir / "daemon.log", "ab")  # noqa: SIM115 - the child keeps it
        log.write(f"==== start {self.starts + 1} at {time.time():.3f}\n".encode())
        log.flush()
        self.proc = subprocess.Popen(
            [PYTHON, "-m", "server.soak.daemon", str(self.config_dir)],
            stdout=log, stderr=subprocess.STDOUT, env=self.env)
        log.close()
        self.starts += 1
        return self

    @property
    def returncode(self) -> int | None:
        """The exit status once it has exited (None: running or never started)."""
        return None if self.proc is None else self.proc.returncode

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill9(self) -> None:
        proc = self.proc
        if proc is not None and proc.poll() is None:  # alive()
            proc.kill()
            proc.wait(10)

    def stop(self) -> None:
        _stop(self.proc, grace=15.0)


class ProcSampler:
    """RSS and CPU% of one pid from /proc (CPU over the time since the last sample)."""

    def __init__(self) -> None:
        self._last: tuple[int, float, float] | None = None  # pid, cpu seconds, wall

    def sample(self, pid: int) -> tuple[float, float | None] | None:
        try:
            with open(f"/proc/{pid}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{pid}/statm") as fh:
                rss_pages = int(fh.read().split()[1])
        except (OSError, IndexError, ValueError):
            return None
        cpu = (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime
        now = time.monotonic()
        pct = None
        if self._last is not None and self._last[0] == pid and now > self._last[2]:
            pct = 100.0 * (cpu - self._last[1]) / (now - self._last[2])
        self._last = (pid, cpu, now)
        return rss_pages * PAGE / 2**20, pct


class AmiProxy:
    """A TCP relay daemon → proxy → simulator; :meth:`cut` closes every connection.

    Runs an asyncio loop in a thread of its own.  A cut is what a link loss looks
    like to both ends (the socket closes); the daemon reconnects through the proxy,
    which keeps listening.
    """

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self.cuts = 0
        self.connections = 0
        self._writers: set[asyncio.StreamWriter] = set()
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def start(self) -> AmiProxy:
        self._thread.start()
        fut = asyncio.run_coroutine_threadsafe(self._listen(), self._loop)
        self.port = fut.result(10)
        return self

    async def _listen(self) -> int:
        server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        self._server = server
        return server.sockets[0].getsockname()[1]

    async def _client(self, reader, writer) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return
        self.connections += 1
        self._writers |= {writer, up_writer}
        pumps = [asyncio.ensure_future(self._pump(reader, up_writer)),
                 asyncio.ensure_future(self._pump(up_reader, writer))]
        await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        for p in pumps:
            p.cancel()
        for w in (writer, up_writer):
            self._writers.discard(w)
            w.close()

    @staticmethod
    async def _pump(reader, writer) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (OSError, asyncio.CancelledError):
            pass

    def cut(self) -> int:
        """Close every relayed connection now; returns how many sockets were closed."""
        async def _cut() -> int:
            n = len(self._writers)
            for w in list(self._writers):
                w.transport.abort()
            self._writers.clear()
            return n
        n = asyncio.run_coroutine_threadsafe(_cut(), self._loop).result(10)
        self.cuts += 1
        return n

    def stop(self) -> None:
        if self._server is not None:
            self._loop.call_soon_threadsafe(self._server.close)
        if self._thread.is_alive():
            self.cut()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


class Http:
    """JSON over HTTP to the daemon, with a bearer token."""

    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"

    def call(self, method: str, path: str, body: dict | None = None, token: str | None = None,
             timeout: float = 10.0) -> tuple[int, dict]:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return resp.status, json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as exc:
            try:
                return exc.code, json.loads(exc.read() or b"{}")
            except ValueError:
                return exc.code, {}

    def login(self, user: str, password: str) -> str | None:
        code, body = self.call("POST", "/api/login",
                               {"username": user, "password": password, "token": True})
        return body.get("token") if code == 200 else None

    def text(self, url: str, timeout: float = 10.0) -> str:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.read().decode()
