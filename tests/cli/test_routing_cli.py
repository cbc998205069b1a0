"""`dealflow report routing` through the real console script: JSON and tables."""

from __future__ import annotations

import json
from pathlib import Path

import orjson

from tests.cli.helpers import dealflow
from tests.engine.facts import fact
from tests.engine.routing.helpers import profile, unowned


def test_report_routing_json_and_tables(tmp_path: Path) -> None:
    facts = [profile("rep-a", capacity=1), profile("rep-b", segments=["high_value"]),
             unowned("D-1"), unowned("D-2"), unowned("D-3"),
             fact("deal.reassigned", "D-3", {"owner": "rep-c"})]
    (tmp_path / "facts.jsonl").write_bytes(b"\n".join(orjson.dumps(f) for f in facts) + b"\n")
    done = dealflow(tmp_path, "ingest", "facts.jsonl", "-q")
    assert done.returncode == 0, done.stdout + done.stderr
    shown = dealflow(tmp_path, "report", "routing", "--as-of=2026-01-10", "--json")
    assert shown.returncode == 0, shown.stdout + shown.stderr
    document = json.loads(shown.stdout)
    assert document["kind"] == "report.routing"
    rows = {r["rep"]: (r["open_load"], r["assigned"]) for r in document["reps"]}
    # D-1 -> rep-a (everyone); D-2 -> nobody (rep-a full, rep-b only high_value); D-3 too.
    assert rows == {"rep-a": (1, {"everyone": 1}), "rep-b": (0, {}), "rep-c": (1, {})}
    assert document["unassigned"] == {"routed_unassigned": 2, "deals": ["D-2", "D-3"],
                                      "open_without_owner": 1}
    table = dealflow(tmp_path, "report", "routing", "--as-of=2026-01-10", "--period=2026-Q1")
    assert table.returncode == 0
    assert "open without owner now" in table.stdout
    assert "everyone 1" in table.stdout
    bad = dealflow(tmp_path, "report", "routing", "--period=2026-13")
    assert bad.returncode == 2
    assert "--period" in bad.stdout
