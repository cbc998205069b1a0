"""Business time in Asia/Shanghai and the quarter calendar."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from engine.demo.clock import HOUR, Quarter, business_add, business_start, format_time

SHANGHAI = timezone(timedelta(hours=8))


def _t(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp())


def test_nine_business_hours_from_friday_afternoon_end_on_monday_afternoon() -> None:
    assert business_add(_t("2026-01-09T17:00:00+08:00"), 9 * HOUR) == _t(
        "2026-01-12T17:00:00+08:00")


def test_a_saturday_start_counts_from_monday_morning() -> None:
    assert business_add(_t("2026-01-10T11:00:00+08:00"), 9 * HOUR) == _t(
        "2026-01-12T18:00:00+08:00")
    assert business_start(_t("2026-01-10T11:00:00+08:00")) == _t("2026-01-12T09:00:00+08:00")


def test_times_in_hours_stay_put_and_evenings_move_to_the_next_morning() -> None:
    assert business_start(_t("2026-01-05T10:00:00+08:00")) == _t("2026-01-05T10:00:00+08:00")
    assert business_start(_t("2026-01-05T18:00:00+08:00")) == _t("2026-01-06T09:00:00+08:00")
    assert business_start(_t("2026-01-05T07:59:00+08:00")) == _t("2026-01-05T09:00:00+08:00")


def test_format_time_local_and_utc() -> None:
    t = _t("2026-01-05T10:00:07+08:00")
    assert format_time(t) == "2026-01-05T10:00:07+08:00"
    assert format_time(t, utc=True) == "2026-01-05T02:00:07Z"
    assert format_time(t, utc=True, millis=45) == "2026-01-05T02:00:07.045Z"


def test_quarter_bounds_months_and_workdays() -> None:
    q1 = Quarter.parse("2026-Q1")
    assert q1.start == _t("2026-01-01T00:00:00+08:00")
    assert q1.end == _t("2026-04-01T00:00:00+08:00")
    assert q1.months == ("2026-01", "2026-02", "2026-03")
    assert len(q1.workdays) == 64
    assert Quarter.parse("2025-Q4").end == _t("2026-01-01T00:00:00+08:00")


def test_business_instants_are_monotone_and_in_hours() -> None:
    q1 = Quarter.parse("2026-Q1")
    instants = [q1.business_instant(i / 1000) for i in range(1000)]
    assert instants == sorted(instants)
    for t in instants:
        local = datetime.fromtimestamp(t, SHANGHAI)
        assert local.weekday() < 5 and 9 <= local.hour < 18
