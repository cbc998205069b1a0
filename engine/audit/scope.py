"""Which events a period's commission statements depend on.

Statements read signings, payments and cancellations of deals, the reps' quotas and plan
assignments, and deal openings (for labels). For period ``P`` a bundle needs:

- every rep fact (registrations, quotas, plan assignments): few, and any of them may set
  the quota or plan a credit is rated under;
- for every deal with a signing, payment or cancellation inside ``P`` (widened by two days,
  since a plan may read its calendar in any time zone): its opening, signing, payments and
  cancellations;
- for every cancellation inside ``P`` (a clawback reverses the lines the deal earned in
  the periods of its credits, which depend on every other credit of those periods): every
  credit fact within 94 days of each of the deal's credit facts (a statement period is at
  most a calendar quarter, 92 days, in some time zone), and those deals' facts as above.

The export checks this choice: it recomputes the statements from the selected events and
refuses to write a bundle whose statements differ from the store's report.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from uuid import UUID

from engine.domain.deal import Deal
from engine.domain.rep import Rep
from engine.store.log import LoggedEvent

__all__ = ["COMMISSION_TOPICS", "select_for_period"]

COMMISSION_TOPICS = [
    Deal.Opened.TOPIC, Deal.ContractSigned.TOPIC, Deal.PaymentReceived.TOPIC,
    Deal.ContractCancelled.TOPIC, Rep.Registered.TOPIC, Rep.QuotaSet.TOPIC,
    Rep.PlanAssigned.TOPIC,
]
_CREDITS = (Deal.ContractSigned, Deal.PaymentReceived)
_DEAL_FACTS = (Deal.ContractSigned, Deal.PaymentReceived, Deal.ContractCancelled)
_ZONES = timedelta(days=2)
_PERIOD_SPAN = timedelta(days=94)


def select_for_period(events: Sequence[LoggedEvent], start: datetime, end: datetime
                      ) -> list[LoggedEvent]:
    """The events (of ``events``, the commission topics) that statements of the period
    ``[start, end)`` depend on, in log order."""
    low, high = start - _ZONES, end + _ZONES
    facts = [e for e in events if isinstance(e.event, _DEAL_FACTS)]
    credits_of: dict[UUID, list[datetime]] = defaultdict(list)
    for e in facts:
        if isinstance(e.event, _CREDITS):
            credits_of[e.originator_id].append(e.occurred_at)
    inside = [e for e in facts if low <= e.occurred_at < high]
    deals = {e.originator_id for e in inside}
    windows = sorted((t - _PERIOD_SPAN, t + _PERIOD_SPAN)
                     for e in inside if isinstance(e.event, Deal.ContractCancelled)
                     for t in credits_of[e.originator_id])
    if windows:
        deals.update(deal for deal, times in credits_of.items()
                     if any(a <= t <= b for t in times for a, b in windows))
    return [e for e in events
            if isinstance(e.event, Rep.Registered | Rep.QuotaSet | Rep.PlanAssigned)
            or (isinstance(e.event, (Deal.Opened, *_DEAL_FACTS)) and e.originator_id in deals)]
