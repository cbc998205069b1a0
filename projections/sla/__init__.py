"""The SLA view: every rule instance (deal, rule, started, due, outcome) as of any time,
its report, and the SLA timer that records breaches and corrections as events.

::

    log --SlaProjection--> deals, facts, escalations (what evaluation needs)
        --instances(conn, view, params)--> SlaInstance per rule clock (pure evaluation)
        --build_report--> counts per rule, overdue, breaches (rich tables, JSON)
    SlaTimer.tick(now) --> Escalation.Breached / Corrected / Rebreached, once each
"""

from projections.sla.evaluate import due_at, evaluate_deal
from projections.sla.model import DealHistory, EscalationRecord, Outcome, SlaFact, SlaInstance
from projections.sla.projection import SlaProjection
from projections.sla.query import histories, instances
from projections.sla.report import RuleCounts, SlaReport, build_report, instance_json
from projections.sla.timer import SlaTimer, wall_clock

__all__ = [
    "DealHistory",
    "EscalationRecord",
    "Outcome",
    "RuleCounts",
    "SlaFact",
    "SlaInstance",
    "SlaProjection",
    "SlaReport",
    "SlaTimer",
    "build_report",
    "due_at",
    "evaluate_deal",
    "histories",
    "instance_json",
    "instances",
    "wall_clock",
]
