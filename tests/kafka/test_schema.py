"""The outbound event schema (docs/events-schema.v2.json; every encoded event validated by a
JSON Schema validator) and the events' message keys."""

from __future__ import annotations

import inspect
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid5

import pytest
from jsonschema import Draft202012Validator, FormatChecker  # type: ignore[import-untyped]

from engine.bootstrap import Engine
from engine.demo import generate
from engine.domain import deal, escalation, rep, routing_book
from engine.domain.escalation import Escalation
from engine.ingest.batch import RawInput
from engine.kafka.keys import EventKeys
from engine.kafka.schema import SCHEMA_VERSION, encode_event, event_id
from engine.store.sql import sql_engine

SCHEMA = json.loads((Path(__file__).parents[2] / "docs" / "events-schema.v2.json").read_text())
V1 = json.loads((Path(__file__).parents[2] / "docs" / "events-schema.v1.json").read_text())
VALIDATOR = Draft202012Validator(SCHEMA, format_checker=FormatChecker())
DECIMAL = re.compile(SCHEMA["$defs"]["decimal"]["pattern"])


def stored_event_names() -> set[str]:
    """Every event the domain can store (the unused ``Created`` bases aside)."""
    names = set()
    for module in (deal, rep, escalation, routing_book):
        for aggregate in vars(module).values():
            if not inspect.isclass(aggregate) or not hasattr(aggregate, "TOPIC"):
                continue
            for member in vars(aggregate).values():
                topic = getattr(member, "TOPIC", None)
                if inspect.isclass(member) and topic and not topic.endswith("created"):
                    names.add(topic)
    return names


def encoded(engine: Engine) -> list[tuple[dict[str, Any], list[tuple[str, bytes]], bytes]]:
    """Every stored event, encoded as the relay does."""
    app = engine.app
    notifications = app.recorder.select_notifications(start=1, limit=1_000_000)
    events = [app.mapper.to_domain_event(n) for n in notifications]
    sql = sql_engine(app.url)
    try:
        keys = EventKeys(app, sql).keys(events)
    finally:
        sql.dispose()
    out = []
    for n, event, key in zip(notifications, events, keys, strict=True):
        value, headers = encode_event(event, topic=n.topic, position=n.id, key=key)
        out.append((json.loads(value), headers, value))
    return out


@pytest.fixture
def filled(engine: Engine) -> Engine:
    """A store with a small quarter of facts and an SLA escalation's three events."""
    lines = list(generate(9, deals=40))
    for start in range(0, len(lines), 500):
        engine.ingestor.ingest([RawInput(raw, f"t:{start + i}")
                                for i, raw in enumerate(lines[start:start + 500])])
    at = datetime(2026, 1, 9, 10, tzinfo=UTC)
    breach = Escalation.breach(deal="D-SLA", workflow="standard", workflow_version=1,
                               rule="first_contact", instance="0", started_at=at, due_at=at,
                               occurred_at=at)
    breach.correct(outcome="met", started_at=at, due_at=at, ended_at=at, occurred_at=at)
    breach.rebreach(started_at=at, due_at=at, occurred_at=at)
    breach.record_step(subject="D-SLA", step="owner+0h", notify="owner", recipient="rep-01",
                       status="notify", owner="rep-01", due_at=at, at=at)
    breach.record_step(subject="D-SLA", step="manager+9h", notify="manager", recipient=None,
                       status="no_manager", owner="rep-01", due_at=at, at=at)
    breach.correct_step(subject="D-SLA", step="manager+9h", reason="ended", ended_at=at,
                        step_at=at, occurred_at=at)
    engine.app.save(breach)
    return engine


def test_the_schema_names_every_event_the_domain_stores() -> None:
    assert set(SCHEMA["properties"]["type"]["enum"]) == stored_event_names()
    assert set(SCHEMA["$defs"]["data"]) == stored_event_names()


def test_every_stored_event_encodes_to_the_documented_schema(filled: Engine) -> None:
    seen = set()
    for payload, headers, _value in encoded(filled):
        VALIDATOR.validate(payload)
        assert set(SCHEMA["required"]) <= set(payload)
        assert payload["schema_version"] == SCHEMA_VERSION == 2
        kind = payload["type"]
        seen.add(kind)
        definition = SCHEMA["$defs"]["data"][kind]
        assert set(definition["required"]) <= set(payload["data"]), kind
        for name, spec in definition["properties"].items():
            if spec == {"$ref": "#/$defs/decimal"}:
                assert isinstance(payload["data"][name], str)
                assert DECIMAL.match(payload["data"][name]), (kind, name)
        assert payload["aggregate"]["type"] in SCHEMA["properties"]["aggregate"]["properties"][
            "type"]["enum"]
        assert dict(headers) == {
            "dealflow.event_id": payload["event_id"].encode(),
            "dealflow.type": kind.encode(),
            "dealflow.position": str(payload["position"]).encode(),
            "dealflow.schema_version": b"2",
        }
        if payload["fact"] is not None:
            assert payload["occurred_at"] is not None
            assert set(payload["fact"]) == {"source", "id", "actor"}
    assert {"dealflow.deal.opened", "dealflow.deal.contract_signed", "dealflow.rep.quota_set",
            "dealflow.sla.breached", "dealflow.sla.corrected", "dealflow.sla.rebreached",
            "dealflow.sla.escalation_step", "dealflow.sla.escalation_step_corrected"} <= seen


def test_the_validator_refuses_what_the_schema_forbids(filled: Engine) -> None:
    # The schema is no rubber stamp: a step without its recipient's status, or a version 1
    # envelope, fails.
    payload = next(p for p, _h, _v in encoded(filled)
                   if p["type"] == "dealflow.sla.escalation_step")
    assert not list(VALIDATOR.iter_errors(payload))
    broken = {**payload, "data": {k: v for k, v in payload["data"].items() if k != "status"}}
    assert list(VALIDATOR.iter_errors(broken))
    assert list(VALIDATOR.iter_errors({**payload, "schema_version": 1}))


def test_version_2_keeps_version_1s_envelope() -> None:
    """What a version 1 consumer relies on: the same envelope fields, required the same."""
    assert SCHEMA["required"] == V1["required"]
    assert set(SCHEMA["properties"]) == set(V1["properties"])
    assert set(V1["properties"]["type"]["enum"]) < set(SCHEMA["properties"]["type"]["enum"])


def test_event_ids_are_stable_and_amounts_exact(filled: Engine) -> None:
    first = encoded(filled)
    again = encoded(filled)
    assert [v for _p, _h, v in first] == [v for _p, _h, v in again]  # byte for byte
    ids = [p["event_id"] for p, _h, _v in first]
    assert len(set(ids)) == len(ids)
    payload = first[0][0]
    aggregate = UUID(payload["aggregate"]["id"])
    assert payload["event_id"] == str(event_id(aggregate, payload["aggregate"]["version"]))
    assert event_id(aggregate, 1) == uuid5(UUID("6f1c2b0e-8a4d-4c55-9d0e-5e7a1f0d2c10"),
                                           f"{aggregate}:1")
    signed = next(p for p, _h, _v in first if p["type"] == "dealflow.deal.contract_signed")
    assert re.fullmatch(r"\d+\.\d{2}", signed["data"]["amount"])


def test_keys_are_the_deal_subject_or_the_rep_id(filled: Engine) -> None:
    rows = encoded(filled)
    by_type: dict[str, set[str]] = {}
    for payload, _h, _v in rows:
        by_type.setdefault(payload["aggregate"]["type"], set()).add(payload["key"])
    assert all(key.startswith("rep-") for key in by_type["rep"])
    assert all(key.startswith("deal-") for key in by_type["deal"])
    assert by_type["escalation"] == {"D-SLA"}
    # One aggregate, one key: a deal's events all land on one partition.
    keys: dict[str, set[str]] = {}
    for payload, _h, _v in rows:
        keys.setdefault(payload["aggregate"]["id"], set()).add(payload["key"])
    assert all(len(k) == 1 for k in keys.values())


def test_keys_resolve_for_events_read_without_their_history(filled: Engine) -> None:
    app = filled.app
    late = app.recorder.select_notifications(start=200, limit=50)
    sql = sql_engine(app.url)
    try:
        fresh = EventKeys(app, sql).keys([app.mapper.to_domain_event(n) for n in late])
    finally:
        sql.dispose()
    expected = {p["position"]: p["key"] for p, _h, _v in encoded(filled)}
    assert fresh == [expected[n.id] for n in late]


def test_the_encoded_event_id_is_the_uuid5_event_id() -> None:
    from uuid import uuid4

    from engine.kafka.schema import _event_id_text

    for version in range(1, 200):
        aggregate = uuid4()
        assert _event_id_text(str(aggregate), version) == str(event_id(aggregate, version))
