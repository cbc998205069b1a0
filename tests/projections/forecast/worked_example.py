"""The worked example of docs/forecast.md: its facts, in the order they arrive.

Period 2026-Q2; the waterfall runs from 2026-04-10 to 2026-06-20 (ends of those days in
Asia/Shanghai). Deals walk the standard workflow with the facts each stage requires.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from tests.engine.facts import STANDARD_PATH, fact

__all__ = ["ACCURACY_AT", "PERIOD", "T1", "T2", "facts"]

Fact = dict[str, Any]
PERIOD = "2026-Q2"
T1 = "2026-04-10"
T2 = "2026-06-20"
ACCURACY_AT = "2026-07-15"

# The number of STANDARD_PATH facts that walk a deal into each stage.
_STEPS = {"lead": 0, "contact": 2, "needs_analysis": 4, "proposal": 6, "quote": 8,
          "negotiation": 10}


def at(day: str, hour: int = 10) -> str:
    """``day`` at ``hour``:00 in Asia/Shanghai."""
    return f"{day}T{hour:02d}:00:00+08:00"


def _later(time: str, minutes: int) -> str:
    return (datetime.fromisoformat(time) + timedelta(minutes=minutes)).isoformat()


def deal(subject: str, *, owner: str, amount: str, time: str, currency: str = "CNY",
         close: str | None = None, splits: list[tuple[str, str]] | None = None) -> Fact:
    """``deal.opened`` (standard workflow)."""
    data: dict[str, Any] = {"workflow": "standard", "account": f"acct-{subject}",
                            "owner": owner, "amount": amount, "currency": currency}
    if close is not None:
        data["expected_close"] = close
    if splits is not None:
        data["splits"] = [{"rep": r, "share": s} for r, s in splits]
    return fact("deal.opened", subject, data, time=time, id_=f"{subject}-open")


def walk(subject: str, *, to: str, time: str, start: str = "lead",
         quote: tuple[str, str] = ("12000.00", "CNY")) -> list[Fact]:
    """The facts that move a deal from ``start`` into stage ``to``, a minute apart from
    ``time`` (a quote issued on the way sets the amount to ``quote``)."""
    out = []
    for i, (kind, data) in enumerate(STANDARD_PATH[_STEPS[start]:_STEPS[to]]):
        if kind == "quote.issued":
            data = {"amount": quote[0], "currency": quote[1]}
        out.append(fact(kind, subject, data, time=_later(time, i),
                        id_=f"{subject}-{start}-{to}-{i}"))
    return out


def profile(rep: str, team: str, *, time: str) -> Fact:
    """``rep.profile_set``."""
    return fact("rep.profile_set", rep, {"team": team}, time=time, id_=f"{rep}-profile-{time}")


def on(kind: str, subject: str, data: dict[str, Any], *, time: str, id_: str) -> Fact:
    """Any fact, with a readable id."""
    return fact(kind, subject, data, time=time, id_=id_)


def facts() -> list[Fact]:
    """Every fact of the worked example, in arrival order."""
    return [
        profile("alice", "east", time=at("2026-03-01", 9)),
        profile("bob", "east", time=at("2026-03-01", 9)),
        profile("carol", "west", time=at("2026-03-01", 9)),
        # dave has no profile: "no team".
        # D-1: proposal by T1 (best case), quoted at 120,000 and in negotiation by T2.
        deal("D-1", owner="alice", amount="100000.00", time=at("2026-03-02"),
             close="2026-05-15"),
        *walk("D-1", to="proposal", time=at("2026-04-05")),
        *walk("D-1", start="proposal", to="negotiation", time=at("2026-05-01"),
              quote=("120000.00", "CNY")),
        # D-2: its close date moves to July: pushed.
        deal("D-2", owner="bob", amount="50000.00", time=at("2026-03-05"), close="2026-06-10"),
        on("deal.expected_close_changed", "D-2", {"expected_close": "2026-07-15"},
           time=at("2026-05-10"), id_="D-2-close"),
        # D-3: signed on 2026-04-25, credit split 75/25 between carol and alice: won.
        deal("D-3", owner="carol", amount="80000.00", time=at("2026-02-01"),
             close="2026-04-30", splits=[("carol", "0.75"), ("alice", "0.25")]),
        *walk("D-3", to="negotiation", time=at("2026-04-03"), quote=("80000.00", "CNY")),
        on("contract.signed", "D-3", {"amount": "80000.00", "currency": "CNY"},
           time=at("2026-04-25"), id_="D-3-signed"),
        # D-4: a USD deal expected in Q3, pulled into June.
        deal("D-4", owner="alice", amount="30000.00", currency="USD", time=at("2026-03-10"),
             close="2026-08-20"),
        on("deal.expected_close_changed", "D-4", {"expected_close": "2026-06-25"},
           time=at("2026-05-05"), id_="D-4-close"),
        # D-5: opened after T1: new; dave calls it commit while it is still a lead.
        deal("D-5", owner="dave", amount="40000.00", time=at("2026-04-20"), close="2026-05-20"),
        on("deal.forecast_set", "D-5", {"category": "commit"}, time=at("2026-04-21"),
           id_="D-5-commit"),
        # D-6: lost in May.
        deal("D-6", owner="bob", amount="25000.00", time=at("2026-03-15"), close="2026-06-01"),
        on("deal.lost", "D-6", {"reason": "budget cut"}, time=at("2026-05-12"),
           id_="D-6-lost"),
        # D-7: carol omits it from her forecast; down to 45,000, then reassigned to bob.
        deal("D-7", owner="carol", amount="60000.00", time=at("2026-03-20"),
             close="2026-06-15"),
        on("deal.forecast_set", "D-7", {"category": "omitted"}, time=at("2026-04-02"),
           id_="D-7-omitted"),
        on("deal.amount_changed", "D-7", {"amount": "45000.00", "currency": "CNY"},
           time=at("2026-06-01"), id_="D-7-amount"),
        on("deal.reassigned", "D-7", {"owner": "bob"}, time=at("2026-05-20"),
           id_="D-7-reassigned"),
        # D-9: signed in May, cancelled in June: won in the waterfall, no closed credit.
        deal("D-9", owner="bob", amount="20000.00", time=at("2026-03-01"), close="2026-05-31"),
        *walk("D-9", to="negotiation", time=at("2026-03-25"), quote=("20000.00", "CNY")),
        on("contract.signed", "D-9", {"amount": "20000.00", "currency": "CNY"},
           time=at("2026-05-20"), id_="D-9-signed"),
        on("contract.cancelled", "D-9", {"reason": "customer withdrew"},
           time=at("2026-06-10"), id_="D-9-cancelled"),
        # D-10: no close date.
        deal("D-10", owner="alice", amount="10000.00", time=at("2026-04-02")),
        # Forecast calls for 2026-Q2.
        on("forecast.submitted", "alice", {"period": PERIOD, "amount": "25000.00",
                                           "currency": "CNY"},
           time=at("2026-04-01"), id_="alice-call-1"),
        on("forecast.submitted", "alice", {"period": PERIOD, "amount": "22000.00",
                                           "currency": "CNY"},
           time=at("2026-05-15"), id_="alice-call-2"),
        on("forecast.submitted", "bob", {"period": PERIOD, "amount": "20000.00",
                                         "currency": "CNY"},
           time=at("2026-04-02"), id_="bob-call-1"),
        on("forecast.submitted", "carol", {"period": PERIOD, "amount": "50000.00",
                                           "currency": "CNY"},
           time=at("2026-04-02"), id_="carol-call-1"),
        on("forecast.submitted", "carol", {"period": PERIOD, "amount": "70000.00",
                                           "currency": "CNY"},
           time=at("2026-06-01"), id_="carol-call-2"),
        on("forecast.submitted", "carol", {"period": PERIOD, "amount": "65000.00",
                                           "currency": "CNY"},
           time=at("2026-07-02"), id_="carol-call-3"),
    ]
