"""Stored event names are fixed and old versions load through upcasters."""

from __future__ import annotations

import json

from eventsourcing.persistence import StoredEvent

from engine.bootstrap import Engine
from engine.domain import Deal, deal_id
from tests.engine.conftest import send
from tests.engine.facts import opened


def test_events_are_stored_under_fixed_names(engine: Engine) -> None:
    send(engine, opened("D-1"))
    notification = engine.app.recorder.select_notifications(start=1, limit=1)[0]
    assert notification.topic == "dealflow.deal.opened"


def test_a_stored_version_1_activity_loads_through_the_upcaster(engine: Engine) -> None:
    send(engine, opened("D-1"))
    # Exactly what version 1 wrote: no "outcome" field and no class_version marker.
    state = {
        "timestamp": {"_type_": "datetime_iso", "_data_": "2026-01-05T03:00:00+00:00"},
        "source": "telephony", "fact_id": "v1-call",
        "occurred_at": {"_type_": "datetime_iso", "_data_": "2026-01-05T10:00:00+08:00"},
        "actor": None, "extra": None, "kind": "call", "purpose": "first_call",
    }
    engine.app.recorder.insert_events([StoredEvent(
        originator_id=deal_id("D-1"), originator_version=2,
        topic="dealflow.deal.activity_logged", state=json.dumps(state).encode(),
    )])
    events = list(engine.app.events.get(deal_id("D-1")))
    assert isinstance(events[1], Deal.ActivityLogged)
    assert events[1].outcome is None
    assert events[1].kind == "call"
    deal: Deal = engine.app.repository.get(deal_id("D-1"))
    assert "activity.logged:call" in deal.seen


def test_opened_keeps_the_subject_and_version_1_loads(engine: Engine) -> None:
    send(engine, opened("D-7"))
    deal: Deal = engine.app.repository.get(deal_id("D-7"))
    assert deal.subject == "D-7"
    v1 = {
        "timestamp": {"_type_": "datetime_iso", "_data_": "2026-01-05T03:00:00+00:00"},
        "originator_topic": "dealflow.deal", "source": "crm-web", "fact_id": "old-1",
        "occurred_at": {"_type_": "datetime_iso", "_data_": "2026-01-05T10:00:00+08:00"},
        "actor": None, "extra": None, "workflow": "standard", "workflow_version": 1,
        "stage": "lead", "account": "a", "owner": "rep-01",
        "amount": {"_type_": "decimal_str", "_data_": "5.00"}, "currency": "CNY",
        "expected_close": None, "segment": None, "partner": None, "splits": None,
    }
    engine.app.recorder.insert_events([StoredEvent(
        originator_id=deal_id("OLD-1"), originator_version=1,
        topic="dealflow.deal.opened", state=json.dumps(v1).encode(),
    )])
    old: Deal = engine.app.repository.get(deal_id("OLD-1"))
    assert (old.subject, old.stage, str(old.amount)) == (None, "lead", "5.00")


def test_a_stored_version_2_opening_loads_without_territory(engine: Engine) -> None:
    v2 = {
        "timestamp": {"_type_": "datetime_iso", "_data_": "2026-01-05T03:00:00+00:00"},
        "originator_topic": "dealflow.deal", "class_version": 2, "source": "crm-web",
        "fact_id": "old-2",
        "occurred_at": {"_type_": "datetime_iso", "_data_": "2026-01-05T10:00:00+08:00"},
        "actor": None, "extra": None, "subject": "OLD-2", "workflow": "standard",
        "workflow_version": 1, "stage": "lead", "account": "a", "owner": "rep-01",
        "amount": {"_type_": "decimal_str", "_data_": "5.00"}, "currency": "CNY",
        "expected_close": None, "segment": "potential", "partner": None, "splits": None,
    }
    engine.app.recorder.insert_events([StoredEvent(
        originator_id=deal_id("OLD-2"), originator_version=1,
        topic="dealflow.deal.opened", state=json.dumps(v2).encode(),
    )])
    old: Deal = engine.app.repository.get(deal_id("OLD-2"))
    assert (old.subject, old.owner, old.segment, old.territory) == (
        "OLD-2", "rep-01", "potential", None)
