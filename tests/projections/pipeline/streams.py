"""Random valid fact streams for property tests.

A :class:`StreamSpec` is drawn once and materialised under a ``tag`` (prefixing every id,
subject, rep, account and team), so one draw can be delivered several ways: in time order,
with the order-free facts (extra activities, surveys, payments, quotas) delivered last, or
cut at a time. Each deal's facts have strictly increasing times, so any time cut of a deal
is itself a valid stream.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import hypothesis.strategies as st

from tests.engine.facts import CHANNEL_PATH, STANDARD_PATH

__all__ = ["DealSpec", "Fact", "StreamSpec", "streams"]

BASE = datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=8)))
KINDS = ["call", "email", "meeting", "visit"]
PERIODS = ["2026-Q1", "2026-Q2", "2026-01", "2026-02", "2026-03", "2026-04"]


@dataclass(frozen=True)
class Fact:
    """A contract object with its time and whether it may be delivered late."""

    obj: dict[str, Any]
    time: datetime
    movable: bool


@dataclass(frozen=True)
class DealSpec:
    """One deal's script (see :func:`_deal_facts`)."""

    workflow: str
    owner: int
    other: int
    account: int
    currency: str
    cents: int
    close_month: int | None
    split: bool
    progress: int
    outcome: str
    reassign_at: int | None
    amount_at: int | None
    extras: tuple[tuple[int, str], ...]
    surveys: tuple[tuple[int, int], ...]
    payment: bool
    cancel: bool
    start: int
    gaps: tuple[int, ...]


@dataclass(frozen=True)
class StreamSpec:
    """Deals and quotas."""

    deals: tuple[DealSpec, ...]
    quotas: tuple[tuple[int, str, int, int | None, int], ...]  # rep, period, amount, team, h

    def facts(self, tag: str) -> list[Fact]:
        """Every fact, in time order (ties: deal order), materialised under ``tag``."""
        out: list[Fact] = []
        for i, deal in enumerate(self.deals):
            out += _deal_facts(deal, f"{tag}-D{i}", tag)
        for j, (rep, period, amount, team, hours) in enumerate(self.quotas):
            data: dict[str, Any] = {"period": period, "amount": f"{amount}.00",
                                    "currency": "CNY"}
            if team is not None:
                data["team"] = f"{tag}-team{team}"
            out.append(_fact(f"{tag}-q{j}", "rep.quota_set", f"{tag}-rep{rep}", data,
                             BASE + timedelta(hours=hours), True))
        return sorted(out, key=lambda f: f.time)

    def in_order(self, tag: str) -> list[dict[str, Any]]:
        """Delivered in time order."""
        return [f.obj for f in self.facts(tag)]

    def late(self, tag: str) -> list[dict[str, Any]]:
        """The order-free facts delivered after all others, latest first."""
        facts = self.facts(tag)
        return ([f.obj for f in facts if not f.movable]
                + [f.obj for f in reversed(facts) if f.movable])

    def until(self, tag: str, cut: datetime) -> list[dict[str, Any]]:
        """Only the facts that happened by ``cut``, in time order."""
        return [f.obj for f in self.facts(tag) if f.time <= cut]


def _fact(id_: str, type_: str, subject: str, data: dict[str, Any], time: datetime,
          movable: bool) -> Fact:
    obj = {"id": id_, "type": type_, "source": "prop", "time": time.isoformat(),
           "subject": subject, "data": data}
    return Fact(obj, time, movable)


def _deal_facts(d: DealSpec, subject: str, tag: str) -> list[Fact]:
    rep = [f"{tag}-rep{i}" for i in range(3)]
    amount = f"{d.cents // 100}.{d.cents % 100:02d}"
    opened: dict[str, Any] = {"workflow": d.workflow, "account": f"{tag}-acct{d.account}",
                              "owner": rep[d.owner], "amount": amount,
                              "currency": d.currency}
    if d.workflow == "channel":
        opened["partner"] = "partner-x"
    if d.close_month is not None:
        opened["expected_close"] = f"2026-{d.close_month:02d}-15"
    if d.split and d.other != d.owner:
        opened["splits"] = [{"rep": rep[d.owner], "share": "0.5"},
                            {"rep": rep[d.other], "share": "0.5"}]
    path = CHANNEL_PATH if d.workflow == "channel" else STANDARD_PATH
    steps: list[tuple[str, dict[str, Any], bool]] = [
        (t, {**data, **({"currency": d.currency} if "currency" in data else {})}, False)
        for t, data in path[: 2 * d.progress]]
    closing: list[tuple[str, dict[str, Any], bool]] = []
    if d.outcome == "won" and d.progress == 5:
        closing.append(("contract.signed", {"amount": amount, "currency": d.currency}, False))
        if d.payment:
            closing.append(("payment.received", {"amount": "1.00", "currency": d.currency},
                            True))
        if d.cancel:
            closing.append(("contract.cancelled", {"reason": "r"}, False))
    elif d.outcome in ("lost", "reopened"):
        closing.append(("deal.lost", {"reason": "r"}, False))
        if d.outcome == "reopened":
            closing.append(("deal.reopened", {}, False))
    inserts: list[tuple[int, tuple[str, dict[str, Any], bool]]] = []
    if d.reassign_at is not None:
        inserts.append((min(d.reassign_at, len(steps)),
                        ("deal.reassigned", {"owner": rep[d.other]}, False)))
    if d.amount_at is not None:
        inserts.append((min(d.amount_at, len(steps)), (
            "deal.amount_changed", {"amount": f"{d.cents // 50}.50", "currency": d.currency},
            False)))
    body = steps + closing
    for at, kind in d.extras:
        inserts.append((min(at, len(body)), ("activity.logged", {"kind": kind}, True)))
    for at, score in d.surveys:
        inserts.append((min(at, len(body)), ("survey.responded", {"score": score}, True)))
    for at, item in sorted(inserts, key=lambda x: x[0], reverse=True):
        body.insert(at, item)
    time = BASE + timedelta(hours=d.start)
    out = [_fact(f"{subject}-0", "deal.opened", subject, opened, time, False)]
    for k, (type_, data, movable) in enumerate(body, start=1):
        time += timedelta(hours=d.gaps[k % len(d.gaps)], minutes=7)
        out.append(_fact(f"{subject}-{k}", type_, subject, data, time, movable))
    return out


_deal = st.builds(
    DealSpec,
    workflow=st.sampled_from(["standard", "channel"]),
    owner=st.integers(0, 2), other=st.integers(0, 2), account=st.integers(0, 3),
    currency=st.sampled_from(["CNY", "USD"]), cents=st.integers(100, 10_000_000),
    close_month=st.none() | st.integers(1, 12), split=st.booleans(),
    progress=st.sampled_from([0, 1, 2, 3, 4, 5, 5, 5]),
    outcome=st.sampled_from(["open", "won", "won", "won", "lost", "reopened"]),
    reassign_at=st.none() | st.integers(0, 10), amount_at=st.none() | st.integers(0, 10),
    extras=st.lists(st.tuples(st.integers(0, 14), st.sampled_from(KINDS)), max_size=3)
    .map(tuple),
    surveys=st.lists(st.tuples(st.integers(0, 14), st.integers(1, 5)), max_size=2)
    .map(tuple),
    payment=st.booleans(), cancel=st.booleans(), start=st.integers(0, 24 * 60),
    gaps=st.lists(st.integers(0, 96), min_size=1, max_size=6).map(tuple),
)

_quota = st.tuples(st.integers(0, 2), st.sampled_from(PERIODS), st.integers(1000, 90000),
                   st.none() | st.integers(0, 1), st.integers(-24 * 10, 24 * 120))

streams = st.builds(StreamSpec, deals=st.lists(_deal, min_size=1, max_size=6).map(tuple),
                    quotas=st.lists(_quota, max_size=4).map(tuple))
