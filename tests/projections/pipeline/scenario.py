"""A small hand-built pipeline (times in +08:00) whose figures the tests compute by hand.

D1 standard rep-a 10000 CNY, close 2026-02-15: lead 24h, contact 48h, now needs_analysis.
D2 standard rep-a 20000 CNY, close 2026-04-10: lead 6h, contact 48h, lost from contact.
D3 standard rep-b 5000 USD: lead 12h, contact 24h, needs 48h, proposal 24h, quote 24h,
   negotiation 48h, signed 8000 USD, then cancelled.
D4 channel rep-c 30000 CNY, close 2026-03-31: registered 48h, now approved.
D5 standard rep-b 1000 CNY, close 2026-02-01: reassigned to rep-a, amount 1500, in lead.
D6 standard rep-b 2000 CNY, close 2026-01-31: lead 2h, lost, reopened in lead.
Teams: rep-a east, rep-b west (rep-b was north before, by time), rep-c none.
"""

from __future__ import annotations

from typing import Any

from tests.engine.facts import fact, opened

__all__ = ["SCENARIO", "at"]


def at(day: int, hour: int, minute: int = 0) -> str:
    """A January 2026 time in +08:00."""
    return f"2026-01-{day:02d}T{hour:02d}:{minute:02d}:00+08:00"


def _f(type_: str, subject: str, data: dict[str, Any], day: int, hour: int,
       minute: int = 0) -> dict[str, Any]:
    return fact(type_, subject, data, time=at(day, hour, minute))


def _quota(rep: str, team: str | None, time: str, period: str = "2026-Q1") -> dict[str, Any]:
    data: dict[str, Any] = {"period": period, "amount": "100000.00", "currency": "CNY"}
    if team is not None:
        data["team"] = team
    return fact("rep.quota_set", rep, data, time=time)


SCENARIO: list[dict[str, Any]] = [
    _quota("rep-a", "east", "2026-01-01T09:00:00+08:00"),
    _quota("rep-b", "west", "2026-01-02T09:00:00+08:00"),
    _quota("rep-b", "north", "2026-01-01T09:00:00+08:00", "2026-01"),  # older by time
    _quota("rep-c", None, "2026-01-01T09:00:00+08:00"),
    # D1
    opened("D1", owner="rep-a", amount="10000.00", expected_close="2026-02-15",
           time=at(5, 10)),
    _f("activity.logged", "D1", {"kind": "call"}, 5, 11),
    _f("deal.stage_changed", "D1", {"to": "contact"}, 6, 10),
    _f("deal.customer_info_captured", "D1", {"contact_name": "Li"}, 6, 11),
    _f("deal.stage_changed", "D1", {"to": "needs_analysis"}, 8, 10),
    # D2
    opened("D2", owner="rep-a", amount="20000.00", expected_close="2026-04-10",
           time=at(5, 10)),
    _f("activity.logged", "D2", {"kind": "email"}, 5, 12),
    _f("deal.stage_changed", "D2", {"to": "contact"}, 5, 16),
    _f("deal.lost", "D2", {"reason": "budget"}, 7, 16),
    # D3
    opened("D3", owner="rep-b", amount="5000.00", currency="USD", time=at(5, 9)),
    _f("activity.logged", "D3", {"kind": "call"}, 5, 9, 30),
    _f("deal.stage_changed", "D3", {"to": "contact"}, 5, 21),
    _f("deal.customer_info_captured", "D3", {"contact_name": "Wang"}, 5, 22),
    _f("deal.stage_changed", "D3", {"to": "needs_analysis"}, 6, 21),
    _f("deal.needs_recorded", "D3", {"summary": "s"}, 6, 22),
    _f("deal.stage_changed", "D3", {"to": "proposal"}, 8, 21),
    _f("proposal.sent", "D3", {}, 8, 22),
    _f("deal.stage_changed", "D3", {"to": "quote"}, 9, 21),
    _f("quote.issued", "D3", {"amount": "8000.00", "currency": "USD"}, 9, 22),
    _f("deal.stage_changed", "D3", {"to": "negotiation"}, 10, 21),
    _f("contract.signed", "D3", {"amount": "8000.00", "currency": "USD"}, 12, 21),
    _f("contract.cancelled", "D3", {"reason": "changed mind"}, 20, 10),
    # D4
    opened("D4", "channel", owner="rep-c", amount="30000.00", expected_close="2026-03-31",
           time=at(10, 10)),
    _f("deal.registration_approved", "D4", {}, 11, 10),
    _f("deal.stage_changed", "D4", {"to": "approved"}, 12, 10),
    # D5
    opened("D5", owner="rep-b", amount="1000.00", expected_close="2026-02-01",
           time=at(5, 10)),
    _f("deal.reassigned", "D5", {"owner": "rep-a"}, 6, 10),
    _f("deal.amount_changed", "D5", {"amount": "1500.00", "currency": "CNY"}, 7, 10),
    # D6
    opened("D6", owner="rep-b", amount="2000.00", expected_close="2026-01-31",
           time=at(5, 10)),
    _f("deal.lost", "D6", {"reason": "no answer"}, 5, 12),
    _f("deal.reopened", "D6", {}, 6, 10),
]
