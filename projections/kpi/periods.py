"""KPI periods: calendar quarters in the KPI time zone (``Asia/Shanghai``, the shipped
commission calendar's zone), named like the contract's quota periods (``2026-Q1``)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

__all__ = ["KPI_TIMEZONE", "months_of", "quarter_of", "quarter_of_period"]

KPI_TIMEZONE = ZoneInfo("Asia/Shanghai")


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
