"""Business time: working hours in a time zone, and arithmetic on them.

Every function here is pure: it never reads the clock. Working windows are turned into UTC
instants day by day, so a daylight-saving change inside working hours counts as the real
elapsed time.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_CEILING, Decimal
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

__all__ = ["BusinessCalendar", "Weekday"]

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_MICROS_PER_HOUR = Decimal(3_600_000_000)
_MICROS_PER_SECOND = Decimal(1_000_000)


class BusinessCalendar(BaseModel):
    """Working weekdays from ``start_hour`` to ``end_hour`` in ``timezone``, minus holidays.

    The defaults are the contract's shipped calendar: Monday to Friday, 09:00-18:00,
    ``Asia/Shanghai``, no holidays. Holidays are dates in the calendar's own zone.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    timezone: str = "Asia/Shanghai"
    weekdays: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri")
    start_hour: int = Field(default=9, ge=0, le=23)
    end_hour: int = Field(default=18, ge=1, le=24)
    holidays: frozenset[date] = frozenset()

    _zone: ZoneInfo = PrivateAttr()
    _workdays: frozenset[int] = PrivateAttr()

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @field_validator("weekdays")
    @classmethod
    def _some_weekdays(cls, value: tuple[Weekday, ...]) -> tuple[Weekday, ...]:
        if not value:
            raise ValueError("a calendar needs at least one working weekday")
        if len(set(value)) != len(value):
            raise ValueError(f"weekdays are listed twice: {list(value)}")
        return value

    @model_validator(mode="after")
    def _hours_in_order(self) -> BusinessCalendar:
        if self.start_hour >= self.end_hour:
            raise ValueError(
                f"start_hour {self.start_hour} must be before end_hour {self.end_hour}"
            )
        return self

    def model_post_init(self, context: object, /) -> None:
        """Resolve the zone and weekday numbers once."""
        self._zone = ZoneInfo(self.timezone)
        self._workdays = frozenset(_WEEKDAYS.index(day) for day in self.weekdays)

    @property
    def zone(self) -> ZoneInfo:
        """The calendar's time zone."""
        return self._zone

    def describe(self) -> str:
        """One line for people: ``mon-fri 09:00-18:00 Asia/Shanghai, no holidays``."""
        days = ",".join(self.weekdays)
        if self.weekdays == _WEEKDAYS[: len(self.weekdays)] and len(self.weekdays) > 1:
            days = f"{self.weekdays[0]}-{self.weekdays[-1]}"
        hours = f"{self.start_hour:02d}:00-{self.end_hour:02d}:00"
        holidays = (
            ", holidays: " + ", ".join(d.isoformat() for d in sorted(self.holidays))
            if self.holidays
            else ", no holidays"
        )
        return f"{days} {hours} {self.timezone}{holidays}"

    def is_working_day(self, day: date) -> bool:
        """Whether ``day`` (a date in the calendar's zone) has working hours."""
        return day.weekday() in self._workdays and day not in self.holidays

    def add_business_hours(self, start: datetime, hours: Decimal | int) -> datetime:
        """The earliest instant by which ``hours`` of working time have passed since ``start``.

        ``start`` must be aware; the result is aware UTC. Zero hours gives ``start`` itself;
        a fraction of a microsecond is rounded up. Friday 17:00 + 9 business hours is Monday
        17:00; a start on Saturday + 9 is Monday 18:00.
        """
        instant = _as_utc(start, "start")
        remaining = _hours_to_micros(hours)
        if remaining == 0:
            return instant
        for opens, closes in self._windows_from(instant):
            begin = max(opens, instant)
            available = _micros(closes - begin)
            if remaining <= available:
                return begin + timedelta(microseconds=remaining)
            remaining -= available
        raise AssertionError("unreachable: the window iterator never ends")  # pragma: no cover

    def business_seconds_between(self, a: datetime, b: datetime) -> Decimal:
        """Working seconds from ``a`` to ``b`` (exact to the microsecond; negative if b < a)."""
        lo, hi = _as_utc(a, "a"), _as_utc(b, "b")
        if hi < lo:
            return -self.business_seconds_between(b, a)
        total = 0
        for opens, closes in self._windows_from(lo):
            if opens >= hi:
                break
            total += _micros(min(closes, hi) - max(opens, lo))
        return Decimal(total) / _MICROS_PER_SECOND

    def _windows_from(self, instant: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Working windows (UTC open, UTC close) that end after ``instant``, in order."""
        day = instant.astimezone(self._zone).date() - timedelta(days=1)
        while True:
            if self.is_working_day(day):
                opens, closes = self._window(day)
                if closes > instant:
                    yield opens, closes
            day += timedelta(days=1)

    def _window(self, day: date) -> tuple[datetime, datetime]:
        return _window(self.timezone, self.start_hour, self.end_hour, day)


@lru_cache(maxsize=65_536)
def _window(zone: str, start_hour: int, end_hour: int, day: date) -> tuple[datetime, datetime]:
    """A day's working window in UTC. Cached by value, not on the (frozen, compared by
    value) calendar: every deadline and escalation step walks the same days again."""
    tz = ZoneInfo(zone)
    midnight = datetime.combine(day, time())
    opens = (midnight + timedelta(hours=start_hour)).replace(tzinfo=tz)
    closes = (midnight + timedelta(hours=end_hour)).replace(tzinfo=tz)
    return opens.astimezone(UTC), closes.astimezone(UTC)


def _as_utc(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime, got naive {value.isoformat()}")
    return value.astimezone(UTC)


def _hours_to_micros(hours: Decimal | int) -> int:
    # Floats are refused: business deadlines are decimal data, never binary fractions.
    if isinstance(hours, bool) or not isinstance(hours, Decimal | int):
        raise TypeError(f"hours must be a Decimal or an int, not {type(hours).__name__}")
    micros = Decimal(hours) * _MICROS_PER_HOUR
    if not micros.is_finite() or micros < 0:
        raise ValueError(f"hours must be a finite number >= 0, got {hours}")
    return int(micros.to_integral_value(rounding=ROUND_CEILING))


def _micros(delta: timedelta) -> int:
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
