"""`dealflow sla tick --at T` through the real console script, on SQLite and PostgreSQL:
it records each breach and escalation step once, prints them (JSON envelope), and the
SLA report then shows the steps."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson

from tests.cli.helpers import dealflow
from tests.engine.facts import fact, opened


def tick(folder: Path, store_url: str, *args: str) -> dict[str, Any]:
    done = dealflow(folder, "sla", "tick", "--db", store_url, "--json", *args)
    assert done.returncode == 0, done.stdout + done.stderr
    document: dict[str, Any] = json.loads(done.stdout)
    return document


def test_tick_at_records_each_step_once(tmp_path: Path, store_url: str) -> None:
    facts = [fact("rep.profile_set", "rep-07", {"team": "east", "manager": "boss-1"},
                  time="2026-01-01T09:00:00+08:00"),
             opened("C-1", owner="rep-07", time="2026-01-05T10:00:00+08:00")]
    (tmp_path / "facts.jsonl").write_bytes(b"\n".join(orjson.dumps(f) for f in facts) + b"\n")
    done = dealflow(tmp_path, "ingest", "facts.jsonl", "-q", "--db", store_url)
    assert done.returncode == 0, done.stdout + done.stderr

    first = tick(tmp_path, store_url, "--at", "2026-01-06T12:00:00+08:00")
    assert (first["kind"], first["as_of"], first["recorded"]) == (
        "sla.tick", "2026-01-06T12:00:00+08:00", 2)
    assert [(e["kind"], e["subject"], e["rule"], e["step"], e["recipient"])
            for e in first["events"]] == [
        ("breached", "C-1", "first_contact", None, None),
        ("step", "C-1", "first_contact", "owner+0h", "rep-07")]
    step = first["events"][1]
    assert step["occurred_at"] == "2026-01-06T02:00:00+00:00"  # the deadline, not the clock
    assert tick(tmp_path, store_url, "--at", "2026-01-06T12:00:00+08:00")["recorded"] == 0
    later = tick(tmp_path, store_url, "--at", "2026-01-07T10:00:00.000001+08:00")
    assert [(e["step"], e["status"], e["recipient"]) for e in later["events"]] == [
        ("manager+9h", "notify", "boss-1")]

    done = dealflow(tmp_path, "report", "sla", "--db", store_url, "--deal", "C-1", "--json",
                    "--as-of", "2026-01-08T00:00:00+08:00")
    assert done.returncode == 0, done.stderr
    (contact,) = [i for i in json.loads(done.stdout)["instances"]
                  if i["rule"] == "first_contact"]
    assert [(s["step"], s["status"], s["recipient"]) for s in contact["steps"]] == [
        ("owner+0h", "recorded", "rep-07"), ("manager+9h", "recorded", "boss-1")]

    table = dealflow(tmp_path, "sla", "tick", "--db", store_url, "--at", "2026-01-09")
    assert table.returncode == 0, table.stderr
    assert "SLA timer tick as of" in table.stdout


def test_tick_on_a_missing_store_exits_2(tmp_path: Path) -> None:
    done = dealflow(tmp_path, "sla", "tick", "--at", "2026-01-09")
    assert done.returncode == 2
    assert "no store" in done.stdout + done.stderr


def test_a_bad_at_names_the_option(tmp_path: Path) -> None:
    done = dealflow(tmp_path, "sla", "tick", "--at", "yesterday")
    assert done.returncode == 2
    assert "--at" in done.stdout + done.stderr


def test_tick_while_another_timer_holds_the_lock_exits_1(tmp_path: Path, store_url: str) -> None:
    from engine.bootstrap import bootstrap
    from engine.settings import Settings

    (tmp_path / "facts.jsonl").write_bytes(orjson.dumps(opened("C-1")) + b"\n")
    assert dealflow(tmp_path, "ingest", "facts.jsonl", "-q", "--db", store_url).returncode == 0
    engine = bootstrap(Settings(db=store_url))
    try:
        timer = engine.sla_timer()
        assert timer.lock.acquire()
        done = dealflow(tmp_path, "sla", "tick", "--db", store_url, "--at", "2026-01-09")
        assert done.returncode == 1, done.stdout + done.stderr
        assert "another SLA timer holds the lock" in done.stdout
        timer.stop()
    finally:
        engine.close()
