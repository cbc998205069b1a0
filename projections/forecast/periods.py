"""Forecast periods: calendar quarters named ``2026-Q1``; a deal's by its close date as
written, a signing's by its instant in ``Asia/Shanghai`` (as for commissions)."""

from __future__ import annotations

import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

from projections.kpi.periods import KPI_TIMEZONE, quarter_of

__all__ = ["FORECAST_TIMEZONE", "check_period", "close_date_bounds", "period_bounds",
           "quarter_of", "quarter_of_date"]

FORECAST_TIMEZONE = KPI_TIMEZONE
_PERIOD = re.compile(r"^(\d{4})-Q([1-4])$")


def check_period(period: str) -> str:
    """``period`` if it is a quarter like ``2026-Q1``, else ``ValueError`` saying so."""
    if not _PERIOD.match(period):
        raise ValueError(f"{period!r} is not a quarter like 2026-Q1")
    return period


def quarter_of_date(day: date) -> str:
    """The quarter of a date as written (``2026-03-31`` -> ``2026-Q1``)."""
    return f"{day.year:04d}-Q{(day.month - 1) // 3 + 1}"


def period_bounds(period: str, tz: ZoneInfo = FORECAST_TIMEZONE) -> tuple[datetime, datetime]:
    """The first instant of ``period`` and the first instant of the next quarter, in ``tz``."""
    match = _PERIOD.match(period)
    if match is None:
        raise ValueError(f"{period!r} is not a quarter like 2026-Q1")
    year, q = int(match[1]), int(match[2])
    start = datetime(year, 3 * q - 2, 1, tzinfo=tz)
    end = datetime(year + 1, 1, 1, tzinfo=tz) if q == 4 else datetime(year, 3 * q + 1, 1,
                                                                        tzinfo=tz)
    return start, end


def close_date_bounds(period: str) -> tuple[str, str]:
    """The first and the last close date (ISO text) whose quarter is ``period``."""
    start, _ = period_bounds(period)
    last_month = 3 * int(period[-1])
    last_day = 31 if last_month in (3, 12) else 30
    return start.date().isoformat(), date(start.year, last_month, last_day).isoformat()
