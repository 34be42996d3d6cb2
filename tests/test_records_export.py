"""Export (CSV, JSONL) by date range and trimming after export, on a real redis-server.

These run outside the reactor (like the CLI), so they use the synchronous client.
Old entries are written with explicit stream IDs to stand for records of past days.
"""

from __future__ import annotations

import csv
import io
import json
import os
import time
from datetime import UTC, datetime

import pytest
import redis

from server.records.cli import records_main
from server.records.export import CSV_COLUMNS, export_records, trim_exported
from server.records.model import CallRecord, CallRecorder
from server.records.store import _PUT_SCRIPT, EXPORTED_UNTIL, SEEN, STREAM, call_key

DAY_MS = 86_400_000
NOW = 1_790_000_000.0  # a fixed "now" in epoch seconds


@pytest.fixture
def records_url(redis_server):
    url = redis_server.url.rsplit("/", 1)[0] + "/4"
    client = redis.Redis.from_url(url)
    client.flushdb()
    client.close()
    return url


@pytest.fixture
def client(records_url):
    c = redis.Redis.from_url(records_url)
    yield c
    c.close()


def _answered(i: int) -> CallRecord:
    r = CallRecorder(f"1790000000.{i}", NOW + i, caller=f"1380000{i:04d}", dialled="95598")
    r.update(language="zh")
    r.ivr_key("main", "1")
    r.ivr_end(NOW + i + 10)
    r.enqueued(NOW + i + 10, "fault")
    r.offer(NOW + i + 30, agent="1001", ring_start=NOW + i + 26, outcome="answered")
    r.answered(NOW + i + 30, agent="1001", tier="agent")
    r.bridge_end(NOW + i + 90, hung_up_by="caller")
    r.wrap_up_end(NOW + i + 100, disposition="fault.reported", notes="言, \"quoted\"")
    r.finish(NOW + i + 100, "answered")
    return r.snapshot()


def _put(client: redis.Redis, record: CallRecord) -> None:
    raw = record.to_dict()
    client.register_script(_PUT_SCRIPT)(
        keys=[call_key(record.call_id), SEEN, STREAM],
        args=[record.call_id, record.version, "1", json.dumps(raw)])


def _put_at(client: redis.Redis, ms: int, record: CallRecord) -> None:
    client.xadd(STREAM, {"call_id": record.call_id, "version": record.version,
                         "record": json.dumps(record.to_dict())}, id=f"{ms}-0")
    client.hset(SEEN, record.call_id, record.version)


def _at(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def test_csv_has_header_all_rows_and_durations(client, records_url):
    for i in range(7):
        _put(client, _answered(i))
    out = io.StringIO()
    assert export_records(records_url, None, None, "csv", out, batch=3) == 7
    out.seek(0)
    reader = csv.DictReader(out)
    assert reader.fieldnames == CSV_COLUMNS
    rows = list(reader)
    assert [r["call_id"] for r in rows] == [f"1790000000.{i}" for i in range(7)]
    first = rows[0]
    assert (first["ivr_s"], first["queue_wait_s"], first["ring_s"], first["talk_s"],
            first["acw_s"], first["handling_s"]) == ("10.0", "20.0", "4.0", "60.0",
                                                      "10.0", "70.0")
    assert first["notes"] == '言, "quoted"'
    assert first["ivr_path"] == "main:1" and first["hung_up_by"] == "caller"
    assert first["arrived_at"].startswith("2026-")


def test_jsonl_round_trips_and_only_the_newest_version_is_exported(client, records_url):
    old = _answered(1)
    _put(client, old)
    _put(client, _answered(2))
    corrected = CallRecord.from_dict({**old.to_dict(), "version": old.version + 1,
                                      "notes": "corrected"})
    _put(client, corrected)
    out = io.StringIO()
    assert export_records(records_url, None, None, "jsonl", out) == 2
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [CallRecord.from_dict(line) for line in lines] == [_answered(2), corrected]
    assert lines[0]["durations"]["handling_s"] == 70.0


def test_date_range_is_half_open_and_batched(client, records_url):
    base = int(NOW * 1000)
    for day in range(5):
        _put_at(client, base + day * DAY_MS, _answered(day))
    out = io.StringIO()
    n = export_records(records_url, _at(base + DAY_MS), _at(base + 4 * DAY_MS), "jsonl", out,
                       batch=2)
    assert n == 3
    assert [json.loads(x)["call_id"] for x in out.getvalue().splitlines()] == [
        "1790000000.1", "1790000000.2", "1790000000.3"]
    # A range that does not start at the beginning leaves the marker alone.
    assert client.get(EXPORTED_UNTIL) is None


def test_trim_removes_only_exported_entries_past_retention(client, records_url):
    now_ms = int(NOW * 1000)
    ages = [200, 150, 100, 10]  # days
    for i, age in enumerate(ages):
        _put_at(client, now_ms - age * DAY_MS, _answered(i))
    assert trim_exported(records_url, 92, now=NOW) == 0  # nothing exported yet

    export_records(records_url, None, _at(now_ms - 120 * DAY_MS), "csv", io.StringIO())
    assert client.get(EXPORTED_UNTIL) == f"{now_ms - 150 * DAY_MS}-0".encode()
    assert trim_exported(records_url, 92, now=NOW) == 2
    assert client.xlen(STREAM) == 2
    assert client.hexists(SEEN, "1790000000.0") is False

    export_records(records_url, _at(now_ms - 120 * DAY_MS), None, "csv", io.StringIO())
    assert trim_exported(records_url, 92, now=NOW) == 1  # the 10-day one is kept
    assert [f[b"call_id"] for _, f in client.xrange(STREAM)] == [b"1790000000.3"]


def test_cli_export_to_file(client, records_url, tmp_path):
    _put(client, _answered(0))
    target = tmp_path / "records.csv"
    argv = ["export", "--redis-url", records_url, "--from", "2000-01-01",
            "--format", "csv", "--output", str(target)]
    assert records_main(argv) == 0
    with open(target, newline="", encoding="utf-8") as f:
        assert [r["call_id"] for r in csv.DictReader(f)] == ["1790000000.0"]
    assert records_main(["trim", "--redis-url", records_url]) == 0


def _recording(directory, name: str, age_days: float) -> None:
    path = directory / name
    path.write_bytes(b"RIFF")
    t = time.time() - age_days * 86400
    os.utime(path, (t, t))


def test_trim_recordings_deletes_only_recordings_past_the_retention(tmp_path, capsys):
    _recording(tmp_path, "1795000000.1.wav", 120)
    _recording(tmp_path, "1795000000.2.wav", 91)
    _recording(tmp_path, "notes.txt", 400)  # not a recording
    (tmp_path / "sub").mkdir()
    _recording(tmp_path / "sub", "old.wav", 400)  # not ours to walk into
    argv = ["trim-recordings", "--directory", str(tmp_path), "--retention-days", "92"]
    assert records_main([*argv, "--dry-run"]) == 0
    assert capsys.readouterr().out.split() == ["1795000000.1.wav"]
    assert (tmp_path / "1795000000.1.wav").exists()  # a dry run deletes nothing
    assert records_main(argv) == 0
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == ["1795000000.2.wav", "notes.txt", "sub"]
    assert (tmp_path / "sub" / "old.wav").exists()


def test_trim_recordings_refuses_a_retention_below_the_floor_and_a_bad_directory(
        tmp_path, capsys):
    _recording(tmp_path, "a.wav", 200)
    assert records_main(["trim-recordings", "--directory", str(tmp_path),
                         "--retention-days", "30"]) == 2
    assert "below the DL/T 2046-2019 floor" in capsys.readouterr().err
    assert (tmp_path / "a.wav").exists()
    assert records_main(["trim-recordings", "--directory", str(tmp_path / "nope")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_records_help_reaches_the_records_parser(capsys):
    from server.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["records", "--help"])  # was "unrecognized arguments: --help"
    assert exit_.value.code == 0
    assert "trim-recordings" in capsys.readouterr().out


def _fallback(i: int, answered: bool) -> CallRecord:
    """Fell back from the fault queue (the server away); answered there by 1002 or not."""
    r = CallRecorder(f"1790000100.{i}", NOW + i, caller=f"1390000{i:04d}", dialled="95598")
    r.ivr_end(NOW + i + 10)
    r.enqueued(NOW + i + 10, "fault")
    r.fallback(NOW + i + 45, "watchdog", "hotline-fallback")
    if answered:
        r.answered(NOW + i + 52, agent="1002", tier="trainee")
        r.update(recording=f"1790000100.{i}.wav")
        r.bridge_end(NOW + i + 60, hung_up_by="agent")
        r.finish(NOW + i + 60, "fallback_answered")
    else:
        r.abandoned(NOW + i + 58)
        r.finish(NOW + i + 58, "fallback_abandoned")
    return r.snapshot()


def test_fallback_calls_export_with_their_outcome_reason_agent_and_durations(client,
                                                                            records_url):
    _put(client, _fallback(1, answered=True))
    _put(client, _fallback(2, answered=False))
    out = io.StringIO()
    assert export_records(records_url, None, None, "csv", out) == 2
    out.seek(0)
    answered, abandoned = list(csv.DictReader(out))
    assert (answered["outcome"], answered["agent_id"], answered["fallback_reason"],
            answered["hung_up_by"], answered["recording"]) == (
        "fallback_answered", "1002", "watchdog", "agent", "1790000100.1.wav")
    assert answered["queues"] == "fault|hotline-fallback"
    assert (answered["queue_wait_s"], answered["talk_s"]) == ("42.0", "8.0")
    assert (abandoned["outcome"], abandoned["agent_id"], abandoned["fallback_reason"],
            abandoned["queue_wait_s"], abandoned["talk_s"]) == (
        "fallback_abandoned", "", "watchdog", "48.0", "0.0")
    out = io.StringIO()
    export_records(records_url, None, None, "jsonl", out)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(x["outcome"], x["fallback_reason"], x["durations"]["talk_s"]) for x in lines] == [
        ("fallback_answered", "watchdog", 8.0), ("fallback_abandoned", "watchdog", 0.0)]
