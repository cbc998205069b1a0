"""The histogram of durations the pipeline view keeps for /metrics' time in stage
(projections.pipeline.stats): every duration within 0.4 % of its bucket's value, order
kept, and its median and p90 those of the exact figures within that error."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from projections.pipeline.stats import (
    SPAN_BUCKET_ERROR,
    bucket_value,
    histogram_median,
    histogram_percentile,
    median,
    percentile,
    span_bucket,
)

TEN_YEARS_US = 10 * 366 * 86_400 * 1_000_000
durations = st.integers(min_value=0, max_value=TEN_YEARS_US)


def _histogram(values: list[int]) -> list[tuple[int, int]]:
    counts: dict[int, int] = {}
    for v in values:
        counts[span_bucket(v)] = counts.get(span_bucket(v), 0) + 1
    return sorted(counts.items())


@given(durations)
def test_a_duration_is_within_the_error_of_its_bucket(us: int) -> None:
    assert abs(Decimal(bucket_value(span_bucket(us)) - us)) <= SPAN_BUCKET_ERROR * us


@given(durations, durations)
def test_buckets_keep_the_order_of_durations(a: int, b: int) -> None:
    low, high = sorted((a, b))
    assert span_bucket(low) <= span_bucket(high)
    assert bucket_value(span_bucket(low)) <= bucket_value(span_bucket(high))


def test_short_durations_are_exact_and_the_layout_is_fixed() -> None:
    assert [span_bucket(us) for us in (0, 1, 255, 256, 257, 258)] == [0, 1, 255, 256, 256, 257]
    assert bucket_value(256) == 257  # the midpoint of 256 and 257
    # 9 h: 128 buckets per power of two; the value any machine gives for this layout.
    nine_hours = 9 * 3600 * 1_000_000
    assert span_bucket(nine_hours) == 3697
    assert bucket_value(3697) == 32_413_581_312
    assert span_bucket(TEN_YEARS_US) < 5_400


@given(st.lists(durations, min_size=1, max_size=200))
def test_median_and_p90_are_the_exact_ones_within_the_error(values: list[int]) -> None:
    buckets = _histogram(values)
    exact_median, exact_p90 = median(values), percentile(values, 90)
    assert exact_median is not None and exact_p90 is not None
    near_median, near_p90 = histogram_median(buckets), histogram_percentile(buckets, 90)
    assert near_median is not None and near_p90 is not None
    assert abs(near_median - exact_median) <= SPAN_BUCKET_ERROR * exact_median
    assert abs(near_p90 - exact_p90) <= SPAN_BUCKET_ERROR * exact_p90


def test_an_empty_histogram_has_no_quantiles() -> None:
    assert histogram_median([]) is None
    assert histogram_percentile([], 90) is None
