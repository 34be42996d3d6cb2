"""A private redis-server in a temp directory, for the demo and the tests.

Production points the daemon at its own Redis (see deploy/redis); the demo and
the test suite must need no running services, so they start one of these on a
free loopback port and stop it at the end.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import threading
from pathlib import Path


class RedisNotAvailable(RuntimeError):
    pass


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class RedisProcess:
    """Start with :meth:`start`, stop with :meth:`stop` (or use as a context manager).

    ``appendonly`` turns on AOF with ``appendfsync everysec``, the setting
    deploy/redis recommends, so tests that kill and restart the server see the
    same durability production has.
    """

    def __init__(
        self,
        port: int | None = None,
        directory: str | None = None,
        appendonly: bool = True,
        binary: str = "redis-server",
        extra_args: tuple[str, ...] = (),
    ) -> None:
        path = shutil.which(binary)
        if path is None:
            raise RedisNotAvailable(
                f"{binary} not found: install it (apt-get install redis-server) "
                "or pass --redis-url"
            )
        self.binary = path
        self.port = port or free_port()
        self._own_dir = directory is None
        self.directory = Path(directory or tempfile.mkdtemp(prefix="hotline-redis-"))
        self.appendonly = appendonly
        self.extra_args = tuple(extra_args)  # e.g. ("--user", "hotline", "on", ">pw", ...)
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 15.0) -> RedisProcess:
        """Start and block until redis logs that it accepts connections."""
        args = [
            self.binary,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", str(self.directory),
            "--save", "",
            "--appendonly", "yes" if self.appendonly else "no",
            "--appendfsync", "everysec",
            "--logfile", "",
            "--daemonize", "no",
            *self.extra_args,
        ]
        self.proc = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        seen = []
        assert self.proc.stdout is not None
        # Readiness from the server's own log line: no polling, no sleeps.
        for line in self.proc.stdout:
            seen.append(line)
            if "Ready to accept connections" in line:
                break
        else:
            self.proc.wait(timeout)
            raise RedisNotAvailable("redis-server did not start:\n" + "".join(seen[-20:]))
        # Keep draining its log so the pipe never fills and blocks redis.
        threading.Thread(target=self._drain, daemon=True).start()
        return self

    def _drain(self) -> None:
        proc = self.proc
        if proc is not None and proc.stdout is not None:
            try:
                for _ in proc.stdout:
                    pass
            except (ValueError, OSError):
                pass  # the pipe was closed by stop()/kill(): nothing left to drain

    def kill(self) -> None:
        """SIGKILL: for the tests that prove nothing is lost when Redis dies."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._close_pipe()

    def _close_pipe(self) -> None:
        if self.proc is not None and self.proc.stdout is not None:
            self.proc.stdout.close()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._close_pipe()
        self.proc = None

    def cleanup(self) -> None:
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> RedisProcess:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.cleanup()
