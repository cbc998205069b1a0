"""``audit history`` lists a deal's facts in the order they were decided: a refusal after the
``deal.opened`` it was judged against, even within one batch; each refusal names its rule or
field once; a deal no fact names is exit 2. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

from engine.audit.history import deal_history
from engine.bootstrap import Engine
from tests.cli.helpers import dealflow
from tests.engine.conftest import send
from tests.engine.facts import fact, opened


def test_a_refusal_follows_what_was_decided_before_it(engine: Engine) -> None:
    send(engine,
         opened("D-1"),
         fact("deal.stage_changed", "D-1", {"to": "won"}, time="2026-01-05T11:00:00+08:00"),
         fact("activity.logged", "D-1", {"kind": "call"}, time="2026-01-05T12:00:00+08:00"),
         fact("deal.amount_changed", "D-1", {"amount": "lots", "currency": "CNY"},
              time="2026-01-05T13:00:00+08:00"))
    found = deal_history(engine.app, engine.sql, "D-1")
    assert [(e.fact_type, e.decision) for e in found.entries] == [
        ("deal.opened", "accepted"), ("deal.stage_changed", "refused"),
        ("activity.logged", "accepted"), ("deal.amount_changed", "refused")]
    times = [e.recorded_at for e in found.entries if e.recorded_at is not None]
    assert len(times) == 4 and times == sorted(times)
    jump, bad_amount = found.entries[1], found.entries[3]
    assert jump.detail.startswith("rule stage_jump: from 'lead' ")
    assert jump.detail.count("stage_jump") == 1
    assert bad_amount.detail.startswith("field data.amount: amount 'lots' ")
    assert bad_amount.detail.count("data.amount") == 1


def test_an_unknown_deal_exits_2_and_a_known_one_prints_json(tmp_path: Path) -> None:
    facts = tmp_path / "facts.jsonl"
    facts.write_text(json.dumps(opened("D-1")) + "\n")
    assert dealflow(tmp_path, "ingest", str(facts), "-q").returncode == 0
    unknown = dealflow(tmp_path, "audit", "history", "deal-nope")
    assert unknown.returncode == 2, unknown.stdout + unknown.stderr
    assert unknown.stdout.splitlines() == [
        "error: no deal 'deal-nope': no fact about it was accepted or refused (a deal is "
        "named by its subject, e.g. D-1)"]
    known = dealflow(tmp_path, "audit", "history", "D-1", "--json")
    assert known.returncode == 0, known.stdout + known.stderr
    document = json.loads(known.stdout)
    assert (document["kind"], document["as_of"], document["known_at"]) == (
        "audit.history", None, None)
    assert document["deal"] == "D-1"
    assert [e["fact_type"] for e in document["entries"]] == ["deal.opened"]
