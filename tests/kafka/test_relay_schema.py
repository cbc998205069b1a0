"""Messages the relay publishes through a real broker are valid against the outbound schema
version 2 (docs/events-schema.v2.json), the escalation ladder's among them."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator, FormatChecker  # type: ignore[import-untyped]

from engine.bootstrap import bootstrap
from engine.demo import generate
from engine.ingest.batch import RawInput
from engine.settings import Settings
from tests.kafka.conftest import consume_all, kafka_settings

pytestmark = pytest.mark.kafka

SCHEMA = json.loads((Path(__file__).parents[2] / "docs" / "events-schema.v2.json").read_text())


def test_published_messages_validate_against_schema_version_2(kafka_bootstrap: str,
                                                               tmp_path: Path) -> None:
    lines = list(generate(5, deals=30))
    engine = bootstrap(Settings(db=f"sqlite:///{tmp_path}/store.db"))
    try:
        items = lines
        for start in range(0, len(items), 500):
            engine.ingestor.ingest([RawInput(line, f"t:{start + i}")
                                    for i, line in enumerate(items[start:start + 500])])
        runner = engine.runner(["sla"])
        runner.catch_up()
        timer = engine.sla_timer(runner)
        assert timer.tick(datetime.fromisoformat("2026-04-30T00:00:00+08:00")) > 0
        timer.stop()
        runner.stop()
        settings = kafka_settings(kafka_bootstrap)
        engine.relay(settings).run(until_idle=True)
        head = int(engine.app.recorder.max_notification_id() or 0)
        records = consume_all(kafka_bootstrap, settings.events_topic, expect=head)
    finally:
        engine.close()
    validator = Draft202012Validator(SCHEMA, format_checker=FormatChecker())
    seen: set[str] = set()
    for record in records:
        payload = json.loads(record.value)
        validator.validate(payload)
        assert dict(record.headers)["dealflow.schema_version"] == b"2"
        seen.add(payload["type"])
    assert {"dealflow.sla.breached", "dealflow.sla.escalation_step",
            "dealflow.rep.profile_set"} <= seen
    steps = [json.loads(r.value) for r in records
             if json.loads(r.value)["type"] == "dealflow.sla.escalation_step"]
    assert {s["data"]["status"] for s in steps} <= {"notify", "no_owner", "no_manager"}
    # The demo's own profiles name managers: some manager steps notify one.
    assert any(s["data"]["step"] == "manager+9h" and s["data"]["recipient"] is not None
               for s in steps)
