"""The KPI report's tables as a person reads them at 80 columns: attainment and win rate as
percents (never money), amounts in the one money format, no name cut (the report built
from its rows)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from decimal import Decimal

from projections.kpi import KpiReport
from projections.kpi.report import KpiRow
from tests.cli.tables import MONEY, PERCENT, assert_readable

TEAM = "enterprise-accounts-east-and-north-china"  # longer than an 80-column cell
REP = KpiRow(
    scope="rep", name="rep-01", period="2026-Q1", team=TEAM, members=(),
    revenue_won={"CNY": Decimal("3548673.13"), "USD": Decimal("2715.83")}, deals_won=13,
    deals_lost=11, win_rate=Decimal("0.5417"), deals_cancelled=0, revenue_cancelled={},
    conversion=(), activities={"call": 1100, "email": 54}, first_responses=20,
    first_response_median_seconds=Decimal("27137"), surveys=6,
    survey_average=Decimal("4.33"), new_customers=10, quota={"CNY": Decimal("2840000.00")},
    attainment={"CNY": Decimal("1.2495")})


def _report() -> KpiReport:
    team = replace(REP, scope="team", name=TEAM, members=("rep-01",))
    return KpiReport(title="KPIs", as_of=datetime.fromisoformat(
        "2026-03-31T15:59:59.999999+00:00"), known_at=None, timezone="Asia/Shanghai",
        reps=[REP], teams=[team])


def test_every_table_reads_at_80_columns() -> None:
    tables = _report().tables()
    assert [t.title for t in tables] == [
        "KPIs per rep: revenue and quota, as of 2026-03-31 23:59 +08:00 "
        "(quarters in Asia/Shanghai)", "KPIs per rep: deals", "KPIs per rep: activity",
        "KPIs per team: revenue and quota", "KPIs per team: deals", "KPIs per team: activity"]
    for table in tables:
        assert_readable(table)


def test_attainment_is_a_percent_and_money_is_money() -> None:
    revenue, deals, activity, *_ = _report().tables()
    row = {str(c.header): [str(cell) for cell in c.cells] for c in revenue.columns}
    assert row["revenue won"] == ["3,548,673.13 CNY\n2,715.83 USD"]
    assert row["quota"] == ["2,840,000.00 CNY"]
    assert row["attainment"] == ["124.95 %"]  # was "1.2495 CNY"
    assert all(MONEY.match(v) for v in row["revenue won"][0].splitlines() + row["quota"])
    assert PERCENT.match(row["attainment"][0])
    figures = {str(c.header): [str(cell) for cell in c.cells] for c in deals.columns}
    assert figures["win rate"] == ["54.17 %"]
    spent = {str(c.header): [str(cell) for cell in c.cells] for c in activity.columns}
    assert spent["activities"] == ["1,154"]
    assert spent["first response (median)"] == ["07:32:17"]


def test_json_adds_attainment_percent_beside_the_ratio() -> None:
    [rep] = _report().to_json()["reps"]
    assert (rep["attainment"], rep["attainment_percent"]) == ({"CNY": "1.2495"},
                                                              {"CNY": "124.95"})
    assert list(rep)[-1] == "attainment_percent"  # added after every key that was there
