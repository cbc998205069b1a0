"""The forecast view and report (CONTRACT 1.1 "Forecast"): each deal's forecast facts with
business time, recorded time and log position, folded as of any time and as known at any
time (docs/forecast.md).

- :mod:`.tables`, :mod:`.projection`: the view (timeline, closed credit, profiles, calls);
- :mod:`.states`: :func:`deal_states`, each deal's state as of an instant (rule 6);
- :mod:`.closed`: :func:`closed_credits`, a period's closed credit;
- :mod:`.teams`: :func:`teams_at`, each rep's team from its profile (rule 11);
- :mod:`.report`: ``dealflow report forecast``.
"""

from __future__ import annotations

from projections.forecast.closed import Credit, closed_credits
from projections.forecast.periods import period_bounds, quarter_of_date
from projections.forecast.projection import ForecastProjection
from projections.forecast.report import ForecastReport, ForecastRow, build_report
from projections.forecast.states import DealState, deal_states
from projections.forecast.teams import NO_TEAM, teams_at

__all__ = [
    "NO_TEAM",
    "Credit",
    "DealState",
    "ForecastProjection",
    "ForecastReport",
    "ForecastRow",
    "build_report",
    "closed_credits",
    "deal_states",
    "period_bounds",
    "quarter_of_date",
    "teams_at",
]
