"""Random valid fact streams for the forecast property tests (Hypothesis).

A stream is a few deals in one year (``year``), each opened at a random instant and then
moved by random actions at later instants: stage steps (with the fact each stage requires),
amount and currency changes, reassignments, close-date changes, forecast overrides, losses,
reopenings, signings and cancellations. Facts arrive in the order of their action's
instant; close-date changes and overrides may be back-dated (their ``time`` earlier than
their arrival), since the forecast judges those by ``time``. Every fact is valid where it
arrives, so dealflow accepts them all. The period is the year's Q2, where most close dates
fall (the others in Q1 and Q3); deals open in the first half; T1 < T2 in the year.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from hypothesis import strategies as st

from tests.projections.forecast.oracle import ZONE

__all__ = ["Stream", "moved", "streams"]

Fact = dict[str, Any]
REPS = ("r1", "r2", "r3")
CURRENCIES = ("CNY", "USD")
AMOUNTS = ("100.00", "250.50", "1000.00", "999.99", "40.00")
STAGES = ("lead", "contact", "needs_analysis", "proposal", "quote", "negotiation")
_REQUIRES: dict[str, tuple[str, dict[str, Any]]] = {
    "contact": ("activity.logged", {"kind": "call"}),
    "needs_analysis": ("deal.customer_info_captured", {"contact_name": "Li"}),
    "proposal": ("deal.needs_recorded", {"summary": "s"}),
    "quote": ("proposal.sent", {}),
}
_MINUTES_IN_YEAR = 364 * 24 * 60
ACTIONS = ("advance", "sign", "amount", "reassign", "close", "advance", "sign", "amount",
           "reassign", "close", "override", "lose", "reopen", "cancel")


@dataclass(frozen=True)
class Stream:
    """Facts in arrival order, the period asked and the two instants."""

    facts: list[Fact]
    period: str
    t1: datetime
    t2: datetime


def _instant(year: int, minute: int) -> datetime:
    return datetime(year, 1, 1, tzinfo=ZONE) + timedelta(minutes=minute)


@st.composite
def streams(draw: st.DrawFn, year: int, tag: str, max_deals: int = 8) -> Stream:
    """A random valid stream of deals in ``year`` (subjects start with ``tag``)."""
    arrivals: list[tuple[int, int, Fact]] = []  # (arrival minute, order, fact)
    serial = 0

    def emit(kind: str, subject: str, data: dict[str, Any], arrive: int,
             happened: int | None = None) -> None:
        nonlocal serial
        serial += 1
        moment = _instant(year, arrive if happened is None else happened)
        arrivals.append((arrive, serial, {
            "id": f"{tag}-{serial}", "type": kind, "source": "prop", "subject": subject,
            "time": moment.isoformat(), "data": data}))

    def close_date() -> str:
        quarter = draw(st.sampled_from((0, 1, 1, 2)))  # mostly the period asked (Q2)
        day = date(year, quarter * 3 + 1, 1) + timedelta(days=draw(st.integers(0, 89)))
        return day.isoformat()

    for n in range(draw(st.integers(1, max_deals))):
        subject = f"{tag}-D{n}"
        start = draw(st.integers(0, _MINUTES_IN_YEAR // 2))
        data: dict[str, Any] = {
            "workflow": "standard", "account": "acct", "owner": draw(st.sampled_from(REPS)),
            "amount": draw(st.sampled_from(AMOUNTS)),
            "currency": draw(st.sampled_from(CURRENCIES))}
        if draw(st.integers(0, 4)):
            data["expected_close"] = close_date()
        emit("deal.opened", subject, data, start)
        stage, status, lost_from = "lead", "open", "lead"
        # Its life: a few months of actions (so that T1 and T2 fall among them).
        end = min(_MINUTES_IN_YEAR, start + 150 * 24 * 60)
        steps = sorted(draw(st.lists(st.integers(start + 1, end), min_size=3, max_size=14)))
        for at in steps:
            action = draw(st.sampled_from(ACTIONS))
            if status == "open" and action in ("advance", "sign") and stage != "negotiation":
                # One to three stages forward (signing walks to negotiation first), each
                # with the fact entering it requires, all at this instant.
                last = (len(STAGES) - 1 if action == "sign" else
                        min(len(STAGES) - 1, STAGES.index(stage) + draw(st.integers(1, 3))))
                for to in STAGES[STAGES.index(stage) + 1:last + 1]:
                    if to == "negotiation":
                        emit("quote.issued", subject, {
                            "amount": draw(st.sampled_from(AMOUNTS)),
                            "currency": draw(st.sampled_from(CURRENCIES))}, at)
                    else:
                        kind, body = _REQUIRES[to]
                        emit(kind, subject, body, at)
                    emit("deal.stage_changed", subject, {"to": to}, at)
                stage = STAGES[last]
            elif status == "open" and action == "amount":
                emit("deal.amount_changed", subject, {
                    "amount": draw(st.sampled_from(AMOUNTS)),
                    "currency": draw(st.sampled_from(CURRENCIES))}, at)
            elif status == "open" and action == "reassign":
                emit("deal.reassigned", subject, {"owner": draw(st.sampled_from(REPS))}, at)
            elif status == "open" and action in ("close", "override"):
                back = draw(st.integers(start, at)) if draw(st.booleans()) else None
                if action == "close":
                    emit("deal.expected_close_changed", subject,
                         {"expected_close": close_date()}, at, back)
                else:
                    category = draw(st.sampled_from(
                        ("pipeline", "best_case", "commit", "omitted", "auto")))
                    emit("deal.forecast_set", subject, {"category": category}, at, back)
            elif status == "open" and action == "lose":
                emit("deal.lost", subject, {"reason": "r"}, at)
                status, lost_from = "lost", stage
            elif status == "lost" and action == "reopen":
                emit("deal.reopened", subject, {}, at)
                status, stage = "open", lost_from
            if status == "open" and action == "sign" and stage == "negotiation":
                emit("contract.signed", subject, {
                    "amount": draw(st.sampled_from(AMOUNTS)),
                    "currency": draw(st.sampled_from(CURRENCIES))}, at)
                status = "won"
            elif status == "won" and action == "cancel":
                emit("contract.cancelled", subject, {"reason": "r"}, at)
                status = "cancelled"
    t1 = draw(st.integers(0, _MINUTES_IN_YEAR // 2))
    t2 = draw(st.integers(t1 + 1, _MINUTES_IN_YEAR))
    facts = [fact for _, _, fact in sorted(arrivals, key=lambda a: (a[0], a[1]))]
    return Stream(facts, f"{year}-Q2", _instant(year, t1), _instant(year, t2))


def moved(stream: Stream, n: int, year: int) -> Stream:
    """The stream with its ids and subjects made unique to example ``n`` and its instants
    and dates moved from 2030 into ``year``."""
    def move(text: str) -> str:
        return text.replace("2030-", f"{year}-", 1)

    facts = []
    for f in stream.facts:
        data = dict(f["data"])
        if "expected_close" in data:
            data["expected_close"] = move(data["expected_close"])
        facts.append({**f, "id": f"{n}-{f['id']}", "subject": f"{n}-{f['subject']}",
                      "time": move(f["time"]), "data": data})
    return Stream(facts, move(stream.period), stream.t1.replace(year=year),
                  stream.t2.replace(year=year))
