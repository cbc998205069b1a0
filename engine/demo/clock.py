"""Time for the demo quarter: whole seconds since the epoch, Asia/Shanghai business hours.

Times are plain ``int`` seconds (UTC) while a quarter is being generated, because the
generator compares and shifts millions of them; they become RFC 3339 text only when a fact
is written. Shanghai has no daylight saving, so local time is a fixed +08:00 offset.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

__all__ = [
    "DAY",
    "HOUR",
    "MINUTE",
    "Quarter",
    "business_add",
    "business_start",
    "format_time",
    "local_date",
]

MINUTE = 60
HOUR = 60 * MINUTE
DAY = 24 * HOUR
_OFFSET = 8 * HOUR
_OPEN = 9 * HOUR
_CLOSE = 18 * HOUR
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def _local_day(t: int) -> tuple[int, int]:
    """(local day number since the epoch, seconds into that local day)."""
    return divmod(t + _OFFSET, DAY)


def _is_workday(day: int) -> bool:
    # 1970-01-01 (day 0) was a Thursday: Monday is weekday 0.
    return (day + 3) % 7 < 5


def _at(day: int, seconds: int) -> int:
    return day * DAY + seconds - _OFFSET


def business_start(t: int) -> int:
    """``t`` if it falls in business hours, else the next opening (Mon-Fri 09:00 local)."""
    day, sod = _local_day(t)
    if _is_workday(day) and _OPEN <= sod < _CLOSE:
        return t
    if not _is_workday(day) or sod >= _CLOSE:
        day += 1
        while not _is_workday(day):
            day += 1
    return _at(day, _OPEN)


def business_add(t: int, seconds: int) -> int:
    """The instant ``seconds`` of business time after ``t`` (counting Mon-Fri 09-18 only)."""
    t = business_start(t)
    while True:
        day, sod = _local_day(t)
        left = _CLOSE - sod
        if seconds <= left:
            return t + seconds
        seconds -= left
        t = business_start(_at(day, _CLOSE))


def local_date(t: int) -> date:
    """The Asia/Shanghai calendar date of ``t``."""
    return date.fromordinal(_EPOCH_ORDINAL + _local_day(t)[0])


def format_time(t: int, *, utc: bool = False, millis: int | None = None) -> str:
    """RFC 3339 text: local ``+08:00`` by default, ``Z`` when ``utc``; optional milliseconds."""
    day, seconds = divmod(t if utc else t + _OFFSET, DAY)
    hours, seconds = divmod(seconds, HOUR)
    minutes, seconds = divmod(seconds, MINUTE)
    text = f"{_day_text(day)}T{hours:02d}:{minutes:02d}:{seconds:02d}"
    if millis is not None:
        text += f".{millis:03d}"
    return text + ("Z" if utc else "+08:00")


@lru_cache(maxsize=1024)
def _day_text(day: int) -> str:
    return date.fromordinal(_EPOCH_ORDINAL + day).isoformat()


@dataclass(frozen=True, slots=True)
class Quarter:
    """A calendar quarter in Asia/Shanghai: ``label`` like ``2026-Q1``, ``[start, end)``."""

    label: str
    start: int
    end: int
    months: tuple[str, str, str]
    workdays: tuple[int, ...]

    @classmethod
    def parse(cls, label: str) -> Quarter:
        """Read ``YYYY-Qn``; raise ``ValueError`` for anything else."""
        match = _QUARTER.match(label)
        if match is None:
            raise ValueError(f"quarter {label!r} is not like 2026-Q1")
        year, number = int(match.group(1)), int(match.group(2))
        first = 3 * (number - 1) + 1
        begin = date(year, first, 1)
        after = date(year + 1, 1, 1) if number == 4 else date(year, first + 3, 1)
        first_day = begin.toordinal() - _EPOCH_ORDINAL
        end_day = after.toordinal() - _EPOCH_ORDINAL
        return cls(
            label=label,
            start=_at(first_day, 0),
            end=_at(end_day, 0),
            months=(f"{year}-{first:02d}", f"{year}-{first + 1:02d}", f"{year}-{first + 2:02d}"),
            workdays=tuple(d for d in range(first_day, end_day) if _is_workday(d)),
        )

    def after(self, count: int) -> Quarter:
        """The quarter ``count`` quarters after this one (``count=0``: this one)."""
        year, number = int(self.label[:4]), int(self.label[-1]) - 1 + count
        return Quarter.parse(f"{year + number // 4}-Q{number % 4 + 1}")

    @property
    def tag(self) -> str:
        """A compact form for ids: ``2026Q1``."""
        return self.label.replace("-", "")

    def business_instant(self, fraction: float) -> int:
        """The instant ``fraction`` (0 <= f < 1) of the way through the quarter's business hours.

        Monotone in ``fraction``, so evenly spread fractions give time-ordered openings.
        """
        position = fraction * len(self.workdays)
        index = min(int(position), len(self.workdays) - 1)
        seconds = int((position - index) * (_CLOSE - _OPEN))
        return _at(self.workdays[index], _OPEN + min(seconds, _CLOSE - _OPEN - 1))

    def evening(self, t: int, seconds: int) -> int:
        """``seconds`` after 18:00 local on the day of ``t`` (an off-hours moment)."""
        return _at(_local_day(t)[0], _CLOSE) + seconds
