"""The forecast report on a hand-built scenario (scenario.py), figures computed by hand, on
SQLite and PostgreSQL; overrides, close dates and cancellations as of different times."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from engine.bootstrap import Engine
from engine.errors import ReportOptionError
from projections.forecast import ForecastProjection, build_report, deal_states
from projections.report import ReportParams
from projections.runner import ProjectionRunner
from tests.engine.conftest import send
from tests.projections.forecast.scenario import SCENARIO, at, walk

END_Q2 = ReportParams(as_of=datetime.fromisoformat(at(6, 30, 23)))
Rows = dict[tuple[str, str, str], dict[str, Any]]


def view_of(runner: ProjectionRunner) -> ForecastProjection:
    view = runner.live["forecast"]
    assert isinstance(view, ForecastProjection)
    return view


def report(runner: ProjectionRunner, params: ReportParams = END_Q2, **options: Any
           ) -> dict[str, Any]:
    with runner.engine.connect() as conn:
        return build_report(conn, view_of(runner), params, **options).to_json()


def rows(document: dict[str, Any]) -> Rows:
    return {(r["scope"], r["name"], r["currency"]): r for r in document["rows"]}


def figures(row: dict[str, Any]) -> tuple[str, ...]:
    return tuple(row[c] for c in ("closed", "commit", "best_case", "pipeline", "omitted",
                                  "weighted", "commit_forecast", "best_case_forecast",
                                  "pipeline_forecast"))


@pytest.fixture
def filled(engine: Engine, runner: ProjectionRunner) -> ProjectionRunner:
    result = send(engine, *SCENARIO)
    assert result.rejected == {}, [o for o in result.outcomes if o.status == "rejected"]
    runner.catch_up()
    return runner


def test_forecast_of_the_quarter(filled: ProjectionRunner) -> None:
    document = report(filled, period="2026-Q2")
    assert document["period"] == "2026-Q2"
    got = rows(document)
    assert list(got) == [  # reps, teams, unassigned (none here), totals
        ("rep", "rep-a", "CNY"), ("rep", "rep-b", "CNY"), ("rep", "rep-b", "USD"),
        ("rep", "rep-c", "CNY"), ("team", "east", "CNY"), ("team", "no team", "CNY"),
        ("team", "west", "CNY"), ("team", "west", "USD"), ("total", "total", "CNY"),
        ("total", "total", "USD")]
    # rep-a: closed 60 % of D5 (7200) + D7 (10000, cancelled only later); commit D1 + D2
    # (override); weighted D1 10000 x 0.80 + D2 5000 x 0.05.
    assert figures(got[("rep", "rep-a", "CNY")]) == (
        "17200.00", "15000.00", "0.00", "0.00", "0.00", "8250.00",
        "32200.00", "32200.00", "32200.00")
    assert got[("rep", "rep-a", "CNY")]["team"] == "east"
    assert got[("rep", "rep-a", "CNY")]["deals"] == 2
    assert figures(got[("rep", "rep-b", "CNY")]) == (  # 40 % of D5; D6 was signed in Q1
        "4800.00", "0.00", "0.00", "0.00", "0.00", "0.00", "4800.00", "4800.00", "4800.00")
    assert figures(got[("rep", "rep-b", "USD")]) == (  # D3 omitted: apart, still weighted
        "0.00", "0.00", "0.00", "0.00", "2000.00", "100.00", "0.00", "0.00", "0.00")
    assert got[("rep", "rep-c", "CNY")]["team"] == "no team"
    assert figures(got[("rep", "rep-c", "CNY")]) == (  # D4 moved into Q2, lead: pipeline
        "0.00", "0.00", "0.00", "3000.00", "0.00", "150.00", "0.00", "0.00", "3000.00")
    assert figures(got[("team", "east", "CNY")]) == figures(got[("rep", "rep-a", "CNY")])
    assert figures(got[("total", "total", "CNY")]) == (
        "22000.00", "15000.00", "0.00", "3000.00", "0.00", "8400.00",
        "37000.00", "37000.00", "40000.00")
    assert document["no_close_date"] == [{"currency": "CNY", "deals": 1, "amount": "700.00"}]


def test_a_cancellation_at_or_before_t_counts_zero_whatever_the_delay(
        filled: ProjectionRunner) -> None:
    before = rows(report(filled, ReportParams(as_of=datetime.fromisoformat(at(8, 31))),
                         period="2026-Q2"))
    after = rows(report(filled, ReportParams(as_of=datetime.fromisoformat(at(9, 1))),
                        period="2026-Q2"))
    assert before[("rep", "rep-a", "CNY")]["closed"] == "17200.00"
    assert after[("rep", "rep-a", "CNY")]["closed"] == "7200.00"  # D7 cancelled at T


def test_as_of_earlier_the_close_date_had_not_moved(filled: ProjectionRunner) -> None:
    early = rows(report(filled, ReportParams(as_of=datetime.fromisoformat(at(5, 1))),
                        period="2026-Q2"))
    assert ("rep", "rep-c", "CNY") not in early  # D4 still closes in Q3 then
    q3 = rows(report(filled, ReportParams(as_of=datetime.fromisoformat(at(5, 1))),
                     period="2026-Q3"))
    assert q3[("rep", "rep-c", "CNY")]["pipeline"] == "3000.00"


def test_filters(filled: ProjectionRunner) -> None:
    only_b = rows(report(filled, period="2026-Q2", rep="rep-b"))
    assert set(only_b) == {("rep", "rep-b", "CNY"), ("rep", "rep-b", "USD")}
    west = rows(report(filled, period="2026-Q2", team="west"))
    assert set(west) == {("rep", "rep-b", "CNY"), ("rep", "rep-b", "USD"),
                         ("team", "west", "CNY"), ("team", "west", "USD")}
    no_team = rows(report(filled, period="2026-Q2", team="no team"))
    assert set(no_team) == {("rep", "rep-c", "CNY"), ("team", "no team", "CNY")}


def test_rep_and_team_together_are_refused(filled: ProjectionRunner) -> None:
    with pytest.raises(ReportOptionError, match="--rep and --team"):
        report(filled, period="2026-Q2", rep="rep-b", team="west")


def test_the_period_defaults_to_the_quarter_of_as_of(filled: ProjectionRunner) -> None:
    assert report(filled)["period"] == "2026-Q2"


def test_a_period_that_is_not_a_quarter_is_refused(filled: ProjectionRunner) -> None:
    with pytest.raises(ReportOptionError, match="--period: '2026-05' is not a quarter"):
        report(filled, period="2026-05")


def test_deal_states_fold(filled: ProjectionRunner) -> None:
    with filled.engine.connect() as conn:
        states = {s.subject: s for s in deal_states(conn, view_of(filled), END_Q2)}
    assert set(states) == {f"D{i}" for i in range(1, 9)}
    d2 = states["D2"]
    assert (d2.stage, d2.override, d2.category, d2.is_open) == (
        "lead", "commit", "commit", True)
    assert states["D5"].category == "closed"
    assert (states["D7"].cancelled, states["D7"].stage) == (False, "won")  # cancelled in Sep
    assert states["D4"].period == "2026-Q2"
    assert states["D8"].expected_close is None


def test_unassigned_deals_and_credit_form_their_own_row(engine: Engine,
                                                        runner: ProjectionRunner) -> None:
    # No rep has a profile, so no routing rule can choose: both deals open unassigned.
    facts = [*walk("U-1", at(4, 1), "4000.00", expected_close="2026-05-01",
                   signed=at(4, 10)),
             *walk("U-2", at(4, 2), "1000.00", expected_close="2026-06-01")]
    for obj in facts:
        if obj["type"] == "deal.opened":
            del obj["data"]["owner"]
    result = send(engine, *facts)
    assert result.rejected == {}, [o for o in result.outcomes if o.status == "rejected"]
    runner.catch_up()
    got = rows(report(runner, period="2026-Q2"))
    assert set(got) == {("unassigned", "unassigned", "CNY"), ("total", "total", "CNY")}
    # U-1's credit, signed while unassigned without splits; U-2 open in negotiation.
    assert figures(got[("unassigned", "unassigned", "CNY")]) == (
        "4000.00", "1000.00", "0.00", "0.00", "0.00", "800.00", "5000.00", "5000.00", "5000.00")
    assert figures(got[("total", "total", "CNY")]) == figures(
        got[("unassigned", "unassigned", "CNY")])


def test_the_metrics_read_gives_the_report_rows_without_reading_undated_deals(
        filled: ProjectionRunner) -> None:
    """/metrics reads the forecast without the "no close date" deals: the same rows,
    fewer deals folded."""
    from projections.forecast.report import build_gauges

    with filled.engine.connect() as conn:
        view = view_of(filled)
        gauges = build_gauges(conn, view, END_Q2, period="2026-Q2").to_json()
        undated = {s.subject for s in deal_states(conn, view, END_Q2, period="2026-Q2")} - {
            s.subject for s in deal_states(conn, view, END_Q2, period="2026-Q2",
                                           undated=False)}
    full = report(filled, period="2026-Q2")
    assert gauges["rows"] == full["rows"]
    assert gauges["no_close_date"] == []
    assert len(undated) == 1  # the deal opened without a close date was not read
