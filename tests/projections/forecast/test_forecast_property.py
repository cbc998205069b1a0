"""`report forecast` on random streams against the reference model (tests/projections/
forecast/oracle.py), on SQLite and PostgreSQL: every row's columns and rollups as of a
random instant (deals with no close date are left to the scenario tests: every earlier
example's are open then too)."""

from __future__ import annotations

from decimal import Decimal
from itertools import count
from typing import Any

from hypothesis import HealthCheck, given, settings

from engine.bootstrap import Engine
from projections.forecast import build_report
from projections.report import ReportParams
from tests.projections.forecast.oracle import Oracle
from tests.projections.forecast.streams import Stream, moved, streams
from tests.projections.forecast.support import forecast_runner, ingest

COLUMNS = ("closed", "commit", "best_case", "pipeline", "omitted", "weighted",
           "commit_forecast", "best_case_forecast", "pipeline_forecast")
_examples = count()


def _expected(oracle: Oracle, stream: Stream) -> dict[tuple[str, str, str], dict[str, Any]]:
    got = oracle.forecast(stream.period, stream.t2)
    out: dict[tuple[str, str, str], dict[str, Any]] = {}
    for scope in ("rep", "team"):
        for name, rows in got[scope].items():
            for currency, row in rows.items():
                out[(scope, name, currency)] = row
    for scope in ("unassigned", "total"):
        for currency, row in got[scope].items():
            out[(scope, scope, currency)] = row
    # The JSON keeps the exact sums (a weighted 49.9995 stays so): compared exactly.
    return {k: {c: v[c] for c in COLUMNS} for k, v in out.items()
            if any(v[c] for c in COLUMNS)}


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(data=streams(2030, "f"))
def test_random_streams_match_the_reference_model(engine: Engine, data: Stream) -> None:
    n = next(_examples)
    stream = moved(data, n, 2030 + n)  # a year per example: earlier ones stay out
    ingest(engine, stream.facts)
    oracle = Oracle(stream.facts)
    with forecast_runner(engine) as runner:
        runner.catch_up()
        with runner.engine.connect() as conn:
            doc = build_report(conn, runner.live["forecast"], ReportParams(as_of=stream.t2),
                               period=stream.period).to_json()
    rows = {(r["scope"], r["name"], r["currency"]): {c: Decimal(r[c]) for c in COLUMNS}
            for r in doc["rows"]}
    assert {k: v for k, v in rows.items() if any(v.values())} == _expected(oracle, stream)
