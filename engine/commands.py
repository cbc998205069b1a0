"""Commands: what a validated fact asks the domain to do (imperative names).

Each command carries the :class:`FactMeta` of the fact that asked for it, so the events it
causes keep their provenance and business time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from engine.domain.facts import FactMeta

__all__ = [
    "AdvanceStage",
    "AssignPlan",
    "CancelContract",
    "ChangeAmount",
    "ChangeExpectedClose",
    "Command",
    "DealCommand",
    "IssueQuote",
    "LogActivity",
    "LoseDeal",
    "MoneyCommand",
    "NoteFact",
    "OpenDeal",
    "ReassignDeal",
    "ReceivePayment",
    "RecordSurvey",
    "ReopenDeal",
    "RepCommand",
    "SetForecastCategory",
    "SetProfile",
    "SetQuota",
    "SignContract",
    "SubmitForecast",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Command:
    """Base of all commands: plain frozen data. A command is built from a fact the contract
    (pydantic) has already validated, so it is not validated again: on the ingest hot path
    one command is made per fact."""

    meta: FactMeta


@dataclass(frozen=True, slots=True, kw_only=True)
class DealCommand(Command):
    """A command addressed to one deal (by its contract ``subject``)."""

    deal: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RepCommand(Command):
    """A command addressed to one rep."""

    rep: str


@dataclass(frozen=True, slots=True, kw_only=True)
class MoneyCommand(DealCommand):
    """A command that puts an amount of money on a deal (quote, contract, new amount,
    payment)."""

    amount: Decimal
    currency: str


@dataclass(frozen=True, slots=True, kw_only=True)
class OpenDeal(DealCommand):
    """Open a deal in its workflow's first stage (``owner`` None: the engine routes it)."""

    workflow: str
    account: str
    owner: str | None
    amount: Decimal
    currency: str
    expected_close: date | None = None
    segment: str | None = None
    territory: str | None = None
    partner: str | None = None
    splits: list[dict[str, Any]] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AdvanceStage(DealCommand):
    """Move the deal one stage forward."""

    to: str


@dataclass(frozen=True, slots=True, kw_only=True)
class LogActivity(DealCommand):
    """Record an activity (call, e-mail, meeting, visit)."""

    kind: str
    purpose: str | None = None
    outcome: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class NoteFact(DealCommand):
    """Record a fact that exit criteria may need (needs, customer info, proposal, approval)."""

    fact_type: str
    details: dict[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class IssueQuote(MoneyCommand):
    """Record a quote; it sets the deal amount."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SignContract(MoneyCommand):
    """Win the deal at this amount."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LoseDeal(DealCommand):
    """Lose the deal, with a reason."""

    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ReopenDeal(DealCommand):
    """Bring a lost deal back."""

    stage: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ReassignDeal(DealCommand):
    """Give the deal a new owner and credit splits."""

    owner: str
    splits: list[dict[str, Any]] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ChangeAmount(MoneyCommand):
    """Set a new expected amount."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SetForecastCategory(DealCommand):
    """Override an open deal's forecast category (``auto``: back to its stage's)."""

    category: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ChangeExpectedClose(DealCommand):
    """Move an open deal's expected close date."""

    expected_close: date


@dataclass(frozen=True, slots=True, kw_only=True)
class ReceivePayment(MoneyCommand):
    """Record cash received on a won deal."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelContract(DealCommand):
    """Cancel (or refund) a won deal's contract."""

    reason: str
    refund_amount: Decimal | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordSurvey(DealCommand):
    """Record a customer satisfaction score."""

    score: int


@dataclass(frozen=True, slots=True, kw_only=True)
class SetQuota(RepCommand):
    """Set a rep's quota for a period."""

    period: str
    amount: Decimal
    currency: str
    team: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SetProfile(RepCommand):
    """Replace a rep's routing profile (``active`` None means true)."""

    team: str
    manager: str | None = None
    territories: list[str] | None = None
    segments: list[str] | None = None
    capacity: int | None = None
    active: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class SubmitForecast(RepCommand):
    """Record a rep's forecast call for a quarter."""

    period: str
    amount: Decimal
    currency: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AssignPlan(RepCommand):
    """Assign a commission plan to a rep."""

    plan: str
    effective_from: datetime | None = None
