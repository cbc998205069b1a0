"""The shared column helpers: instants as fixed-width UTC text, read back unchanged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import hypothesis.strategies as st
import pytest
from hypothesis import given

from projections.pipeline.columns import UtcDateTime, _utc_time, utc_text

_OFFSETS = st.one_of(
    st.just(UTC),
    st.integers(-23 * 3600, 23 * 3600).map(lambda s: timezone(timedelta(seconds=s))),
)
_INSTANTS = st.datetimes(min_value=datetime(1000, 1, 2), max_value=datetime(9999, 12, 30),
                         timezones=_OFFSETS)


@given(_INSTANTS)
def test_text_is_the_isoformat_of_the_instant_in_utc(moment: datetime) -> None:
    expected = moment.astimezone(UTC).replace(tzinfo=None).isoformat(
        timespec="microseconds") + "+00:00"
    assert utc_text(moment) == expected
    assert utc_text(moment) == expected  # from the memo
    assert _utc_time(expected) == moment
    assert _utc_time(expected).tzinfo is UTC


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        utc_text(datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="naive"):
        UtcDateTime().process_bind_param(datetime(2026, 1, 1), None)  # type: ignore[arg-type]
