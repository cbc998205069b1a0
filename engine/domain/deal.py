"""The Deal aggregate: one sales opportunity moving through its workflow's stages.

Public methods decide (they consult the compiled workflow and raise
``RuleViolationError`` naming the rule); each event's ``apply`` only mutates, because it
re-runs on replay. Every event has a fixed stored name (``TOPIC``) and a ``class_version``.
"""

from __future__ import annotations

import sys
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from eventsourcing.domain import Aggregate

from engine.domain.facts import FactEvent, FactMeta, PlainEvents
from engine.domain.ids import deal_id
from engine.errors import RuleViolationError

if TYPE_CHECKING:
    from workflows import CompiledWorkflow

__all__ = ["Deal"]

SplitRows = list[dict[str, Any]]


def _activity_tokens(kind: str) -> tuple[str, str]:
    return ("activity.logged", f"activity.logged:{kind}")


# A deal's state is kept for many deals at once (the ingestors' caches hold 20,000 each in
# a live service), and most of it repeats from deal to deal: the stage, owner and currency
# names, the set of facts seen. Each deal holding its own copies was about a third of a
# cached deal's ~1.5 KB and of its objects; shared, a cached deal is smaller and leaves
# fewer long-lived objects among the short-lived ones (less fragmentation of the heap).
def _name(text: str | None) -> str | None:
    """The one shared copy of a name many deals hold (``sys.intern``)."""
    return None if text is None else sys.intern(text)


_OPENED: frozenset[str] = frozenset({"deal.opened"})


@lru_cache(maxsize=4096)
def _seen_with(seen: frozenset[str], tokens: tuple[str, ...]) -> frozenset[str]:
    """``seen`` with ``tokens`` added: one shared set for each combination (few exist)."""
    return seen.union(tokens)


class Deal(PlainEvents):
    """A deal: its workflow (and version), stage, amount, owner and the facts seen so far."""

    TOPIC = "dealflow.deal"

    subject: str | None
    workflow: str
    workflow_version: int
    stage: str
    lost_from: str | None
    account: str
    owner: str | None
    amount: Decimal
    currency: str
    expected_close: date | None
    segment: str | None
    territory: str | None
    partner: str | None
    splits: SplitRows | None
    seen: frozenset[str]
    cancelled: bool
    signed_amount: Decimal | None
    signed_at: datetime | None
    opened_at: datetime

    def __init__(self) -> None:
        """State is set by :class:`Deal.Opened` (see ``apply``)."""

    # ----------------------------------------------------------------- events
    class Created(Aggregate.Created):
        """Unused: deals are created by :class:`Deal.Opened` (kept for the base contract)."""

        TOPIC = "dealflow.deal.created"

    class Opened(FactEvent, Aggregate.Created):
        """``deal.opened`` accepted: the deal starts in its workflow's first stage.

        Version 2 added ``subject`` (the contract's deal key; the aggregate id is derived
        from it and cannot be turned back). Version 3 (contract 1.1) added ``territory`` and
        lets ``owner`` be None: the deal is routed, see :class:`Deal.Routed`.
        """

        TOPIC = "dealflow.deal.opened"
        class_version = 3
        subject: str | None
        workflow: str
        workflow_version: int
        stage: str
        account: str
        owner: str | None
        amount: Decimal
        currency: str
        expected_close: date | None
        segment: str | None
        territory: str | None
        partner: str | None
        splits: SplitRows | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            """Version 1 did not keep the subject."""
            state["subject"] = None

        @staticmethod
        def upcast_v2_v3(state: dict[str, Any]) -> None:
            """Version 2 had no territory (and always an owner)."""
            state["territory"] = None

        def apply(self, aggregate: Any) -> None:
            """Initial state."""
            deal: Deal = aggregate
            deal.subject = self.subject
            deal.workflow = sys.intern(self.workflow)
            deal.workflow_version = self.workflow_version
            deal.stage = sys.intern(self.stage)
            deal.lost_from = None
            deal.account = self.account
            deal.owner = _name(self.owner)
            deal.amount = self.amount
            deal.currency = sys.intern(self.currency)
            deal.expected_close = self.expected_close
            deal.segment = _name(self.segment)
            deal.territory = _name(self.territory)
            deal.partner = _name(self.partner)
            deal.splits = self.splits
            deal.seen = _OPENED
            deal.cancelled = False
            deal.signed_amount = None
            deal.signed_at = None
            deal.opened_at = self.occurred_at

    class Routed(FactEvent):
        """The engine chose the owner of a deal opened without one (contract 1.1 routing).

        Recorded in the same decision as :class:`Deal.Opened`, with the same fact meta.
        ``owner`` None means unassigned (no rule could choose; ``rule`` is then None).
        ``reason`` says why: the rules tried, the eligible candidates, their open loads
        and the rule's cursor. Never revised: replays and rebuilds use the recorded owner.
        """

        TOPIC = "dealflow.deal.routed"
        owner: str | None
        rule: str | None
        routing: str
        routing_version: int
        reason: dict[str, Any]

        def apply(self, aggregate: Any) -> None:
            """The routed owner."""
            aggregate.owner = _name(self.owner)

    class StageChanged(FactEvent):
        """``deal.stage_changed`` accepted: one stage forward."""

        TOPIC = "dealflow.deal.stage_changed"
        from_stage: str
        to_stage: str

        def apply(self, aggregate: Any) -> None:
            """Move."""
            aggregate.stage = sys.intern(self.to_stage)

    class ActivityLogged(FactEvent):
        """``activity.logged`` accepted. Version 2 added ``outcome``."""

        TOPIC = "dealflow.deal.activity_logged"
        class_version = 2
        kind: str
        purpose: str | None
        outcome: str | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            """Version 1 had no ``outcome``."""
            state["outcome"] = None

        def apply(self, aggregate: Any) -> None:
            """Remember the activity as seen."""
            aggregate.seen = _seen_with(aggregate.seen, _activity_tokens(self.kind))

    class Noted(FactEvent):
        """A fact that only needs remembering: needs, customer info, proposal, approval."""

        TOPIC = "dealflow.deal.noted"
        fact_type: str
        details: dict[str, Any]

        def apply(self, aggregate: Any) -> None:
            """Remember the fact as seen."""
            aggregate.seen = _seen_with(aggregate.seen, (self.fact_type,))

    class QuoteIssued(FactEvent):
        """``quote.issued`` accepted: sets the deal amount."""

        TOPIC = "dealflow.deal.quote_issued"
        amount: Decimal
        currency: str

        def apply(self, aggregate: Any) -> None:
            """Set the amount."""
            aggregate.seen = _seen_with(aggregate.seen, ("quote.issued",))
            aggregate.amount = self.amount
            aggregate.currency = sys.intern(self.currency)

    class AmountChanged(FactEvent):
        """``deal.amount_changed`` accepted."""

        TOPIC = "dealflow.deal.amount_changed"
        amount: Decimal
        currency: str

        def apply(self, aggregate: Any) -> None:
            """Set the amount."""
            aggregate.amount = self.amount
            aggregate.currency = sys.intern(self.currency)

    class ContractSigned(FactEvent):
        """``contract.signed`` accepted: the deal is won at this amount."""

        TOPIC = "dealflow.deal.contract_signed"
        from_stage: str
        to_stage: str
        amount: Decimal
        currency: str
        owner: str | None  # None: signed while unassigned (1.1)
        splits: SplitRows | None

        def apply(self, aggregate: Any) -> None:
            """Won."""
            aggregate.seen = _seen_with(aggregate.seen, ("contract.signed",))
            aggregate.stage = sys.intern(self.to_stage)
            aggregate.amount = self.amount
            aggregate.currency = sys.intern(self.currency)
            aggregate.signed_amount = self.amount
            aggregate.signed_at = self.occurred_at

    class Lost(FactEvent):
        """``deal.lost`` accepted."""

        TOPIC = "dealflow.deal.lost"
        from_stage: str
        reason: str

        def apply(self, aggregate: Any) -> None:
            """Lost, remembering where."""
            aggregate.lost_from = _name(self.from_stage)
            aggregate.stage = "lost"

    class Reopened(FactEvent):
        """``deal.reopened`` accepted: back to the stage it was lost in, or an earlier one."""

        TOPIC = "dealflow.deal.reopened"
        to_stage: str

        def apply(self, aggregate: Any) -> None:
            """Open again."""
            aggregate.stage = sys.intern(self.to_stage)
            aggregate.lost_from = None

    class Reassigned(FactEvent):
        """``deal.reassigned`` accepted: new owner and credit splits."""

        TOPIC = "dealflow.deal.reassigned"
        from_owner: str | None  # None: the deal was unassigned (1.1)
        owner: str
        splits: SplitRows | None

        def apply(self, aggregate: Any) -> None:
            """New owner."""
            aggregate.owner = _name(self.owner)
            aggregate.splits = self.splits

    class PaymentReceived(FactEvent):
        """``payment.received`` accepted on a won deal."""

        TOPIC = "dealflow.deal.payment_received"
        amount: Decimal
        currency: str

        def apply(self, aggregate: Any) -> None:
            """Nothing to change in the deal's own state."""

    class ContractCancelled(FactEvent):
        """``contract.cancelled`` accepted: the won deal is cancelled (stays ``won``)."""

        TOPIC = "dealflow.deal.contract_cancelled"
        reason: str
        refund_amount: Decimal | None

        def apply(self, aggregate: Any) -> None:
            """Mark cancelled."""
            aggregate.cancelled = True

    class SurveyResponded(FactEvent):
        """``survey.responded`` accepted: satisfaction for the deal's owner."""

        TOPIC = "dealflow.deal.survey_responded"
        score: int
        owner: str | None

        def apply(self, aggregate: Any) -> None:
            """Nothing to change in the deal's own state."""

    class ForecastSet(FactEvent):
        """``deal.forecast_set`` accepted (1.1): the owner's category call on an open deal.

        ``auto`` returns to the stage's category. Which call is in force is judged by
        (``occurred_at``, ``source``, ``fact_id``) in the forecast view, not by arrival.
        """

        TOPIC = "dealflow.deal.forecast_set"
        category: str

        def apply(self, aggregate: Any) -> None:
            """The forecast view judges overrides by time; the deal decides nothing on them."""

    class ExpectedCloseChanged(FactEvent):
        """``deal.expected_close_changed`` accepted (1.1): the deal's new expected close.

        The close date in force is judged by (``occurred_at``, ``source``, ``fact_id``) in
        the forecast view, not by arrival.
        """

        TOPIC = "dealflow.deal.expected_close_changed"
        expected_close: date

        def apply(self, aggregate: Any) -> None:
            """The forecast view judges close dates by time; the deal decides nothing on them."""

    # ---------------------------------------------------------------- decisions
    @classmethod
    def open(
        cls,
        subject: str,
        wf: CompiledWorkflow,
        meta: FactMeta,
        *,
        account: str,
        owner: str | None,
        amount: Decimal,
        currency: str,
        expected_close: date | None = None,
        segment: str | None = None,
        territory: str | None = None,
        partner: str | None = None,
        splits: SplitRows | None = None,
    ) -> Deal:
        """Open a deal in the first stage of ``wf`` (``owner`` None: :meth:`route` next)."""
        return cls._create(
            cls.Opened,
            id=deal_id(subject),
            subject=subject,
            workflow=wf.name,
            workflow_version=wf.version,
            stage=wf.first_stage,
            account=account,
            owner=owner,
            amount=amount,
            currency=currency,
            expected_close=expected_close,
            segment=segment,
            territory=territory,
            partner=partner,
            splits=splits,
            **meta.event_fields(),
        )

    def route(
        self,
        meta: FactMeta,
        *,
        owner: str | None,
        rule: str | None,
        routing: str,
        routing_version: int,
        reason: dict[str, Any],
    ) -> None:
        """Record the routing decision for a deal just opened without an owner."""
        self.trigger_fact(self.Routed, meta, owner=owner, rule=rule, routing=routing,
                          routing_version=routing_version, reason=reason)

    def _guard_closed(self, wf: CompiledWorkflow, fact_type: str) -> None:
        if wf.is_closed(self.stage) and not wf.accepts_on_closed(self.stage, fact_type):
            raise RuleViolationError(
                f"closed_deal: {fact_type} is not accepted on a deal in stage {self.stage!r}",
                rule="closed_deal",
            )

    def _check_requirement(self, wf: CompiledWorkflow, stage: str) -> None:
        requirement = wf.requirement(stage)
        if not requirement.satisfied_by(self.seen):
            raise RuleViolationError(
                f"requirement_missing: entering {stage!r} requires {requirement.describe()}, "
                "which has not been accepted for this deal",
                rule="requirement_missing",
            )

    def advance(self, wf: CompiledWorkflow, meta: FactMeta, to: str) -> None:
        """``deal.stage_changed``: one stage forward, if its entry requirement is met."""
        self._guard_closed(wf, "deal.stage_changed")
        if to not in wf.stages:
            raise RuleViolationError(
                f"unknown_stage: {to!r} is not a stage of workflow {wf.name!r}",
                rule="unknown_stage",
            )
        dest = wf.may("advance", self.stage)
        if dest != to:
            expected = f"only {dest!r}" if dest else "no stage (sign or lose the deal instead)"
            raise RuleViolationError(
                f"stage_jump: from {self.stage!r} the next stage is {expected}, not {to!r}",
                rule="stage_jump",
            )
        self._check_requirement(wf, to)
        self.trigger_fact(self.StageChanged, meta, from_stage=self.stage, to_stage=to)

    def log_activity(
        self,
        wf: CompiledWorkflow,
        meta: FactMeta,
        kind: str,
        purpose: str | None,
        outcome: str | None,
    ) -> None:
        """``activity.logged``."""
        self._guard_closed(wf, "activity.logged")
        self.trigger_fact(self.ActivityLogged, meta, kind=kind, purpose=purpose, outcome=outcome)

    def note(
        self, wf: CompiledWorkflow, meta: FactMeta, fact_type: str, details: dict[str, Any]
    ) -> None:
        """A fact that satisfies exit criteria: needs, customer info, proposal, approval."""
        self._guard_closed(wf, fact_type)
        self.trigger_fact(self.Noted, meta, fact_type=fact_type, details=details)

    def issue_quote(
        self, wf: CompiledWorkflow, meta: FactMeta, amount: Decimal, currency: str
    ) -> None:
        """``quote.issued``: sets the deal amount."""
        self._guard_closed(wf, "quote.issued")
        self.trigger_fact(self.QuoteIssued, meta, amount=amount, currency=currency)

    def change_amount(
        self, wf: CompiledWorkflow, meta: FactMeta, amount: Decimal, currency: str
    ) -> None:
        """``deal.amount_changed``."""
        self._guard_closed(wf, "deal.amount_changed")
        self.trigger_fact(self.AmountChanged, meta, amount=amount, currency=currency)

    def sign(self, wf: CompiledWorkflow, meta: FactMeta, amount: Decimal, currency: str) -> None:
        """``contract.signed``: ``negotiation`` -> ``won`` only."""
        self._guard_closed(wf, "contract.signed")
        dest = wf.may("sign", self.stage)
        if dest is None:
            raise RuleViolationError(
                f"sign_requires_negotiation: a contract can be signed only in negotiation, "
                f"the deal is in {self.stage!r}",
                rule="sign_requires_negotiation",
            )
        self.trigger_fact(
            self.ContractSigned, meta, from_stage=self.stage, to_stage=dest, amount=amount,
            currency=currency, owner=self.owner, splits=self.splits,
        )

    def lose(self, wf: CompiledWorkflow, meta: FactMeta, reason: str) -> None:
        """``deal.lost``: from any open stage."""
        self._guard_closed(wf, "deal.lost")
        if wf.may("lose", self.stage) is None:  # pragma: no cover - closed stages refused above
            raise RuleViolationError(f"closed_deal: cannot lose a {self.stage} deal",
                                     rule="closed_deal")
        self.trigger_fact(self.Lost, meta, from_stage=self.stage, reason=reason)

    def reopen(self, wf: CompiledWorkflow, meta: FactMeta, stage: str | None) -> None:
        """``deal.reopened``: a lost deal back to where it was lost, or an earlier stage."""
        if wf.may("reopen", self.stage) is None or self.lost_from is None:
            raise RuleViolationError(
                f"reopen_requires_lost: only a lost deal can be reopened, "
                f"the deal is in {self.stage!r}",
                rule="reopen_requires_lost",
            )
        targets = wf.reopen_targets(self.lost_from)
        to = stage or self.lost_from
        if to not in targets:
            raise RuleViolationError(
                f"reopen_stage_invalid: a deal lost in {self.lost_from!r} can be reopened "
                f"in {', '.join(targets)}, not {to!r}",
                rule="reopen_stage_invalid",
            )
        self.trigger_fact(self.Reopened, meta, to_stage=to)

    def reassign(
        self, wf: CompiledWorkflow, meta: FactMeta, owner: str, splits: SplitRows | None
    ) -> None:
        """``deal.reassigned``."""
        self._guard_closed(wf, "deal.reassigned")
        self.trigger_fact(self.Reassigned, meta, from_owner=self.owner, owner=owner, splits=splits)

    def receive_payment(
        self, wf: CompiledWorkflow, meta: FactMeta, amount: Decimal, currency: str
    ) -> None:
        """``payment.received``: only on a won deal."""
        self._guard_closed(wf, "payment.received")
        if self.signed_at is None:
            raise RuleViolationError(
                f"payment_requires_won: payments are accepted on won deals, "
                f"the deal is in {self.stage!r}",
                rule="payment_requires_won",
            )
        self.trigger_fact(self.PaymentReceived, meta, amount=amount, currency=currency)

    def cancel_contract(
        self, wf: CompiledWorkflow, meta: FactMeta, reason: str, refund_amount: Decimal | None
    ) -> None:
        """``contract.cancelled``: a won deal, once."""
        self._guard_closed(wf, "contract.cancelled")
        if self.signed_at is None:
            raise RuleViolationError(
                f"cancel_requires_won: only a won deal's contract can be cancelled, "
                f"the deal is in {self.stage!r}",
                rule="cancel_requires_won",
            )
        if self.cancelled:
            raise RuleViolationError("already_cancelled: the contract is already cancelled",
                                     rule="already_cancelled")
        self.trigger_fact(self.ContractCancelled, meta, reason=reason, refund_amount=refund_amount)

    def set_forecast(self, wf: CompiledWorkflow, meta: FactMeta, category: str) -> None:
        """``deal.forecast_set``: refused on a closed deal (the stage's ``accepts`` decide)."""
        self._guard_closed(wf, "deal.forecast_set")
        self.trigger_fact(self.ForecastSet, meta, category=category)

    def change_expected_close(
        self, wf: CompiledWorkflow, meta: FactMeta, expected_close: date
    ) -> None:
        """``deal.expected_close_changed``: refused on a closed deal."""
        self._guard_closed(wf, "deal.expected_close_changed")
        self.trigger_fact(self.ExpectedCloseChanged, meta, expected_close=expected_close)

    def respond_survey(self, wf: CompiledWorkflow, meta: FactMeta, score: int) -> None:
        """``survey.responded``."""
        self._guard_closed(wf, "survey.responded")
        self.trigger_fact(self.SurveyResponded, meta, score=score, owner=self.owner)
