"""The commission view: plans as data, the projection of the facts commissions need, and
statements per rep and period computed for explicit ``as_of``/``known_at`` times.

See docs/commissions.md for how plans are defined and a worked example.
"""

from projections.commissions.lines import Line, QuotaUsed, Statement, Statements
from projections.commissions.loader import plan_from_mapping, plan_from_yaml, read_plan
from projections.commissions.plans import CommissionPlanError, PlanVersion
from projections.commissions.projection import CommissionsProjection
from projections.commissions.registry import DEFAULT_PLAN, PlanRegistry
from projections.commissions.report import CommissionsReport, build_report
from projections.commissions.rows import load_facts
from projections.commissions.statement import compute_statements

__all__ = [
    "DEFAULT_PLAN",
    "CommissionPlanError",
    "CommissionsProjection",
    "CommissionsReport",
    "Line",
    "PlanRegistry",
    "PlanVersion",
    "QuotaUsed",
    "Statement",
    "Statements",
    "build_report",
    "compute_statements",
    "load_facts",
    "plan_from_mapping",
    "plan_from_yaml",
    "read_plan",
]
