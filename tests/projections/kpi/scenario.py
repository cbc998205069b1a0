"""A small hand-built KPI scenario (times in +08:00, the KPI zone); figures are computed by
hand in test_report.py.

K1 standard rep-a ACME, splits rep-a 0.6 / rep-b 0.4: call 1.5 h after opening, won at
   12000 CNY on 2026-02-10, survey 5.
K2 standard rep-a ACME: email 30 min after opening, lost from contact on 2026-01-20.
K3 standard rep-b BETA: call 4 h after opening; reassigned to rep-c on 2026-02-01; a visit
   and a survey (4) for rep-c; a survey (2) of 2026-01-20 arriving after the reassignment
   (credits rep-b, by time); won at 9000 CNY on 2026-03-05; cancelled on 2026-04-02.
K4 channel rep-c GAMMA 3000 USD opened 2026-03-30: first meeting two days later (Q2).
K5 standard rep-a DELTA opened 2025-12-30: lost from lead, reopened, lost again (Q1).
Quotas: rep-a Q1 100000 CNY (east); rep-b months 10000 + 20000 + 30000 CNY (east); rep-c
Q1 50000, then 40000 (latest by time), then 99999 arriving last with an earlier time (west).
"""

from __future__ import annotations

from typing import Any

from tests.engine.facts import fact, opened

__all__ = ["LATE", "SCENARIO", "t"]


def t(month: int, day: int, hour: int, minute: int = 0, year: int = 2026) -> str:
    """A time in +08:00."""
    return f"{year}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:00+08:00"


def _quota(rep: str, period: str, amount: str, team: str, time: str) -> dict[str, Any]:
    return fact("rep.quota_set", rep, {"period": period, "amount": amount, "currency": "CNY",
                                       "team": team}, time=time)


_STEPS = [
    ("deal.stage_changed", {"to": "contact"}),
    ("deal.customer_info_captured", {"contact_name": "n"}),
    ("deal.stage_changed", {"to": "needs_analysis"}),
    ("deal.needs_recorded", {"summary": "s"}),
    ("deal.stage_changed", {"to": "proposal"}),
    ("proposal.sent", {}),
    ("deal.stage_changed", {"to": "quote"}),
    ("quote.issued", {"amount": "9000.00", "currency": "CNY"}),
    ("deal.stage_changed", {"to": "negotiation"}),
]


def _path(subject: str, times: list[str], signed: str | None = None) -> list[dict[str, Any]]:
    """The standard path from contact on, one (move, fact) pair per time, then signing."""
    out = []
    for i, (type_, data) in enumerate(_STEPS[: 2 * len(times) - 1]):
        out.append(fact(type_, subject, data, time=times[(i + 1) // 2]))
    if signed is not None:
        out.append(fact("contract.signed", subject, {"amount": signed, "currency": "CNY"},
                        time=times[-1].replace("T09", "T10")))
    return out


LATE = fact("survey.responded", "K3", {"score": 2}, time=t(1, 20, 9))

SCENARIO: list[dict[str, Any]] = [
    _quota("rep-a", "2026-Q1", "100000.00", "east", t(1, 1, 9)),
    _quota("rep-b", "2026-01", "10000.00", "east", t(1, 1, 9)),
    _quota("rep-b", "2026-02", "20000.00", "east", t(1, 1, 9)),
    _quota("rep-b", "2026-03", "30000.00", "east", t(1, 1, 9)),
    _quota("rep-c", "2026-Q1", "50000.00", "west", t(1, 1, 9)),
    _quota("rep-c", "2026-Q1", "40000.00", "west", t(1, 15, 9)),
    # K1
    opened("K1", owner="rep-a", account="ACME", time=t(1, 5, 10),
           splits=[{"rep": "rep-a", "share": "0.6"}, {"rep": "rep-b", "share": "0.4"}]),
    fact("activity.logged", "K1", {"kind": "call"}, time=t(1, 5, 11, 30)),
    *_path("K1", [t(1, 6, 9), t(1, 7, 9), t(1, 8, 9), t(1, 9, 9), t(2, 10, 9)], "12000.00"),
    fact("survey.responded", "K1", {"score": 5}, time=t(2, 20, 9)),
    # K2
    opened("K2", owner="rep-a", account="ACME", amount="5000.00", time=t(1, 6, 10)),
    fact("activity.logged", "K2", {"kind": "email"}, time=t(1, 6, 10, 30)),
    *_path("K2", [t(1, 7, 9)]),
    fact("deal.lost", "K2", {"reason": "budget"}, time=t(1, 20, 9)),
    # K3
    opened("K3", owner="rep-b", account="BETA", amount="8000.00", time=t(1, 6, 9)),
    fact("activity.logged", "K3", {"kind": "call"}, time=t(1, 6, 13)),
    *_path("K3", [t(1, 10, 9), t(1, 15, 9)]),
    fact("deal.reassigned", "K3", {"owner": "rep-c"}, time=t(2, 1, 10)),
    fact("activity.logged", "K3", {"kind": "visit"}, time=t(2, 2, 9)),
    fact("survey.responded", "K3", {"score": 4}, time=t(2, 3, 9)),
    *_path("K3", [t(1, 10, 9), t(1, 15, 9), t(2, 10, 9), t(2, 20, 9), t(3, 1, 9)])[3:],
    fact("contract.signed", "K3", {"amount": "9000.00", "currency": "CNY"},
         time=t(3, 5, 10)),
    # K4
    opened("K4", "channel", owner="rep-c", account="GAMMA", amount="3000.00",
           currency="USD", time=t(3, 30, 10)),
    fact("deal.registration_approved", "K4", {}, time=t(3, 31, 10)),
    fact("activity.logged", "K4", {"kind": "meeting"}, time=t(4, 1, 10)),
    fact("deal.stage_changed", "K4", {"to": "approved"}, time=t(4, 1, 11)),
    fact("contract.cancelled", "K3", {"reason": "r"}, time=t(4, 2, 9)),
    # K5
    opened("K5", owner="rep-a", account="DELTA", amount="20000.00",
           time=t(12, 30, 10, year=2025)),
    fact("deal.lost", "K5", {"reason": "r"}, time=t(1, 3, 9)),
    fact("deal.reopened", "K5", {}, time=t(1, 4, 9)),
    fact("deal.lost", "K5", {"reason": "r"}, time=t(1, 8, 9)),
    # late arrivals: an earlier-timed quota, a survey from before the reassignment
    _quota("rep-c", "2026-Q1", "99999.00", "west", t(1, 10, 9)),
    LATE,
]
