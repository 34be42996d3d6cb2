"""The record value and its builder: versions, JSON safety, validation."""

from __future__ import annotations

import json

import pytest

from server.records.model import CallRecord, CallRecorder


def _full_call() -> CallRecorder:
    r = CallRecorder("1700000000.7", 1000.0, caller="13800000000", dialled="95598")
    r.update(language="zh", account="0123456789")
    r.ivr_key("main", "1")
    r.ivr_key("fault", "2")
    r.update(intent="fault.no_power", outage_notice="OUT-17")
    r.ivr_end(1020.0)
    r.enqueued(1020.0, "fault", priority=2)
    r.overflow(1080.0, from_queue="fault", to_queue="general")
    r.offer(1090.0, agent="1001", ring_start=1085.0, outcome="answered")
    r.answered(1090.0, agent="1001", tier="senior")
    r.update(recording="1700000000.7.wav")
    r.bridge_end(1200.0, hung_up_by="caller")
    r.survey(1210.0, answer="dissatisfied", reason="slow")
    r.wrap_up_end(1230.0, disposition="fault.dispatched", notes="crew sent")
    r.finish(1230.0, "answered")
    return r


def test_every_fact_bumps_the_version():
    r = CallRecorder("c1", 0.0, caller="1", dialled="95598")
    versions = [r.version]
    for step in (lambda: r.ivr_key("main", "0"), lambda: r.ivr_end(1.0),
                 lambda: r.enqueued(1.0, "q"), lambda: r.update(account="9")):
        step()
        versions.append(r.version)
    assert versions == sorted(set(versions))


def test_snapshot_is_frozen_and_final_only_after_finish():
    r = _full_call()
    record = r.snapshot()
    assert record.final and record.outcome == "answered"
    assert record.queues == ("fault", "general")
    assert record.ivr_path == (("main", "1"), ("fault", "2"))
    assert (record.agent_id, record.agent_tier, record.priority) == ("1001", "senior", 2)
    with pytest.raises(AttributeError):
        record.version = 0  # type: ignore[misc]
    assert not CallRecorder("c2", 0.0, caller="1", dialled="2").snapshot().final


def test_dict_form_is_json_safe_and_round_trips():
    record = _full_call().snapshot()
    raw = json.loads(json.dumps(record.to_dict()))
    assert CallRecord.from_dict(raw) == record
    assert raw["timeline"][0] == [1000.0, "arrived", {}]
    assert [e[1] for e in raw["timeline"]] == [
        "arrived", "ivr_end", "enqueued", "overflow", "offer", "answered",
        "bridge_end", "survey", "wrap_up_end", "ended"]


def test_late_fact_after_finish_makes_a_newer_final_version():
    r = _full_call()
    before = r.snapshot()
    r.update(notes="corrected")
    after = r.snapshot()
    assert after.final and after.version > before.version


def test_bad_values_are_refused():
    r = CallRecorder("c3", 0.0, caller="1", dialled="2")
    with pytest.raises(ValueError):
        r.offer(1.0, agent="1001", ring_start=0.0, outcome="maybe")
    with pytest.raises(ValueError):
        r.bridge_end(1.0, hung_up_by="nobody")
    with pytest.raises(ValueError):
        r.update(call_id="other")
    with pytest.raises(ValueError):
        CallRecorder("c4", 0.0, caller="1", dialled="2", kind="outbound")  # type: ignore[arg-type]
