"""Business-hours arithmetic: the contract's examples, holidays, offsets, boundaries and
properties over random instants."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workflows import BusinessCalendar

SHANGHAI = ZoneInfo("Asia/Shanghai")
CAL = BusinessCalendar()  # the shipped calendar: Mon-Fri 09:00-18:00 Asia/Shanghai


def sh(day: int, hour: int, minute: int = 0, month: int = 3) -> datetime:
    """A time in Shanghai in March 2026 (the 2nd is a Monday, the 6th a Friday)."""
    return datetime(2026, month, day, hour, minute, tzinfo=SHANGHAI)


def test_friday_17_plus_9_is_monday_17() -> None:
    assert CAL.add_business_hours(sh(6, 17), 9) == sh(9, 17)


def test_saturday_plus_9_is_monday_18() -> None:
    assert CAL.add_business_hours(sh(7, 11, 30), 9) == sh(9, 18)


def test_result_is_aware_utc() -> None:
    result = CAL.add_business_hours(sh(6, 17), 9)
    assert result.tzinfo is UTC
    assert result == datetime(2026, 3, 9, 9, 0, tzinfo=UTC)


def test_an_offset_in_the_input_is_honoured() -> None:
    friday_17_shanghai_in_utc = datetime(2026, 3, 6, 9, 0, tzinfo=UTC)
    assert CAL.add_business_hours(friday_17_shanghai_in_utc, 9) == sh(9, 17)
    friday_17_in_new_york = datetime(2026, 3, 6, 4, 0, tzinfo=timezone(timedelta(hours=-5)))
    assert CAL.add_business_hours(friday_17_in_new_york, Decimal("0.5")) == sh(6, 17, 30)


def test_a_holiday_is_skipped() -> None:
    cal = BusinessCalendar(holidays=frozenset({date(2026, 3, 9)}))
    assert cal.add_business_hours(sh(6, 17), 9) == sh(10, 17)
    assert cal.business_seconds_between(sh(6, 17), sh(10, 17)) == 9 * 3600


def test_holidays_are_dates_in_the_calendar_zone() -> None:
    cal = BusinessCalendar(holidays=frozenset({date(2026, 3, 9)}))
    # Sunday 20:00 in UTC is already Monday 04:00 in Shanghai: Monday is still the holiday.
    sunday_utc = datetime(2026, 3, 8, 20, 0, tzinfo=UTC)
    assert cal.add_business_hours(sunday_utc, 1) == sh(10, 10)


def test_exactly_at_opening() -> None:
    assert CAL.add_business_hours(sh(2, 9), 9) == sh(2, 18)
    assert CAL.add_business_hours(sh(2, 9), 1) == sh(2, 10)


def test_exactly_at_closing() -> None:
    assert CAL.add_business_hours(sh(2, 18), 1) == sh(3, 10)
    assert CAL.add_business_hours(sh(2, 17), 1) == sh(2, 18)  # not Tuesday 09:00


def test_before_opening_starts_at_opening() -> None:
    assert CAL.add_business_hours(sh(2, 7), 2) == sh(2, 11)


def test_zero_hours_is_the_start_itself() -> None:
    assert CAL.add_business_hours(sh(7, 12), 0) == sh(7, 12)


def test_many_weeks() -> None:
    assert CAL.add_business_hours(sh(2, 9), 45 * 4) == sh(27, 18)


def test_fractional_hours() -> None:
    assert CAL.add_business_hours(sh(2, 17, 45), Decimal("0.25")) == sh(2, 18)
    assert CAL.add_business_hours(sh(2, 17, 45), Decimal("0.5")) == sh(3, 9, 15)


def test_refuses_naive_datetimes_floats_and_negative_hours() -> None:
    with pytest.raises(ValueError, match="aware"):
        CAL.add_business_hours(datetime(2026, 3, 6, 17), 9)
    with pytest.raises(TypeError, match="float"):
        CAL.add_business_hours(sh(6, 17), 1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=">= 0"):
        CAL.add_business_hours(sh(6, 17), -1)
    with pytest.raises(ValueError, match="aware"):
        CAL.business_seconds_between(sh(6, 17), datetime(2026, 3, 6, 18))


def test_business_seconds_between() -> None:
    assert CAL.business_seconds_between(sh(6, 17), sh(9, 17)) == 9 * 3600
    assert CAL.business_seconds_between(sh(7, 0), sh(8, 23)) == 0
    assert CAL.business_seconds_between(sh(2, 8), sh(2, 19)) == 9 * 3600
    assert CAL.business_seconds_between(sh(9, 17), sh(6, 17)) == -9 * 3600
    assert CAL.business_seconds_between(sh(2, 10), sh(2, 10)) == 0


def test_daylight_saving_day_counts_real_time() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    cal = BusinessCalendar(timezone="Europe/Berlin", weekdays=("sun",), start_hour=0,
                           end_hour=24)
    spring = datetime(2026, 3, 29, tzinfo=berlin)  # clocks go forward at 02:00
    assert cal.business_seconds_between(spring, spring + timedelta(days=1)) == 23 * 3600
    assert cal.add_business_hours(spring, 23) == datetime(2026, 3, 30, tzinfo=berlin)


def test_describe() -> None:
    assert CAL.describe() == "mon-fri 09:00-18:00 Asia/Shanghai, no holidays"


CALENDARS = [
    CAL,
    BusinessCalendar(timezone="Europe/Berlin", weekdays=("mon", "wed", "thu", "sat"),
                     start_hour=8, end_hour=17,
                     holidays=frozenset({date(2026, 3, 30), date(2026, 10, 24)})),
    BusinessCalendar(timezone="America/New_York", weekdays=("tue", "wed"), start_hour=0,
                     end_hour=24),
]
instants = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 12, 31),
                        timezones=st.just(UTC))
# Four decimal places of an hour are whole microseconds, so the round trip is exact.
hours = st.decimals(min_value=0, max_value=300, places=4)
calendars = st.sampled_from(CALENDARS)


@settings(max_examples=200, database=None, deadline=None)
@given(calendars, instants, hours)
def test_business_seconds_from_start_to_deadline_are_the_hours(
    cal: BusinessCalendar, start: datetime, h: Decimal
) -> None:
    end = cal.add_business_hours(start, h)
    assert end >= start
    assert cal.business_seconds_between(start, end) == h * 3600


@settings(max_examples=200, database=None, deadline=None)
@given(calendars, instants, instants, hours, hours)
def test_add_business_hours_is_monotonic(
    cal: BusinessCalendar, a: datetime, b: datetime, h1: Decimal, h2: Decimal
) -> None:
    a, b = min(a, b), max(a, b)
    h1, h2 = min(h1, h2), max(h1, h2)
    assert cal.add_business_hours(a, h1) <= cal.add_business_hours(b, h1)
    assert cal.add_business_hours(a, h1) <= cal.add_business_hours(a, h2)


@settings(max_examples=200, database=None, deadline=None)
@given(calendars, instants, hours.filter(lambda h: h > 0))
def test_a_deadline_falls_inside_working_hours(
    cal: BusinessCalendar, start: datetime, h: Decimal
) -> None:
    local = cal.add_business_hours(start, h).astimezone(cal.zone)
    closing = local - timedelta(microseconds=1)  # a deadline may be the closing instant
    assert cal.is_working_day(closing.date())
    assert cal.start_hour <= closing.hour < cal.end_hour
