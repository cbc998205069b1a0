"""The routing view and ``report routing`` (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import datetime

import pytest

from engine.bootstrap import Engine
from engine.errors import ReportOptionError
from projections.registry import build
from projections.report import ReportParams
from projections.routing import RoutingReport
from tests.engine.conftest import send
from tests.engine.facts import STANDARD_PATH, fact, opened
from tests.engine.routing.helpers import profile, unowned

NOW = datetime.fromisoformat("2026-06-30T00:00:00+08:00")


def report(engine: Engine, at: datetime = NOW, **options: object) -> RoutingReport:
    runner = engine.runner()
    runner.catch_up()
    with runner.engine.connect() as conn:
        result = build("routing", conn, runner.live, ReportParams(as_of=at), **options)
    runner.close()
    assert isinstance(result, RoutingReport)
    return result


def scenario(engine: Engine) -> None:
    send(engine,
         profile("rep-a", capacity=2, segments=["high_value", "ordinary"]),
         profile("rep-b", manager="boss", territories=["north"]),
         unowned("D-1", segment="high_value", territory="north"),
         unowned("D-2", segment="ordinary", territory="north"),
         unowned("D-3", segment="ordinary", territory="north"),
         opened("D-4", owner="rep-c"),
         unowned("D-5", segment="ordinary", territory="south",
                 time="2026-04-02T09:00:00+08:00"))


def test_per_rep_profile_load_and_assignments(engine: Engine) -> None:
    scenario(engine)
    rows = {r["rep"]: r for r in report(engine).to_json()["reps"]}
    assert set(rows) == {"rep-a", "rep-b", "rep-c"}
    a, b, c = rows["rep-a"], rows["rep-b"], rows["rep-c"]
    # D-1 high_value least_loaded: a (tie by id); D-2 everyone round robin: a; D-3: b.
    assert (a["open_load"], a["capacity"], a["assigned"]) == (
        2, 2, {"everyone": 1, "high_value": 1})
    assert (b["open_load"], b["manager"], b["territories"], b["assigned"]) == (
        1, "boss", ["north"], {"everyone": 1})
    assert (c["profile"], c["open_load"], c["assigned_total"]) == (False, 1, 0)
    unassigned = report(engine).to_json()["unassigned"]
    # D-5: rep-a is full, rep-b does not cover the south.
    assert unassigned == {"routed_unassigned": 1, "deals": ["D-5"], "open_without_owner": 1}


def test_period_rep_and_team_filters(engine: Engine) -> None:
    scenario(engine)
    q1 = report(engine, period="2026-Q1").to_json()
    assert q1["rules"] == {"everyone": 2, "high_value": 1}
    assert q1["unassigned"]["routed_unassigned"] == 0
    assert [r["rep"] for r in report(engine, rep="rep-b").to_json()["reps"]] == ["rep-b"]
    assert [r["rep"] for r in report(engine, team="east").to_json()["reps"]] == [
        "rep-a", "rep-b"]
    with pytest.raises(ReportOptionError, match="--period"):
        report(engine, period="2026-13")


def test_load_follows_closing_reopening_and_reassignment(engine: Engine) -> None:
    scenario(engine)
    send(engine, *(fact(t, "D-1", d) for t, d in STANDARD_PATH),
         fact("deal.lost", "D-2", {"reason": "price"}),
         fact("deal.reassigned", "D-5", {"owner": "rep-b"}))
    rows = {r["rep"]: r for r in report(engine).to_json()["reps"]}
    assert rows["rep-a"]["open_load"] == 0
    assert rows["rep-b"]["open_load"] == 2
    assert report(engine).to_json()["unassigned"]["open_without_owner"] == 0
    send(engine, fact("deal.reopened", "D-2", {}))
    assert {r["rep"]: r["open_load"] for r in report(engine).to_json()["reps"]}["rep-a"] == 1


def test_profile_in_force_as_of(engine: Engine) -> None:
    send(engine, profile("rep-a", time="2026-01-01T00:00:00+08:00", capacity=1),
         profile("rep-a", time="2026-05-01T00:00:00+08:00", capacity=9, active=False))
    early = report(engine, at=datetime.fromisoformat("2026-02-01T00:00:00+08:00"))
    assert early.to_json()["reps"][0]["capacity"] == 1
    late = report(engine).to_json()["reps"][0]
    assert (late["capacity"], late["active"]) == (9, False)
    assert len(report(engine).tables()) == 2
