"""The Rep aggregate: a sales rep's quotas and commission plan assignments.

Quotas and plans are judged by the facts' ``time`` in the projections (the latest by time
wins), so the aggregate records every accepted fact and decides nothing beyond validation.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from eventsourcing.domain import Aggregate

from engine.domain.facts import FactEvent, FactMeta, PlainEvents
from engine.domain.ids import rep_id

__all__ = ["Rep"]


class Rep(PlainEvents):
    """A rep, known from the first ``rep.*`` fact about it."""

    TOPIC = "dealflow.rep"

    rep: str

    def __init__(self) -> None:
        """State is set by :class:`Rep.Registered`."""

    class Created(Aggregate.Created):
        """Unused: reps are created by :class:`Rep.Registered`."""

        TOPIC = "dealflow.rep.created"

    class Registered(Aggregate.Created):
        """The first ``rep.*`` fact for this rep id was accepted."""

        TOPIC = "dealflow.rep.registered"
        rep: str

        def apply(self, aggregate: Any) -> None:
            """Initial state."""
            aggregate.rep = self.rep

    class QuotaSet(FactEvent):
        """``rep.quota_set`` accepted."""

        TOPIC = "dealflow.rep.quota_set"
        period: str
        amount: Decimal
        currency: str
        team: str | None

        def apply(self, aggregate: Any) -> None:
            """Quotas are read by the projections, judged by time."""

    class ProfileSet(FactEvent):
        """``rep.profile_set`` accepted (1.1): the rep's whole routing profile, replaced.

        ``territories``/``segments`` None: any; ``capacity`` None: no limit. Which profile
        is in force is judged by (``occurred_at``, ``source``, ``fact_id``), not arrival.
        """

        TOPIC = "dealflow.rep.profile_set"
        team: str
        manager: str | None
        territories: list[str] | None
        segments: list[str] | None
        capacity: int | None
        active: bool

        def apply(self, aggregate: Any) -> None:
            """Profiles are read by routing and the views, judged by time."""

    class ForecastSubmitted(FactEvent):
        """``forecast.submitted`` accepted (1.1): the rep's forecast call for a quarter."""

        TOPIC = "dealflow.rep.forecast_submitted"
        period: str
        amount: Decimal
        currency: str

        def apply(self, aggregate: Any) -> None:
            """Submissions are read by the forecast accuracy report, judged by time."""

    class PlanAssigned(FactEvent):
        """``rep.plan_assigned`` accepted."""

        TOPIC = "dealflow.rep.plan_assigned"
        plan: str
        effective_from: datetime

        def apply(self, aggregate: Any) -> None:
            """Plans are read by the projections, judged by effective time."""

    @classmethod
    def register(cls, rep: str) -> Rep:
        """Start tracking a rep."""
        return cls._create(cls.Registered, id=rep_id(rep), rep=rep)

    def set_quota(
        self, meta: FactMeta, period: str, amount: Decimal, currency: str, team: str | None
    ) -> None:
        """``rep.quota_set``."""
        self.trigger_fact(self.QuotaSet, meta, period=period, amount=amount, currency=currency,
                          team=team)

    def set_profile(
        self,
        meta: FactMeta,
        *,
        team: str,
        manager: str | None,
        territories: list[str] | None,
        segments: list[str] | None,
        capacity: int | None,
        active: bool,
    ) -> None:
        """``rep.profile_set``."""
        self.trigger_fact(self.ProfileSet, meta, team=team, manager=manager,
                          territories=territories, segments=segments, capacity=capacity,
                          active=active)

    def submit_forecast(self, meta: FactMeta, period: str, amount: Decimal,
                        currency: str) -> None:
        """``forecast.submitted``."""
        self.trigger_fact(self.ForecastSubmitted, meta, period=period, amount=amount,
                          currency=currency)

    def assign_plan(self, meta: FactMeta, plan: str, effective_from: datetime | None) -> None:
        """``rep.plan_assigned``; ``effective_from`` defaults to the fact's time."""
        self.trigger_fact(self.PlanAssigned, meta, plan=plan,
                          effective_from=effective_from or meta.occurred_at)
