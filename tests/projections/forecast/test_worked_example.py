"""docs/forecast.md's worked example, `report forecast` part, asserted figure by figure
through the real path (facts -> ingest -> forecast view -> report) on SQLite and PostgreSQL
(the waterfall and accuracy parts: test_waterfall_report.py, test_accuracy_report.py)."""

from __future__ import annotations

from decimal import Decimal

from engine.bootstrap import Engine
from projections.forecast import build_report
from projections.report import ReportParams
from tests.projections.forecast import worked_example as ex
from tests.projections.forecast.support import end_of, forecast_runner, ingest

COLUMNS = ("closed", "commit", "best_case", "pipeline", "omitted", "weighted",
           "commit_forecast", "best_case_forecast", "pipeline_forecast")

#: The table of docs/forecast.md: (scope, name, currency) -> the columns, in thousands.
DOCUMENTED: dict[tuple[str, str, str], tuple[str, ...]] = {
    ("rep", "alice", "CNY"): ("20", "120", "0", "0", "0", "96", "140", "140", "140"),
    ("rep", "alice", "USD"): ("0", "0", "0", "30", "0", "1.5", "0", "0", "30"),
    ("rep", "bob", "CNY"): ("0", "0", "0", "0", "45", "2.25", "0", "0", "0"),
    ("rep", "carol", "CNY"): ("60", "0", "0", "0", "0", "0", "60", "60", "60"),
    ("rep", "dave", "CNY"): ("0", "40", "0", "0", "0", "2", "40", "40", "40"),
    ("team", "east", "CNY"): ("20", "120", "0", "0", "45", "98.25", "140", "140", "140"),
    ("team", "east", "USD"): ("0", "0", "0", "30", "0", "1.5", "0", "0", "30"),
    ("team", "west", "CNY"): ("60", "0", "0", "0", "0", "0", "60", "60", "60"),
    ("team", "no team", "CNY"): ("0", "40", "0", "0", "0", "2", "40", "40", "40"),
    ("total", "total", "CNY"): ("80", "160", "0", "0", "45", "100.25", "240", "240", "240"),
    ("total", "total", "USD"): ("0", "0", "0", "30", "0", "1.5", "0", "0", "30"),
}


def test_forecast_figures(engine: Engine) -> None:
    ingest(engine, ex.facts())
    with forecast_runner(engine) as runner:
        runner.catch_up()
        with runner.engine.connect() as conn:
            doc = build_report(conn, runner.live["forecast"],
                               ReportParams(as_of=end_of(ex.T2)), period=ex.PERIOD).to_json()
    rows = {(r["scope"], r["name"], r["currency"]): r for r in doc["rows"]}
    assert {k: r["team"] for k, r in rows.items() if k[0] == "rep"} == {
        ("rep", "alice", "CNY"): "east", ("rep", "alice", "USD"): "east",
        ("rep", "bob", "CNY"): "east", ("rep", "carol", "CNY"): "west",
        ("rep", "dave", "CNY"): "no team"}
    for key, figures in DOCUMENTED.items():
        assert key in rows, key
        got = tuple(Decimal(rows[key][c]) for c in COLUMNS)
        assert got == tuple(Decimal(f) * 1000 for f in figures), key
    # Nothing but the documented rows, and no unassigned row with money in it.
    assert {k for k in rows if k[0] != "unassigned"} == set(DOCUMENTED)
    assert all(Decimal(r[c]) == 0 for k, r in rows.items() if k[0] == "unassigned"
               for c in COLUMNS)
    assert [(n["currency"], n["deals"], Decimal(n["amount"])) for n in doc["no_close_date"]
            ] == [("CNY", 1, Decimal(10000))]
