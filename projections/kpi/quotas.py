"""Quotas and teams from ``rep.quota_set``, judged by business time.

A rep's quota for a quarter is its latest (by time) quota for that quarter; a quarter
without one is the sum of its months' quotas (each month's latest), per currency. A rep's
team for a quarter is the team of its latest (by time) quota with a team set for that
quarter or one of its months; failing that, of its latest quota with a team for any
period; failing that, none.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from projections.kpi.periods import months_of, quarter_of_period

__all__ = ["QuotaBook"]


class QuotaBook:
    """Quota and team lookups over visible ``rep.quota_set`` rows (ordered by time)."""

    def __init__(self, rows: Iterable[Any]) -> None:
        """Index the rows; later rows (by time, then log position) win."""
        self._latest: dict[tuple[str, str], Any] = {}
        self._team_in: dict[tuple[str, str], str] = {}
        self._team: dict[str, str] = {}
        self.periods: dict[str, set[str]] = defaultdict(set)  # rep -> quarters with a quota
        for row in rows:
            self._latest[(row.rep, row.period)] = row
            quarter = quarter_of_period(row.period)
            self.periods[row.rep].add(quarter)
            if row.team is not None:
                self._team_in[(row.rep, quarter)] = row.team
                self._team[row.rep] = row.team

    def quota(self, rep: str, quarter: str) -> dict[str, Decimal]:
        """The rep's quota for ``quarter`` per currency (empty when none is set)."""
        row = self._latest.get((rep, quarter))
        if row is not None:
            return {row.currency: row.amount}
        out: dict[str, Decimal] = {}
        for month in months_of(quarter):
            found = self._latest.get((rep, month))
            if found is not None:
                out[found.currency] = out.get(found.currency, Decimal("0.00")) + found.amount
        return out

    def team(self, rep: str, quarter: str) -> str | None:
        """The rep's team for ``quarter`` (see the module docstring)."""
        return self._team_in.get((rep, quarter), self._team.get(rep))
