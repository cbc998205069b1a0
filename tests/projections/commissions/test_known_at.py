"""A statement printed on a date is reproduced exactly ``--as-known-at`` that date, after
later-recorded corrections (a raised quota, a late cancellation) changed the current one."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from engine.bootstrap import Engine
from projections.runner import ProjectionRunner
from tests.projections.commissions.facts import cancel, ingest, quota, report
from tests.projections.commissions.test_worked_example import worked_example


def test_statement_as_known_at_an_earlier_date(engine: Engine, runner: ProjectionRunner) -> None:
    first = [f for f in worked_example() if f["type"] != "contract.cancelled"]
    ingest(engine, first)
    printed = report(runner, period="2026-Q1").to_json()
    known_at = datetime.now(UTC)  # the recording clock: what had been recorded by now
    time.sleep(0.01)
    ingest(engine, [
        quota("alice", "2026-Q1", "110000.00", time="2026-01-10T09:00:00+08:00",
              id_="alice-2026-Q1-raised"),
        cancel("D-3", time="2026-03-25T10:00:00+08:00", id_="D-3-cancel"),
    ])

    current = report(runner, period="2026-Q1").to_json()
    alice = current["statements"][0]
    assert alice["rep"] == "alice"
    assert alice["quota"]["amount"] == "110000.00"
    assert [(ln["kind"], ln["credit"], ln["amount"]) for ln in alice["lines"]] == [
        ("rate", "70000.00", "3500.00"),
        ("rate", "36000.095", "1800.00"),
        ("rate", "3999.905", "200.00"),
        ("rate", "11000.095", "880.01"),
        ("clawback", "-3999.905", "-200.00"),  # D-3 cancelled on 25 March ...
        ("clawback", "-11000.095", "-880.01"),
        ("rate", "10000.00", "500.00"),  # ... before D-4 was signed on 31 March
    ]
    assert alice["totals"] == {"CNY": "5300.00", "USD": "500.00"}
    assert current["statements"] != printed["statements"]

    again = report(runner, period="2026-Q1", known_at=known_at).to_json()
    assert again["statements"] == printed["statements"]
    assert again["statements"][0]["totals"] == {"CNY": "7680.01", "USD": "500.00"}
