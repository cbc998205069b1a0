"""Statement periods named like ``2026-Q1`` or ``2026-03``, and the instants they span."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

__all__ = ["REPORT_ZONE", "period_bounds", "period_end"]

#: Where a period's calendar is read (the shipped plans' zone; also the CLI's for dates).
REPORT_ZONE = ZoneInfo("Asia/Shanghai")
_PERIOD = re.compile(r"^(\d{4})-(?:Q([1-4])|(0[1-9]|1[0-2]))$")


def period_bounds(period: str, zone: ZoneInfo = REPORT_ZONE) -> tuple[datetime, datetime]:
    """``[start, end)`` of a quarter (``2026-Q1``) or month (``2026-03``) in ``zone``."""
    match = _PERIOD.match(period)
    if match is None:
        raise ValueError(f"period {period!r} is not like 2026-Q1 or 2026-03")
    year = int(match.group(1))
    first = (int(match.group(2)) - 1) * 3 + 1 if match.group(2) else int(match.group(3))
    months = 3 if match.group(2) else 1
    after = first + months
    start = datetime(year, first, 1, tzinfo=zone)
    end = datetime(year + (after - 1) // 12, (after - 1) % 12 + 1, 1, tzinfo=zone)
    return start, end


def period_end(period: str, zone: ZoneInfo = REPORT_ZONE) -> datetime:
    """The last instant of the period (what ``--as-of`` a statement of it is printed for)."""
    return period_bounds(period, zone)[1] - timedelta(microseconds=1)
