"""The reference model against figures computed by hand: the worked example of
docs/forecast.md and each case of precise rule 7 (so that the oracle the property test
trusts is itself checked against something no code computed)."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from decimal import Decimal

from tests.engine.facts import fact
from tests.projections.forecast import worked_example as ex
from tests.projections.forecast.oracle import ZONE, Oracle


def end_of(day: str) -> datetime:
    """A CLI date: the end of that day in Asia/Shanghai."""
    start = datetime.combine(datetime.fromisoformat(day).date() + timedelta(days=1), time(),
                             ZONE)
    return start - timedelta(microseconds=1)


D = Decimal


def test_worked_example_waterfall() -> None:
    oracle = Oracle(ex.facts())
    t1, t2 = end_of(ex.T1), end_of(ex.T2)
    assert oracle.labels(ex.PERIOD, t1, t2) == {
        "D-1": "stayed", "D-2": "pushed", "D-3": "won", "D-4": "pulled_in", "D-5": "new",
        "D-6": "lost", "D-7": "stayed", "D-9": "won"}
    rows = oracle.waterfall(ex.PERIOD, t1, t2)
    assert rows[("CNY",)] == {
        "start": D(335000), "new": D(40000), "pulled_in": 0, "increased": D(20000),
        "decreased": D(15000), "pushed": D(50000), "won": D(100000), "lost": D(25000),
        "end": D(205000)}
    assert rows[("USD",)] == {
        "start": 0, "new": 0, "pulled_in": D(30000), "increased": 0, "decreased": 0,
        "pushed": 0, "won": 0, "lost": 0, "end": D(30000)}
    by_owner = oracle.waterfall(ex.PERIOD, t1, t2, by_owner=True)
    assert by_owner[("carol", "CNY")]["decreased"] == D(60000)  # D-7 left carol
    assert by_owner[("bob", "CNY")]["increased"] == D(45000)  # and came to bob
    assert by_owner[("alice", "CNY")]["increased"] == D(20000)
    assert by_owner[("bob", "CNY")] == {
        "start": D(95000), "new": 0, "pulled_in": 0, "increased": D(45000), "decreased": 0,
        "pushed": D(50000), "won": D(20000), "lost": D(25000), "end": D(45000)}
    assert by_owner[("carol", "CNY")]["start"] == D(140000)
    assert by_owner[("carol", "CNY")]["end"] == 0
    assert by_owner[("dave", "CNY")]["new"] == D(40000)
    assert sorted(by_owner) == [("alice", "CNY"), ("alice", "USD"), ("bob", "CNY"),
                                ("carol", "CNY"), ("dave", "CNY")]


def test_worked_example_forecast() -> None:
    got = Oracle(ex.facts()).forecast(ex.PERIOD, end_of(ex.T2))
    alice = got["rep"]["alice"]
    assert alice["CNY"]["closed"] == D(20000)
    assert alice["CNY"]["commit"] == D(120000)
    assert alice["CNY"]["weighted"] == D(96000)
    assert alice["CNY"]["pipeline_forecast"] == D(140000)
    assert alice["USD"]["pipeline"] == D(30000)
    assert alice["USD"]["weighted"] == D(1500)
    assert got["rep"]["bob"]["CNY"]["omitted"] == D(45000)
    assert got["rep"]["bob"]["CNY"]["closed"] == 0
    assert got["rep"]["carol"]["CNY"]["closed"] == D(60000)
    assert got["rep"]["dave"]["CNY"]["commit"] == D(40000)
    assert got["team"]["east"]["CNY"]["weighted"] == D(98250)
    assert got["team"]["no team"]["CNY"]["commit_forecast"] == D(40000)
    total = got["total"]["CNY"]
    assert (total["closed"], total["commit"], total["best_case"], total["pipeline"],
            total["omitted"], total["weighted"]) == (D(80000), D(160000), 0, 0, D(45000),
                                                     D(100250))
    assert total["commit_forecast"] == D(240000)
    assert got["no_close_date"] == {"CNY": (1, D(10000))}
    assert got["unassigned"] == {}


def test_worked_example_accuracy() -> None:
    oracle = Oracle(ex.facts())
    at = end_of(ex.ACCURACY_AT)
    alice = oracle.accuracy("alice", ex.PERIOD, at)
    assert [(s["amount"], s["error"]) for s in alice["submissions"]] == [
        (D(25000), D("0.2500")), (D(22000), D("0.1000"))]
    carol = oracle.accuracy("carol", ex.PERIOD, at)
    assert [s["error"] for s in carol["submissions"]] == [D("-0.1667"), D("0.1667"),
                                                           D("0.0833")]
    assert carol["latest"]["id"] == "carol-call-2"  # the July call came after the quarter
    bob = oracle.accuracy("bob", ex.PERIOD, at)
    assert bob["latest"]["actual"] == 0 and bob["latest"]["error"] is None
    # Asked in mid-May, only what was signed by then counts, and only calls made by then.
    may = oracle.accuracy("carol", ex.PERIOD, end_of("2026-05-15"))
    assert [s["id"] for s in may["submissions"]] == ["carol-call-1"]
    assert may["latest"]["actual"] == D(60000)


def _open(subject: str, day: str, close: str, amount: str = "100.00",
          currency: str = "CNY", owner: str = "r1") -> dict[str, object]:
    return fact("deal.opened", subject, {"workflow": "standard", "account": "a",
                                         "owner": owner, "amount": amount,
                                         "currency": currency, "expected_close": close},
                time=f"{day}T10:00:00+08:00")


def _at(kind: str, subject: str, day: str, **data: object) -> dict[str, object]:
    return fact(kind, subject, dict(data), time=f"{day}T12:00:00+08:00")


def test_rule_7_cases() -> None:
    facts = [
        _open("lost-reopened", "2026-01-05", "2026-05-01"),
        _at("deal.lost", "lost-reopened", "2026-04-15", reason="x"),
        _at("deal.reopened", "lost-reopened", "2026-05-01"),
        _open("lost-at-t1", "2026-01-05", "2026-05-01"),
        _at("deal.lost", "lost-at-t1", "2026-03-01", reason="x"),
        _at("deal.reopened", "lost-at-t1", "2026-05-01"),
        _open("in-and-out", "2026-04-20", "2026-05-01"),
        _at("deal.lost", "in-and-out", "2026-05-10", reason="x"),
        _open("earlier", "2026-01-05", "2026-05-01"),
        _at("deal.expected_close_changed", "earlier", "2026-04-20",
            expected_close="2026-03-31"),
        _open("omitted", "2026-01-05", "2026-05-01"),
        _at("deal.forecast_set", "omitted", "2026-03-01", category="omitted"),
        _open("currency", "2026-01-05", "2026-05-01", amount="100.00"),
        _at("deal.amount_changed", "currency", "2026-05-01", amount="90.00", currency="USD"),
    ]
    oracle = Oracle(facts)
    t1, t2 = end_of("2026-04-10"), end_of("2026-06-20")
    assert oracle.labels("2026-Q2", t1, t2) == {
        "lost-reopened": "stayed", "lost-at-t1": "pulled_in", "earlier": "pushed",
        "omitted": "stayed", "currency": "stayed"}
    rows = oracle.waterfall("2026-Q2", t1, t2)
    assert rows[("CNY",)]["decreased"] == D(100)
    assert rows[("USD",)]["increased"] == D(90)
    assert rows[("CNY",)]["pulled_in"] == D(100)
