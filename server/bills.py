"""Bill lookup backends for the IVR's self-service balance enquiry.

Both return a Deferred that fires with an ``ivr.outcomes.BillInfo`` or None
(unknown account, backend down, timeout) and never fails: the caller then
hears "sorry, we cannot read your bill" and is offered an agent.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import yaml
from twisted.internet import defer
from twisted.logger import Logger
from twisted.web.client import Agent, readBody

from ivr.model import BillLookup
from ivr.outcomes import BillInfo

log = Logger()


def _info(account: str, balance: object, due: object, tz: ZoneInfo) -> BillInfo | None:
    try:
        fen = round(float(balance) * 100)  # type: ignore[arg-type]
        day = due if isinstance(due, dt.date) else dt.date.fromisoformat(str(due))
    except (TypeError, ValueError):
        log.warn("Bill record for {account} is malformed: {balance!r} {due!r}",
                 account=account, balance=balance, due=due)
        return None
    due_epoch = int(dt.datetime.combine(day, dt.time(0, 0), tz).timestamp())
    return BillInfo(account, fen, due_epoch)


class FixtureBills:
    """Accounts from a YAML mapping or a CSV (account,balance,due_date) file."""

    def __init__(self, path: str | Path, timezone: str = "Asia/Shanghai") -> None:
        self._tz = ZoneInfo(timezone)
        path = Path(path)
        rows: dict[str, tuple[object, object]] = {}
        if path.suffix.lower() == ".csv":
            with path.open(newline="", encoding="utf-8") as fh:
                for row in csv.DictReader(fh):
                    rows[row["account"].strip()] = (row["balance"], row["due_date"])
        else:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            for account, entry in data.items():
                if isinstance(entry, dict):
                    rows[str(account)] = (entry.get("balance"), entry.get("due_date"))
        self._rows = rows

    def lookup(self, account: str) -> defer.Deferred:
        row = self._rows.get(account)
        return defer.succeed(None if row is None else _info(account, *row, self._tz))


class HttpBills:
    """``GET <url>?account=N`` answering ``{"balance": 12.3, "due_date": "2026-12-01"}``."""

    def __init__(self, reactor, url: str, timeout_s: float, timezone: str = "Asia/Shanghai"):
        self._reactor = reactor
        self._agent = Agent(reactor, connectTimeout=timeout_s)
        self._url = url
        self._timeout = timeout_s
        self._tz = ZoneInfo(timezone)

    def lookup(self, account: str) -> defer.Deferred:
        sep = "&" if "?" in self._url else "?"
        url = f"{self._url}{sep}{urlencode({'account': account})}".encode()
        d = self._agent.request(b"GET", url)

        def body(response):
            if response.code != 200:
                raise ValueError(f"HTTP {response.code}")
            return readBody(response)

        def parse(raw: bytes) -> BillInfo | None:
            data = json.loads(raw)
            return _info(account, data.get("balance"), data.get("due_date"), self._tz)

        def failed(failure) -> None:
            log.warn("Bill lookup for {account} failed: {err}", account=account,
                     err=failure.getErrorMessage())
            return None

        d.addCallback(body).addCallback(parse)
        d.addTimeout(self._timeout, self._reactor)
        return d.addErrback(failed)


def make_bill_lookup(reactor, spec: BillLookup, timezone: str):
    if spec.backend == "http" and spec.url:
        return HttpBills(reactor, spec.url, spec.timeout_s, timezone)
    return FixtureBills(spec.fixture_path or "", timezone)
