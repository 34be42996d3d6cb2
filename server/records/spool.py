"""Nothing lost: records go through a local spool file whenever Redis cannot take them.

``DurableRecords`` sits in front of a ``RecordStore``. Records are written strictly
one at a time, in the order ``put`` was called (a ``DeferredLock``), so the stream
holds them in call-end order even across an outage:

1. Normal: the record goes to Redis; ``put`` fires ``"stored"``.
2. Redis fails (connection refused, timeout, loading, OOM...): the record is
   appended to the spool (one JSON line, flush + fsync) and ``put`` fires
   ``"spooled"``. A retry is scheduled on the injected clock with backoff.
3. While the spool has a backlog, new records are appended behind it rather than
   sent to Redis, or they would overtake the older spooled ones.
4. The retry replays the backlog in order, in batches (puts may interleave between
   batches, behind the backlog). The file is truncated only once every entry in it
   has been confirmed by Redis. A crash mid-replay replays the whole file again on
   start; the store's (call_id, version) idempotence drops what already arrived.

File I/O runs in the reactor's thread pool (``deferToThread``): an fsync can take
tens of milliseconds on a busy disk, and the moment we spool is exactly when the
reactor is busiest (an outage of Redis during live traffic), so the AMI stream
must not wait on the disk. Order is still guaranteed because every file operation
runs under the lock, one at a time. Tests may inject a synchronous ``io``.
"""

from __future__ import annotations

import json
import os
from collections import deque
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal, Protocol

from redis.exceptions import RedisError
from twisted.internet import defer, threads
from twisted.logger import Logger

# What counts as "Redis cannot take it now". Any RedisError (not just connection
# errors) spools: OOM, MISCONF or READONLY would otherwise lose the record; the
# error is logged with the call id, and the retry keeps trying.
REDIS_DOWN: tuple[type[BaseException], ...] = (RedisError, OSError, TimeoutError)

Io = Callable[..., defer.Deferred]
PutResult = Literal["stored", "spooled"]


class SpoolFile:
    """Append-only JSON lines, fsync'd per record. Blocking: call through ``io``."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def append(self, record: Mapping[str, Any]) -> None:
        line = json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())

    def load(self) -> tuple[list[dict[str, Any]], int]:
        """Entries in order, and how many unreadable lines were skipped."""
        if not self.path.exists():
            return [], 0
        entries: list[dict[str, Any]] = []
        bad = 0
        with open(self.path, encoding="utf-8") as f:
            for line in f:
                if not line.strip():
                    continue
                try:
                    entries.append(json.loads(line))
                except json.JSONDecodeError:
                    # Only a crash mid-write leaves a torn line, and then the put
                    # never fired: its caller was never told it was saved.
                    bad += 1
        return entries, bad

    def truncate(self) -> None:
        with open(self.path, "w", encoding="utf-8") as f:
            f.flush()
            os.fsync(f.fileno())


class Store(Protocol):
    """Where the spool writes: a RecordStore, or the cases' CaseStore."""

    def put(self, record: Mapping[str, Any], /) -> defer.Deferred: ...


class Timer(Protocol):
    """What the spool uses of a pending retry (twisted's IDelayedCall)."""

    def active(self) -> bool: ...
    def cancel(self) -> None: ...


class Clock(Protocol):
    """What the spool uses of the reactor (IReactorTime; task.Clock in tests).  A
    Protocol rather than the zope interface, whose methods mypy reads without self."""

    def callLater(self, delay: float, callable: Callable[..., Any], *args: Any,
                  **kw: Any) -> Timer: ...


class DurableRecords:
    """The records writer the adapter uses. See the module docstring."""

    log = Logger()

    def __init__(
        self,
        store: Store,
        spool_path: str | os.PathLike[str],
        clock: Clock,
        io: Io = threads.deferToThread,
        initial_delay: float = 0.5,
        max_delay: float = 30.0,
        batch: int = 200,
    ) -> None:
        self._store = store
        self._file = SpoolFile(spool_path)
        self._clock = clock
        self._io = io
        self._initial_delay = initial_delay
        self._max_delay = max_delay
        self._delay = initial_delay
        self._batch = batch
        self._lock = defer.DeferredLock()
        self._backlog: deque[dict[str, Any]] = deque()
        self._retry_call: Timer | None = None
        self._stopped = False

    @property
    def backlog(self) -> int:
        """Records in the spool not yet confirmed by Redis (for /metrics)."""
        return len(self._backlog)

    def start(self) -> defer.Deferred:
        """Load a spool left by a previous run and schedule its replay.
        Fires with the backlog size."""
        return defer.ensureDeferred(self._start())

    async def _start(self) -> int:
        entries, bad = await self._io(self._file.load)
        if bad:
            self.log.error("spool {path}: skipped {bad} torn line(s)",
                           path=str(self._file.path), bad=bad)
        self._backlog.extend(entries)
        if self._backlog:
            self.log.warn("spool {path}: {n} record(s) left by the last run, replaying",
                          path=str(self._file.path), n=len(self._backlog))
            self._schedule_retry(0)
        return len(self._backlog)

    def stop(self) -> None:
        """Cancel the pending retry (the spool file keeps the backlog)."""
        self._stopped = True
        if self._retry_call is not None and self._retry_call.active():
            self._retry_call.cancel()
        self._retry_call = None

    def put(self, record: Mapping[str, Any]) -> defer.Deferred:
        """Fires with "stored" or "spooled". Fails only if neither Redis nor the
        spool file could take the record (e.g. disk full), after logging it."""
        record = dict(record)
        return self._lock.run(lambda: defer.ensureDeferred(self._put_one(record)))

    async def _put_one(self, record: dict[str, Any]) -> PutResult:
        if not self._backlog:
            try:
                await self._store.put(record)
                return "stored"
            except REDIS_DOWN as e:
                self.log.warn("redis write of call {call_id} v{version} failed ({err!r}):"
                              " spooling", call_id=record.get("call_id"),
                              version=record.get("version"), err=e)
        await self._spool(record)
        return "spooled"

    async def _spool(self, record: dict[str, Any]) -> None:
        try:
            await self._io(self._file.append, record)
        except Exception:
            self.log.failure("spool {path}: could not append call {call_id} v{version}:"
                             " record lost", path=str(self._file.path),
                             call_id=record.get("call_id"), version=record.get("version"))
            raise
        self._backlog.append(record)
        if self._retry_call is None:
            self._schedule_retry(self._delay)

    def retry_now(self) -> defer.Deferred:
        """Replay the backlog now. Fires with the backlog left (0 when drained)."""
        if self._retry_call is not None and self._retry_call.active():
            self._retry_call.cancel()
        self._retry_call = None
        return defer.ensureDeferred(self._drain())

    def _schedule_retry(self, delay: float) -> None:
        if self._stopped:
            return
        self._retry_call = self._clock.callLater(delay, self._on_retry_timer)

    def _on_retry_timer(self) -> None:
        self._retry_call = None
        d = defer.ensureDeferred(self._drain())
        d.addErrback(lambda f: self.log.failure("spool replay failed", f))

    async def _drain(self) -> int:
        while self._backlog:
            ok = await self._lock.run(lambda: defer.ensureDeferred(self._drain_batch()))
            if not ok:
                self._delay = min(self._delay * 2, self._max_delay)
                if self._retry_call is None:
                    self._schedule_retry(self._delay)
                break
        return len(self._backlog)

    async def _drain_batch(self) -> bool:
        """Replay up to ``batch`` entries; False if Redis failed again."""
        for _ in range(min(self._batch, len(self._backlog))):
            record = self._backlog[0]
            try:
                await self._store.put(record)
            except REDIS_DOWN as e:
                self.log.warn("spool replay: redis still failing ({err!r}), {n} waiting",
                              err=e, n=len(self._backlog))
                return False
            # Confirmed: drop it from memory; the file shrinks once all are confirmed.
            self._backlog.popleft()
        if not self._backlog:
            await self._io(self._file.truncate)
            self._delay = self._initial_delay
            self.log.info("spool {path}: replayed, truncated", path=str(self._file.path))
        return True
