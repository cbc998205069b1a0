"""compute_waterfall as a pure function: unassigned deals, an owner change per owner and
not per currency, a currency change, and the T1/T2 amounts each term counts."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from projections.forecast.waterfall import DealAt, compute_waterfall
from tests.projections.forecast.oracle import ZONE

T0 = datetime(2026, 1, 5, tzinfo=ZONE)
T1 = datetime(2026, 4, 10, tzinfo=ZONE)
LATER = datetime(2026, 5, 1, tzinfo=ZONE)
D = Decimal


def at(deal: str, amount: str, *, owner: str | None = "r1", currency: str = "CNY",
       status: str = "open", period: str | None = "2026-Q2", opened: datetime = T0
       ) -> DealAt:
    return DealAt(deal, opened, status, period, D(amount), currency, owner)


def test_unassigned_owner_change_and_currency_change() -> None:
    starts = {"a": at("a", "100.00", owner=None), "b": at("b", "50.00"),
              "c": at("c", "70.00"), "p": at("p", "10.00", period="2026-Q3")}
    ends = {"a": at("a", "100.00", owner="r2"), "b": at("b", "40.00", currency="USD"),
            "c": at("c", "90.00", status="won"), "n": at("n", "5.00", owner=None,
                                                      opened=LATER),
            "p": at("p", "12.00")}
    flat = compute_waterfall("2026-Q2", T1, starts, ends)
    assert flat.labels == {"a": "stayed", "b": "stayed", "c": "won", "n": "new",
                           "p": "pulled_in"}
    rows = {r.currency: r for r in flat.rows}
    assert rows["CNY"].terms["decreased"] == D(50)  # b left CNY; a's owner change is no term
    assert rows["CNY"].terms["won"] == D(70)  # the T1 amount, not the signed 90
    assert rows["USD"].terms["increased"] == D(40)
    assert (rows["CNY"].start, rows["CNY"].end) == (D(220), D(117))

    owners = compute_waterfall("2026-Q2", T1, starts, ends, by_owner=True)
    by = {(r.owner, r.currency): r for r in owners.rows}
    assert by[(None, "CNY")].terms["decreased"] == D(100)  # a left "unassigned"
    assert by[(None, "CNY")].terms["new"] == D(5)
    assert by[("r2", "CNY")].terms["increased"] == D(100)
    assert [r.owner for r in owners.rows][-1] is None  # unassigned last
