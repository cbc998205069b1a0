"""The worked example of docs/commissions.md, asserted figure by figure through the real
path: facts -> ingest -> ProjectionRunner -> build_report."""

from __future__ import annotations

from typing import Any

from engine.bootstrap import Engine
from engine.domain.ids import deal_id
from projections.report import Report
from projections.runner import ProjectionRunner
from tests.projections.commissions.facts import Fact, cancel, ingest, quota, report, won_deal

JAN2 = "2026-01-02T09:00:00+08:00"


def worked_example() -> list[Fact]:
    """The facts of the worked example, in the order they arrive."""
    return [
        quota("alice", "2026-Q1", "100000.00", time=JAN2, id_="alice-2026-Q1"),
        quota("bob", "2026-01", "20000.00", time=JAN2, id_="bob-2026-01"),
        quota("bob", "2026-02", "20000.00", time=JAN2, id_="bob-2026-02"),
        quota("bob", "2026-03", "20000.00", time=JAN2, id_="bob-2026-03"),
        *won_deal("D-1", owner="alice", amount="70000.00",
                  signed_at="2026-01-20T10:00:00+08:00"),
        *won_deal("D-2", owner="alice", amount="72000.19",
                  splits=[("alice", "0.5"), ("bob", "0.5")],
                  signed_at="2026-02-10T15:00:00+08:00"),
        *won_deal("D-3", owner="alice", amount="15000.00",
                  signed_at="2026-03-05T11:00:00+08:00"),
        *won_deal("D-4", owner="alice", amount="10000.00", currency="USD",
                  signed_at="2026-03-31T15:30:00Z"),
        cancel("D-2", time="2026-04-15T10:00:00+08:00", id_="D-2-cancel"),
    ]


def _lines(statement: dict[str, Any]) -> list[tuple[Any, ...]]:
    names = {str(deal_id(s)): s for s in ("D-1", "D-2", "D-3", "D-4")}
    return [
        (line["kind"], names[line["deal"]["id"]] if line["deal"] else None, line["credit"],
         line["rate"], line["amount"], line["currency"])
        for line in statement["lines"]
    ]


def test_worked_example_figures(engine: Engine, runner: ProjectionRunner) -> None:
    ingest(engine, worked_example())
    statements = {(s["rep"], s["period"]): s for s in report(runner).to_json()["statements"]}
    assert list(statements) == [("alice", "2026-Q1"), ("alice", "2026-Q2"),
                                ("bob", "2026-Q1"), ("bob", "2026-Q2")]

    alice_q1 = statements[("alice", "2026-Q1")]
    assert alice_q1["quota"]["amount"] == "100000.00"
    assert alice_q1["quota"]["from"] == "period"
    assert alice_q1["attainment"] == {"credit": "121000.095", "percent": "121.00"}
    assert _lines(alice_q1) == [
        ("rate", "D-1", "70000.00", "0.05", "3500.00", "CNY"),
        ("rate", "D-2", "30000.00", "0.05", "1500.00", "CNY"),
        ("rate", "D-2", "6000.095", "0.08", "480.01", "CNY"),
        ("rate", "D-3", "15000.00", "0.08", "1200.00", "CNY"),
        ("bonus", None, None, None, "1000.00", "CNY"),
        ("rate", "D-4", "10000.00", "0.05", "500.00", "USD"),
    ]
    assert alice_q1["totals"] == {"CNY": "7680.01", "USD": "500.00"}

    bob_q1 = statements[("bob", "2026-Q1")]
    assert bob_q1["quota"]["amount"] == "60000.00"
    assert bob_q1["quota"]["from"] == "months"
    assert bob_q1["attainment"] == {"credit": "36000.095", "percent": "60.00"}
    assert _lines(bob_q1) == [("rate", "D-2", "36000.095", "0.05", "1800.00", "CNY")]
    assert bob_q1["totals"] == {"CNY": "1800.00"}

    alice_q2 = statements[("alice", "2026-Q2")]
    assert alice_q2["quota"] is None
    assert _lines(alice_q2) == [
        ("clawback", "D-2", "-30000.00", "0.05", "-1500.00", "CNY"),
        ("clawback", "D-2", "-6000.095", "0.08", "-480.01", "CNY"),
    ]
    assert alice_q2["totals"] == {"CNY": "-1980.01"}
    bob_q2 = statements[("bob", "2026-Q2")]
    assert _lines(bob_q2) == [("clawback", "D-2", "-36000.095", "0.05", "-1800.00", "CNY")]
    assert bob_q2["totals"] == {"CNY": "-1800.00"}


def test_every_line_traces_to_its_facts(engine: Engine, runner: ProjectionRunner) -> None:
    ingest(engine, worked_example())
    statements = {(s["rep"], s["period"]): s for s in report(runner).to_json()["statements"]}
    crossing = statements[("alice", "2026-Q1")]["lines"][2]
    assert [(f["source"], f["id"]) for f in crossing["facts"]] == [
        ("esign", "D-2-signed"), ("crm-web", "alice-2026-Q1")]
    assert all(f["position"] > 0 for f in crossing["facts"])
    other_currency = statements[("alice", "2026-Q1")]["lines"][5]
    assert [f["id"] for f in other_currency["facts"]] == ["D-4-signed"]  # no quota involved
    bonus = statements[("alice", "2026-Q1")]["lines"][4]
    assert bonus["deal"] is None
    assert [f["id"] for f in bonus["facts"]] == ["D-3-signed", "alice-2026-Q1"]
    clawback = statements[("bob", "2026-Q2")]["lines"][0]
    assert [f["id"] for f in clawback["facts"]] == [
        "D-2-cancel", "D-2-signed", "bob-2026-01", "bob-2026-02", "bob-2026-03"]


def test_filters_and_tables(engine: Engine, runner: ProjectionRunner) -> None:
    ingest(engine, worked_example())
    only = report(runner, rep="bob", period="2026-Q2")
    assert [(s["rep"], s["period"]) for s in only.to_json()["statements"]] == [
        ("bob", "2026-Q2")]
    full: Report = report(runner)  # the report protocol every view's report follows
    summary, lines = full.tables()
    assert summary.row_count == 5  # alice Q1 has a CNY and a USD row
    assert lines.row_count == 10
