"""Hypothesis: random profile, deal and close streams never assign an ineligible rep, and a
deal is left unassigned only when no rep was eligible (the default routing's last rule
matches every deal). The check is a reference model written from the contract's words,
folded beside the handlers, which run on an in-memory unit of work (a fake of the port
``engine.handlers.Aggregates``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.contract.envelope import parse_fact
from engine.domain import Deal, Rep, RoutingBook
from engine.errors import FactRejectedError
from engine.handlers import handle
from engine.routing import RoutingRegistry
from engine.translate import to_command
from tests.engine.facts import fact, raw
from workflows import WorkflowRegistry

REPS = ["rep-1", "rep-10", "rep-2", "rep-b"]
SEGMENTS = ["high_value", "potential"]
TERRITORIES = ["north", "south"]
T0 = datetime(2026, 1, 5, tzinfo=UTC)
WORKFLOWS = WorkflowRegistry.shipped()
ROUTING = RoutingRegistry.shipped()


@dataclass
class FakeUnitOfWork:
    """The handlers' port, in memory."""

    workflows: WorkflowRegistry = WORKFLOWS
    routing: RoutingRegistry = ROUTING
    deals: dict[str, Deal] = field(default_factory=dict)
    reps: dict[str, Rep] = field(default_factory=dict)
    book: RoutingBook | None = None

    def routing_book(self) -> RoutingBook:
        if self.book is None:
            self.book = RoutingBook.start()
        return self.book

    def find_deal(self, subject: str) -> Deal | None:
        return self.deals.get(subject)

    def find_rep(self, rep: str) -> Rep | None:
        return self.reps.get(rep)

    def add(self, aggregate: Deal | Rep) -> None:
        if isinstance(aggregate, Deal):
            assert aggregate.subject is not None
            self.deals[aggregate.subject] = aggregate
        else:
            self.reps[aggregate.rep] = aggregate


optional_list = st.none() | st.lists(st.sampled_from(SEGMENTS + TERRITORIES), max_size=3,
                                     unique=True)
profile_op = st.fixed_dictionaries({
    "op": st.just("profile"), "rep": st.sampled_from(REPS),
    "hours": st.integers(-48, 48), "active": st.booleans(),
    "capacity": st.none() | st.integers(0, 3), "segments": optional_list,
    "territories": optional_list,
})
open_op = st.fixed_dictionaries({
    "op": st.just("open"), "owner": st.none() | st.none() | st.sampled_from(REPS),
    "hours": st.integers(-48, 48), "segment": st.none() | st.sampled_from(SEGMENTS),
    "territory": st.none() | st.sampled_from(TERRITORIES),
})
close_op = st.fixed_dictionaries({
    "op": st.sampled_from(["lose", "reopen", "reassign"]), "deal": st.integers(0, 30),
    "owner": st.sampled_from(REPS),
})
streams = st.lists(st.one_of(profile_op, open_op, close_op), min_size=1, max_size=60)


def _time(hours: int) -> str:
    return (T0 + timedelta(hours=hours)).isoformat()


@dataclass
class Reference:
    """The contract's words: profiles received so far, loads of the engine's state."""

    profiles: dict[str, list[tuple[tuple[datetime, str, str], dict[str, Any]]]] = field(
        default_factory=dict)
    owner: dict[str, str | None] = field(default_factory=dict)
    open: dict[str, bool] = field(default_factory=dict)

    def load(self, rep: str) -> int:
        return sum(1 for d, o in self.owner.items() if o == rep and self.open[d])

    def in_force(self, rep: str, at: datetime) -> dict[str, Any] | None:
        held = [p for p in self.profiles.get(rep, []) if p[0][0] <= at]
        return max(held, key=lambda p: p[0])[1] if held else None

    def eligible(self, rep: str, at: datetime, segment: str | None,
                 territory: str | None) -> bool:
        p = self.in_force(rep, at)
        if p is None or not p.get("active", True):
            return False
        if p.get("segments") is not None and segment not in p["segments"]:
            return False
        if p.get("territories") is not None and territory not in p["territories"]:
            return False
        return p.get("capacity") is None or self.load(rep) < p["capacity"]


@settings(max_examples=150, deadline=None)
@given(streams)
def test_routing_never_assigns_an_ineligible_rep(ops: list[dict[str, Any]]) -> None:
    uow = FakeUnitOfWork()
    ref = Reference()
    opened = 0
    for n, op in enumerate(ops):
        subject = ""
        if op["op"] == "profile":
            data = {k: op[k] for k in ("active", "capacity", "segments", "territories")
                    if op[k] is not None}
            obj = fact("rep.profile_set", op["rep"], {"team": "t", **data},
                       time=_time(op["hours"]), source="hr", id_=f"f-{n}")
        elif op["op"] == "open":
            subject = f"D-{opened}"
            opened += 1
            data = {"workflow": "standard", "account": "a", "amount": "1", "currency": "CNY"}
            data.update({k: op[k] for k in ("owner", "segment", "territory")
                         if op[k] is not None})
            obj = fact("deal.opened", subject, data, time=_time(op["hours"]), id_=f"f-{n}")
        else:
            subject = f"D-{op['deal']}"
            body = {"lose": ("deal.lost", {"reason": "r"}), "reopen": ("deal.reopened", {}),
                    "reassign": ("deal.reassigned", {"owner": op["owner"]})}[op["op"]]
            obj = fact(body[0], subject, body[1], id_=f"f-{n}")
        parsed = parse_fact(raw(obj))
        try:
            events = handle(to_command(parsed), uow)
        except FactRejectedError:
            continue
        if op["op"] == "profile":
            ref.profiles.setdefault(op["rep"], []).append(
                ((parsed.time, parsed.source, parsed.id), data))
            continue
        if op["op"] == "open":
            routed = [e for e in events if isinstance(e, Deal.Routed)]
            if op["owner"] is None:
                (decision,) = routed
                eligible = [r for r in REPS
                            if ref.eligible(r, parsed.time, op["segment"], op["territory"])]
                if decision.owner is None:
                    assert eligible == []
                else:
                    assert decision.owner in eligible
                    assert sorted(decision.reason["eligible"]) == sorted(eligible)
                ref.owner[subject] = decision.owner
            else:
                assert routed == []
                ref.owner[subject] = op["owner"]
            ref.open[subject] = True
        elif op["op"] == "lose":
            ref.open[subject] = False
        elif op["op"] == "reopen":
            ref.open[subject] = True
        else:
            ref.owner[subject] = op["owner"]
    book = uow.book
    if book is not None:  # the book's loads are the reference's
        assert {r: book.load(r) for r in REPS} == {r: ref.load(r) for r in REPS}
