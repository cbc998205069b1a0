"""KPI periods: calendar quarters in the KPI time zone (``Asia/Shanghai``, the shipped
commission calendar's zone), named like the contract's quota periods (``2026-Q1``)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

__all__ = ["KPI_TIMEZONE", "QuarterOf", "months_of", "quarter_of", "quarter_of_period"]

KPI_TIMEZONE = ZoneInfo("Asia/Shanghai")
_MARGIN = timedelta(days=3)


def quarter_of(moment: datetime, tz: ZoneInfo = KPI_TIMEZONE) -> str:
    """The quarter (``YYYY-Qn``) ``moment`` falls in, on the calendar of ``tz``."""
    local = moment.astimezone(tz)
    return f"{local.year:04d}-Q{(local.month - 1) // 3 + 1}"


def quarter_of_period(period: str) -> str:
    """The quarter a quota period (``2026-Q1`` or ``2026-03``) lies in."""
    year, rest = period.split("-")
    if rest.startswith("Q"):
        return period
    return f"{year}-Q{(int(rest) - 1) // 3 + 1}"


def months_of(quarter: str) -> tuple[str, str, str]:
    """The three months (``YYYY-MM``) of a quarter."""
    year, q = quarter.split("-Q")
    first = (int(q) - 1) * 3 + 1
    a, b, c = (f"{year}-{m:02d}" for m in range(first, first + 3))
    return a, b, c


class QuarterOf:
    """:func:`quarter_of` for a stream of instants, most in the quarter of the one before:
    an instant well inside the last quarter found (three days from either end, more than
    any change of a zone's offset) is answered without a time-zone conversion."""

    def __init__(self, tz: ZoneInfo = KPI_TIMEZONE) -> None:
        """Quarters on the calendar of ``tz``."""
        self.tz = tz
        self.inside: tuple[datetime, datetime, str] | None = None

    def __call__(self, moment: datetime) -> str:
        """The quarter ``moment`` falls in (exactly ``quarter_of(moment, tz)``)."""
        inside = self.inside
        if inside is not None and inside[0] <= moment < inside[1]:
            return inside[2]
        local = moment.astimezone(self.tz)
        first = (local.month - 1) // 3 * 3 + 1
        start = datetime(local.year, first, 1, tzinfo=self.tz)
        end = (datetime(local.year + 1, 1, 1, tzinfo=self.tz) if first == 10
               else datetime(local.year, first + 3, 1, tzinfo=self.tz))
        name = f"{local.year:04d}-Q{(first - 1) // 3 + 1}"
        self.inside = (start + _MARGIN, end - _MARGIN, name)
        return name
