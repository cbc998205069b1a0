"""A small hand-built forecast scenario for 2026-Q2 (times in +08:00); the figures are
computed by hand in test_report.py and docs/forecast.md.

Profiles: rep-a in team east, rep-b in team west (2026-01-01); rep-c has none (``no team``).
D1 rep-a 10000 CNY, close 2026-05-15, walked to negotiation (commit, 80 %).
D2 rep-a 5000 CNY, close 2026-06-30, in lead (5 %), overridden to commit.
D3 rep-b 2000 USD, close 2026-04-10, in lead, overridden to omitted.
D4 rep-c 3000 CNY, opened with close 2026-07-01 (Q3), moved to 2026-06-01 (Q2): pipeline.
D5 rep-a, splits rep-a 0.6 / rep-b 0.4, signed 12000 CNY on 2026-04-20: closed credit.
D6 rep-b signed 8000 CNY on 2026-03-30: Q1, not in Q2.
D7 rep-a signed 10000 CNY on 2026-05-05, cancelled on 2026-09-01.
D8 rep-a 700 CNY without a close date: counted apart.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from tests.engine.facts import fact, opened

__all__ = ["SCENARIO", "at", "walk"]

Fact = dict[str, Any]


def at(month: int, day: int, hour: int = 10, minute: int = 0) -> str:
    """A 2026 time in +08:00."""
    return f"2026-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:00+08:00"


_PATH: list[tuple[str, dict[str, Any]]] = [
    ("activity.logged", {"kind": "call", "purpose": "first_call"}),
    ("deal.stage_changed", {"to": "contact"}),
    ("deal.customer_info_captured", {"contact_name": "Li Lei"}),
    ("deal.stage_changed", {"to": "needs_analysis"}),
    ("deal.needs_recorded", {"summary": "wants 20 seats"}),
    ("deal.stage_changed", {"to": "proposal"}),
    ("proposal.sent", {}),
    ("deal.stage_changed", {"to": "quote"}),
    ("quote.issued", {"amount": None, "currency": "CNY"}),
    ("deal.stage_changed", {"to": "negotiation"}),
]


def walk(subject: str, start: str, amount: str, *, signed: str | None = None,
         **opening: Any) -> list[Fact]:
    """Open ``subject`` at ``start`` and walk it to negotiation (the quote at ``amount``),
    one fact a minute; then sign it at ``signed`` (a time) for ``amount``."""
    first = datetime.fromisoformat(start)
    out = [opened(subject, amount=amount, time=start, **opening)]
    for i, (type_, data) in enumerate(_PATH, start=1):
        body = {**data, "amount": amount} if "amount" in data else data
        out.append(fact(type_, subject, body, time=(first + timedelta(minutes=i)).isoformat()))
    if signed is not None:
        out.append(fact("contract.signed", subject, {"amount": amount, "currency": "CNY"},
                        time=signed))
    return out


def _profile(rep: str, team: str) -> Fact:
    return fact("rep.profile_set", rep, {"team": team}, time=at(1, 1))


SCENARIO: list[Fact] = [
    _profile("rep-a", "east"),
    _profile("rep-b", "west"),
    *walk("D1", at(4, 1), "10000.00", owner="rep-a", expected_close="2026-05-15"),
    opened("D2", owner="rep-a", amount="5000.00", expected_close="2026-06-30", time=at(4, 2)),
    fact("deal.forecast_set", "D2", {"category": "commit"}, time=at(4, 3)),
    opened("D3", owner="rep-b", amount="2000.00", currency="USD", expected_close="2026-04-10",
           time=at(4, 2)),
    fact("deal.forecast_set", "D3", {"category": "omitted"}, time=at(4, 3)),
    opened("D4", owner="rep-c", amount="3000.00", expected_close="2026-07-01", time=at(4, 2)),
    fact("deal.expected_close_changed", "D4", {"expected_close": "2026-06-01"}, time=at(5, 2)),
    *walk("D5", at(4, 5), "12000.00", owner="rep-a", expected_close="2026-06-30",
          splits=[{"rep": "rep-a", "share": "0.6"}, {"rep": "rep-b", "share": "0.4"}],
          signed=at(4, 20)),
    *walk("D6", at(3, 1), "8000.00", owner="rep-b", expected_close="2026-04-30",
          signed=at(3, 30)),
    *walk("D7", at(4, 6), "10000.00", owner="rep-a", expected_close="2026-05-31",
          signed=at(5, 5)),
    fact("contract.cancelled", "D7", {"reason": "refund"}, time=at(9, 1)),
    opened("D8", owner="rep-a", amount="700.00", time=at(4, 7)),
]
