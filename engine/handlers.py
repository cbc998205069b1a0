"""Command handlers: load the aggregate, let it decide, hand back the new events.

A handler never writes: the batch that called it saves all events of many facts in one
transaction (see ``engine.ingest.batch``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from engine import commands as c
from engine.domain.deal import Deal
from engine.domain.rep import Rep
from engine.domain.routing_book import Profile, RoutingBook, instant_us
from engine.errors import InvalidFactError, RuleViolationError
from engine.routing import DealToRoute, RoutingRegistry, decide
from workflows import CompiledWorkflow, WorkflowRegistry

__all__ = ["Aggregates", "handle"]


class Aggregates(Protocol):
    """What a handler needs from the unit of work."""

    workflows: WorkflowRegistry
    routing: RoutingRegistry

    def routing_book(self) -> RoutingBook:
        """The routing book (profiles, open loads, cursors), created on first use."""

    def find_deal(self, subject: str) -> Deal | None:
        """The deal for ``subject``, or None if it was never opened."""

    def find_rep(self, rep: str) -> Rep | None:
        """The rep aggregate, or None if no ``rep.*`` fact was accepted for it yet."""

    def add(self, aggregate: Deal | Rep) -> None:
        """A new aggregate created by this batch."""


def _deal(cmd: c.DealCommand, uow: Aggregates) -> tuple[Deal, CompiledWorkflow]:
    deal = uow.find_deal(cmd.deal)
    if deal is None:
        raise RuleViolationError(
            f"deal_not_found: no deal {cmd.deal!r} has been opened", rule="deal_not_found"
        )
    return deal, uow.workflows.get(deal.workflow, deal.workflow_version)


def _open(cmd: c.OpenDeal, uow: Aggregates) -> Deal:
    if uow.find_deal(cmd.deal) is not None:
        raise RuleViolationError(
            f"deal_already_opened: deal {cmd.deal!r} is already open", rule="deal_already_opened"
        )
    if cmd.workflow not in uow.workflows.names():
        known = ", ".join(uow.workflows.names())
        raise InvalidFactError(
            f"data.workflow: unknown workflow {cmd.workflow!r} (known: {known})",
            field="data.workflow",
        )
    wf = uow.workflows.get(cmd.workflow)
    for name in sorted(wf.requirement(wf.first_stage).with_fields):
        if getattr(cmd, name, None) in (None, ""):
            raise InvalidFactError(
                f"data.{name}: required for workflow {wf.name!r}", field=f"data.{name}"
            )
    deal = Deal.open(
        cmd.deal, wf, cmd.meta, account=cmd.account, owner=cmd.owner, amount=cmd.amount,
        currency=cmd.currency, expected_close=cmd.expected_close, segment=cmd.segment,
        territory=cmd.territory, partner=cmd.partner, splits=cmd.splits,
    )
    book = uow.routing_book()
    if cmd.owner is None:
        _route(cmd, deal, book, uow.routing)
    book.move_load(None, deal.owner)
    uow.add(deal)
    return deal


def _route(cmd: c.OpenDeal, deal: Deal, book: RoutingBook, registry: RoutingRegistry) -> None:
    """Choose the owner of a deal opened without one, by the latest routing version."""
    routing = registry.latest()
    decision = decide(routing, book, DealToRoute(deal.workflow, cmd.segment, cmd.territory),
                      cmd.meta.occurred_at)
    deal.route(cmd.meta, owner=decision.owner, rule=decision.rule, routing=routing.name,
               routing_version=routing.version, reason=decision.reason)
    if decision.cursor_key is not None and decision.owner is not None:
        book.move_cursor(decision.cursor_key, decision.owner)


def _load_holder(deal: Deal, wf: CompiledWorkflow) -> str | None:
    """Who carries the deal's open load: its owner while the deal is open."""
    return None if wf.is_closed(deal.stage) else deal.owner


def _on_deal(cmd: c.DealCommand, deal: Deal, wf: CompiledWorkflow) -> Deal:
    m = cmd.meta
    match cmd:
        case c.AdvanceStage():
            deal.advance(wf, m, cmd.to)
        case c.LogActivity():
            deal.log_activity(wf, m, cmd.kind, cmd.purpose, cmd.outcome)
        case c.NoteFact():
            deal.note(wf, m, cmd.fact_type, cmd.details)
        case c.IssueQuote():
            deal.issue_quote(wf, m, cmd.amount, cmd.currency)
        case c.SignContract():
            deal.sign(wf, m, cmd.amount, cmd.currency)
        case c.LoseDeal():
            deal.lose(wf, m, cmd.reason)
        case c.ReopenDeal():
            deal.reopen(wf, m, cmd.stage)
        case c.ReassignDeal():
            deal.reassign(wf, m, cmd.owner, cmd.splits)
        case c.ChangeAmount():
            deal.change_amount(wf, m, cmd.amount, cmd.currency)
        case c.ReceivePayment():
            deal.receive_payment(wf, m, cmd.amount, cmd.currency)
        case c.CancelContract():
            deal.cancel_contract(wf, m, cmd.reason, cmd.refund_amount)
        case c.RecordSurvey():
            deal.respond_survey(wf, m, cmd.score)
        case c.SetForecastCategory():
            deal.set_forecast(wf, m, cmd.category)
        case c.ChangeExpectedClose():
            deal.change_expected_close(wf, m, cmd.expected_close)
        case _:  # pragma: no cover - every DealCommand is listed above
            raise TypeError(f"no handler for {type(cmd).__name__}")
    return deal


def _on_rep(cmd: c.RepCommand, uow: Aggregates) -> Rep:
    rep = uow.find_rep(cmd.rep)
    if rep is None:
        rep = Rep.register(cmd.rep)
        uow.add(rep)
    match cmd:
        case c.SetQuota():
            rep.set_quota(cmd.meta, cmd.period, cmd.amount, cmd.currency, cmd.team)
        case c.AssignPlan():
            rep.assign_plan(cmd.meta, cmd.plan, cmd.effective_from)
        case c.SubmitForecast():
            rep.submit_forecast(cmd.meta, cmd.period, cmd.amount, cmd.currency)
        case c.SetProfile():
            rep.set_profile(cmd.meta, team=cmd.team, manager=cmd.manager,
                            territories=cmd.territories, segments=cmd.segments,
                            capacity=cmd.capacity, active=cmd.active)
            m = cmd.meta
            uow.routing_book().note_profile(Profile(
                rep=cmd.rep, key=(instant_us(m.occurred_at), m.source, m.fact_id),
                team=cmd.team, manager=cmd.manager,
                territories=None if cmd.territories is None else tuple(cmd.territories),
                segments=None if cmd.segments is None else tuple(cmd.segments),
                capacity=cmd.capacity, active=cmd.active))
        case _:  # pragma: no cover
            raise TypeError(f"no handler for {type(cmd).__name__}")
    return rep


def handle(cmd: c.Command, uow: Aggregates) -> Sequence[Any]:
    """Execute ``cmd``; return the new events in order, or raise a ``FactRejectedError``."""
    aggregate: Deal | Rep
    if isinstance(cmd, c.OpenDeal):
        aggregate = _open(cmd, uow)
    elif isinstance(cmd, c.DealCommand):
        deal, wf = _deal(cmd, uow)
        holder = _load_holder(deal, wf)
        aggregate = _on_deal(cmd, deal, wf)
        moved_to = _load_holder(deal, wf)
        if moved_to != holder:  # signed, lost, reopened or reassigned: the load moves
            uow.routing_book().move_load(holder, moved_to)
    elif isinstance(cmd, c.RepCommand):
        aggregate = _on_rep(cmd, uow)
    else:  # pragma: no cover
        raise TypeError(f"no handler for {type(cmd).__name__}")
    return aggregate.collect_events()
