"""The accuracy report through the real path, on SQLite and PostgreSQL: the worked example
of docs/forecast.md, the reference model's reading of precise rule 8, and --as-known-at."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from engine.bootstrap import Engine
from engine.errors import ReportOptionError
from projections.forecast.accuracy import error_of
from projections.forecast.accuracy_report import build_accuracy_report
from projections.report import ReportParams
from tests.projections.forecast import worked_example as ex
from tests.projections.forecast.oracle import Oracle
from tests.projections.forecast.support import end_of, forecast_runner, ingest


def _accuracy(engine: Engine, as_of: datetime, *, known_at: datetime | None = None,
              **options: Any) -> dict[str, Any]:
    with forecast_runner(engine) as runner:
        runner.catch_up()
        with runner.engine.connect() as conn:
            report = build_accuracy_report(conn, runner.live["forecast"],
                                           ReportParams(as_of=as_of, known_at=known_at),
                                           period=ex.PERIOD, **options)
            report.tables()  # renders
    return report.to_json()


def _calls(doc: dict[str, Any]) -> dict[str, list[tuple[str, Decimal, str | None]]]:
    # ``actual`` is exact (a split share times the signed amount): compared by value.
    return {r["rep"]: [(c["amount"], Decimal(c["actual"]), c["error"]) for c in r["calls"]]
            for r in doc["reps"]}


def test_worked_example(engine: Engine) -> None:
    ingest(engine, ex.facts())
    doc = _accuracy(engine, end_of(ex.ACCURACY_AT))
    assert doc["actual_as_of"] == "2026-07-01T00:00:00+08:00"
    d = Decimal
    assert _calls(doc) == {
        "alice": [("25000.00", d(20000), "0.2500"), ("22000.00", d(20000), "0.1000")],
        "bob": [("20000.00", d(0), None)],
        "carol": [("50000.00", d(60000), "-0.1667"), ("70000.00", d(60000), "0.1667"),
                  ("65000.00", d(60000), "0.0833")],
    }
    latest = {r["rep"]: r["latest"]["id"] for r in doc["reps"]}
    assert latest == {"alice": "alice-call-2", "bob": "bob-call-1", "carol": "carol-call-2"}
    assert doc["reps"][2]["latest"]["time"] == "2026-06-01T10:00:00+08:00"

    may = _accuracy(engine, end_of("2026-05-15"), rep="carol")
    assert _calls(may) == {"carol": [("50000.00", Decimal(60000), "-0.1667")]}

    nobody = _accuracy(engine, end_of(ex.ACCURACY_AT), rep="dave")
    assert nobody["reps"] == [{"rep": "dave", "calls": [], "latest": None}]


def test_matches_the_reference_model_at_every_day(engine: Engine) -> None:
    facts = ex.facts()
    ingest(engine, facts)
    oracle = Oracle(facts)
    for day in ("2026-04-01", "2026-04-24", "2026-04-25", "2026-05-20", "2026-06-10",
                "2026-06-30", "2026-07-01", "2026-08-01"):
        at = end_of(day)
        doc = _accuracy(engine, at)
        for rep in ("alice", "bob", "carol"):
            want = oracle.accuracy(rep, ex.PERIOD, at)
            got = next((r for r in doc["reps"] if r["rep"] == rep), None)
            if not want["submissions"]:
                assert got is None
                continue
            assert got is not None
            assert [(Decimal(c["amount"]), Decimal(c["actual"]),
                     None if c["error"] is None else Decimal(c["error"]))
                    for c in got["calls"]] == [(s["amount"], s["actual"], s["error"])
                                               for s in want["submissions"]]
            assert (got["latest"] and got["latest"]["id"]) == (
                want["latest"] and want["latest"]["id"])


def test_as_known_at_leaves_out_what_was_recorded_later(engine: Engine) -> None:
    first, rest = ex.facts()[:-3], ex.facts()[-3:]  # carol's calls arrive later
    ingest(engine, first)
    with forecast_runner(engine) as runner:
        runner.catch_up()
        calls = runner.live["forecast"].tables.submissions
        with runner.engine.connect() as conn:
            known = conn.execute(select(func.max(calls.c.recorded_at))).scalar_one()
    ingest(engine, rest)
    before = _accuracy(engine, end_of(ex.ACCURACY_AT), known_at=known)
    assert [r["rep"] for r in before["reps"]] == ["alice", "bob"]
    after = _accuracy(engine, end_of(ex.ACCURACY_AT))
    assert [r["rep"] for r in after["reps"]] == ["alice", "bob", "carol"]


def test_error_rounds_half_up_to_4_decimals() -> None:
    assert error_of(Decimal("1.00005"), Decimal(1)) == Decimal("0.0001")
    assert error_of(Decimal("0.99995"), Decimal(1)) == Decimal("-0.0001")
    assert error_of(Decimal(5), Decimal(0)) is None


@pytest.mark.parametrize(("period", "named"), [("2026-13", "--period"), ("2026-Q5", "--period")])
def test_bad_period_is_named(engine: Engine, period: str, named: str) -> None:
    with forecast_runner(engine) as runner, runner.engine.connect() as conn, \
            pytest.raises(ReportOptionError, match=named):
        build_accuracy_report(conn, runner.live["forecast"],
                              ReportParams(as_of=end_of("2026-06-30")), period=period)
