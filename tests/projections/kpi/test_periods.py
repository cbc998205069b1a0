"""KPI periods: ``QuarterOf`` answers exactly what ``quarter_of`` answers, for instants in
any order and any offset, on zones with and without daylight saving (and one that skipped
a day)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import hypothesis.strategies as st
from hypothesis import given

from projections.kpi.periods import KPI_TIMEZONE, QuarterOf, quarter_of

_ZONES = ["Asia/Shanghai", "America/New_York", "Pacific/Apia", "Australia/Lord_Howe", "UTC"]
_INSTANTS = st.lists(
    st.tuples(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2040, 1, 1)),
              st.integers(-14 * 60, 14 * 60)).map(
        lambda p: p[0].replace(tzinfo=UTC).astimezone(timezone(timedelta(minutes=p[1])))),
    min_size=1, max_size=40)


@given(zone=st.sampled_from(_ZONES), moments=_INSTANTS)
def test_quarter_of_a_stream_equals_quarter_of_each(zone: str, moments: list[datetime]) -> None:
    tz = ZoneInfo(zone)
    quarter = QuarterOf(tz)
    assert [quarter(m) for m in moments] == [quarter_of(m, tz) for m in moments]


@given(zone=st.sampled_from(_ZONES), year=st.integers(2000, 2039),
       first_month=st.sampled_from([1, 4, 7, 10]), hours_before=st.integers(0, 96))
def test_across_a_quarter_end_in_small_steps(zone: str, year: int, first_month: int,
                                            hours_before: int) -> None:
    tz = ZoneInfo(zone)
    quarter = QuarterOf(tz)
    moment = datetime(year, first_month, 1, tzinfo=tz) - timedelta(hours=hours_before)
    for _ in range(300):  # a bit over four days, across the quarter's first midnight
        assert quarter(moment) == quarter_of(moment, tz)
        moment += timedelta(minutes=23)


def test_the_kpi_zone_by_default() -> None:
    late = datetime(2026, 3, 31, 16, 30, tzinfo=UTC)  # 00:30 on April 1st in Shanghai
    assert QuarterOf()(late) == quarter_of(late) == "2026-Q2"
    assert QuarterOf(KPI_TIMEZONE)(late - timedelta(hours=1)) == "2026-Q1"
