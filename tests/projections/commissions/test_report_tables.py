"""The commission report's tables as a person reads them at 80 columns, on the worked
example of docs/commissions.md: money in the one format (rounded to the cent; the JSON
keeps the exact credit), attainment as a percent, times in the plan's zone, no deal or
fact reference cut."""

from __future__ import annotations

from dataclasses import replace

from engine.bootstrap import Engine
from projections.commissions.model import DealLabel
from projections.runner import ProjectionRunner
from tests.cli.tables import MOMENT, MONEY, PERCENT, assert_readable, column_text
from tests.projections.commissions.facts import ingest, report
from tests.projections.commissions.test_worked_example import worked_example

LONG = "ACME-ENTERPRISE-RENEWAL-2026-SHANGHAI-000001"  # longer than an 80-column cell


def _cells(table: object) -> dict[str, list[str]]:
    return {str(c.header): [str(cell) for cell in c.cells]
            for c in getattr(table, "columns", [])}


def test_statement_and_line_formats(engine: Engine, runner: ProjectionRunner) -> None:
    ingest(engine, worked_example())
    summary, lines = report(runner).tables()
    assert summary.title == "Commission statements as of 2100-01-01 08:00 +08:00"
    rows = _cells(summary)
    alice = rows["rep"].index("alice")
    assert rows["quota"][alice] == "100,000.00 CNY"
    assert rows["credit toward quota"][alice] == "121,000.10 CNY"  # exact: 121000.095
    assert rows["attainment"][alice] == "121.00 %"
    assert rows["commission"][alice:alice + 2] == ["7,680.01 CNY\n1,000.00 CNY bonus",
                                                   "500.00 USD"]
    assert rows["attainment"][rows["period"].index("2026-Q2")] == "-"  # no quota
    for value in rows["quota"] + rows["credit toward quota"]:
        assert value in ("", "-") or MONEY.match(value), value
    assert all(value in ("", "-") or PERCENT.match(value) for value in rows["attainment"])

    assert lines.title == "Commission lines (times in Asia/Shanghai)"
    shown = _cells(lines)
    assert shown["line"][:3] == ["rate: 70,000.00 CNY x 5.00 %", "rate: 30,000.00 CNY x 5.00 %",
                                 "rate: 6,000.10 CNY x 8.00 %"]
    assert shown["amount"][2] == "480.01 CNY"
    d4 = shown["deal, time"][5].splitlines()
    assert d4 == ["D-4", "2026-03-31 23:30 +08:00"]  # signed 15:30Z, shown in Shanghai
    assert all(MOMENT.match(c.splitlines()[1]) for c in shown["deal, time"])
    assert [ref.split("@")[0] for ref in shown["facts"][2].splitlines()] == [
        "esign/D-2-signed", "crm-web/alice-2026-Q1"]


def test_both_tables_read_at_80_columns(engine: Engine, runner: ProjectionRunner) -> None:
    ingest(engine, worked_example())
    found = report(runner)
    long = replace(found, deals={deal: DealLabel(deal, LONG, label.account)
                                 for deal, label in found.deals.items()})
    summary, lines = long.tables()
    assert_readable(summary)
    text = assert_readable(lines)  # every cell whole in its column, nothing cut
    assert LONG in column_text(text, 1)
