"""Mass-outage notices, and which one covers a caller right now.

During a storm most callers ring to ask whether the outage is known and when
power comes back.  Announcing a supervisor's notice before the menu answers
them without an agent (the call is *deflected*).  A notice covers a caller
by the landline area code of the number or by a number prefix (mobile
ranges carry no area code, so supervisors list prefixes for them).

Pure: the board keeps notices in memory; the HTTP API / CLI add and remove
them and persist the board through ``to_dict``/``from_dict``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["OutageBoard", "OutageNotice", "national_number"]


def national_number(number: str) -> str:
    """Caller ID in national form: digits only, ``+86``/``0086`` removed.

    Landlines dialled from abroad lose their trunk ``0`` (+86 531 ...), so it
    is put back; an 11-digit number starting with 1 is a mobile and has none.
    """
    raw = number.strip()
    digits = "".join(ch for ch in raw if ch.isdigit())
    international = raw.startswith("+86") or digits.startswith("0086")
    if raw.startswith("+86"):
        digits = digits[2:]
    elif digits.startswith("0086"):
        digits = digits[4:]
    if international and digits and not digits.startswith("0"):
        if not (digits.startswith("1") and len(digits) == 11):
            digits = "0" + digits
    return digits


def _area(code: str) -> str:
    code = "".join(ch for ch in code if ch.isdigit())
    return code if code.startswith("0") else "0" + code


@dataclass(frozen=True)
class OutageNotice:
    id: str
    start: float  # epoch seconds
    restore: float  # expected restore, epoch seconds: spoken to the caller
    area_codes: tuple[str, ...] = ()  # "0531" or "531"
    prefixes: tuple[str, ...] = ()  # national-form number prefixes, e.g. "1386410"
    text: str = ""  # for people: the desk, the wallboard, the synthesis script
    prompt: str | None = None  # a recorded announcement; None: the config's outage prompt

    def match_length(self, number: str) -> int:
        """How specifically this notice covers ``number``: 0 when it does not."""
        national = national_number(number)
        if not national:
            return 0
        hits = [len(_area(a)) for a in self.area_codes if national.startswith(_area(a))]
        hits += [len(p) for p in self.prefixes if p and national.startswith(p)]
        return max(hits, default=0)

    def active(self, now: float, max_age_s: float | None = None) -> bool:
        # past the expected restore time, "power is back at 18:30" would mislead
        if not (self.start <= now < self.restore):
            return False
        return max_age_s is None or now - self.start <= max_age_s

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "start": self.start, "restore": self.restore,
                "area_codes": list(self.area_codes), "prefixes": list(self.prefixes),
                "text": self.text, "prompt": self.prompt}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OutageNotice:
        return cls(str(data["id"]), float(data["start"]), float(data["restore"]),
                   tuple(data.get("area_codes", ())), tuple(data.get("prefixes", ())),
                   str(data.get("text", "")), data.get("prompt"))


class OutageBoard:
    """The notices supervisors have posted; answers "which covers this caller now?"."""

    def __init__(self, notices: tuple[OutageNotice, ...] = ()) -> None:
        self._notices: dict[str, OutageNotice] = {n.id: n for n in notices}

    def add(self, notice: OutageNotice) -> None:
        """Add or replace (same id) a notice: a supervisor revising the restore time."""
        if notice.restore <= notice.start:
            raise ValueError(f"notice {notice.id}: restore must be after start")
        if not notice.area_codes and not notice.prefixes:
            raise ValueError(f"notice {notice.id}: give area codes or number prefixes")
        self._notices[notice.id] = notice

    def remove(self, notice_id: str) -> bool:
        return self._notices.pop(notice_id, None) is not None

    def notices(self) -> tuple[OutageNotice, ...]:
        return tuple(sorted(self._notices.values(), key=lambda n: (n.start, n.id)))

    def covering(self, number: str, now: float,
                 max_age_s: float | None = None) -> OutageNotice | None:
        """The active notice for ``number``: the most specific match, then the newest."""
        best: tuple[int, float, str] | None = None
        found = None
        for notice in self._notices.values():
            length = notice.match_length(number)
            if length and notice.active(now, max_age_s):
                rank = (length, notice.start, notice.id)
                if best is None or rank > best:
                    best, found = rank, notice
        return found

    def expire(self, now: float) -> tuple[OutageNotice, ...]:
        """Drop notices whose restore time has passed; returns what was dropped."""
        gone = tuple(n for n in self._notices.values() if n.restore <= now)
        for notice in gone:
            del self._notices[notice.id]
        return gone

    def to_dict(self) -> dict[str, Any]:
        return {"notices": [n.to_dict() for n in self.notices()]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OutageBoard:
        return cls(tuple(OutageNotice.from_dict(d) for d in data.get("notices", ())))
