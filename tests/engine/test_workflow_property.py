"""Hypothesis state machine: random fact sequences (many of them refused) never bring a
deal into a state its workflow forbids, and every accept/refuse decision matches an
independent reference model of CONTRACT.md's rules. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import hypothesis.strategies as st
from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from engine.bootstrap import Engine
from engine.domain import Deal, deal_id
from tests.engine.conftest import send
from tests.engine.facts import fact, opened

OPEN = {
    "standard": ["lead", "contact", "needs_analysis", "proposal", "quote", "negotiation"],
    "channel": ["registered", "approved", "joint_call", "proposal", "quote", "negotiation"],
}
REQUIRES = {  # stage -> tokens, any of which satisfies
    "contact": {"activity.logged"}, "needs_analysis": {"deal.customer_info_captured"},
    "proposal": {"deal.needs_recorded"}, "quote": {"proposal.sent"},
    "negotiation": {"quote.issued"}, "approved": {"deal.registration_approved"},
    "joint_call": {"activity.logged:call", "activity.logged:meeting"},
}
ACCEPTS = {
    "won": {"activity.logged", "deal.customer_info_captured", "payment.received",
            "survey.responded", "contract.cancelled"},
    "lost": {"activity.logged", "deal.customer_info_captured", "survey.responded",
             "deal.reopened"},
}
ALL_STAGES = sorted({s for v in OPEN.values() for s in v} | {"won", "lost"})
DATA = {
    "activity.logged": st.fixed_dictionaries({"kind": st.sampled_from(
        ["call", "email", "meeting", "visit"])}),
    "deal.needs_recorded": st.just({"summary": "s"}),
    "deal.customer_info_captured": st.just({"contact_name": "n"}),
    "proposal.sent": st.just({}),
    "deal.registration_approved": st.just({}),
    "quote.issued": st.just({"amount": "5.00", "currency": "CNY"}),
    "contract.signed": st.just({"amount": "5.00", "currency": "CNY"}),
    "deal.lost": st.just({"reason": "r"}),
    "deal.reopened": st.one_of(st.just({}), st.fixed_dictionaries(
        {"stage": st.sampled_from(ALL_STAGES)})),
    "payment.received": st.just({"amount": "1.00", "currency": "CNY"}),
    "contract.cancelled": st.just({"reason": "r"}),
    "survey.responded": st.just({"score": 3}),
    "deal.amount_changed": st.just({"amount": "7.00", "currency": "CNY"}),
    "deal.stage_changed": st.fixed_dictionaries({"to": st.sampled_from(ALL_STAGES)}),
}
_runs = itertools.count()


@dataclass
class ModelDeal:
    workflow: str
    stage: str
    seen: set[str] = field(default_factory=lambda: {"deal.opened"})
    lost_from: str | None = None
    cancelled: bool = False

    def decide(self, fact_type: str, data: dict[str, Any]) -> bool:
        """Apply the fact if the contract allows it; return whether it was accepted."""
        stages = OPEN[self.workflow]
        if self.stage in ACCEPTS and fact_type not in ACCEPTS[self.stage]:
            return False
        if fact_type == "deal.stage_changed":
            i = stages.index(self.stage)
            to = data["to"]
            if i + 1 >= len(stages) or stages[i + 1] != to or not REQUIRES[to] & self.seen:
                return False
            self.stage = to
        elif fact_type == "contract.signed":
            if self.stage != "negotiation":
                return False
            self.stage = "won"
        elif fact_type == "deal.lost":
            self.lost_from, self.stage = self.stage, "lost"
        elif fact_type == "deal.reopened":
            if self.stage != "lost" or self.lost_from is None:
                return False
            to = data.get("stage", self.lost_from)
            if to not in stages or stages.index(to) > stages.index(self.lost_from):
                return False
            self.stage, self.lost_from = to, None
        elif fact_type in ("payment.received", "contract.cancelled"):
            if self.stage != "won" or (fact_type == "contract.cancelled" and self.cancelled):
                return False
            self.cancelled = self.cancelled or fact_type == "contract.cancelled"
        if fact_type == "activity.logged":
            self.seen |= {"activity.logged", f"activity.logged:{data['kind']}"}
        else:
            self.seen.add(fact_type)
        return True


class DealStreams(RuleBasedStateMachine):
    """Facts for three deals, sent in batches of random size."""

    engine: Engine

    def __init__(self) -> None:
        super().__init__()
        run = next(_runs)
        self.subjects = [f"P{run}-{i}" for i in range(3)]
        self.model: dict[str, ModelDeal] = {}
        self.pending: list[tuple[dict[str, Any], str, bool]] = []

    @rule(i=st.integers(0, 2), workflow=st.sampled_from(["standard", "channel"]))
    def open_deal(self, i: int, workflow: str) -> None:
        subject = self.subjects[i]
        expected = subject not in self.model
        if expected:
            self.model[subject] = ModelDeal(workflow, OPEN[workflow][0])
        self.pending.append((opened(subject, workflow), subject, expected))

    @rule(i=st.integers(0, 2), data=st.data(), fact_type=st.sampled_from(sorted(DATA)))
    def send_fact(self, i: int, data: st.DataObject, fact_type: str) -> None:
        subject = self.subjects[i]
        body = data.draw(DATA[fact_type])
        model = self.model.get(subject)
        expected = model.decide(fact_type, body) if model else False
        self.pending.append((fact(fact_type, subject, body), subject, expected))

    @precondition(lambda self: bool(self.pending))
    @rule()
    def flush(self) -> None:
        result = send(self.engine, *[p[0] for p in self.pending])
        for (obj, _, expected), outcome in zip(self.pending, result.outcomes, strict=True):
            assert (outcome.status == "accepted") == expected, (obj, outcome)
        self.pending.clear()

    @invariant()
    def stages_match_and_are_allowed(self) -> None:
        if self.pending:
            return
        for subject, model in self.model.items():
            deal: Deal = self.engine.app.repository.get(deal_id(subject))
            assert deal.stage in [*OPEN[deal.workflow], "won", "lost"]
            assert deal.stage == model.stage


def _run(engine: Engine, examples: int) -> None:
    DealStreams.engine = engine
    test_case = DealStreams.TestCase
    test_case.settings = settings(max_examples=examples, stateful_step_count=25,
                                  deadline=None,
                                  suppress_health_check=[HealthCheck.too_slow])
    test_case().runTest()


def test_random_fact_streams_respect_the_workflow(engine: Engine, store_url: str) -> None:
    _run(engine, 40 if store_url.startswith("sqlite") else 12)
