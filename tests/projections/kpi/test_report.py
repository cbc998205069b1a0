"""The KPI report on a hand-built scenario (scenario.py), figures computed by hand, on
SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from engine.bootstrap import Engine
from projections.kpi import KpiProjection, build_report
from projections.report import ReportParams
from projections.runner import ProjectionRunner
from tests.engine.conftest import send
from tests.projections.kpi.scenario import SCENARIO, t

FUTURE = ReportParams(as_of=datetime(2100, 1, 1, tzinfo=UTC))


def _report(runner: ProjectionRunner, params: ReportParams = FUTURE) -> dict[str, Any]:
    view = runner.live["kpis"]
    assert isinstance(view, KpiProjection)
    with runner.engine.connect() as conn:
        return build_report(conn, view, params).to_json()


def _rows(engine: Engine, runner: ProjectionRunner, params: ReportParams = FUTURE
          ) -> dict[tuple[str, str, str], dict[str, Any]]:
    result = send(engine, *SCENARIO)
    assert [o.status for o in result.outcomes] == ["accepted"] * len(SCENARIO)
    runner.catch_up()
    report = _report(runner, params)
    return {(r["scope"], r["name"], r["period"]): r for r in report["reps"] + report["teams"]}


def _conversion(row: dict[str, Any]) -> dict[tuple[str, str], tuple[int, int, str | None]]:
    return {(c["workflow"], c["stage"]): (c["entered"], c["advanced"], c["conversion"])
            for c in row["conversion"]}


STANDARD = ["lead", "contact", "needs_analysis", "proposal", "quote", "negotiation"]


def test_rep_kpis(engine: Engine, runner: ProjectionRunner) -> None:
    rows = _rows(engine, runner)
    assert set(rows) == {
        ("rep", "rep-a", "2025-Q4"), ("rep", "rep-a", "2026-Q1"), ("rep", "rep-b", "2026-Q1"),
        ("rep", "rep-c", "2026-Q1"), ("rep", "rep-c", "2026-Q2"),
        ("team", "east", "2025-Q4"), ("team", "east", "2026-Q1"),
        ("team", "west", "2026-Q1"), ("team", "west", "2026-Q2"),
    }
    a = rows[("rep", "rep-a", "2026-Q1")]
    assert a["revenue_won"] == {"CNY": "7200.00"}  # 60 % of K1's 12000
    assert (a["deals_won"], a["deals_lost"], a["win_rate"]) == (1, 2, "0.3333")  # K1; K2, K5
    assert a["activities"] == {"call": 1, "email": 1}
    # first responses: K1 1.5 h, K2 30 min -> median 1 h
    assert (a["first_responses"], a["first_response_median_seconds"]) == (2, "3600")
    assert (a["surveys"], a["survey_average"], a["new_customers"]) == (1, "5.00", 1)
    assert (a["quota"], a["attainment"], a["team"]) == (
        {"CNY": "100000.00"}, {"CNY": "0.0720"}, "east")
    conv = _conversion(a)
    # lead entered by K1, K2 and K5 (reopened in Q1), left forward by K1 and K2
    assert conv[("standard", "lead")] == (3, 2, "0.6667")
    assert conv[("standard", "contact")] == (2, 1, "0.5000")
    assert conv[("standard", "negotiation")] == (1, 1, "1.0000")
    assert [stage for _, stage in conv] == STANDARD

    b = rows[("rep", "rep-b", "2026-Q1")]
    assert b["revenue_won"] == {"CNY": "4800.00"}  # 40 % of K1
    assert (b["deals_won"], b["deals_lost"], b["win_rate"]) == (0, 0, None)
    assert b["activities"] == {"call": 1}  # K3's call, before the reassignment
    assert (b["first_responses"], b["first_response_median_seconds"]) == (1, "14400")
    assert (b["surveys"], b["survey_average"]) == (1, "2.00")  # late survey, by time
    # no quarterly quota: months 10000 + 20000 + 30000; 4800 / 60000
    assert (b["quota"], b["attainment"], b["team"]) == (
        {"CNY": "60000.00"}, {"CNY": "0.0800"}, "east")
    assert list(_conversion(b)) == [("standard", s) for s in STANDARD[:3]]

    c = rows[("rep", "rep-c", "2026-Q1")]
    assert c["revenue_won"] == {"CNY": "9000.00"}
    assert (c["deals_won"], c["deals_lost"], c["win_rate"]) == (1, 0, "1.0000")
    assert (c["activities"], c["surveys"], c["survey_average"]) == ({"visit": 1}, 1, "4.00")
    # K4 opened 03-30 10:00, first meeting 04-01 10:00: counted in the opening quarter
    assert (c["first_responses"], c["first_response_median_seconds"]) == (1, "172800")
    assert c["new_customers"] == 1  # BETA
    # 40000 is the latest by time; 99999 arrived last but happened earlier
    assert (c["quota"], c["attainment"]) == ({"CNY": "40000.00"}, {"CNY": "0.2250"})
    assert _conversion(c) == {("standard", "proposal"): (1, 1, "1.0000"),
                              ("standard", "quote"): (1, 1, "1.0000"),
                              ("standard", "negotiation"): (1, 1, "1.0000"),
                              ("channel", "registered"): (1, 1, "1.0000")}

    c2 = rows[("rep", "rep-c", "2026-Q2")]
    assert (c2["deals_cancelled"], c2["revenue_cancelled"]) == (1, {"CNY": "9000.00"})
    assert (c2["revenue_won"], c2["activities"], c2["quota"], c2["team"]) == (
        {}, {"meeting": 1}, {}, "west")
    assert _conversion(c2) == {("channel", "approved"): (1, 0, "0.0000")}

    a4 = rows[("rep", "rep-a", "2025-Q4")]
    assert _conversion(a4) == {("standard", "lead"): (1, 0, "0.0000")}
    assert a4["team"] == "east"  # no quota that quarter: the latest team


def test_team_kpis(engine: Engine, runner: ProjectionRunner) -> None:
    rows = _rows(engine, runner)
    east = rows[("team", "east", "2026-Q1")]
    assert east["members"] == ["rep-a", "rep-b"]
    assert east["revenue_won"] == {"CNY": "12000.00"}
    assert (east["deals_won"], east["deals_lost"], east["win_rate"]) == (1, 2, "0.3333")
    assert east["activities"] == {"call": 2, "email": 1}
    # responses 1800, 5400, 14400 s -> median 5400; surveys 5 and 2
    assert (east["first_responses"], east["first_response_median_seconds"]) == (3, "5400")
    assert (east["surveys"], east["survey_average"], east["new_customers"]) == (2, "3.50", 1)
    assert (east["quota"], east["attainment"]) == ({"CNY": "160000.00"}, {"CNY": "0.0750"})
    assert _conversion(east)[("standard", "lead")] == (4, 3, "0.7500")  # K1 K2 K5 + K3
    west = rows[("team", "west", "2026-Q1")]
    assert west["members"] == ["rep-c"]
    assert (west["revenue_won"], west["attainment"]) == ({"CNY": "9000.00"},
                                                         {"CNY": "0.2250"})


def test_as_of_end_of_march(engine: Engine, runner: ProjectionRunner) -> None:
    rows = _rows(engine, runner, ReportParams(as_of=datetime.fromisoformat(t(3, 31, 23, 59))))
    assert ("rep", "rep-c", "2026-Q2") not in rows
    c = rows[("rep", "rep-c", "2026-Q1")]
    # K4's first meeting had not happened yet; K4 still sits in registered
    assert (c["first_responses"], c["first_response_median_seconds"]) == (0, None)
    assert _conversion(c)[("channel", "registered")] == (1, 0, "0.0000")
    assert c["revenue_won"] == {"CNY": "9000.00"}


def test_as_of_before_the_reassignment(engine: Engine, runner: ProjectionRunner) -> None:
    rows = _rows(engine, runner, ReportParams(as_of=datetime.fromisoformat(t(1, 31, 12))))
    assert ("rep", "rep-c", "2026-Q1") in rows  # its quota alone
    b = rows[("rep", "rep-b", "2026-Q1")]
    assert (b["revenue_won"], b["surveys"], b["activities"]) == ({}, 1, {"call": 1})
    a = rows[("rep", "rep-a", "2026-Q1")]
    assert (a["deals_won"], a["deals_lost"], a["revenue_won"]) == (0, 2, {})


def test_one_period_and_one_rep(engine: Engine, runner: ProjectionRunner) -> None:
    _rows(engine, runner)
    view = runner.live["kpis"]
    assert isinstance(view, KpiProjection)
    with runner.engine.connect() as conn:
        only = build_report(conn, view, FUTURE, period="2026-Q1", rep="rep-b").to_json()
    assert [(r["name"], r["period"]) for r in only["reps"]] == [("rep-b", "2026-Q1")]
    assert [(r["name"], r["period"]) for r in only["teams"]] == [("east", "2026-Q1")]


def test_one_team(engine: Engine, runner: ProjectionRunner) -> None:
    _rows(engine, runner)
    view = runner.live["kpis"]
    assert isinstance(view, KpiProjection)
    with runner.engine.connect() as conn:
        east = build_report(conn, view, FUTURE, team="east").to_json()
        none = build_report(conn, view, FUTURE).to_json()
    assert [(r["name"], r["period"]) for r in east["reps"]] == [
        ("rep-a", "2025-Q4"), ("rep-a", "2026-Q1"), ("rep-b", "2026-Q1")]
    assert [(r["name"], r["period"]) for r in east["teams"]] == [
        ("east", "2025-Q4"), ("east", "2026-Q1")]
    assert len(none["reps"]) == 5 and len(none["teams"]) == 4
